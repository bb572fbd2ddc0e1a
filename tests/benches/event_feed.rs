//! The event feed under concurrent writers: every reader sees every event exactly once.
//!
//! `--writers` tasks append `--events` events between them to one company's feed (the store
//! the webhook fan-out appends with, each position taken just before its write, as the fan-out
//! takes it), while `--readers` tasks page through the feed from its start with page sizes
//! from 1 to 500, each polling on from its cursor until it has read every event. The feed
//! serves an event once it is [`SETTLE`] old, as in AWS. Measured: appends per second, and
//! each event's lag from its append to a reader being served it. Checked (the bench fails
//! otherwise): each reader saw each event exactly once, none skipped, none twice, in feed
//! order. `bench/run` runs `--events 100000`; the smoke `--events 2000`.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ledgerdock_shared::domain::events::SETTLE;
use ledgerdock_shared::domain::{CompanyId, FeedCursor, Timestamp};
use ledgerdock_shared::store::events::{EventFeed, FeedEntry};
use ledgerdock_tests::stats::{percentile, sorted, write_result};
use ledgerdock_tests::*;
use serde_json::json;

struct Args {
    events: u64,
    writers: u64,
    readers: u64,
    out: PathBuf,
}

fn args() -> Args {
    let mut args = Args {
        events: 100_000,
        writers: 16,
        readers: 4,
        out: PathBuf::from("target/bench/event_feed.json"),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut number = || it.next().and_then(|n| n.parse().ok()).expect("N");
        match arg.as_str() {
            "--events" => args.events = number(),
            "--writers" => args.writers = number(),
            "--readers" => args.readers = number(),
            "--out" => args.out = it.next().expect("--out FILE").into(),
            "--bench" => {}
            other => panic!("unknown argument {other}"),
        }
    }
    args
}

/// A deterministic spread of page sizes, 1 to 500.
fn page_size(reader: u64, page: u64) -> i32 {
    1 + ((reader * 1_000_003 + page)
        .wrapping_mul(2_654_435_761)
        .rotate_left(13)
        % 500) as i32
}

/// What one reader saw: the ids in the order served, and each one's lag in seconds.
struct Read {
    ids: Vec<String>,
    lags: Vec<f64>,
}

async fn read_all(feed: &EventFeed, company: CompanyId, reader: u64, expected: usize) -> Read {
    let deadline = Instant::now() + SETTLE + Duration::from_secs(600);
    let mut read = Read {
        ids: Vec::with_capacity(expected),
        lags: Vec::with_capacity(expected),
    };
    let (mut after, mut page) = (None::<FeedCursor>, 0);
    while read.ids.len() < expected && Instant::now() < deadline {
        page += 1;
        let served = feed
            .read(
                company,
                after.as_ref(),
                &[],
                page_size(reader, page),
                Timestamp::now(),
            )
            .await
            .expect("a page of the feed");
        let now = Timestamp::now();
        for entry in &served.entries {
            read.lags.push(now.since(entry.at).as_secs_f64());
            read.ids.push(entry.event_id.clone());
        }
        if !served.more {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        after = Some(served.next);
    }
    read
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let args = args();
    let t = TestStack::start_with(bench_options()).await;
    let company = CompanyId::new_random();
    let feed = Arc::new(t.stack.app.events.clone());
    println!(
        "{} events by {} writers, {} readers from the start (served {} s after each event)",
        args.events,
        args.writers,
        args.readers,
        SETTLE.as_secs()
    );
    let started = Instant::now();
    let writers: Vec<_> = (0..args.writers)
        .map(|writer| {
            let feed = feed.clone();
            let each = args.events / args.writers + u64::from(writer < args.events % args.writers);
            tokio::spawn(async move {
                for n in 0..each {
                    let id = format!("evt_{writer:02}_{n:07}");
                    let entry = FeedEntry {
                        cursor: None,
                        event_id: id.clone(),
                        event_type: "invoice.exported".into(),
                        at: Timestamp::now(),
                        body: json!({ "id": id }).to_string(),
                    };
                    assert!(feed
                        .append(company, &entry, Timestamp::now())
                        .await
                        .expect("an append"));
                }
            })
        })
        .collect();
    let expected = args.events as usize;
    let readers: Vec<_> = (0..args.readers)
        .map(|reader| {
            let feed = feed.clone();
            tokio::spawn(async move { read_all(&feed, company, reader, expected).await })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }
    let write_secs = started.elapsed().as_secs_f64();
    let mut lags = Vec::new();
    let mut exact = true;
    for (n, reader) in readers.into_iter().enumerate() {
        let read = reader.await.unwrap();
        let distinct: HashSet<&String> = read.ids.iter().collect();
        let (twice, missing) = (read.ids.len() - distinct.len(), expected - distinct.len());
        println!(
            "reader {n}: {} served, {twice} twice, {missing} missing",
            read.ids.len()
        );
        exact &= twice == 0 && missing == 0;
        lags.extend(read.lags);
    }
    let lags = sorted(lags);
    let result = json!({
        "events": args.events,
        "writers": args.writers,
        "readers": args.readers,
        "settleSeconds": SETTLE.as_secs(),
        "writeSeconds": write_secs,
        "appendsPerSecond": args.events as f64 / write_secs,
        "lagP50": percentile(&lags, 0.5),
        "lagP99": percentile(&lags, 0.99),
        "exactlyOnce": exact,
        "build": if cfg!(debug_assertions) { "debug" } else { "release" },
    });
    write_result(&args.out, &result);
    t.stop().await;
    assert!(exact, "every reader must see every event exactly once");
}
