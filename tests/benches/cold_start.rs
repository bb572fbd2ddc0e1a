//! Cold start of every function, against the hello-world `lambda_http` function built with the
//! same profile in the same run: each binary is started `--starts` times under our own Runtime
//! API (tests/support/runtime_api.rs) with the function's real environment pointed at a dev
//! stack, and three instants are taken per start: init (process start → its first
//! `invocation/next`), the first invocation (event handed over → response) and a warm one.
//! Figures are medians; the report shows them as ratios to hello-world.
//!
//! `bench/run` builds the release binaries and runs this with `--profile release --starts 20`;
//! CI runs `--profile debug --starts 2` so it cannot rot. Writes JSON to `--out`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use ledgerdock_tests::emulator::lambda_environment;
use ledgerdock_tests::events::{api_event, event, set_body, set_path_param, set_query};
use ledgerdock_tests::process::Background;
use ledgerdock_tests::runtime_api::{Call, RuntimeApi};
use ledgerdock_tests::stats::median;
use ledgerdock_tests::*;
use serde_json::{json, Value};

const STEP_TIMEOUT: Duration = Duration::from_secs(30);

struct Args {
    profile: String,
    /// Where the binaries are: `target/<profile>` unless given (bench/build-time times
    /// profiles built in a throwaway copy of the repository).
    binaries: Option<PathBuf>,
    starts: usize,
    out: PathBuf,
}

fn args() -> Args {
    let mut args = Args {
        profile: "release".into(),
        binaries: None,
        starts: 20,
        out: PathBuf::from("target/bench/cold_start.json"),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--profile" => args.profile = it.next().expect("--profile debug|release"),
            "--binaries" => args.binaries = Some(it.next().expect("--binaries DIR").into()),
            "--starts" => args.starts = it.next().and_then(|n| n.parse().ok()).expect("--starts N"),
            "--out" => args.out = it.next().expect("--out FILE").into(),
            // `cargo bench` passes --bench; anything else is a mistake worth saying.
            "--bench" => {}
            other => panic!("unknown argument {other}"),
        }
    }
    args
}

/// One start: init, first invocation and warm invocation in milliseconds, and the peak
/// resident memory after them in MiB.
async fn start_once(
    binary: &Path,
    function: &str,
    environment: &[(String, String)],
    event: &Value,
    log: PathBuf,
) -> [f64; 4] {
    let mut api = RuntimeApi::start().await;
    let mut command = Command::new(binary);
    command
        .env_clear()
        .envs(environment.iter().map(|(k, v)| (k, v)))
        .env("AWS_LAMBDA_RUNTIME_API", &api.address);
    let started = Instant::now();
    let process = Background::spawn(command, log, function);
    let fail = |what: Call| -> ! { panic!("{function}: {what:?}\n{}", process.output()) };
    let ready = api.ready(STEP_TIMEOUT).await.unwrap_or_else(|c| fail(c));
    let mut invocations = [0.0; 2];
    for invocation in &mut invocations {
        let done = api
            .invoke(event.clone(), STEP_TIMEOUT)
            .await
            .unwrap_or_else(|c| fail(c));
        *invocation = done.took.as_secs_f64() * 1000.0;
    }
    let peak_mib = process.peak_rss_kib().unwrap_or(0) as f64 / 1024.0;
    drop(process);
    let init_ms = (ready - started).as_secs_f64() * 1000.0;
    [init_ms, invocations[0], invocations[1], peak_mib]
}

