//! Workflows that span several stores, each a type taking only the stores it needs:
//!
//! - [`imports`]: import jobs (starting one, reading its file, the worker, the sweep);
//! - [`publish`]: how the platform puts an invoice, with its soft copies, into the export queue;
//! - [`webhooks`]: events from the change stream, fan-out, signed delivery and retries.

pub mod imports;
pub mod publish;
pub mod webhooks;
