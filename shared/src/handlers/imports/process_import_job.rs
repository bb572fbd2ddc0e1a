//! `process-import-job`: the S3 "object created" event for `imports/…` keys. Each record's
//! object is imported by [`crate::features::imports::worker`]; a failure worth retrying is returned as
//! an error so Lambda's asynchronous retries deliver the event again (safe: the worker is
//! idempotent).

use serde::Deserialize;

use crate::app::AppState;
use crate::features::imports::worker::{process_object, Processed};
use crate::foundation::error::ApiError;

/// The parts of an S3 event notification the worker needs.
#[derive(Debug, Deserialize)]
pub struct S3Event {
    #[serde(rename = "Records", default)]
    pub records: Vec<S3EventRecord>,
}

#[derive(Debug, Deserialize)]
pub struct S3EventRecord {
    #[serde(rename = "eventName", default)]
    pub event_name: String,
    pub s3: S3Entity,
}

#[derive(Debug, Deserialize)]
pub struct S3Entity {
    pub object: S3Object,
}

#[derive(Debug, Deserialize)]
pub struct S3Object {
    /// URL-encoded, as S3 sends it (`+` for a space).
    pub key: String,
}

/// S3 event keys are form-encoded: `+` is a space, `%xx` an escaped byte.
pub fn decode_key(key: &str) -> String {
    let spaced = key.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8_lossy()
        .into_owned()
}

/// Processes every object the event names; the first failure worth a retry is returned.
pub async fn handle(state: &AppState, event: S3Event) -> Result<Vec<Processed>, ApiError> {
    let mut results = Vec::with_capacity(event.records.len());
    for record in event.records {
        if !record.event_name.starts_with("ObjectCreated") {
            continue;
        }
        let key = decode_key(&record.s3.object.key);
        let processed = process_object(state, &key).await?;
        tracing::info!(%key, ?processed, "import object handled");
        results.push(processed);
    }
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_keys_of_an_s3_notification() {
        let event: S3Event = serde_json::from_value(serde_json::json!({
            "Records": [{
                "eventVersion": "2.1", "eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
                "s3": {"bucket": {"name": "b"}, "object": {"key": "imports/a%2Fb+c", "size": 5}}
            }]
        }))
        .unwrap();
        assert_eq!(decode_key(&event.records[0].s3.object.key), "imports/a/b c");
    }
}
