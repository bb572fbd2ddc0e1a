//! Import job items and their idempotency records.
//!
//! | item | PK | SK |
//! |---|---|---|
//! | job | `COMPANY#<companyId>#IMPORTS` | `IMPORTJOB#<jobId>` |
//! | idempotency record | `COMPANY#<companyId>#IMPORTS` | `IDEMPOTENCY#<clientId>#<key>` (TTL `expiresAtEpoch`) |
//! | open-jobs counter | `COMPANY#<companyId>#IMPORTS` | `OPENIMPORTJOBS` (`openJobs`) |
//!
//! The partition is the company's imports alone (see [`super::schema::imports_pk`]): the
//! import functions may write there and never on the company's invoices.
//!
//! The counter rises in the transaction that creates a job (refused at [`MAX_OPEN_JOBS`]) and
//! falls in the transaction that ends it, so it is exact without any scan.
//!
//! An Idempotency-Key belongs to the client that sent it (within the company): another client
//! guessing it starts its own job. The record keeps a fingerprint of the request, so the same
//! key with a different request is refused (422 `IDEMPOTENCY_KEY_REUSED`), never replayed.
//!
//! While a job is IN_PROGRESS it also carries `OJ_PK = OPEN`, `OJ_SK = <deadline>#<jobId>`,
//! which puts it in the sparse `OpenImportJobs` index the sweep reads. Every state change is a
//! conditional UpdateItem on `status = IN_PROGRESS`, so a finished job never changes again and
//! racing workers or a racing sweep cannot both win.
//!
//! A worker holds the job by a **lease** (`leaseId`, `leaseUntil`): taken at pick-up only where
//! none is held or the last one lapsed, renewed with every progress write, and required by
//! every write the worker makes to the job. A second delivery of the same file finds the lease
//! held and leaves; a worker that died lets its lease lapse and Lambda's retry takes over.
//! Progress writes also record a **checkpoint** (`resumeAfterRecord`: every card up to that
//! record is written and counted), so a retried invocation resumes instead of restarting.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use aws_sdk_dynamodb::Client;

use super::attributes::s;
use super::schema::{
    company_of_partition, imports_pk, OJ_PK, OJ_SK, OPEN_JOBS_INDEX, OPEN_JOBS_PARTITION, PK, SK,
    TTL_ATTRIBUTE,
};
use super::{landed, live_idempotency_record, transact, DynamoDbResult, Transacted};
use crate::domain::idempotency::{Fingerprint, Idempotency, IDEMPOTENCY_TTL_SECS};
use crate::domain::{CompanyId, JobId, Timestamp};
use crate::domain::{Counts, ImportJob, RecordError};
use crate::foundation::error::{ApiError, FieldError};

/// Most IN_PROGRESS jobs one company may have at once (each may hold a 15-minute worker);
/// a start call past it is 429 `TOO_MANY_OPEN_JOBS`.
pub const MAX_OPEN_JOBS: u64 = 25;
/// The company's open-jobs counter.
const OPEN_COUNT_SK: &str = "OPENIMPORTJOBS";

fn job_sk(job: &JobId) -> String {
    format!("IMPORTJOB#{job}")
}

fn idempotency_sk(client_id: &str, key: &str) -> String {
    format!("IDEMPOTENCY#{client_id}#{key}")
}

/// The job an Idempotency-Key already started, and the fingerprint of the request that did.
#[derive(Debug, Clone)]
pub struct FirstUse {
    pub job: JobId,
    pub fingerprint: Fingerprint,
}

fn open_position(deadline: Timestamp, job: &JobId) -> String {
    format!("{deadline}#{job}")
}

fn key(company: &CompanyId, sk: String) -> HashMap<String, AttributeValue> {
    HashMap::from([
        (PK.to_string(), s(imports_pk(company))),
        (SK.to_string(), s(sk)),
    ])
}

fn to_attr<T: serde::Serialize>(value: &T) -> Result<AttributeValue, ApiError> {
    serde_dynamo::to_attribute_value(value).map_err(ApiError::internal)
}

/// What creating a job came to.
#[derive(Debug)]
pub enum Created {
    New,
    /// The Idempotency-Key was already used by this client: here is what it started.
    Existing(FirstUse),
}

