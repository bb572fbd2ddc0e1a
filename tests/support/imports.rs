//! Import-job steps: the files a test imports (supplier cards as JSON records or CSV), the
//! three ways to start a job, waiting for its end, and reading what it reports.

use std::time::Duration;

use ledgerdock_shared::domain::{CompanyId, ImportType};
use serde_json::{json, Value};

use crate::{Call, Connector, TestStack};

/// A job's `counts` as `{received, created, …, deactivated, warned}` by name.
pub fn count(job: &Value, name: &str) -> u64 {
    job["counts"][name]
        .as_u64()
        .unwrap_or_else(|| panic!("counts.{name} in {job}"))
}

/// A job's `counts` as `[received, created, updated, unchanged, failed]`.
pub fn counts(job: &Value) -> [u64; 5] {
    let c = &job["counts"];
    ["received", "created", "updated", "unchanged", "failed"].map(|k| {
        c[k].as_u64()
            .unwrap_or_else(|| panic!("counts.{k} in {job}"))
    })
}

/// The record numbers of a job's reported errors, in order.
pub fn error_records(job: &Value) -> Vec<u64> {
    job["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["record"].as_u64().unwrap())
        .collect()
}

pub fn job_id(job: &Value) -> &str {
    job["jobId"].as_str().unwrap()
}

/// A FAILED job's `failureReason` (a panic naming the job when it has none).
pub fn failure_reason(job: &Value) -> &str {
    job["failureReason"]
        .as_str()
        .unwrap_or_else(|| panic!("no failureReason in {job}"))
}

/// `n` valid supplier cards as JSON records, externalIds `{prefix}00001`…
pub fn supplier_records(prefix: &str, n: usize) -> Vec<Value> {
    (1..=n)
        .map(|i| {
            json!({
                "externalId": format!("{prefix}{i:05}"),
                "name": format!("Supplier {i}"),
                "country": "FI",
                "currency": "EUR",
                "paymentTermsDays": 30,
                "active": true
            })
        })
        .collect()
}

/// The same cards as a CSV file with a header row.
pub fn supplier_csv(prefix: &str, n: usize) -> String {
    let mut csv = String::from("externalId,name,country,currency,paymentTermsDays,active\n");
    for i in 1..=n {
        csv.push_str(&format!(
            "{prefix}{i:05},\"Supplier {i}, Ltd\",FI,EUR,30,true\n"
        ));
    }
    csv
}

/// Cards with every field filled, about 200 bytes a row (500,000 rows ≈ 100 MB).
pub fn wide_supplier_csv(prefix: &str, n: usize) -> String {
    let mut csv = String::from(
        "externalId,name,taxNumber,email,phone,addressLine1,addressLine2,city,region,\
         postalCode,country,currency,defaultAccountCode,defaultTaxCode,paymentTermsDays,active\n",
    );
    for i in 1..=n {
        csv.push_str(&format!(
            "{prefix}{i:07},\"Supplier {i}, Trading Ltd\",FI{i:08},ap{i}@supplier.example,\
             +358 9 {i:07},\"{i} Industrial Road\",Building C,Helsinki,Uusimaa,00{:03},\
             FI,EUR,4000-{},VAT24,30,true\n",
            i % 1000,
            i % 97
        ));
    }
    csv
}

/// A purchase-order CSV of `lines` rows, `per_order` lines to an order (a row per line, the
/// order's fields on its first row only), poNumbers `{prefix}000001`…
pub fn purchase_order_csv(prefix: &str, lines: usize, per_order: usize) -> String {
    let mut csv = String::from(
        "poNumber,supplierExternalId,currency,issueDate,status,lineNumber,description,quantity,unitPrice,amount,accountCode,taxCode\n",
    );
    for i in 0..lines {
        let (order, line) = (i / per_order + 1, i % per_order + 1);
        if line == 1 {
            csv.push_str(&format!(
                "{prefix}{order:06},SUP-{:04},EUR,2026-11-30,OPEN,",
                order % 1000
            ));
        } else {
            csv.push_str(&format!("{prefix}{order:06},,,,,"));
        }
        csv.push_str(&format!(
            "{line},Item {i} of order {order},{line},12.50,{}.50,{},S20\n",
            12 * line + line / 2,
            4000 + line % 7
        ));
    }
    csv
}

impl TestStack {
    /// POSTs a start call and asserts its 202 shape; returns the body.
    pub async fn start_import(
        &self,
        tenant: &Connector,
        request: reqwest::RequestBuilder,
    ) -> Value {
        let resp = request
            .bearer_auth(&tenant.token)
            .header("Lightyear-Company-ID", tenant.company.to_string())
            .send()
            .await
            .unwrap();
        let status = resp.status();
        let location = resp
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_string());
        let text = resp.text().await.unwrap();
        assert_eq!(status, 202, "expected 202, got {status}: {text}");
        let body: Value = serde_json::from_str(&text).unwrap();
        let job_id = body["jobId"].as_str().expect("jobId");
        assert_eq!(
            location.as_deref(),
            Some(format!("/v1/import-jobs/{job_id}").as_str())
        );
        assert!(
            ImportType::parse(body["type"].as_str().unwrap_or_default()).is_ok(),
            "{body}"
        );
        body
    }

    /// Starts a JSON job of `import_type` with `records` and the body members in `options`
    /// (`{"mode": "REPLACE", "dryRun": true}`); the started job.
    pub async fn import_records(
        &self,
        tenant: &Connector,
        import_type: &str,
        records: &[Value],
        options: Value,
    ) -> Value {
        let mut body = json!({"type": import_type, "records": records});
        if let (Some(body), Some(options)) = (body.as_object_mut(), options.as_object()) {
            body.extend(options.clone());
        }
        let request = self.import_request().json(&body);
        self.start_import(tenant, request).await
    }

    /// [`Self::import_records`], then waits for the job's end; the job as it ended.
    pub async fn imported(
        &self,
        tenant: &Connector,
        import_type: &str,
        records: &[Value],
        options: Value,
    ) -> Value {
        let started = self
            .import_records(tenant, import_type, records, options)
            .await;
        self.wait_for_job(tenant, job_id(&started)).await
    }

    /// One record of each kind of master data besides supplier cards, each keyed `key` (the
    /// tracking option under the category `key`), the purchase order naming the supplier card
    /// `supplier`; asserts each was created.
    pub async fn import_one_of_each(&self, tenant: &Connector, key: &str, supplier: &str) {
        for (kind, record) in [
            (
                "GL_ACCOUNTS",
                json!({"code": key, "name": "A", "type": "ASSET"}),
            ),
            (
                "TAX_CODES",
                json!({"code": key, "name": "T", "rate": "20", "type": "INPUT"}),
            ),
            (
                "TRACKING_CATEGORIES",
                json!({"category": key, "optionCode": "O", "name": "O"}),
            ),
            (
                "PURCHASE_ORDERS",
                json!({"poNumber": key, "supplierExternalId": supplier, "currency": "EUR",
                       "issueDate": "2026-11-30", "status": "OPEN",
                       "lines": [{"lineNumber": 1, "quantity": "1", "unitPrice": "1", "amount": "1"}]}),
            ),
        ] {
            let done = self.imported(tenant, kind, &[record], json!({})).await;
            assert_eq!(done["counts"]["created"], 1, "{done}");
        }
    }

    /// Starts a CSV job of `import_type` with `query` after it (`&mode=REPLACE`).
    pub async fn import_csv_of(
        &self,
        tenant: &Connector,
        import_type: &str,
        csv: &str,
        query: &str,
    ) -> Value {
        let request = self
            .http
            .post(self.url(&format!("/v1/import-jobs?type={import_type}{query}")))
            .header("content-type", "text/csv")
            .body(csv.to_string());
        self.start_import(tenant, request).await
    }

    /// Every item a list route pages through (`/v1/gl-accounts`), page by page.
    pub async fn all_items(&self, tenant: &Connector, path: &str, limit: usize) -> Vec<Value> {
        let mut seen = Vec::new();
        let mut key: Option<String> = None;
        let join = if path.contains('?') { '&' } else { '?' };
        loop {
            let mut url = format!("{path}{join}limit={limit}");
            if let Some(k) = &key {
                url.push_str(&format!("&continuationKey={k}"));
            }
            let body = self.get(tenant, &url).call().await.ok();
            seen.extend(body["items"].as_array().unwrap().iter().cloned());
            match body["continuationKey"].as_str() {
                Some(k) => key = Some(k.to_string()),
                None => return seen,
            }
        }
    }

    /// Every master-data item of the company's, of every kind, read straight from DynamoDB
    /// (key and whole item, in key order): what a dry run must leave exactly as it was.
    pub async fn master_data_items(&self, company: CompanyId) -> Vec<String> {
        use aws_sdk_dynamodb::types::AttributeValue;
        use ledgerdock_shared::domain::master_data::kind_info;
        let mut items = Vec::new();
        for import_type in ImportType::ALL {
            let partition = format!(
                "{}#{}",
                ledgerdock_shared::store::schema::company_pk(&company),
                kind_info(import_type).partition
            );
            let mut start = None;
            loop {
                let out = self
                    .stack
                    .dynamodb
                    .query()
                    .table_name(&self.stack.app.config.table_name)
                    .key_condition_expression("PK = :pk")
                    .expression_attribute_values(":pk", AttributeValue::S(partition.clone()))
                    .consistent_read(true)
                    .set_exclusive_start_key(start)
                    .send()
                    .await
                    .unwrap();
                for item in out.items.unwrap_or_default() {
                    let sorted: std::collections::BTreeMap<_, _> = item.into_iter().collect();
                    items.push(format!("{sorted:?}"));
                }
                start = out.last_evaluated_key;
                if start.is_none() {
                    break;
                }
            }
        }
        items
    }

    pub fn import_request(&self) -> reqwest::RequestBuilder {
        self.http.post(self.url("/v1/import-jobs"))
    }

    /// `POST /v1/import-jobs` as `tenant` with `key` as its Idempotency-Key and this JSON
    /// body; the whole answer, whatever it is.
    pub async fn start_keyed(&self, tenant: &Connector, key: &str, body: &Value) -> crate::Reply {
        self.request_as(tenant, reqwest::Method::POST, "/v1/import-jobs")
            .header("Idempotency-Key", key)
            .json(body)
            .call()
            .await
    }

    pub async fn import_json(&self, tenant: &Connector, records: &[Value]) -> Value {
        let request = self
            .import_request()
            .json(&json!({"type": "SUPPLIER_CARDS", "records": records}));
        self.start_import(tenant, request).await
    }

    pub async fn import_csv(&self, tenant: &Connector, csv: &str) -> Value {
        let request = self
            .http
            .post(self.url("/v1/import-jobs?type=SUPPLIER_CARDS"))
            .header("content-type", "text/csv")
            .body(csv.to_string());
        self.start_import(tenant, request).await
    }

    pub async fn job(&self, tenant: &Connector, job_id: &str) -> Value {
        self.get(tenant, &format!("/v1/import-jobs/{job_id}"))
            .call()
            .await
            .ok()
    }

    /// Polls the job until it leaves IN_PROGRESS (at most two minutes).
    pub async fn wait_for_job(&self, tenant: &Connector, job_id: &str) -> Value {
        self.wait_for_job_within(tenant, job_id, Duration::from_secs(120))
            .await
    }

    pub async fn wait_for_job_within(
        &self,
        tenant: &Connector,
        job_id: &str,
        within: Duration,
    ) -> Value {
        let deadline = std::time::Instant::now() + within;
        let mut polls = 0u32;
        loop {
            let job = self.job(tenant, job_id).await;
            if job["status"] != "IN_PROGRESS" {
                return job;
            }
            assert!(std::time::Instant::now() < deadline, "job stuck: {job}");
            // Quick polls first, then gently: a long job must not run into the rate limit.
            polls += 1;
            let pause = if polls < 100 { 50 } else { 1000 };
            tokio::time::sleep(Duration::from_millis(pause)).await;
        }
    }

    /// Every supplier the API lists, page by page.
    pub async fn all_suppliers(&self, tenant: &Connector, limit: usize) -> Vec<Value> {
        self.all_items(tenant, "/v1/suppliers", limit).await
    }

    /// How many items of the company's partition have a sort key starting with `prefix`,
    /// read straight from DynamoDB (to assert that a refused call stored nothing).
    pub async fn count_items(&self, company: CompanyId, prefix: &str) -> usize {
        use aws_sdk_dynamodb::types::{AttributeValue, Select};
        use ledgerdock_shared::store::schema::{company_pk, imports_pk, suppliers_pk};
        // Each kind of item lives in its feature's partition beside the company's.
        let partition = if prefix.starts_with("SUPPLIER#") {
            suppliers_pk(&company)
        } else if prefix.starts_with("IMPORTJOB#") || prefix.starts_with("IDEMPOTENCY#") {
            imports_pk(&company)
        } else {
            company_pk(&company)
        };
        let mut count = 0;
        let mut start = None;
        loop {
            let out = self
                .stack
                .dynamodb
                .query()
                .table_name(&self.stack.app.config.table_name)
                .key_condition_expression("PK = :pk AND begins_with(SK, :prefix)")
                .expression_attribute_values(":pk", AttributeValue::S(partition.clone()))
                .expression_attribute_values(":prefix", AttributeValue::S(prefix.to_string()))
                .select(Select::Count)
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .unwrap();
            count += out.count as usize;
            start = out.last_evaluated_key;
            if start.is_none() {
                return count;
            }
        }
    }
}

