//! The reference connector and the developer loop, run as a user runs them: the `ledgerdock`
//! binary against the stack over HTTP. `poll` survives being killed at random points without
//! exporting anything twice; `--follow` picks up what arrives later; `listen` forwards events
//! signed; `trigger` causes real events.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::stream::{self, StreamExt};
use ledgerdock_infra::connector::journal::Journal;
use ledgerdock_shared::domain::webhook_signing::SigningSecret;
use ledgerdock_shared::domain::{CompanyId, DocumentFormat, InvoiceId, Scope, Timestamp};
use ledgerdock_tests::receiver::Receiver;
use ledgerdock_tests::*;
use serde_json::Value;

/// A number in `0..n` (the tests' randomness: no seedable generator is linked).
fn random_below(n: u64) -> u64 {
    (uuid::Uuid::new_v4().as_u128() % u128::from(n)) as u64
}

/// `ledgerdock poll` into `out` as `tenant`: small claims and short leases, so a killed run's
/// claims matter.
fn poll(t: &TestStack, tenant: &Connector, out: &Path) -> Command {
    let mut command = t.cli_as(tenant, "poll");
    command
        .args(["--out", out.to_str().unwrap()])
        .args(["--batch", "5", "--lease", "30", "--workers", "3", "--quiet"])
        .stdin(Stdio::null());
    command
}

