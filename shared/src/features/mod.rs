//! Workflows that span several stores, each a type taking only the stores it needs:
//!
//! - [`changes`]: the table's change stream, which webhooks and history are derived from;
//! - [`history`]: each invoice's state changes, who made them and in which request;
//! - [`imports`]: import jobs (starting one, reading its file, the worker, the sweep);
//! - [`publish`]: how the platform puts an invoice, with its soft copies, into the export queue;
//! - [`webhooks`]: events from the change stream, fan-out, signed delivery and retries.

pub mod changes;
pub mod history;
pub mod imports;
pub mod publish;
pub mod webhooks;
