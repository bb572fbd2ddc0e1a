//! The table's change stream as the functions that read it see it: each record, the item before
//! and after the write, in the SDK's own types. The webhook fan-out and the invoice history
//! both derive what they write from it, so neither can part from the change it tells of.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use crate::domain::Timestamp;

/// One item image as the stream carries it.
pub type Image = HashMap<String, AttributeValue>;

/// The event Lambda hands a function subscribed to the table's stream: records in DynamoDB's
/// JSON (`{"S": "…"}`), read here into the same SDK types the store uses.
#[derive(Debug, serde::Deserialize)]
pub struct StreamEvent {
    #[serde(rename = "Records", default)]
    pub records: Vec<StreamRecord>,
}

#[derive(Debug, Clone, serde::Deserialize)]
pub struct StreamRecord {
    #[serde(rename = "eventID")]
    pub event_id: String,
    pub dynamodb: StreamChange,
}

#[derive(Debug, Clone, serde::Deserialize)]
pub struct StreamChange {
    /// Seconds since the epoch (AWS sends a number, at times with a fraction).
    #[serde(rename = "ApproximateCreationDateTime", default)]
    pub approximate_creation: Option<f64>,
    #[serde(rename = "NewImage", default)]
    pub new_image: Option<serde_dynamo::Item>,
    #[serde(rename = "OldImage", default)]
    pub old_image: Option<serde_dynamo::Item>,
}

impl StreamEvent {
    /// Each record as a [`Change`].
    pub fn changes(self) -> Vec<Change> {
        self.records
            .into_iter()
            .map(|record| {
                let at = record
                    .dynamodb
                    .approximate_creation
                    .and_then(|secs| {
                        chrono::DateTime::from_timestamp_millis((secs * 1000.0) as i64)
                    })
                    .map(Timestamp::from)
                    .unwrap_or_else(Timestamp::now);
                Change {
                    record_id: record.event_id,
                    approximate_at: at,
                    old: record.dynamodb.old_image.map(Image::from),
                    new: record.dynamodb.new_image.map(Image::from),
                }
            })
            .collect()
    }
}

/// One record of the table's stream: the write's id and time, and the item before and after.
#[derive(Debug, Clone)]
pub struct Change {
    /// The stream record's `eventID`, unique per record.
    pub record_id: String,
    /// When the write happened, as the stream tells it (to the second).
    pub approximate_at: Timestamp,
    pub old: Option<Image>,
    pub new: Option<Image>,
}
