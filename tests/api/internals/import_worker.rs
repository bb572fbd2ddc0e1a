//! The import worker, the sweep and the job store driven directly, as Lambda would invoke them:
//! an S3 event delivered twice, a worker stopped halfway and run again, S3's 403 for a missing
//! key, a job ended under a running worker, a file replaced between reads, and the open-jobs
//! counter.

use std::time::Duration;

use ledgerdock_infra::dev::DevOptions;
use ledgerdock_shared::domain::JobStatus;
use ledgerdock_shared::features::imports::worker::{process_object, Processed};
use ledgerdock_shared::store::import_files::object_key;
use ledgerdock_tests::*;
use serde_json::json;

const LEASE: Duration = Duration::from_secs(2);

/// Tests deliver the S3 events themselves; a short lease lets a rerun take over soon after
/// a worker is stopped.
fn manual_worker_options() -> DevOptions {
    DevOptions {
        process_imports: false,
        import_lease: LEASE,
        ..options()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_event_delivered_twice_reaches_the_same_end_state() {
    let t = TestStack::start_with(manual_worker_options()).await;
    let a = t.connector_all_scopes().await;
    let started = t.import_json(&a, &supplier_records("E", 1500)).await;
    let job_id = job_id(&started);
    let key = object_key(&a.company, &job_id.parse().unwrap());
    let app = &t.stack.functions.of("process-import-job");

    // Two deliveries at once, as S3's at-least-once notification may do.
    let (first, second) = tokio::join!(process_object(app, &key), process_object(app, &key));
    let outcomes = [first.unwrap(), second.unwrap()];
    let ended: Vec<_> = outcomes
        .iter()
        .filter(|p| matches!(p, Processed::Ended(..)))
        .collect();
    assert_eq!(ended.len(), 1, "{outcomes:?}");
    // The other found the job held (or, if it came late, ended): it wrote nothing.
    assert!(
        outcomes.iter().any(|p| matches!(
            p,
            Processed::HeldElsewhere | Processed::AlreadyEnded(JobStatus::Finished)
        )),
        "{outcomes:?}"
    );
    let job = t.job(&a, job_id).await;
    assert_eq!(counts(&job), [1500, 1500, 0, 0, 0]);

    // A late third delivery changes nothing.
    assert_eq!(
        process_object(app, &key).await.unwrap(),
        Processed::AlreadyEnded(JobStatus::Finished)
    );
    assert_eq!(t.job(&a, job_id).await, job);
    assert_eq!(t.count_items(a.company, "SUPPLIER#").await, 1500);
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_worker_stopped_halfway_and_run_again_ends_as_if_it_never_stopped() {
    let _turn = heavy_test().await;
    let t = TestStack::start_with(manual_worker_options()).await;
    let a = t.connector_all_scopes().await;
    let csv = supplier_csv("H", 100_000);
    let (job, url) = t.upload_job(&a, "text/csv", csv.len()).await;
    assert_eq!(t.put_file(&url, "text/csv", csv.into_bytes()).await, 200);
    let job_id = job_id(&job).to_string();
    let key = object_key(&a.company, &job_id.parse().unwrap());

    let app = t.stack.functions.of("process-import-job");
    let worker_key = key.clone();
    let worker = tokio::spawn(async move { process_object(&app, &worker_key).await });
    // Stop it once it has recorded a checkpoint (progress is written every 2 s).
    let job_ref: ledgerdock_shared::domain::JobId = job_id.parse().unwrap();
    let checkpoint = loop {
        let stored = t
            .stack
            .app
            .import_jobs
            .get(a.company, job_ref)
            .await
            .unwrap()
            .unwrap();
        if let Some(at) = stored.resume_after_record.filter(|at| *at > 0) {
            break at;
        }
        assert!(
            !worker.is_finished(),
            "the worker finished before it could be stopped"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    worker.abort();
    let _ = worker.await;
    let halfway = t.job(&a, &job_id).await;
    assert_eq!(halfway["status"], "IN_PROGRESS");
    let written = t.count_items(a.company, "SUPPLIER#").await;
    assert!(written < 100_000, "stopped after {written} cards");
    // Card H00001 (record 1, before the checkpoint) disappears behind the worker's back: a
    // rerun that resumes does not read it again, one that restarted would write it back.
    assert!(checkpoint >= 1);
    t.stack
        .dynamodb
        .delete_item()
        .table_name(&t.stack.app.config.table_name)
        .key(
            "PK",
            aws_sdk_dynamodb::types::AttributeValue::S(
                ledgerdock_shared::store::schema::suppliers_pk(&a.company),
            ),
        )
        .key(
            "SK",
            aws_sdk_dynamodb::types::AttributeValue::S("SUPPLIER#H00001".into()),
        )
        .send()
        .await
        .unwrap();

    // While the stopped worker's lease lasts, a delivery leaves the job alone.
    assert_eq!(
        process_object(&t.stack.functions.of("process-import-job"), &key)
            .await
            .unwrap(),
        Processed::HeldElsewhere
    );
    tokio::time::sleep(LEASE + Duration::from_millis(500)).await;

    // The retry resumes after the checkpoint and classifies the cards the first run wrote
    // exactly as it did: created.
    let rerun = process_object(&t.stack.functions.of("process-import-job"), &key)
        .await
        .unwrap();
    assert!(
        matches!(rerun, Processed::Ended(JobStatus::Finished, _)),
        "{rerun:?}"
    );
    let done = t.job(&a, &job_id).await;
    assert_eq!(counts(&done), [100_000, 100_000, 0, 0, 0]);
    assert_eq!(
        t.count_items(a.company, "SUPPLIER#").await,
        99_999,
        "resumed after record {checkpoint} instead of starting over"
    );
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn when_s3_answers_403_for_missing_keys_the_sweep_worker_and_publish_still_settle_each_one() {
    use ledgerdock_shared::features::imports::sweep::sweep;
    use ledgerdock_shared::features::imports::worker::process_job;
    let t = TestStack::start_with(DevOptions {
        process_imports: false,
        upload_url_ttl: Duration::from_secs(1),
        import_upload_grace: Duration::from_secs(1),
        // This test runs the sweep itself.
        sweep_interval: Duration::from_secs(3600),
        ..options()
    })
    .await;
    // The functions run as themselves: none may list the bucket outright, so S3 answers each
    // a missing key with 403, as it does in AWS.
    let a = t.connector_all_scopes().await;
    let (never, _) = t.upload_job(&a, "text/csv", 100).await;
    let csv = supplier_csv("L", 3);
    let (landed, url) = t.upload_job(&a, "text/csv", csv.len()).await;
    assert_eq!(t.put_file(&url, "text/csv", csv.into_bytes()).await, 200);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let swept = sweep(
        &t.stack.functions.of("sweep-import-jobs"),
        ledgerdock_shared::domain::Timestamp::now(),
    )
    .await
    .expect("a 403 on one job does not stop the sweep");
    assert_eq!(
        (swept.failed, swept.announced_again, swept.errors),
        (1, 1, 0)
    );
    let never = t.job(&a, job_id(&never)).await;
    assert_eq!(never["status"], "FAILED");
    assert!(failure_reason(&never).contains("no file was uploaded"));
    let landed = t.job(&a, job_id(&landed)).await;
    assert_eq!(landed["status"], "IN_PROGRESS", "announced again: {landed}");

    // The worker told about a file that is not there fails its job instead of retrying forever.
    let (gone, _) = t.upload_job(&a, "text/csv", 100).await;
    let job_id: ledgerdock_shared::domain::JobId = job_id(&gone).parse().unwrap();
    let processed = process_job(
        &t.stack.functions.of("process-import-job"),
        a.company,
        job_id,
    )
    .await
    .unwrap();
    assert!(
        matches!(processed, Processed::Ended(JobStatus::Failed, _)),
        "{processed:?}"
    );
    let gone = t.job(&a, &job_id.to_string()).await;
    assert!(
        failure_reason(&gone).contains("no longer in storage"),
        "{gone}"
    );

    // publish-invoice's document check: a 400 naming documents, not a 500.
    let mut invoice = invoice_json(1, "2026-11-01T09:00:00Z");
    let id = ledgerdock_shared::domain::InvoiceId::new_random();
    invoice["invoiceId"] = json!(id.to_string());
    let event = serde_json::from_value(json!({
        "companyId": a.company.to_string(),
        "invoice": invoice,
        "documents": [{"format": "PDF", "fileName": "x.pdf"}],
    }))
    .unwrap();
    let err = ledgerdock_shared::handlers::invoices::publish_invoice::handle(
        &t.stack.functions.of("publish-invoice"),
        event,
    )
    .await
    .unwrap_err();
    assert_eq!(err.status(), 400, "{err:?}");
    assert!(t.stored(a.company, id).await.is_none());
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_worker_stops_writing_once_its_job_is_ended_by_someone_else() {
    use ledgerdock_shared::store::import_jobs::{Ending, Guard};
    let t = TestStack::start_with(manual_worker_options()).await;
    let a = t.connector_all_scopes().await;
    let csv = supplier_csv("W", 100_000);
    let (job, url) = t.upload_job(&a, "text/csv", csv.len()).await;
    assert_eq!(t.put_file(&url, "text/csv", csv.into_bytes()).await, 200);
    let job_id: ledgerdock_shared::domain::JobId = job_id(&job).parse().unwrap();
    let key = object_key(&a.company, &job_id);
    let app = t.stack.functions.of("process-import-job");
    let worker = tokio::spawn(async move { process_object(&app, &key).await });
    while t.count_items(a.company, "SUPPLIER#").await < 1000 {
        assert!(!worker.is_finished(), "the worker finished too soon");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // The sweep (or anyone) ends the job while the worker is busy with it.
    let ending = Ending::Failed {
        reason: "ended by the sweep".into(),
        counts: Default::default(),
    };
    assert!(t
        .stack
        .app
        .import_jobs
        .finish(a.company, job_id, &ending, Guard::None)
        .await
        .unwrap());
    let outcome = worker.await.unwrap().unwrap();
    assert_eq!(outcome, Processed::AlreadyEnded(JobStatus::Failed));
    let written = t.count_items(a.company, "SUPPLIER#").await;
    assert!(written < 100_000, "it stopped: {written}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(t.count_items(a.company, "SUPPLIER#").await, written);
    let ended = t.job(&a, &job_id.to_string()).await;
    assert_eq!(ended["status"], "FAILED");
    assert_eq!(ended["failureReason"], "ended by the sweep");
    t.stop().await;
}

#[tokio::test]
async fn the_second_read_of_an_import_file_insists_on_the_version_the_first_read() {
    use ledgerdock_shared::store::import_files::Opened;
    let t = TestStack::start_with(manual_worker_options()).await;
    let a = t.connector_all_scopes().await;
    let csv = supplier_csv("V", 3);
    let (job, url) = t.upload_job(&a, "text/csv", csv.len()).await;
    assert_eq!(t.put_file(&url, "text/csv", csv.into_bytes()).await, 200);
    let key = object_key(&a.company, &job_id(&job).parse().unwrap());
    let files = &t.stack.app.import_files;
    let Opened::File(first) = files.open(&key, None).await.unwrap() else {
        panic!("the file is there");
    };
    let etag = first.etag.clone().expect("S3 names the version");
    assert!(matches!(
        files.open(&key, Some(&etag)).await.unwrap(),
        Opened::File(_)
    ));
    // Replaced behind the worker's back (not through the upload URL, which refuses that).
    t.stack
        .s3
        .put_object()
        .bucket(&t.stack.app.config.bucket_name)
        .key(&key)
        .body(supplier_csv("X", 4).into_bytes().into())
        .send()
        .await
        .unwrap();
    assert!(matches!(
        files.open(&key, Some(&etag)).await.unwrap(),
        Opened::Changed
    ));
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_company_may_have_only_so_many_jobs_in_progress() {
    use ledgerdock_shared::store::import_jobs::{Ending, Guard, MAX_OPEN_JOBS};
    let t = TestStack::start().await;
    let a = t.connector_all_scopes().await;
    let b = t.connector_all_scopes().await;
    let mut open = Vec::new();
    for _ in 0..MAX_OPEN_JOBS {
        open.push(t.upload_job(&a, "text/csv", 100).await.0);
    }
    let refused = t
        .import_request()
        .bearer_auth(&a.token)
        .header("Lightyear-Company-ID", a.company.to_string())
        .json(&json!({"type": "SUPPLIER_CARDS", "records": supplier_records("O", 1)}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.headers()["retry-after"], "30");
    Reply::read(refused).await.error(429, "TOO_MANY_OPEN_JOBS");
    assert_eq!(
        t.count_items(a.company, "IMPORTJOB#").await as u64,
        MAX_OPEN_JOBS,
        "the refused call started no job"
    );
    // Another company is not affected.
    t.upload_job(&b, "text/csv", 100).await;
    // A job that ends frees its place.
    let first: ledgerdock_shared::domain::JobId =
        open[0]["jobId"].as_str().unwrap().parse().unwrap();
    let ending = Ending::Failed {
        reason: "test".into(),
        counts: Default::default(),
    };
    assert!(t
        .stack
        .app
        .import_jobs
        .finish(a.company, first, &ending, Guard::None)
        .await
        .unwrap());
    assert_eq!(
        t.stack.app.import_jobs.open_jobs(a.company).await.unwrap(),
        MAX_OPEN_JOBS - 1
    );
    let job = t.import_json(&a, &supplier_records("O", 1)).await;
    let done = t.wait_for_job(&a, job_id(&job)).await;
    assert_eq!(done["status"], "FINISHED");
    assert_eq!(
        t.stack.app.import_jobs.open_jobs(a.company).await.unwrap(),
        MAX_OPEN_JOBS - 1
    );
    t.stop().await;
}
