//! How long an import of N supplier rows takes on the local stack, end to end: start an
//! upload job, PUT the CSV to its pre-signed URL, poll until FINISHED. Prints the time, the
//! rate and the process's resident memory while the worker runs (it streams, so that stays
//! flat as N grows; the test client's own copy of the file is dropped once uploaded).
//!
//! The baseline, in the same run on the same engine: the very same items (each card as the
//! store writes it) written with raw BatchWriteItem calls, 25 items each and four in flight,
//! as the worker writes a block of 100. Parsing and encoding them is not timed.
//!
//!     cargo bench -p ledgerdock-tests --bench import_throughput -- 100000
//!     cargo bench -p ledgerdock-tests --bench import_throughput -- 500000 --wide   # ≈100 MB
//!     cargo bench -p ledgerdock-tests --bench import_throughput -- 100000 --purchase-orders
//!
//! `--purchase-orders`: N purchase-order lines, ten to an order (a row per line, grouped into
//! one item per order), and the rate in lines per second.
//!
//! `--as-function`: the worker alone, as the function runs it: the dev stack only stores (its
//! own worker is off), and the release `process-import-job` binary (`--binaries DIR`, else
//! target/release) is started under the bench's Runtime API and handed the S3 event of the
//! uploaded file. The time is that one invocation's, and the peak RSS is the function
//! process's own high-water mark (not the dev stack's and its engine's, as in process).
//!
//! Persists DynamoDB to a file, as `ledgerdock dev` does by default; `--in-memory` for not.
//! `--out FILE` appends the figures as one JSON line (bench/run collects them).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use ledgerdock_infra::dev::DevOptions;
use ledgerdock_shared::domain::master_data::purchase_order::PurchaseOrders;
use ledgerdock_shared::domain::master_data::MasterKind;
use ledgerdock_shared::domain::supplier::SupplierCards;
use ledgerdock_tests::emulator::lambda_environment;
use ledgerdock_tests::events::event;
use ledgerdock_tests::process::{rss_mib, Background};
use ledgerdock_tests::runtime_api::RuntimeApi;
use ledgerdock_tests::*;
use serde_json::json;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let rows: usize = args
        .iter()
        .filter(|a| !a.contains('/') && !a.contains('.'))
        .find_map(|a| a.parse().ok())
        .unwrap_or(100_000);
    let in_memory = args.iter().any(|a| a == "--in-memory");
    let wide = args.iter().any(|a| a == "--wide");
    let orders = args.iter().any(|a| a == "--purchase-orders");
    let as_function = args.iter().any(|a| a == "--as-function");
    let binaries = args
        .iter()
        .position(|a| a == "--binaries")
        .map(|i| PathBuf::from(&args[i + 1]))
        .unwrap_or_else(|| PathBuf::from("target/release"));
    let scratch = tempfile::tempdir().expect("temp dir");
    let t = TestStack::start_with(DevOptions {
        in_memory,
        data_dir: scratch.path().to_path_buf(),
        process_imports: !as_function,
        ..bench_options()
    })
    .await;
    // Polled every 100 ms below: a client the rate limit does not slow.
    let tenant = t.unlimited_connector().await;

    let (csv, import_type, records) = if orders {
        let per_order = 10;
        (
            purchase_order_csv("PO", rows, per_order),
            "PURCHASE_ORDERS",
            rows.div_ceil(per_order),
        )
    } else {
        (csv_again(wide, rows), "SUPPLIER_CARDS", rows)
    };
    let size_mib = csv.len() as f64 / (1024.0 * 1024.0);
    let start = Instant::now();
    let request = t
        .import_request()
        .json(&json!({"type": import_type, "contentType": "text/csv", "contentLength": csv.len()}));
    let job = t.start_import(&tenant, request).await;
    let url = job["upload"]["url"].as_str().unwrap();
    let put = t
        .http
        .put(url)
        .header("content-type", "text/csv")
        .header("if-none-match", "*")
        .body(csv)
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);
    let uploaded = start.elapsed();
    let job_id = job["jobId"].as_str().unwrap().to_string();
    if as_function {
        // The baseline before and after the worker, their mean: this shared machine's speed
        // drifts over minutes, and the two bracket the worker's run.
        let before = raw_of(&t, orders, wide, rows).await;
        let (took, peak_mib) = run_the_function(&t, &tenant, &job_id, &binaries).await;
        let done = t.job(&tenant, &job_id).await;
        assert_eq!(done["status"], "FINISHED", "{done}");
        assert_eq!(done["counts"]["created"].as_u64(), Some(records as u64));
        let raw = (before + raw_of(&t, orders, wide, rows).await) / 2;
        report(
            &args,
            json!({
                "type": import_type,
                "as_function": true,
                "dynamodb_in_memory": in_memory,
                "rows": rows,
                "items": records,
                "csv_mib": size_mib,
                "import_s": took.as_secs_f64(),
                "raw_s": raw.as_secs_f64(),
                "peak_rss_mib": peak_mib,
            }),
        );
        t.stop().await;
        return;
    }
    // Sample memory while the worker runs (the uploaded copy of the file is already freed).
    let peak = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let sampler = tokio::spawn({
        let peak = peak.clone();
        async move {
            loop {
                peak.fetch_max(rss_mib(), std::sync::atomic::Ordering::Relaxed);
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    });
    // Polled every 100 ms, so the time is the job's to a tenth of a second (the tests' wait
    // slows to once a second after five, a tenth of an 11-second import).
    let done = loop {
        let job = t.job(&tenant, &job_id).await;
        if job["status"] != "IN_PROGRESS" {
            break job;
        }
        assert!(start.elapsed().as_secs() < 3600, "job stuck: {job}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    let total = start.elapsed();
    sampler.abort();
    let peak_while_importing = peak.load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(done["status"], "FINISHED", "{done}");
    assert_eq!(done["counts"]["created"].as_u64(), Some(records as u64));
    let raw = raw_of(&t, orders, wide, rows).await;
    report(
        &args,
        json!({
            "type": import_type,
            "dynamodb_in_memory": in_memory,
            "rows": rows,
            "items": records,
            "csv_mib": size_mib,
            "import_s": total.as_secs_f64(),
            "raw_s": raw.as_secs_f64(),
            "peak_rss_mib": peak_while_importing,
        }),
    );
    println!(
        "{rows} rows ({size_mib:.1} MiB CSV, DynamoDB {}): upload {:.1} s, FINISHED after {:.1} s, {:.0} rows/s, peak RSS while importing {} MiB",
        if in_memory { "in memory" } else { "on disk" },
        uploaded.as_secs_f64(),
        total.as_secs_f64(),
        rows as f64 / total.as_secs_f64(),
        peak_while_importing,
    );
    t.stop().await;
}

/// Runs the job's file through the `process-import-job` binary under the Runtime API, as
/// Lambda would on the S3 event: the invocation's time, and the process's peak RSS in MiB.
async fn run_the_function(
    t: &TestStack,
    tenant: &Connector,
    job_id: &str,
    binaries: &std::path::Path,
) -> (Duration, f64) {
    const FUNCTION: &str = "process-import-job";
    let workspace = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let binary = workspace.join(binaries).join(FUNCTION);
    assert!(
        binary.is_file(),
        "{} is missing: build it with `cargo build --release -p {FUNCTION}`",
        binary.display()
    );
    let mut api = RuntimeApi::start().await;
    let mut command = std::process::Command::new(&binary);
    command
        .env_clear()
        .envs(t.stack.function_environment())
        .envs(lambda_environment(FUNCTION, Duration::from_secs(900)))
        .env("AWS_LAMBDA_RUNTIME_API", &api.address);
    let log = t.stack.data_dir.join(format!("{FUNCTION}.log"));
    let process = Background::spawn(command, log, FUNCTION);
    api.ready(Duration::from_secs(30))
        .await
        .unwrap_or_else(|c| panic!("{c:?}\n{}", process.output()));
    let mut s3_event = event(FUNCTION);
    let object = &mut s3_event["Records"][0]["s3"];
    object["bucket"]["name"] = json!(t.stack.app.config.bucket_name);
    object["object"]["key"] = json!(format!("imports/{}/{job_id}", tenant.company));
    // Lambda's limit for one invocation: the worker checkpoints and is retried past it.
    let done = api
        .invoke(s3_event, Duration::from_secs(900))
        .await
        .unwrap_or_else(|c| panic!("{c:?}\n{}", process.output()));
    let peak = process.peak_rss_kib().unwrap_or(0) as f64 / 1024.0;
    println!(
        "{FUNCTION} as a function: {:.1} s, peak RSS {peak:.1} MiB",
        done.took.as_secs_f64()
    );
    (done.took, peak)
}

/// Raw BatchWriteItem of the very items the import wrote (from the bench's CSV again).
async fn raw_of(t: &TestStack, orders: bool, wide: bool, rows: usize) -> Duration {
    let raw = if orders {
        raw_batch_writes::<PurchaseOrders>(t, &purchase_order_csv("PO", rows, 10)).await
    } else {
        raw_batch_writes::<SupplierCards>(t, &csv_again(wide, rows)).await
    };
    println!(
        "raw BatchWriteItem of the same items ({rows} rows): {:.1} s, {:.0} rows/s",
        raw.as_secs_f64(),
        rows as f64 / raw.as_secs_f64(),
    );
    raw
}

/// Prints the figures, and appends them as one JSON line to `--out FILE` when given.
fn report(args: &[String], line: serde_json::Value) {
    use std::io::Write;
    println!(
        "import runs at {:.2}x raw BatchWriteItem",
        line["raw_s"].as_f64().unwrap() / line["import_s"].as_f64().unwrap()
    );
    if let Some(out) = args.iter().position(|a| a == "--out").map(|i| &args[i + 1]) {
        let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(out);
        std::fs::create_dir_all(out.parent().unwrap()).unwrap();
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&out)
            .unwrap();
        writeln!(file, "{line}").unwrap();
    }
}

/// The bench's CSV again (the first copy went to S3 and was dropped).
fn csv_again(wide: bool, rows: usize) -> String {
    if wide {
        wide_supplier_csv("W", rows)
    } else {
        supplier_csv("B", rows)
    }
}

/// Writes the cards of `csv`, each as the store writes it, into a fresh company with raw
/// BatchWriteItem calls: 25 items a call, four calls in flight, block after block, as the
/// worker does. Only the writes are timed.
async fn raw_batch_writes<K: MasterKind>(t: &TestStack, csv: &str) -> std::time::Duration {
    use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
    use futures_util::future::try_join_all;
    use ledgerdock_shared::domain::master_data::{Stored, WriteOutcome};
    use ledgerdock_shared::domain::{CompanyId, ImportFormat, JobId, Timestamp};
    use ledgerdock_shared::features::imports::reader::for_format;
    use ledgerdock_shared::store::master_data::{encode, meta_for};
    use ledgerdock_shared::store::{batch_write, BATCH_WRITE_MAX};

    let company = CompanyId::new_random();
    let (job, now) = (JobId::new_random(), Timestamp::now());
    let mut reader = for_format::<K>(ImportFormat::Csv);
    let mut records = Vec::new();
    reader.push(csv.as_bytes(), &mut records).unwrap();
    reader.finish(&mut records).unwrap();
    let writes: Vec<WriteRequest> = records
        .into_iter()
        .map(|record| {
            let stored = Stored {
                record: record.record.expect("the bench's rows are valid"),
                meta: meta_for(job, now, now, WriteOutcome::Created),
            };
            let item = encode::<K>(&stored, &company).unwrap();
            WriteRequest::builder()
                .put_request(PutRequest::builder().set_item(Some(item)).build().unwrap())
                .build()
        })
        .collect();
    let (client, table) = (&t.stack.dynamodb, &t.stack.app.config.table_name);
    let start = Instant::now();
    for block in writes.chunks(4 * BATCH_WRITE_MAX) {
        // Up to four calls at once, as the worker's block of 100.
        try_join_all(
            block
                .chunks(BATCH_WRITE_MAX)
                .map(|chunk| batch_write(client, table, chunk.to_vec())),
        )
        .await
        .unwrap();
    }
    start.elapsed()
}
