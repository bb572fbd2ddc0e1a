//! Load, over HTTP through the dev stack (the same handlers the functions run):
//!
//! 1. **Latency vs backlog.** One company's queue is filled in stages (100, 1,000, 10,000, …,
//!    up to `--invoices`); at each stage one poller asks for the first page 200 times, and
//!    between its requests the store's own Query for that page is timed alone. The design says
//!    a page costs the same whatever waits behind it; the Query shows the engine's share.
//! 2. **Many pollers.** `--pollers` clients, each of its own company, drain `--invoices`
//!    invoices between them at once, as connectors do: a page of up to 100 ids, then complete
//!    each, until their queue is empty. Throughput, latency percentiles, every status that was
//!    not a success, and the process's peak RSS.
//!
//! Rate limits are set out of reach: this measures the stack, not the limiter.
//! `bench/run` runs `--invoices 100000 --pollers 64`; CI `--invoices 640 --pollers 8`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ledgerdock_shared::domain::{CompanyId, NewInvoice};
use ledgerdock_shared::features::publish::Publisher;
use ledgerdock_tests::process::rss_mib;
use ledgerdock_tests::stats::{percentile, sorted};
use ledgerdock_tests::*;
use serde_json::{json, Value};

struct Args {
    invoices: usize,
    pollers: usize,
    out: PathBuf,
}

fn args() -> Args {
    let mut args = Args {
        invoices: 100_000,
        pollers: 64,
        out: PathBuf::from("target/bench/load.json"),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--invoices" => args.invoices = it.next().and_then(|n| n.parse().ok()).expect("N"),
            "--pollers" => args.pollers = it.next().and_then(|n| n.parse().ok()).expect("N"),
            "--out" => args.out = it.next().expect("--out FILE").into(),
            "--bench" => {}
            other => panic!("unknown argument {other}"),
        }
    }
    args
}

