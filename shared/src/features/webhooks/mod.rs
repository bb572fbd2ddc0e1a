//! Webhooks: telling an integrating system that something happened instead of making it poll.
//! Deliveries are signed as Standard Webhooks sign them ([`crate::domain::webhook_signing`]).
//!
//! - [`events`]: which writes are news, read from the table's change stream;
//! - [`delivery`]: one bounded, signed POST that cannot be pointed inside the network;
//! - [`retry`]: when a failed delivery is tried again, and when trying stops;
//! - [`dispatch`]: changes into deliveries (fan-out) and due deliveries into attempts;
//! - [`subscribe`]: making a subscription, once per Idempotency-Key;
//! - [`redeliver`]: sending events again from the company's feed (recovery, one resend).

pub mod delivery;
pub mod dispatch;
pub mod events;
pub mod redeliver;
pub mod retry;
pub mod subscribe;
