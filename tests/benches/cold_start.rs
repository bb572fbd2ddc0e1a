//! Cold start of every function, against its floor (`bench/floor`: `lambda_http`, the AWS
//! config, a DynamoDB client (and an S3 client for the functions that use S3), the warm-up
//! GetItem, one GetItem a request) and the bare hello-world `lambda_http` function, all built
//! with the same profile in the same run. Each binary is started `--starts` times under our own
//! Runtime API (tests/support/runtime_api.rs) with the function's real environment pointed at a
//! dev stack, and three instants are taken per start: init (process start → its first
//! `invocation/next`), the first invocation (event handed over → response) and a warm one.
//! The engines are reached through [`TimedProxy`]s, which keep how long each invocation's
//! DynamoDB, S3 and SQS calls were in flight: a function's warm goal allows for the calls it
//! makes beyond the floor's one GetItem. Figures are medians; the report shows them as ratios.
//!
//! `bench/run` builds the release binaries and runs this with `--profile release --starts 20`;
//! CI runs `--profile debug --starts 2` so it cannot rot. Writes JSON to `--out`. With
//! `--only a,b` it times those functions (and the baselines) alone, and with `--versus DIR` each
//! function also as another build made it (`DIR/<function>`), started right after its own in
//! every round: two profiles held against each other on the same drift of a shared machine.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use ledgerdock_shared::edge::config;
use ledgerdock_tests::emulator::lambda_environment;
use ledgerdock_tests::events::{api_event, event, set_body, set_path_param, set_query};
use ledgerdock_tests::network::TimedProxy;
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
    /// Only these functions (and the baselines).
    only: Option<Vec<String>>,
    /// Each function again from this directory's build, started right after its own in every
    /// round: two builds (profiles) held against each other in one run, on the same drift.
    versus: Option<PathBuf>,
}

fn args() -> Args {
    let mut args = Args {
        profile: "release".into(),
        binaries: None,
        starts: 20,
        out: PathBuf::from("target/bench/cold_start.json"),
        only: None,
        versus: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--profile" => args.profile = it.next().expect("--profile debug|release"),
            "--binaries" => args.binaries = Some(it.next().expect("--binaries DIR").into()),
            "--starts" => args.starts = it.next().and_then(|n| n.parse().ok()).expect("--starts N"),
            "--out" => args.out = it.next().expect("--out FILE").into(),
            "--only" => {
                let list = it.next().expect("--only FUNCTION,FUNCTION");
                args.only = Some(list.split(',').map(str::to_string).collect());
            }
            "--versus" => args.versus = Some(it.next().expect("--versus DIR").into()),
            // `cargo bench` passes --bench; anything else is a mistake worth saying.
            "--bench" => {}
            other => panic!("unknown argument {other}"),
        }
    }
    args
}