impl TestStack {
    /// Starts a job for a file of `size` bytes to be PUT to its upload URL, asserting what the
    /// URL is signed for; returns (job, url).
    pub async fn upload_job(
        &self,
        tenant: &Connector,
        content_type: &str,
        size: usize,
    ) -> (Value, String) {
        let request = self.import_request().json(
            &json!({"type": "SUPPLIER_CARDS", "contentType": content_type, "contentLength": size}),
        );
        let job = self.start_import(tenant, request).await;
        let upload = &job["upload"];
        assert_eq!(upload["method"], "PUT");
        assert_eq!(upload["headers"]["Content-Type"], content_type);
        assert_eq!(upload["headers"]["Content-Length"], size.to_string());
        assert_eq!(upload["headers"]["If-None-Match"], "*");
        assert!(upload["expiresAt"].is_string());
        let url = upload["url"].as_str().unwrap().to_string();
        (job, url)
    }

    /// PUTs a file to an upload URL with the headers the URL names (Content-Length is the
    /// body's); returns S3's status.
    pub async fn put_file(&self, url: &str, content_type: &str, bytes: Vec<u8>) -> u16 {
        self.http
            .put(url)
            .header("content-type", content_type)
            .header("if-none-match", "*")
            .body(bytes)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    /// Imports a file the large-file way (upload job, PUT to its URL) and returns the job as
    /// it ends.
    pub async fn import_upload(
        &self,
        tenant: &Connector,
        content_type: &str,
        bytes: Vec<u8>,
    ) -> Value {
        let (job, url) = self.upload_job(tenant, content_type, bytes.len()).await;
        assert_eq!(self.put_file(&url, content_type, bytes).await, 200);
        self.wait_for_job(tenant, job_id(&job)).await
    }
}