/// How a job ends.
#[derive(Debug, Clone)]
pub enum Ending {
    Finished {
        counts: Counts,
        errors: Vec<RecordError>,
        errors_truncated: bool,
        warnings: Vec<FieldError>,
        record_warnings: Vec<RecordError>,
        record_warnings_truncated: bool,
    },
    Failed {
        reason: String,
        counts: Counts,
    },
}

/// What else a conditional write to an IN_PROGRESS job requires.
#[derive(Debug, Clone, Copy)]
pub enum Guard<'a> {
    None,
    /// The job is still at this place in the open-jobs index (the sweep's read).
    Position(&'a str),
    /// This worker still holds the lease.
    Lease(&'a str),
    /// No worker holds an unexpired lease at this time.
    LeaseFree(Timestamp),
}

impl Guard<'_> {
    /// The condition of every write to an open job: still IN_PROGRESS (`#status` names
    /// `status`), and the guard. Its values go into `values`.
    fn open_condition(&self, values: &mut HashMap<String, AttributeValue>) -> String {
        let mut condition = "#status = :open".to_string();
        values.insert(":open".into(), s("IN_PROGRESS"));
        match self {
            Guard::None => {}
            Guard::Position(position) => {
                condition.push_str(" AND OJ_SK = :position");
                values.insert(":position".into(), s(*position));
            }
            Guard::Lease(lease) => {
                condition.push_str(" AND leaseId = :lease");
                values.insert(":lease".into(), s(*lease));
            }
            Guard::LeaseFree(now) => {
                condition.push_str(" AND (attribute_not_exists(leaseUntil) OR leaseUntil < :now)");
                values.insert(":now".into(), s(now.to_string()));
            }
        }
        condition
    }
}

/// A worker's hold on a job; see the module docs.
#[derive(Debug, Clone)]
pub struct Lease {
    pub id: String,
    pub duration: std::time::Duration,
}

impl Lease {
    /// A new lease lasting `duration` from each write unless renewed (`Config::import_lease`).
    pub fn new(duration: std::time::Duration) -> Self {
        Self {
            id: uuid::Uuid::new_v4().to_string(),
            duration,
        }
    }

    fn until(&self, now: Timestamp) -> Timestamp {
        now.plus(self.duration)
    }
}

/// An IN_PROGRESS job whose deadline has passed, as the sweep finds it.
#[derive(Debug, Clone)]
pub struct Overdue {
    pub company: CompanyId,
    pub job: JobId,
    pub position: String,
}

#[derive(Clone)]
pub struct ImportJobStore {
    client: Client,
    table: String,
}

