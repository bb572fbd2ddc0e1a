//! Import jobs: an AP/ERP system pushes master data (supplier cards, GL accounts, tax codes,
//! tracking categories, purchase orders) as JSON records, a CSV body, or a large file through a
//! pre-signed upload URL; every path stores one file at
//! `imports/<companyId>/<jobId>` and the worker ([`worker`]) imports it when it lands.
//! A job is IN_PROGRESS until it is FINISHED (counts and per-record errors) or FAILED (a
//! reason); [`sweep`] fails jobs that pass their deadline, so none is left hanging.

pub mod file_keys;
pub mod reader;
pub mod start;
pub mod sweep;
pub mod worker;

/// Largest body `POST /v1/import-jobs` takes inline (JSON records or CSV). Lambda's synchronous
/// payload limit is 6 MB; larger files go through an upload URL.
pub const MAX_INLINE_BYTES: usize = 5 * 1024 * 1024;
/// Largest import file, and most records in one. Both are set so that a file at either limit
/// finishes well inside one 900 s Lambda invocation (docs/operations.md, "Limits", has the measurements);
/// the checkpoint lets a retried invocation resume all the same.
pub const MAX_FILE_BYTES: u64 = 128 * 1024 * 1024;
pub const MAX_RECORDS: u64 = 1_000_000;
/// Per-record errors kept on a job; `errorsTruncated` says when more were cut.
pub const MAX_REPORTED_ERRORS: usize = 1000;
/// Bytes of per-record errors kept on a job (as JSON, an upper bound of their DynamoDB size),
/// so the job item stays well under DynamoDB's 400 KB item limit whatever the errors quote.
pub const MAX_REPORTED_ERROR_BYTES: usize = 200 * 1024;
/// The same for per-record warnings (at most [`MAX_REPORTED_ERRORS`] of them too): with the
/// errors, the job item stays under 400 KB.
pub const MAX_REPORTED_WARNING_BYTES: usize = 100 * 1024;