/// The engines as a function reaches them in this bench: each through a [`TimedProxy`], with
/// the variable that points a function at it.
struct Engines {
    proxies: Vec<(&'static str, TimedProxy)>,
}

impl Engines {
    /// The time at least one call to any engine was in flight since the last `sdk_time`
    /// (calls side by side count once), and how many calls there were.
    fn sdk_time(&self) -> (Duration, usize) {
        let spans: Vec<_> = self
            .proxies
            .iter()
            .flat_map(|(_, proxy)| proxy.take_spans())
            .collect();
        let calls = spans.len();
        (ledgerdock_tests::stats::union_length(spans), calls)
    }
}

/// One start: init, first invocation, warm invocation, and each invocation's SDK time in
/// milliseconds, the peak resident memory after them in MiB, and each invocation's calls.
async fn start_once(
    binary: &Path,
    function: &str,
    environment: &[(String, String)],
    event: &Value,
    engines: &Engines,
    log: PathBuf,
) -> [f64; 8] {
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
    let (mut invocations, mut sdk_ms, mut calls) = ([0.0; 2], [0.0; 2], [0; 2]);
    for n in 0..2 {
        engines.sdk_time();
        let done = api
            .invoke(event.clone(), STEP_TIMEOUT)
            .await
            .unwrap_or_else(|c| fail(c));
        invocations[n] = done.took.as_secs_f64() * 1000.0;
        let (sdk, count) = engines.sdk_time();
        (sdk_ms[n], calls[n]) = (sdk.as_secs_f64() * 1000.0, count);
    }
    let peak_mib = process.peak_rss_kib().unwrap_or(0) as f64 / 1024.0;
    drop(process);
    let init_ms = (ready - started).as_secs_f64() * 1000.0;
    [
        init_ms,
        invocations[0],
        invocations[1],
        sdk_ms[0],
        sdk_ms[1],
        peak_mib,
        calls[0] as f64,
        calls[1] as f64,
    ]
}

/// One function's starts: each of [`start_once`]'s figures, one value per start.
#[derive(Default)]
struct Samples([Vec<f64>; 8]);

impl Samples {
    fn push(&mut self, sample: [f64; 8]) {
        for (values, value) in self.0.iter_mut().zip(sample) {
            values.push(value);
        }
    }
}

/// The baselines: measured like the functions, held to no goal.
fn plan_is_baseline(name: &str) -> bool {
    matches!(name, "hello-world" | "floor" | "floor-s3")
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
    // The master-data reads find what their events ask for.
    t.import_one_of_each(&tenant, "CS-MD", "CS-00001").await;
    let engines = Engines {
        proxies: vec![
            (
                config::ENV_DYNAMODB_ENDPOINT,
                TimedProxy::start(&t.stack.dynamodb_url).await,
            ),
            (
                config::ENV_S3_ENDPOINT,
                TimedProxy::start(&t.stack.s3_url).await,
            ),
            (
                config::ENV_SQS_ENDPOINT,
                TimedProxy::start(&t.stack.function_environment()[config::ENV_SQS_ENDPOINT]).await,
            ),
        ],
    };
    // A function that may call S3 (its template policy grants an s3: action) is held against
    // the floor that also builds an S3 client.
    let s3_users: BTreeSet<String> = t
        .stack
        .iam
        .grants()
        .into_iter()
        .filter(|g| g.action.starts_with("s3:"))
        .map(|g| g.function)
        .collect();
    let invoice = |e: &mut Value, n: usize| set_path_param(e, "invoiceId", &ids[n].to_string());

    // Each function with the event it is timed on (a success where the API has one).
    let with = |function: &str, change: &dyn Fn(&mut Value)| {
        let mut e = api_event(function, &tenant);
        change(&mut e);
        e
    };
    let master = |e: &mut Value, name: &str| set_path_param(e, name, "CS-MD");
    let mut plan: Vec<(&str, Value)> = vec![
        ("hello-world", with("get-invoice", &|e| invoice(e, 0))),
        ("floor", with("get-invoice", &|e| invoice(e, 0))),
        ("floor-s3", with("get-invoice", &|e| invoice(e, 0))),
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
        ("list-gl-accounts", with("list-gl-accounts", &|_| {})),
        (
            "get-gl-account",
            with("get-gl-account", &|e| master(e, "code")),
        ),
        ("list-tax-codes", with("list-tax-codes", &|_| {})),
        ("get-tax-code", with("get-tax-code", &|e| master(e, "code"))),
        (
            "list-tracking-categories",
            with("list-tracking-categories", &|_| {}),
        ),
        (
            "get-tracking-category",
            with("get-tracking-category", &|e| master(e, "category")),
        ),
        (
            "list-purchase-orders",
            with("list-purchase-orders", &|_| {}),
        ),
        (
            "get-purchase-order",
            with("get-purchase-order", &|e| master(e, "poNumber")),
        ),
        ("sweep-import-jobs", event("sweep-import-jobs")),
        ("deliver-webhooks", event("deliver-webhooks")),
        ("webhook-fanout", event("webhook-fanout")),
        ("dispatch-webhooks", event("dispatch-webhooks")),
        ("process-import-job", event("process-import-job")),
        ("publish-invoice", event("publish-invoice")),
    ];

    // Every function the repository builds is measured: a new one without a row here fails.
    for dir in std::fs::read_dir(workspace.join("functions")).unwrap() {
        let name = dir.unwrap().file_name().to_string_lossy().into_owned();
        assert!(
            plan.iter().any(|(function, _)| *function == name),
            "functions/{name} has no event in the cold-start bench's plan"
        );
    }

    if let Some(only) = &args.only {
        plan.retain(|(function, _)| {
            plan_is_baseline(function) || only.iter().any(|o| o == function)
        });
    }

    // Each function's binary and environment.
    let mut runs = Vec::new();
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
        // The floors and hello-world sign as get-invoice does: their GetItem is allowed.
        let signs_as = if plan_is_baseline(function) {
            "get-invoice"
        } else {
            function
        };
        environment.extend(
            lambda_environment(signs_as, Duration::from_secs(10))
                .into_iter()
                .map(|(k, v)| (k.to_string(), v)),
        );
        // The engines through their timing proxies, and the grant cache as deployed (the dev
        // stack turns it off so that a revoke applies at once).
        let deployed_cache = config::DEFAULT_GRANT_CACHE_TTL.as_secs().to_string();
        let proxied = engines
            .proxies
            .iter()
            .map(|(name, p)| (*name, p.url.clone()));
        for (name, value) in proxied.chain([(config::ENV_GRANT_CACHE_TTL, deployed_cache)]) {
            environment.retain(|(k, _)| k != name);
            environment.push((name.to_string(), value));
        }
        runs.push((
            *function,
            function.to_string(),
            event,
            binary,
            environment.clone(),
            Samples::default(),
        ));
        if let Some(dir) = &args.versus {
            let other = workspace.join(dir).join(function);
            assert!(other.is_file(), "{} is missing", other.display());
            let label = format!("{function} (versus)");
            runs.push((
                *function,
                label,
                event,
                other,
                environment,
                Samples::default(),
            ));
        }
    }
    // Round after round, one start of each function in turn: the machine's drift over the
    // run (it is shared) falls on every function and its floor alike.
    for round in 0..args.starts {
        for (function, _, event, binary, environment, samples) in &mut runs {
            let log = t.stack.data_dir.join(format!("{function}-{round}.log"));
            let sample = start_once(binary, function, environment, event, &engines, log).await;
            samples.push(sample);
        }
        eprintln!("round {} of {} done", round + 1, args.starts);
    }