/// Publishes `n` one-line invoices (no soft copies) into each company, 32 at a time.
async fn fill(t: &TestStack, companies: &[CompanyId], n: usize) {
    let app = t.stack.app.clone();
    let work: Vec<CompanyId> = companies
        .iter()
        .flat_map(|c| std::iter::repeat_n(*c, n))
        .collect();
    let next = Arc::new(AtomicU64::new(0));
    let work = Arc::new(work);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..32 {
        let (app, next, work) = (app.clone(), next.clone(), work.clone());
        tasks.spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                let Some(company) = work.get(i) else { break };
                let at = chrono::DateTime::parse_from_rfc3339("2026-11-01T08:00:00Z").unwrap()
                    + chrono::Duration::seconds(i as i64);
                let invoice: NewInvoice =
                    serde_json::from_value(invoice_json(1, &at.to_rfc3339())).unwrap();
                Publisher::from(&*app)
                    .publish(*company, invoice, Vec::new())
                    .await
                    .expect("publish");
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
}

/// First-page latencies (ms, sorted) of `requests` list calls by one poller.
/// The first page `requests` times at this backlog: through the API (HTTP, the gate, the
/// handler) and, turn about, the store's own Query alone (the one call a page makes), so that
/// the engine's part of any growth with the backlog shows apart from the stack's.
async fn first_pages(t: &TestStack, who: &Connector, requests: usize) -> (Vec<f64>, Vec<f64>) {
    let (mut api, mut query) = (Vec::with_capacity(requests), Vec::with_capacity(requests));
    for _ in 0..requests {
        let started = Instant::now();
        let reply = t.list_exportable(who, 100, None).await;
        api.push(started.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(reply.status, 200, "{}", reply.text);

        let started = Instant::now();
        let page = t
            .stack
            .app
            .invoices
            .list_exportable(who.company, None, 100)
            .await
            .expect("the store's Query");
        query.push(started.elapsed().as_secs_f64() * 1000.0);
        assert!(!page.invoice_ids.is_empty(), "the queue is not empty");
    }
    (sorted(api), sorted(query))
}

#[derive(Default)]
struct Tally {
    latencies_ms: Vec<f64>,
    statuses: BTreeMap<u16, u64>,
    completed: u64,
}

/// One connector: pages of up to 100 ids, each completed, until its queue is empty.
async fn drain(t: Arc<TestStack>, who: Connector) -> Tally {
    let mut tally = Tally::default();
    let timed = |started: Instant, status: u16, tally: &mut Tally| {
        tally
            .latencies_ms
            .push(started.elapsed().as_secs_f64() * 1000.0);
        if status != 200 {
            *tally.statuses.entry(status).or_default() += 1;
        }
    };
    loop {
        let started = Instant::now();
        let page = t.list_exportable(&who, 100, None).await;
        timed(started, page.status, &mut tally);
        if page.status != 200 {
            continue;
        }
        let ids: Vec<String> = page.json()["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        if ids.is_empty() {
            return tally;
        }
        for id in ids {
            let started = Instant::now();
            let done = t.complete(&who, &id, &json!({"externalId": "ERP"})).await;
            timed(started, done.status, &mut tally);
            tally.completed += u64::from(done.status == 200);
        }
    }
}

#[tokio::main]
async fn main() {
    let args = args();
    let out = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(&args.out);
    let t = Arc::new(TestStack::start_with(bench_options()).await);

    // 1. Latency vs backlog, in one company.
    let deep = t.unlimited_connector().await;
    let mut backlog = Vec::new();
    let mut filled = 0;
    let mut stage = 100;
    loop {
        let stage_size = stage.min(args.invoices);
        fill(&t, &[deep.company], stage_size - filled).await;
        filled = stage_size;
        let (times, query) = first_pages(&t, &deep, 200).await;
        eprintln!(
            "backlog {filled:>7}: first page p50 {:.2} ms, p99 {:.2} ms; its Query alone p50 {:.2} ms",
            percentile(&times, 0.5),
            percentile(&times, 0.99),
            percentile(&query, 0.5)
        );
        backlog.push(json!({
            "ready": filled,
            "p50_ms": percentile(&times, 0.5),
            "p99_ms": percentile(&times, 0.99),
            "query_p50_ms": percentile(&query, 0.5),
        }));
        if filled >= args.invoices {
            break;
        }
        stage *= 10;
    }

    // 2. Many pollers draining their companies at once.
    let mut pollers = Vec::new();
    for _ in 0..args.pollers {
        pollers.push(t.unlimited_connector().await);
    }
    let per_poller = args.invoices / args.pollers;
    let companies: Vec<CompanyId> = pollers.iter().map(|p| p.company).collect();
    let started = Instant::now();
    fill(&t, &companies, per_poller).await;
    eprintln!(
        "published {} invoices for {} pollers in {:.1} s",
        per_poller * args.pollers,
        args.pollers,
        started.elapsed().as_secs_f64()
    );
    let peak = Arc::new(AtomicU64::new(0));
    let sampler = tokio::spawn({
        let peak = peak.clone();
        async move {
            loop {
                peak.fetch_max(rss_mib(), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    });
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for who in pollers {
        tasks.spawn(drain(t.clone(), who));
    }
    let mut all = Tally::default();
    while let Some(tally) = tasks.join_next().await {
        let tally = tally.unwrap();
        all.latencies_ms.extend(tally.latencies_ms);
        all.completed += tally.completed;
        for (status, n) in tally.statuses {
            *all.statuses.entry(status).or_default() += n;
        }
    }
    let wall = started.elapsed().as_secs_f64();
    sampler.abort();
    all.latencies_ms = sorted(all.latencies_ms);
    let requests = all.latencies_ms.len();
    let load = json!({
        "pollers": args.pollers,
        "invoices": per_poller * args.pollers,
        "completed": all.completed,
        "requests": requests,
        "seconds": wall,
        "requests_per_s": requests as f64 / wall,
        "p50_ms": percentile(&all.latencies_ms, 0.5),
        "p99_ms": percentile(&all.latencies_ms, 0.99),
        "max_ms": all.latencies_ms.last().copied().unwrap_or(0.0),
        "failed": all.statuses.iter().map(|(s, n)| (s.to_string(), *n)).collect::<BTreeMap<_, _>>(),
        "peak_rss_mib": peak.load(Ordering::Relaxed),
    });
    eprintln!("{load}");
    assert_eq!(
        all.completed as usize,
        per_poller * args.pollers,
        "every invoice exported exactly once"
    );
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir).unwrap();
    }
    let report: Value = json!({ "backlog": backlog, "load": load });
    std::fs::write(&out, serde_json::to_vec_pretty(&report).unwrap()).unwrap();
    eprintln!("wrote {}", out.display());
}
