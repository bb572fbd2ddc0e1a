//! The company's event feed: every event a webhook subscription could receive, read by
//! polling instead of being sent.

pub mod list_events;
