//! Webhooks: telling an integrating system that something happened instead of making it poll.
//! Deliveries are signed the Standard Webhooks way ([`signing`]), so a receiver verifies them
//! with an existing library.

pub mod signing;
