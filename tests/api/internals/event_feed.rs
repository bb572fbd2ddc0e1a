//! The event feed's store driven directly: sixteen writers append while four readers page,
//! and every reader sees every event exactly once, in order; an event appended twice is there
//! once; a type filter never stalls a reader.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use ledgerdock_shared::domain::webhook::EventType;
use ledgerdock_shared::domain::{CompanyId, FeedCursor, Timestamp};
use ledgerdock_shared::store::events::{EventFeed, FeedEntry};
use ledgerdock_tests::*;

/// The feed of the stack's table, served after `settle` (a shortened window, so the test
/// need not wait the real one out; the writers' delays stay well inside it).
fn feed(t: &TestStack, settle: Duration) -> EventFeed {
    let table = t.stack.app.config.table_name.clone();
    EventFeed::new(t.stack.dynamodb.clone(), table).with_settle(settle)
}

fn entry(id: &str, event_type: &str) -> FeedEntry {
    FeedEntry {
        cursor: None,
        event_id: id.to_string(),
        event_type: event_type.to_string(),
        at: Timestamp::now(),
        body: format!("{{\"id\":\"{id}\"}}"),
    }
}

/// A small deterministic spread of numbers (no random source needed): `n`-th value below `m`.
fn spread(n: u64, m: u64) -> u64 {
    n.wrapping_mul(2_654_435_761).rotate_left(13) % m
}

/// Pages through the feed from the start until it has read `expected` events or `within`
/// passed, with page sizes from 1 to 500: the ids in the order read.
async fn read_all(
    feed: &EventFeed,
    company: CompanyId,
    reader: u64,
    expected: usize,
    within: Duration,
) -> Vec<String> {
    let deadline = std::time::Instant::now() + within;
    let (mut seen, mut after, mut page) = (Vec::new(), None::<FeedCursor>, 0u64);
    while seen.len() < expected && std::time::Instant::now() < deadline {
        page += 1;
        let limit = 1 + spread(reader * 1_000_003 + page, 500) as i32;
        let read = feed
            .read(company, after.as_ref(), &[], limit, Timestamp::now())
            .await
            .unwrap();
        if read.entries.is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        seen.extend(read.entries.into_iter().map(|e| e.event_id));
        after = Some(read.next);
    }
    seen
}

#[tokio::test(flavor = "multi_thread")]
async fn readers_paging_while_sixteen_writers_append_see_every_event_exactly_once_in_order() {
    const WRITERS: u64 = 16;
    const EACH: u64 = 250;
    let t = TestStack::start().await;
    let company = CompanyId::new_random();
    // Longer than any append takes here, DynamoDB Local under a loaded CI machine included
    // (the premise of the window, as AWS's is longer than the SDK lets a write take).
    let feed = Arc::new(feed(&t, Duration::from_secs(5)));
    let mut writers = Vec::new();
    for writer in 0..WRITERS {
        let feed = feed.clone();
        writers.push(tokio::spawn(async move {
            for n in 0..EACH {
                let id = format!("evt_{writer:02}_{n:05}");
                // The position is taken, then the write is delayed: commits out of order.
                let written_at = Timestamp::now();
                tokio::time::sleep(Duration::from_millis(spread(writer * EACH + n, 40))).await;
                assert!(feed
                    .append(company, &entry(&id, "invoice.exported"), written_at)
                    .await
                    .unwrap());
            }
        }));
    }
    let expected = (WRITERS * EACH) as usize;
    let mut readers = Vec::new();
    for reader in 0..4 {
        let feed = feed.clone();
        readers.push(tokio::spawn(async move {
            read_all(&feed, company, reader, expected, Duration::from_secs(300)).await
        }));
    }
    for writer in writers {
        writer.await.unwrap();
    }
    for reader in readers {
        let seen = reader.await.unwrap();
        let distinct: HashSet<&String> = seen.iter().collect();
        assert_eq!(distinct.len(), seen.len(), "none twice");
        assert_eq!(seen.len(), expected, "none missed");
    }
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_event_appended_twice_is_in_the_feed_once_and_a_type_filter_reads_on_past_others() {
    let t = TestStack::start().await;
    let company = CompanyId::new_random();
    let feed = feed(&t, Duration::from_millis(100));
    let exported = entry("evt_1", "invoice.exported");
    assert!(feed
        .append(company, &exported, Timestamp::now())
        .await
        .unwrap());
    assert!(
        !feed
            .append(company, &exported, Timestamp::now())
            .await
            .unwrap(),
        "a retried batch"
    );
    for n in 2..=5 {
        feed.append(
            company,
            &entry(&format!("evt_{n}"), "import_job.finished"),
            Timestamp::now(),
        )
        .await
        .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(150)).await;
    let all = feed
        .read(company, None, &[], 100, Timestamp::now())
        .await
        .unwrap();
    let ids: Vec<&str> = all.entries.iter().map(|e| e.event_id.as_str()).collect();
    assert_eq!(ids, ["evt_1", "evt_2", "evt_3", "evt_4", "evt_5"]);
    assert_eq!(
        FeedEntry {
            cursor: None,
            ..all.entries[0].clone()
        },
        exported
    );
    // Two at a time, invoice events only: the first page has the one, the next reads on.
    let invoices = &[EventType::InvoiceExported];
    let first = feed
        .read(company, None, invoices, 2, Timestamp::now())
        .await
        .unwrap();
    assert_eq!(first.entries.len(), 1);
    let rest = feed
        .read(company, Some(&first.next), invoices, 2, Timestamp::now())
        .await
        .unwrap();
    assert!(rest.entries.is_empty());
    let last = feed
        .read(company, Some(&rest.next), invoices, 2, Timestamp::now())
        .await
        .unwrap();
    assert!(
        last.entries.is_empty() && last.next >= rest.next,
        "the cursor never goes back"
    );
    // Another company's feed is its own.
    let other = feed
        .read(CompanyId::new_random(), None, &[], 100, Timestamp::now())
        .await
        .unwrap();
    assert!(other.entries.is_empty());
    t.stop().await;
}
