//! Import jobs: starting one, reading its state, and the worker and sweep that run it.

pub mod get_import_job;
pub mod process_import_job;
pub mod start_import_job;
pub mod sweep_import_jobs;