/// The directory's files by invoice: each invoice's file extensions.
fn exported_files(out: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut files: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for entry in std::fs::read_dir(out).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if name == ".ledgerdock-poll" {
            continue;
        }
        let (stem, extension) = name.split_once('.').expect("<id>.<extension>");
        files
            .entry(stem.to_string())
            .or_default()
            .insert(extension.to_string());
    }
    files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poll_killed_at_random_points_20_times_exports_every_invoice_once() {
    let _turn = heavy_test().await;
    const INVOICES: usize = 400;
    let t = TestStack::start().await;
    // A rate limit out of reach: twenty runs and the checks make over a thousand calls in a
    // minute (a poll waits out a 429, which would only make this test slow).
    let a = t
        .client_of(
            CompanyId::new_random(),
            &[Scope::InvoicesRead, Scope::InvoicesWrite],
        )
        .await;
    // Every fourth invoice has a PNG besides its PDF.
    let published: BTreeMap<InvoiceId, Vec<DocumentFormat>> = stream::iter(0..INVOICES)
        .map(|i| {
            let t = &t;
            async move {
                let formats = if i % 4 == 0 {
                    vec![DocumentFormat::Pdf, DocumentFormat::Png]
                } else {
                    vec![DocumentFormat::Pdf]
                };
                let at = format!("2026-11-01T08:{:02}:{:02}Z", i / 60, i % 60);
                (t.publish(a.company, 1, &at, &formats).await, formats)
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    let out = tempfile::tempdir().unwrap();

    let mut killed_mid_export = 0;
    for _ in 0..20 {
        let mut run = poll(&t, &a, out.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        tokio::time::sleep(Duration::from_millis(random_below(1000))).await;
        run.kill().unwrap();
        run.wait().unwrap();
        let journal = Journal::open(&out.path().join(".ledgerdock-poll/journal")).unwrap();
        if !journal.open_claims().is_empty() || journal.hidden_until().is_some() {
            killed_mid_export += 1;
        }
    }
    let before_last_run = exported_files(out.path()).len();
    eprintln!(
        "{killed_mid_export} of 20 runs were killed holding claims; {before_last_run} of \
         {INVOICES} invoices were in the directory before the last run"
    );
    assert!(
        killed_mid_export > 0,
        "no run was killed while it held claims"
    );

    let started = Instant::now();
    let last = tokio::task::spawn_blocking({
        let mut command = poll(&t, &a, out.path());
        move || command.output().unwrap()
    })
    .await
    .unwrap();
    assert!(
        last.status.success(),
        "the last run failed: {}",
        String::from_utf8_lossy(&last.stderr)
    );
    let summary: Value = serde_json::from_slice(&last.stdout).unwrap();
    assert_eq!(summary["skipped"], 0, "{summary}");
    eprintln!("the last run took {:?}: {summary}", started.elapsed());

    // Each invoice is in the directory exactly once, whole, with each of its soft copies.
    let files = exported_files(out.path());
    let expected: BTreeMap<String, BTreeSet<String>> = published
        .iter()
        .map(|(id, formats)| {
            let mut extensions: BTreeSet<String> =
                formats.iter().map(|f| f.extension().to_string()).collect();
            extensions.insert("json".into());
            (id.to_string(), extensions)
        })
        .collect();
    assert_eq!(
        files, expected,
        "the directory holds other files than expected"
    );
    for (id, formats) in &published {
        let json: Value =
            serde_json::from_slice(&std::fs::read(out.path().join(format!("{id}.json"))).unwrap())
                .unwrap();
        assert_eq!(json["invoiceId"], id.to_string());
        for format in formats {
            let copy = std::fs::read(out.path().join(format!("{id}.{}", format.extension())));
            assert_eq!(copy.unwrap(), sample(*format), "{id}'s {format:?}");
        }
        // …and exported exactly once, under the file's name.
        let detail = t.invoice(&a, id).await.ok();
        assert_eq!(detail["status"], "EXPORTED");
        assert_eq!(detail["export"]["externalId"], format!("{id}.json"));
    }
    for id in published.keys() {
        let completed = |entries: &[Value]| {
            entries
                .iter()
                .filter(|e| e["change"] == "completed")
                .count()
        };
        let started = Instant::now();
        let mut entries = t.history(&a, *id).await;
        while completed(&entries) == 0 && started.elapsed() < Duration::from_secs(10) {
            tokio::time::sleep(Duration::from_millis(50)).await;
            entries = t.history(&a, *id).await;
        }
        assert_eq!(completed(&entries), 1, "{id}: {entries:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poll_follow_exports_what_arrives_after_the_queue_ran_dry() {
    let t = TestStack::start_with(settling_fast()).await;
    let a = t
        .connector(&[Scope::InvoicesRead, Scope::InvoicesWrite])
        .await;
    let first = t
        .publish(a.company, 1, "2026-11-01T08:00:00Z", &[DocumentFormat::Pdf])
        .await;
    let out = tempfile::tempdir().unwrap();
    let log = std::env::temp_dir().join(format!("follow-{}.log", a.company));
    let follow = process::Background::spawn(
        {
            let mut command = poll(&t, &a, out.path());
            command.args(["--follow", "--feed-interval", "1"]);
            command
        },
        log,
        "ledgerdock poll --follow",
    );
    let arrives = |id: InvoiceId, within: Duration| {
        let path = out.path().join(format!("{id}.json"));
        async move {
            let started = Instant::now();
            while !path.exists() && started.elapsed() < within {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            path.exists()
        }
    };
    assert!(
        arrives(first, Duration::from_secs(20)).await,
        "the waiting invoice"
    );
    let later = t
        .publish(a.company, 2, "2026-11-01T09:00:00Z", &[DocumentFormat::Pdf])
        .await;
    // The feed serves the news after its settle window (2 s here), read every second.
    assert!(
        arrives(later, Duration::from_secs(40)).await,
        "an invoice published after the queue ran dry"
    );
    // Its JSON is written just before it is completed.
    let started = Instant::now();
    let mut detail = t.invoice(&a, later).await.ok();
    while detail["status"] != "EXPORTED" && started.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(50)).await;
        detail = t.invoice(&a, later).await.ok();
    }
    drop(follow);
    assert_eq!(detail["status"], "EXPORTED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listen_forwards_each_event_signed_as_a_delivery() {
    let t = TestStack::start_with(settling_fast()).await;
    let a = t.connector_all_scopes().await;
    let receiver = Receiver::start().await;
    let secret = SigningSecret::generate().unwrap();
    receiver.trust(SigningSecret::parse(&secret.reveal()).unwrap());
    let since = Timestamp::now();
    let mut command = t.cli_as(&a, "listen");
    command.args([
        "--forward-to",
        &receiver.url,
        "--secret",
        &secret.reveal(),
        "--since",
        &since.to_string(),
        "--events",
        "invoice.ready_for_export,invoice.exported",
    ]);
    let log = std::env::temp_dir().join(format!("listen-{}.log", a.company));
    let listen = process::Background::spawn(command, log, "ledgerdock listen");

    let id = t
        .publish(a.company, 1, "2026-11-01T08:00:00Z", &[DocumentFormat::Pdf])
        .await;
    t.complete(&a, id, &serde_json::json!({"externalId": "ERP-1"}))
        .await
        .ok();
    let received = receiver.wait_for(2, Duration::from_secs(30)).await;
    drop(listen);

    let feed = t.read_feed(&a, None, 2, 100).await;
    assert_eq!(received.len(), 2, "{received:?}");
    for (delivery, event) in received.iter().zip(&feed.events) {
        assert!(!delivery.verified_by.is_empty(), "not signed by the secret");
        assert_eq!(delivery.webhook_id, event["id"].as_str().unwrap());
        let mut body = event.clone();
        body.as_object_mut().unwrap().remove("cursor");
        assert_eq!(
            delivery.body, body,
            "a delivery's body is the event as the feed has it"
        );
    }
    let told: Vec<&str> = received
        .iter()
        .map(|r| r.body["type"].as_str().unwrap())
        .collect();
    assert_eq!(told, ["invoice.ready_for_export", "invoice.exported"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trigger_invoice_exported_causes_the_real_events() {
    let t = TestStack::start_with(settling_fast()).await;
    let a = t.connector_all_scopes().await;
    let ran = tokio::task::spawn_blocking({
        let mut command = t.trigger("invoice.exported", a.company);
        move || command.output().unwrap()
    })
    .await
    .unwrap();
    assert!(
        ran.status.success(),
        "{}",
        String::from_utf8_lossy(&ran.stderr)
    );
    let triggered: Value = serde_json::from_slice(&ran.stdout).unwrap();
    let id = triggered["invoiceId"].as_str().unwrap().to_string();

    let feed = t.read_feed(&a, None, 2, 100).await;
    assert_eq!(
        feed.told(),
        [
            ("invoice.ready_for_export".to_string(), id.clone()),
            ("invoice.exported".to_string(), id.clone()),
        ]
    );
    let (history, _) = t.history_of(&a, id.parse().unwrap(), 2).await;
    let changes: Vec<(&str, &str)> = history
        .iter()
        .map(|e| {
            (
                e["change"].as_str().unwrap(),
                e["clientId"].as_str().unwrap_or("the platform"),
            )
        })
        .collect();
    assert_eq!(
        changes,
        [
            ("published", "the platform"),
            ("completed", "ledgerdock-trigger")
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poll_removes_what_another_client_took_after_its_lease_ended() {
    let t = TestStack::start().await;
    let scopes = [Scope::InvoicesRead, Scope::InvoicesWrite];
    let a = t.client_of(CompanyId::new_random(), &scopes).await;
    let b = t.client_of(a.company, &scopes).await;
    t.publish_many(a.company, 3).await;
    let claim = |tenant: &Connector, lease: u64| {
        let body = serde_json::json!({"limit": 100, "leaseSeconds": lease});
        let t = &t;
        let tenant = tenant.clone();
        async move {
            let claimed = t.post(&tenant, "/v1/invoices/claims", &body).await.ok();
            claimed["invoiceIds"]
                .as_array()
                .unwrap()
                .iter()
                .map(|id| id.as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        }
    };
    // A run claimed all three and was killed: its journal says so (the documented format), and
    // it had written the first invoice's files but not completed it.
    let held = claim(&a, 30).await;
    assert_eq!(held.len(), 3);
    let out = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(out.path().join(".ledgerdock-poll")).unwrap();
    std::fs::write(
        out.path().join(".ledgerdock-poll/journal"),
        format!(
            "claiming 1 {} 30\nclaimed 1 {}\n",
            chrono::Utc::now().timestamp_millis(),
            held.join(" ")
        ),
    )
    .unwrap();
    std::fs::write(out.path().join(format!("{}.json", held[0])), b"{}").unwrap();
    std::fs::write(out.path().join(format!("{}.pdf", held[0])), b"%PDF").unwrap();

    // Its lease ends, and another client of the company claims them.
    tokio::time::sleep(Duration::from_secs(31)).await;
    let mut taken = claim(&b, 300).await;
    taken.sort();
    let mut expected = held.clone();
    expected.sort();
    assert_eq!(taken, expected);

    let last = tokio::task::spawn_blocking({
        let mut command = poll(&t, &a, out.path());
        move || command.output().unwrap()
    })
    .await
    .unwrap();
    assert!(
        last.status.success(),
        "{}",
        String::from_utf8_lossy(&last.stderr)
    );
    let summary: Value = serde_json::from_slice(&last.stdout).unwrap();
    assert_eq!(summary["exported"], 0, "{summary}");
    assert_eq!(summary["skipped"], 3, "{summary}");
    // Nothing of theirs is left in the directory, and nothing changed: they are b's to export.
    assert!(exported_files(out.path()).is_empty());
    for id in &held {
        let detail = t.invoice(&a, id).await.ok();
        assert_eq!(detail["status"], "READY_FOR_EXPORT");
    }
    let stderr = String::from_utf8_lossy(&last.stderr);
    assert!(stderr.contains("CONFLICT"), "the skips say why: {stderr}");
}