#[tokio::main]
async fn main() {
    let args = args();
    // cargo runs a bench in its package's folder; paths are the workspace's.
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = workspace.join(&args.out);
    let target = workspace.join("target");
    let binaries = match &args.binaries {
        Some(dir) => workspace.join(dir),
        None => target.join(&args.profile),
    };
    let t = TestStack::start_with(bench_options()).await;
    // A client whose rate limit never bites: a 429 would time a cheaper path.
    let tenant = t.unlimited_connector().await;
    let ids = t.publish_many(tenant.company, 4).await;
    let job = t.import_json(&tenant, &supplier_records("CS-", 1)).await;
    let job_id = job["jobId"].as_str().unwrap().to_string();
    t.wait_for_job(&tenant, &job_id).await;
    let invoice = |e: &mut Value, n: usize| set_path_param(e, "invoiceId", &ids[n].to_string());

    // Each function with the event it is timed on (a success where the API has one).
    let with = |function: &str, change: &dyn Fn(&mut Value)| {
        let mut e = api_event(function, &tenant);
        change(&mut e);
        e
    };
    let plan: Vec<(&str, Value)> = vec![
        ("hello-world", with("get-invoice", &|e| invoice(e, 0))),
        (
            "list-exportable-invoices",
            with("list-exportable-invoices", &|_| {}),
        ),
        ("get-invoice", with("get-invoice", &|e| invoice(e, 0))),
        (
            "get-invoice-download-url",
            with("get-invoice-download-url", &|e| {
                invoice(e, 0);
                set_query(e, "format", "PDF")
            }),
        ),
        (
            "complete-invoice-export",
            with("complete-invoice-export", &|e| invoice(e, 0)),
        ),
        (
            "reject-invoice-export",
            with("reject-invoice-export", &|e| invoice(e, 1)),
        ),
        (
            "bulk-complete-invoice-exports",
            with("bulk-complete-invoice-exports", &|e| {
                set_body(e, &json!({"items": [{"invoiceId": ids[2]}]}).to_string())
            }),
        ),
        (
            "bulk-reject-invoice-exports",
            with("bulk-reject-invoice-exports", &|e| {
                let items = json!({"items": [{"invoiceId": ids[3], "reason": "duplicate"}]});
                set_body(e, &items.to_string())
            }),
        ),
        ("start-import-job", with("start-import-job", &|_| {})),
        (
            "get-import-job",
            with("get-import-job", &|e| set_path_param(e, "jobId", &job_id)),
        ),
        ("list-suppliers", with("list-suppliers", &|_| {})),
        (
            "get-supplier",
            with("get-supplier", &|e| {
                set_path_param(e, "externalId", "CS-00001")
            }),
        ),
        // The events as generated: a subscription id that does not exist (a 404 after the
        // same init), except the first create, which makes one.
        (
            "create-webhook-subscription",
            with("create-webhook-subscription", &|_| {}),
        ),
        (
            "list-webhook-subscriptions",
            with("list-webhook-subscriptions", &|_| {}),
        ),
        (
            "get-webhook-subscription",
            with("get-webhook-subscription", &|_| {}),
        ),
        (
            "update-webhook-subscription",
            with("update-webhook-subscription", &|_| {}),
        ),
        (
            "delete-webhook-subscription",
            with("delete-webhook-subscription", &|_| {}),
        ),
        (
            "rotate-webhook-secret",
            with("rotate-webhook-secret", &|_| {}),
        ),
        (
            "retire-webhook-secrets",
            with("retire-webhook-secrets", &|_| {}),
        ),
        (
            "test-webhook-subscription",
            with("test-webhook-subscription", &|_| {}),
        ),
        (
            "list-webhook-deliveries",
            with("list-webhook-deliveries", &|_| {}),
        ),
        ("list-events", with("list-events", &|_| {})),
        (
            "get-invoice-history",
            with("get-invoice-history", &|e| invoice(e, 0)),
        ),
        (
            "claim-invoice-exports",
            with("claim-invoice-exports", &|_| {}),
        ),
        (
            "recover-webhook-deliveries",
            with("recover-webhook-deliveries", &|_| {}),
        ),
        (
            "resend-webhook-delivery",
            with("resend-webhook-delivery", &|_| {}),
        ),
        ("sweep-import-jobs", event("sweep-import-jobs")),
        ("webhook-fanout", event("webhook-fanout")),
        ("dispatch-webhooks", event("dispatch-webhooks")),
        ("process-import-job", event("process-import-job")),
        ("publish-invoice", event("publish-invoice")),
    ];

    let mut results = Vec::new();
    for (function, event) in &plan {
        let binary = binaries.join(function);
        assert!(
            binary.is_file(),
            "{} is missing: build it with the {} profile first (bench/run does)",
            binary.display(),
            args.profile
        );
        let mut environment: Vec<(String, String)> = t
            .stack
            .function_environment()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        environment.extend(
            lambda_environment(function, Duration::from_secs(10))
                .into_iter()
                .map(|(k, v)| (k.to_string(), v)),
        );
        let (mut init, mut first, mut warm, mut rss) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for n in 0..args.starts {
            let log = t.stack.data_dir.join(format!("{function}-{n}.log"));
            let [i, f, w, m] = start_once(&binary, function, &environment, event, log).await;
            init.push(i);
            first.push(f);
            warm.push(w);
            rss.push(m);
        }
        let size = std::fs::metadata(&binary).unwrap().len();
        let row = json!({
            "function": function,
            "binary": binary.canonicalize().unwrap(),
            "bytes": size,
            "init_ms": median(&init),
            "first_ms": median(&first),
            "warm_ms": median(&warm),
            "peak_rss_mib": rss.iter().cloned().fold(0.0, f64::max),
            "samples": {"init_ms": init, "first_ms": first, "warm_ms": warm},
        });
        eprintln!(
            "{function:28} init {:7.2} ms  first {:7.2} ms  warm {:6.2} ms  {:5.2} MB  peak {:5.1} MiB",
            row["init_ms"].as_f64().unwrap(),
            row["first_ms"].as_f64().unwrap(),
            row["warm_ms"].as_f64().unwrap(),
            size as f64 / 1e6,
            row["peak_rss_mib"].as_f64().unwrap()
        );
        results.push(row);
    }
    let report = json!({
        "profile": args.profile,
        "starts": args.starts,
        "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "functions": results,
    });
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir).unwrap();
    }
    std::fs::write(&out, serde_json::to_vec_pretty(&report).unwrap()).unwrap();
    eprintln!("wrote {}", out.display());
    t.stop().await;
}