    let mut results = Vec::new();
    for (function, label, _, binary, _, samples) in runs {
        let floor = if plan_is_baseline(function) {
            Value::Null
        } else if s3_users.contains(function) {
            json!("floor-s3")
        } else {
            json!("floor")
        };
        let size = std::fs::metadata(&binary).unwrap().len();
        let [init, first, warm, first_sdk, sdk, rss, first_calls, calls] = samples.0;
        let row = json!({
            "function": function,
            "versus": label != function,
            "binary": binary.canonicalize().unwrap(),
            "bytes": size,
            "init_ms": median(&init),
            "first_ms": median(&first),
            "warm_ms": median(&warm),
            "first_sdk_ms": median(&first_sdk),
            "warm_sdk_ms": median(&sdk),
            "first_calls": median(&first_calls),
            "warm_calls": median(&calls),
            "floor": floor,
            "peak_rss_mib": rss.iter().cloned().fold(0.0, f64::max),
            "samples": {
                "init_ms": init, "first_ms": first, "warm_ms": warm,
                "first_sdk_ms": first_sdk, "warm_sdk_ms": sdk,
            },
        });
        eprintln!(
            "{label:37} init {:7.2} ms  first {:7.2} ms  warm {:6.2} ms (SDK {:5.2}, {} calls)  {:5.2} MB  peak {:5.1} MiB",
            row["init_ms"].as_f64().unwrap(),
            row["first_ms"].as_f64().unwrap(),
            row["warm_ms"].as_f64().unwrap(),
            row["warm_sdk_ms"].as_f64().unwrap(),
            row["warm_calls"],
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
