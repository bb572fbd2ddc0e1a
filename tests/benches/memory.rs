//! What a function's memory size buys: Lambda gives a function CPU in proportion to its memory
//! (1,769 MB is one vCPU), so the same function is run here in a container capped at the CPU
//! share of each memory size (Docker's `--cpus`, the stand-in base image of the sam local
//! tests), under the bench's own Runtime API and against a dev stack, and its warm invocations
//! are timed. With Lambda's price per GB-second that gives the cost of a million requests at
//! each size; the template's MemorySize is chosen from it.
//!
//! `bench/run` runs it on the release build with `--invocations 600`: p99 is then the seventh
//! slowest, where 60 made it the second slowest, which moved from run to run by tens of
//! milliseconds. It needs Docker and says so when there is none. Writes JSON to `--out`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use ledgerdock_tests::emulator::lambda_environment;
use ledgerdock_tests::events::{api_event, set_path_param};
use ledgerdock_tests::process::Background;
use ledgerdock_tests::runtime_api::{Call, RuntimeApi};
use ledgerdock_tests::sam_local::{docker_unavailable, stand_in_image};
use ledgerdock_tests::stats::{percentile, sorted};
use ledgerdock_tests::*;
use serde_json::{json, Value};

/// Lambda's memory sizes tried, in MB.
const MEMORY_SIZES: [u32; 4] = [128, 256, 512, 1024];
/// The memory size that buys one whole vCPU.
const ONE_VCPU_MB: f64 = 1769.0;
const STEP_TIMEOUT: Duration = Duration::from_secs(60);

fn args() -> (String, usize, PathBuf) {
    let (mut profile, mut invocations) = ("release".to_string(), 600);
    let mut out = PathBuf::from("target/bench/memory.json");
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--profile" => profile = it.next().expect("--profile debug|release"),
            "--invocations" => {
                invocations = it
                    .next()
                    .and_then(|n| n.parse().ok())
                    .expect("--invocations N")
            }
            "--out" => out = it.next().expect("--out FILE").into(),
            "--bench" => {}
            other => panic!("unknown argument {other}"),
        }
    }
    (profile, invocations, out)
}

/// Runs `binary` capped at `memory_mb`'s CPU share and times `invocations` warm invocations
/// of `event` (after one cold one); milliseconds.
async fn warm_times(
    t: &TestStack,
    binary: &Path,
    function: &str,
    memory_mb: u32,
    event: &Value,
    invocations: usize,
) -> Vec<f64> {
    let mut api = RuntimeApi::start().await;
    let mut command = Command::new("docker");
    command.args([
        "run",
        "--rm",
        "--network",
        "host",
        "--cpus",
        &format!("{:.4}", f64::from(memory_mb) / ONE_VCPU_MB),
        "--memory",
        &format!("{memory_mb}m"),
        "-v",
        &format!("{}:/var/task/bootstrap:ro", binary.display()),
    ]);
    let mut environment = t.stack.function_environment();
    environment.extend(
        lambda_environment(function, Duration::from_secs(10))
            .into_iter()
            .filter(|(name, _)| *name != "PATH"),
    );
    environment.insert("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", memory_mb.to_string());
    environment.insert("AWS_LAMBDA_RUNTIME_API", api.address.clone());
    for (name, value) in &environment {
        command.args(["-e", &format!("{name}={value}")]);
    }
    command.args([stand_in_image(), "/var/task/bootstrap"]);
    let log = t.stack.data_dir.join(format!("{function}-{memory_mb}.log"));
    let process = Background::spawn(command, log, "docker run");
    let fail = |what: Call| -> ! {
        panic!(
            "{function} at {memory_mb} MB: {what:?}\n{}",
            process.output()
        )
    };
    api.ready(STEP_TIMEOUT).await.unwrap_or_else(|c| fail(c));
    let mut times = Vec::new();
    for n in 0..=invocations {
        let done = api
            .invoke(event.clone(), STEP_TIMEOUT)
            .await
            .unwrap_or_else(|c| fail(c));
        if !matches!(done.answer, Call::Response(..)) {
            fail(done.answer);
        }
        // The first one is the cold invocation: not a warm figure.
        if n > 0 {
            times.push(done.took.as_secs_f64() * 1000.0);
        }
    }
    drop(process);
    times
}

#[tokio::main]
async fn main() {
    let (profile, invocations, out) = args();
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = workspace.join(out);
    if let Some(reason) = docker_unavailable() {
        eprintln!("memory bench skipped: {reason}");
        return;
    }
    let binaries = workspace.join("target").join(&profile);
    let t = TestStack::start_with(bench_options()).await;
    let tenant = t.unlimited_connector().await;
    let company = tenant.company;
    // A page of 100 ids, and an invoice of 50 lines (the demo's largest).
    let ids = t.publish_many(company, 100).await;
    let big = t
        .publish(
            company,
            50,
            "2026-11-01T09:00:00Z",
            &[ledgerdock_shared::domain::DocumentFormat::Pdf],
        )
        .await;
    let mut list = api_event("list-exportable-invoices", &tenant);
    ledgerdock_tests::events::set_query(&mut list, "limit", "100");
    let mut detail = api_event("get-invoice", &tenant);
    set_path_param(&mut detail, "invoiceId", &big.to_string());
    let mut complete = api_event("complete-invoice-export", &tenant);
    set_path_param(&mut complete, "invoiceId", &ids[0].to_string());
    let plan = [
        ("list-exportable-invoices", list),
        ("get-invoice", detail),
        ("complete-invoice-export", complete),
    ];

    let mut rows = Vec::new();
    for (function, event) in &plan {
        let binary = binaries.join(function).canonicalize().unwrap_or_else(|_| {
            panic!("{function} is not built with the {profile} profile (bench/run builds it)")
        });
        for memory_mb in MEMORY_SIZES {
            let times =
                sorted(warm_times(&t, &binary, function, memory_mb, event, invocations).await);
            let (p50, p99) = (percentile(&times, 0.5), percentile(&times, 0.99));
            eprintln!("{function:28} {memory_mb:5} MB  warm p50 {p50:7.2} ms  p99 {p99:7.2} ms");
            rows.push(json!({
                "function": function,
                "memory_mb": memory_mb,
                "warm_p50_ms": p50,
                "warm_p99_ms": p99,
            }));
        }
    }
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir).unwrap();
    }
    let report = json!({ "profile": profile, "invocations": invocations, "runs": rows });
    std::fs::write(&out, serde_json::to_vec_pretty(&report).unwrap()).unwrap();
    eprintln!("wrote {}", out.display());
    t.stop().await;
}