impl ImportJobStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    fn job_item(&self, job: &ImportJob) -> Result<HashMap<String, AttributeValue>, ApiError> {
        let mut item: HashMap<String, AttributeValue> =
            serde_dynamo::to_item(job).map_err(ApiError::internal)?;
        item.extend(key(&job.company_id, job_sk(&job.job_id)));
        item.insert("entity".into(), s("IMPORT_JOB"));
        item.insert(OJ_PK.into(), s(OPEN_JOBS_PARTITION));
        item.insert(OJ_SK.into(), s(open_position(job.deadline, &job.job_id)));
        Ok(item)
    }

    /// Writes a new IN_PROGRESS job in one transaction with the company's open-jobs counter
    /// (refused at [`MAX_OPEN_JOBS`]) and, with an Idempotency-Key, the key's record, so two
    /// racing calls with the same key create exactly one job.
    pub async fn create(
        &self,
        job: &ImportJob,
        idempotency: Option<&Idempotency>,
    ) -> Result<Created, ApiError> {
        let put = |item, condition: &str, values: Option<HashMap<String, AttributeValue>>| {
            Put::builder()
                .table_name(&self.table)
                .set_item(Some(item))
                .condition_expression(condition)
                .set_expression_attribute_values(values)
                .build()
                .map(|put| TransactWriteItem::builder().put(put).build())
                .map_err(ApiError::internal)
        };
        let opened = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(&job.company_id, OPEN_COUNT_SK.to_string())))
            .update_expression("ADD openJobs :one SET entity = :entity")
            .condition_expression("attribute_not_exists(openJobs) OR openJobs < :max")
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .expression_attribute_values(":max", AttributeValue::N(MAX_OPEN_JOBS.to_string()))
            .expression_attribute_values(":entity", s("OPEN_IMPORT_JOBS"))
            .build()
            .map(|update| TransactWriteItem::builder().update(update).build())
            .map_err(ApiError::internal)?;
        let mut transaction = self
            .client
            .transact_write_items()
            .transact_items(opened)
            .transact_items(put(self.job_item(job)?, "attribute_not_exists(PK)", None)?);
        if let Some(idempotency) = idempotency {
            let now = job.created_at.as_datetime().timestamp();
            let mut record = key(
                &job.company_id,
                idempotency_sk(&idempotency.client_id, idempotency.key.as_str()),
            );
            record.insert("entity".into(), s("IDEMPOTENCY"));
            record.insert("jobId".into(), s(job.job_id.to_string()));
            record.insert("fingerprint".into(), s(idempotency.fingerprint.as_str()));
            record.insert(
                TTL_ATTRIBUTE.into(),
                AttributeValue::N((now + IDEMPOTENCY_TTL_SECS).to_string()),
            );
            // An expired record that TTL has not deleted yet no longer counts.
            transaction = transaction.transact_items(put(
                record,
                "attribute_not_exists(PK) OR expiresAtEpoch < :now",
                Some(HashMap::from([(
                    ":now".to_string(),
                    AttributeValue::N(now.to_string()),
                )])),
            )?);
        }
        if transact(transaction).await? == Transacted::Landed {
            return Ok(Created::New);
        }
        // Which condition failed: the key's (a repeat: its first job), or the counter's.
        if let Some(idempotency) = idempotency {
            if let Some(first) = self.idempotent_job(job.company_id, idempotency).await? {
                return Ok(Created::Existing(first));
            }
        }
        if self.open_jobs(job.company_id).await? >= MAX_OPEN_JOBS {
            return Err(ApiError::TooManyOpenJobs {
                message: format!(
                    "this company already has {MAX_OPEN_JOBS} import jobs in progress; start more when some have ended"
                ),
                retry_after_secs: 30,
            });
        }
        // Refused a moment ago, and neither refuses now: a job ended (or a key expired) in
        // between. Sent again, the call will land.
        Err(ApiError::Unavailable {
            retry_after_secs: 1,
            cause: format!(
                "import job start for company {} refused on a condition that no longer holds",
                job.company_id
            ),
        })
    }

    /// How many of the company's jobs are IN_PROGRESS (its counter, read consistently).
    pub async fn open_jobs(&self, company: CompanyId) -> Result<u64, ApiError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(&company, OPEN_COUNT_SK.to_string())))
            .consistent_read(true)
            .send()
            .await
            .in_dynamodb("GetItem")?;
        Ok(out
            .item
            .and_then(|item| item.get("openJobs")?.as_n().ok()?.parse::<i64>().ok())
            .map_or(0, |n| n.max(0) as u64))
    }

    /// The job an unexpired Idempotency-Key of this client points at.
    pub async fn idempotent_job(
        &self,
        company: CompanyId,
        idempotency: &Idempotency,
    ) -> Result<Option<FirstUse>, ApiError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(
                &company,
                idempotency_sk(&idempotency.client_id, idempotency.key.as_str()),
            )))
            .consistent_read(true)
            .send()
            .await
            .in_dynamodb("GetItem")?;
        Ok(out
            .item
            .and_then(|item| live_idempotency_record(&item, "jobId"))
            .map(|(job, fingerprint)| FirstUse { job, fingerprint }))
    }

    /// Frees an Idempotency-Key whose job could not be started, so a retry starts afresh.
    pub async fn release_idempotency_key(
        &self,
        company: CompanyId,
        idempotency: &Idempotency,
    ) -> Result<(), ApiError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(
                &company,
                idempotency_sk(&idempotency.client_id, idempotency.key.as_str()),
            )))
            .send()
            .await
            .in_dynamodb("DeleteItem")?;
        Ok(())
    }

    /// One GetItem; another company's job is simply not found.
    pub async fn get(&self, company: CompanyId, job: JobId) -> Result<Option<ImportJob>, ApiError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(&company, job_sk(&job))))
            .consistent_read(true)
            .send()
            .await
            .in_dynamodb("GetItem")?;
        out.item
            .map(|item| serde_dynamo::from_item(item).map_err(ApiError::internal))
            .transpose()
    }

    /// Runs a conditional UpdateItem on an IN_PROGRESS job; `false` when the job is no longer
    /// IN_PROGRESS, or the `guard` no longer holds.
    async fn update_open(
        &self,
        company: CompanyId,
        job: JobId,
        expression: &str,
        mut values: HashMap<String, AttributeValue>,
        guard: Guard<'_>,
    ) -> Result<bool, ApiError> {
        let condition = guard.open_condition(&mut values);
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(&company, job_sk(&job))))
            .update_expression(expression)
            .condition_expression(condition)
            .expression_attribute_names("#status", "status")
            .set_expression_attribute_values(Some(values))
            .send()
            .await;
        landed("UpdateItem", result)
    }

    /// A worker picks the file up: takes the lease (only where none is held, or the last one
    /// lapsed), records when (first time only) and moves the deadline. `false` when the job
    /// ended or another worker holds it.
    pub async fn start_processing(
        &self,
        company: CompanyId,
        job: JobId,
        lease: &Lease,
        now: Timestamp,
        deadline: Timestamp,
    ) -> Result<bool, ApiError> {
        self.update_open(
            company,
            job,
            "SET processingStartedAt = if_not_exists(processingStartedAt, :now), \
             updatedAt = :now, deadline = :deadline, OJ_SK = :position, \
             leaseId = :lease_id, leaseUntil = :lease_until",
            HashMap::from([
                (":deadline".into(), s(deadline.to_string())),
                (":position".into(), s(open_position(deadline, &job))),
                (":lease_id".into(), s(&lease.id)),
                (":lease_until".into(), s(lease.until(now).to_string())),
            ]),
            Guard::LeaseFree(now),
        )
        .await
    }

    /// Lets go of the lease (a worker that fails and will be retried), so the retry need not
    /// wait for it to lapse. `false` when it was no longer held.
    pub async fn release(
        &self,
        company: CompanyId,
        job: JobId,
        lease: &Lease,
    ) -> Result<bool, ApiError> {
        self.update_open(
            company,
            job,
            "REMOVE leaseId, leaseUntil",
            HashMap::new(),
            Guard::Lease(&lease.id),
        )
        .await
    }

    /// Keeps the lease while a long pass reads the file. `false`: the job ended, or the lease
    /// was lost; stop.
    pub async fn renew(
        &self,
        company: CompanyId,
        job: JobId,
        lease: &Lease,
    ) -> Result<bool, ApiError> {
        let now = Timestamp::now();
        self.update_open(
            company,
            job,
            "SET leaseUntil = :lease_until",
            HashMap::from([(":lease_until".into(), s(lease.until(now).to_string()))]),
            Guard::Lease(&lease.id),
        )
        .await
    }

    /// The sweep had a landed but never picked-up file announced again: record it (once) and
    /// give the worker a fresh deadline. `false` when the job moved on meanwhile.
    pub async fn announced_again(
        &self,
        company: CompanyId,
        job: JobId,
        now: Timestamp,
        deadline: Timestamp,
        expected_position: &str,
    ) -> Result<bool, ApiError> {
        self.update_open(
            company,
            job,
            "SET announcedAgainAt = :now, updatedAt = :now, deadline = :deadline, \
             OJ_SK = :new_position",
            HashMap::from([
                (":now".into(), s(now.to_string())),
                (":deadline".into(), s(deadline.to_string())),
                (":new_position".into(), s(open_position(deadline, &job))),
            ]),
            Guard::Position(expected_position),
        )
        .await
    }

    /// Progress while importing: the counts so far and the checkpoint they stand for (every
    /// card up to record `resume_after` is written), renewing the lease. `false`: the job ended
    /// or the lease was lost; stop writing.
    pub async fn progress(
        &self,
        company: CompanyId,
        job: JobId,
        lease: &Lease,
        counts: Counts,
        resume_after: u64,
    ) -> Result<bool, ApiError> {
        let now = Timestamp::now();
        self.update_open(
            company,
            job,
            "SET counts = :counts, resumeAfterRecord = :resume, updatedAt = :now, \
             leaseUntil = :lease_until",
            HashMap::from([
                (":counts".into(), to_attr(&counts)?),
                (
                    ":resume".into(),
                    AttributeValue::N(resume_after.to_string()),
                ),
                (":now".into(), s(now.to_string())),
                (":lease_until".into(), s(lease.until(now).to_string())),
            ]),
            Guard::Lease(&lease.id),
        )
        .await
    }

    /// Ends the job. `false` when it had already ended (another worker or the sweep won), or
    /// the `guard` (the sweep's deadline, the worker's lease) no longer holds.
    pub async fn finish(
        &self,
        company: CompanyId,
        job: JobId,
        ending: &Ending,
        guard: Guard<'_>,
    ) -> Result<bool, ApiError> {
        let now = s(Timestamp::now().to_string());
        let mut values = HashMap::from([(":now".to_string(), now)]);
        let expression = match ending {
            Ending::Finished {
                counts,
                errors,
                errors_truncated,
                warnings,
                record_warnings,
                record_warnings_truncated,
            } => {
                values.insert(":status".into(), s("FINISHED"));
                values.insert(":record_warnings".into(), to_attr(record_warnings)?);
                values.insert(
                    ":record_warnings_truncated".into(),
                    AttributeValue::Bool(*record_warnings_truncated),
                );
                values.insert(":counts".into(), to_attr(counts)?);
                values.insert(":errors".into(), to_attr(errors)?);
                values.insert(":truncated".into(), AttributeValue::Bool(*errors_truncated));
                values.insert(":warnings".into(), to_attr(warnings)?);
                "SET #status = :status, finishedAt = :now, updatedAt = :now, counts = :counts, \
                 errors = :errors, errorsTruncated = :truncated, warnings = :warnings, \
                 recordWarnings = :record_warnings, \
                 recordWarningsTruncated = :record_warnings_truncated REMOVE OJ_PK, OJ_SK"
            }
            Ending::Failed { reason, counts } => {
                values.insert(":status".into(), s("FAILED"));
                values.insert(":reason".into(), s(reason.clone()));
                values.insert(":counts".into(), to_attr(counts)?);
                "SET #status = :status, finishedAt = :now, updatedAt = :now, \
                 failureReason = :reason, counts = :counts REMOVE OJ_PK, OJ_SK"
            }
        };
        // The job ends and the company's open-jobs counter drops in one transaction, so the
        // counter is exact: a job ends once (the condition), and so is counted down once.
        let condition = guard.open_condition(&mut values);
        let ended = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(&company, job_sk(&job))))
            .update_expression(expression)
            .condition_expression(condition)
            .expression_attribute_names("#status", "status")
            .set_expression_attribute_values(Some(values))
            .build()
            .map_err(ApiError::internal)?;
        let closed = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(&company, OPEN_COUNT_SK.to_string())))
            .update_expression("ADD openJobs :minus_one")
            .expression_attribute_values(":minus_one", AttributeValue::N("-1".into()))
            .build()
            .map_err(ApiError::internal)?;
        let transaction = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(ended).build())
            .transact_items(TransactWriteItem::builder().update(closed).build());
        // Only the job's update has a condition: it had already ended, or the guard failed.
        // (Two of a company's jobs ending at once conflict on its counter: sent again.)
        Ok(transact(transaction).await? == Transacted::Landed)
    }

    /// IN_PROGRESS jobs whose deadline is before `now`, oldest first (one Query on the sparse
    /// index per page).
    pub async fn overdue(&self, now: Timestamp, limit: i32) -> Result<Vec<Overdue>, ApiError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(OPEN_JOBS_INDEX)
            .key_condition_expression("OJ_PK = :open AND OJ_SK < :now")
            .expression_attribute_values(":open", s(OPEN_JOBS_PARTITION))
            .expression_attribute_values(":now", s(now.to_string()))
            .limit(limit)
            .send()
            .await
            .in_dynamodb("Query")?;
        Ok(out
            .items
            .unwrap_or_default()
            .into_iter()
            .filter_map(|item| {
                let company = company_of_partition(item.get(PK)?.as_s().ok()?)?;
                let job = item
                    .get(SK)?
                    .as_s()
                    .ok()?
                    .strip_prefix("IMPORTJOB#")?
                    .parse()
                    .ok()?;
                let position = item.get(OJ_SK)?.as_s().ok()?.clone();
                Some(Overdue {
                    company,
                    job,
                    position,
                })
            })
            .collect())
    }
}
