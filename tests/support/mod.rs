//! Test support: start a dev stack in-process (embedded engines, or an external DynamoDB when
//! `LEDGERDOCK_TEST_DYNAMODB_ENDPOINT` is set), create tenants, publish invoices, and call the
//! API over HTTP exactly as a connector would.

pub mod cli;
pub mod emulator;
pub mod events;
pub mod feed;
pub mod imports;
pub mod network;
pub mod process;
pub mod receiver;
pub mod runtime_api;
pub mod sam_local;
pub mod sdk_calls;
pub mod stats;
pub mod webhooks;

pub use feed::settling_fast;
pub use imports::*;
pub use webhooks::SUBSCRIPTIONS;

use std::time::Duration;

use ledgerdock_infra::dev::samples;
use ledgerdock_infra::dev::{DevOptions, DevStack};
use ledgerdock_shared::domain::Scope;
use ledgerdock_shared::domain::{
    CompanyId, DocumentFormat, InvoiceHeader, InvoiceId, InvoiceStatus, NewInvoice, Timestamp,
};
use ledgerdock_shared::features::publish::{Publisher, SoftCopy};
use ledgerdock_shared::store::invoices::InvoiceStore;
use serde_json::{json, Value};

pub use network::StallingProxy;
pub use reqwest::StatusCode;

/// Set to a DynamoDB endpoint (e.g. official DynamoDB Local) to run the suite against it.
pub const EXTERNAL_DYNAMODB_ENV: &str = "LEDGERDOCK_TEST_DYNAMODB_ENDPOINT";

pub struct TestStack {
    pub stack: DevStack,
    pub http: reqwest::Client,
}

/// A connector as a test plays one: a machine client granted one company, with its secret and
/// a token. (The gate's `Tenant` is something else: a request it admitted.)
#[derive(Clone)]
pub struct Connector {
    pub company: CompanyId,
    pub client_id: String,
    pub client_secret: String,
    pub token: String,
}

/// Against an external DynamoDB (`LEDGERDOCK_TEST_DYNAMODB_ENDPOINT`), the suite's heavy tests
/// (each drives tens of thousands of DynamoDB calls or hundreds of processes) take turns:
/// `let _turn = heavy_test().await;` at the top of one. Every test then shares one engine, and
/// official DynamoDB Local is a single JVM: two heavy tests at once slowed single requests past
/// a minute and made each other fail (CI, stop 30). The light tests still run beside the one
/// whose turn it is. On the embedded engines each stack has its own, and nothing waits.
pub async fn heavy_test() -> Option<tokio::sync::SemaphorePermit<'static>> {
    static TURN: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);
    if std::env::var_os(EXTERNAL_DYNAMODB_ENV).is_none_or(|v| v.is_empty()) {
        return None;
    }
    Some(TURN.acquire().await.expect("the semaphore is never closed"))
}

pub fn options() -> DevOptions {
    let external = std::env::var(EXTERNAL_DYNAMODB_ENV)
        .ok()
        .filter(|s| !s.is_empty());
    let data_dir = std::env::temp_dir().join(format!("ledgerdock-test-{}", uuid::Uuid::new_v4()));
    DevOptions {
        // Against a shared external DynamoDB every test gets its own table.
        table_name: if external.is_some() {
            format!("ledgerdock-test-{}", uuid::Uuid::new_v4())
        } else {
            "ledgerdock".into()
        },
        external_dynamodb: external,
        ..DevOptions::ephemeral(data_dir)
    }
}

/// A stack for benchmarks: without the dev stack's change capture in front of DynamoDB, which
/// serialises writes of invoice headers and reads each one before and after. In AWS the table's
/// stream costs a request nothing, so a bench with the capture would time a cost AWS does not have.
pub fn bench_options() -> DevOptions {
    DevOptions {
        deliver_webhooks: false,
        ..options()
    }
}

impl TestStack {
    pub async fn start() -> Self {
        Self::start_with(options()).await
    }

    pub async fn start_with(options: DevOptions) -> Self {
        let stack = DevStack::start(options).await.expect("dev stack starts");
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("http client");
        Self { stack, http }
    }

    /// A stack with one tenant (all scopes) and one ready invoice of its, with a PDF.
    pub async fn with_one_invoice() -> (Self, Connector, InvoiceId) {
        let t = Self::start().await;
        let a = t.connector_all_scopes().await;
        let id = t
            .publish(a.company, 1, "2026-11-01T09:00:00Z", &[DocumentFormat::Pdf])
            .await;
        (t, a, id)
    }

    /// A stack whose DynamoDB is another stack's engine, reached through a proxy the test can
    /// make hang: (the stack under test, the proxy, the stack behind it).
    pub async fn behind_stalling_proxy() -> (Self, StallingProxy, Self) {
        Self::behind_stalling_proxy_with(options()).await
    }

    /// [`Self::behind_stalling_proxy`] with these options for the stack under test.
    pub async fn behind_stalling_proxy_with(options: DevOptions) -> (Self, StallingProxy, Self) {
        let backing = Self::start().await;
        let proxy = StallingProxy::start(&backing.stack.dynamodb_url).await;
        let t = Self::start_with(DevOptions {
            external_dynamodb: Some(proxy.url.clone()),
            table_name: format!("ledgerdock-test-{}", uuid::Uuid::new_v4()),
            ..options
        })
        .await;
        (t, proxy, backing)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.stack.api_url)
    }

    /// Registers a client granted `scopes` on a new company and fetches it a token.
    pub async fn connector(&self, scopes: &[Scope]) -> Connector {
        let company = CompanyId::new_random();
        let client_id = format!("client{}", &uuid::Uuid::new_v4().simple().to_string()[..20]);
        let secret = self
            .stack
            .api
            .clients
            .create_with_id(&client_id, "test client", scopes)
            .await
            .unwrap();
        self.stack
            .app
            .grants
            .put(&client_id, company, scopes)
            .await
            .unwrap();
        let token = self.token(&client_id, &secret, None).await;
        Connector {
            company,
            client_id,
            client_secret: secret,
            token,
        }
    }

    /// A client of a new company, with every scope and a rate limit out of reach: for
    /// benchmarks, where a 429 would time a cheaper path than the one measured.
    pub async fn unlimited_connector(&self) -> Connector {
        let company = CompanyId::new_random();
        let (credentials, token) = self
            .client_for(
                &[company],
                &Scope::ALL,
                ledgerdock_infra::clients::MAX_RATE_LIMIT,
            )
            .await;
        Connector {
            company,
            client_id: credentials.client_id,
            client_secret: credentials.client_secret,
            token,
        }
    }

    pub async fn connector_all_scopes(&self) -> Connector {
        self.connector(&Scope::ALL).await
    }

    /// Another client of `company`, granted `scopes` there (as `ledgerdock clients create`
    /// makes it), as a connector.
    pub async fn client_of(&self, company: CompanyId, scopes: &[Scope]) -> Connector {
        let (credentials, token) = self.client_for(&[company], scopes, 10_000).await;
        Connector {
            company,
            client_id: credentials.client_id,
            client_secret: credentials.client_secret,
            token,
        }
    }

    /// A token by HTTP Basic, optionally narrowed to `scope`.
    pub async fn token(&self, client_id: &str, secret: &str, scope: Option<&str>) -> String {
        let mut form = vec![("grant_type", "client_credentials")];
        if let Some(scope) = scope {
            form.push(("scope", scope));
        }
        let resp = self
            .http
            .post(&self.stack.token_url)
            .basic_auth(client_id, Some(secret))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "token request failed");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["token_type"], "Bearer");
        body["access_token"].as_str().unwrap().to_string()
    }

    pub fn get(&self, tenant: &Connector, path: &str) -> reqwest::RequestBuilder {
        self.http
            .get(self.url(path))
            .bearer_auth(&tenant.token)
            .header("Lightyear-Company-ID", tenant.company.to_string())
    }

    pub fn post_json(
        &self,
        tenant: &Connector,
        path: &str,
        body: &Value,
    ) -> reqwest::RequestBuilder {
        self.http
            .post(self.url(path))
            .bearer_auth(&tenant.token)
            .header("Lightyear-Company-ID", tenant.company.to_string())
            .json(body)
    }

    // -------------------------------------------------------- the operations, by name

    /// `GET /v1/invoices/exportable?limit=…&continuationKey=…`.
    pub async fn list_exportable(
        &self,
        tenant: &Connector,
        limit: usize,
        key: Option<&str>,
    ) -> Reply {
        let mut path = format!("/v1/invoices/exportable?limit={limit}");
        if let Some(key) = key {
            path.push_str(&format!("&continuationKey={key}"));
        }
        self.get(tenant, &path).call().await
    }

    /// `GET /v1/invoices/{id}`.
    pub async fn invoice(&self, tenant: &Connector, id: impl std::fmt::Display) -> Reply {
        self.get(tenant, &format!("/v1/invoices/{id}")).call().await
    }

    /// `GET /v1/invoices/{id}/download-url?format=…`.
    pub async fn download_url(
        &self,
        tenant: &Connector,
        id: impl std::fmt::Display,
        format: &str,
    ) -> Reply {
        self.get(
            tenant,
            &format!("/v1/invoices/{id}/download-url?format={format}"),
        )
        .call()
        .await
    }

    /// `POST /v1/invoices/{id}/complete` with a JSON body.
    pub async fn complete(
        &self,
        tenant: &Connector,
        id: impl std::fmt::Display,
        body: &Value,
    ) -> Reply {
        self.post_json(tenant, &format!("/v1/invoices/{id}/complete"), body)
            .call()
            .await
    }

    /// `POST /v1/invoices/{id}/reject` with a JSON body.
    pub async fn reject(
        &self,
        tenant: &Connector,
        id: impl std::fmt::Display,
        body: &Value,
    ) -> Reply {
        self.post_json(tenant, &format!("/v1/invoices/{id}/reject"), body)
            .call()
            .await
    }

    /// Publishes an invoice with `lines` lines received at `received_at` and a soft copy in
    /// each of `formats` (the first is the primary).
    pub async fn publish(
        &self,
        company: CompanyId,
        lines: usize,
        received_at: &str,
        formats: &[DocumentFormat],
    ) -> InvoiceId {
        let invoice = invoice_json(lines, received_at);
        let invoice: NewInvoice = serde_json::from_value(invoice).unwrap();
        let files = formats
            .iter()
            .map(|f| SoftCopy::Upload {
                file_name: format!("{}-copy.{}", invoice.invoice_number, f.extension()),
                bytes: sample(*f),
            })
            .collect();
        Publisher::from(&*self.stack.app)
            .publish(company, invoice, files)
            .await
            .expect("publish")
            .0
    }

    /// The platform publishes `invoice` (the publish path's JSON) with soft copies given as
    /// (file name, bytes), as `ledgerdock invoices publish` does: its id, or what refused it.
    pub async fn publish_invoice(
        &self,
        company: CompanyId,
        invoice: Value,
        copies: Vec<(&str, Vec<u8>)>,
    ) -> Result<InvoiceId, Refusal> {
        let invoice: NewInvoice = serde_json::from_value(invoice).expect("the publish path's JSON");
        let copies = copies
            .into_iter()
            .map(|(file_name, bytes)| SoftCopy::Upload {
                file_name: file_name.to_string(),
                bytes,
            })
            .collect();
        Publisher::from(&*self.stack.app)
            .publish(company, invoice, copies)
            .await
            .map(|(id, _)| id)
            .map_err(|e| Refusal {
                status: e.status().as_u16(),
                error: e.error_object(),
            })
    }

    /// Whether the bucket holds an object at `key`.
    pub async fn object_exists(&self, key: &str) -> bool {
        self.stack
            .s3
            .head_object()
            .bucket(&self.stack.app.config.bucket_name)
            .key(key)
            .send()
            .await
            .is_ok()
    }

    /// Publishes `n` single-line invoices received one minute apart, returned in queue order.
    pub async fn publish_many(&self, company: CompanyId, n: usize) -> Vec<InvoiceId> {
        let mut ids = Vec::new();
        for i in 0..n {
            let at = chrono::DateTime::parse_from_rfc3339("2026-11-01T08:00:00Z").unwrap()
                + chrono::Duration::minutes(i as i64);
            ids.push(
                self.publish(company, 1, &at.to_rfc3339(), &[DocumentFormat::Pdf])
                    .await,
            );
        }
        ids
    }

    /// Publishes `n` single-line invoices without soft copies, 32 at a time (a queue for
    /// workers to drain, quickly made): their ids, in no particular order.
    pub async fn publish_queue(&self, company: CompanyId, n: usize) -> Vec<InvoiceId> {
        use futures_util::stream::{self, StreamExt};
        stream::iter(0..n)
            .map(|i| async move {
                let at = chrono::DateTime::parse_from_rfc3339("2026-11-01T08:00:00Z").unwrap()
                    + chrono::Duration::seconds(i as i64);
                let invoice: NewInvoice =
                    serde_json::from_value(invoice_json(1, &at.to_rfc3339())).unwrap();
                Publisher::from(&*self.stack.app)
                    .publish(company, invoice, Vec::new())
                    .await
                    .expect("publish")
                    .0
            })
            .buffer_unordered(32)
            .collect()
            .await
    }

    /// The invoice's whole history, oldest first.
    pub async fn history(&self, tenant: &Connector, invoice: InvoiceId) -> Vec<Value> {
        let page = self
            .fetch(tenant, &format!("/v1/invoices/{invoice}/history?limit=200"))
            .await
            .ok();
        page["items"].as_array().unwrap().clone()
    }

    /// Waits (up to 10 s) until the invoice's history holds `n` entries: them, and how long
    /// that took.
    pub async fn history_of(
        &self,
        tenant: &Connector,
        invoice: InvoiceId,
        n: usize,
    ) -> (Vec<Value>, Duration) {
        let started = std::time::Instant::now();
        loop {
            let entries = self.history(tenant, invoice).await;
            if entries.len() >= n || started.elapsed() > Duration::from_secs(10) {
                return (entries, started.elapsed());
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// The stored header, read straight from DynamoDB (to assert what did or did not change).
    pub async fn stored(&self, company: CompanyId, invoice: InvoiceId) -> Option<InvoiceHeader> {
        self.stored_in(&self.stack.app.config.table_name, company, invoice)
            .await
    }

    /// The invoice's header item as stored now, attribute by attribute: what a stream
    /// record's image of it holds.
    pub async fn header_item(
        &self,
        company: CompanyId,
        invoice: InvoiceId,
    ) -> Option<ledgerdock_shared::features::changes::Image> {
        use aws_sdk_dynamodb::types::AttributeValue::S;
        self.stack
            .dynamodb
            .get_item()
            .table_name(&self.stack.app.config.table_name)
            .key(
                "PK",
                S(ledgerdock_shared::store::schema::company_pk(&company)),
            )
            .key("SK", S(format!("INVOICE#{invoice}")))
            .consistent_read(true)
            .send()
            .await
            .unwrap()
            .item
    }

    /// The stored header in a table this stack's engine holds: its own, or another stack's
    /// that reaches the engine through a proxy.
    pub async fn stored_in(
        &self,
        table: &str,
        company: CompanyId,
        invoice: InvoiceId,
    ) -> Option<InvoiceHeader> {
        InvoiceStore::new(self.stack.dynamodb.clone(), table)
            .header(company, invoice)
            .await
            .unwrap()
    }

    /// Asserts the invoice is still READY, unexported, unrejected and in the queue.
    pub async fn assert_untouched(&self, tenant: &Connector, id: InvoiceId) {
        let stored = self.stored(tenant.company, id).await.unwrap();
        assert_eq!(stored.status, InvoiceStatus::ReadyForExport);
        assert!(stored.export.is_none() && stored.rejection.is_none());
        assert!(self.poll_all(tenant, 100).await.contains(&id.to_string()));
    }

    /// Walks the whole queue page by page, returning every id seen.
    pub async fn poll_all(&self, tenant: &Connector, limit: usize) -> Vec<String> {
        let mut seen = Vec::new();
        let mut key: Option<String> = None;
        loop {
            let body = self
                .list_exportable(tenant, limit, key.as_deref())
                .await
                .ok();
            seen.extend(
                body["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_str().unwrap().to_string()),
            );
            match body["continuationKey"].as_str() {
                Some(k) => key = Some(k.to_string()),
                None => return seen,
            }
        }
    }

    pub async fn stop(self) {
        self.stack.stop().await;
    }
}

pub fn sample(format: DocumentFormat) -> Vec<u8> {
    match format {
        DocumentFormat::Pdf => samples::pdf(&["Test invoice".to_string()]),
        other => samples::image(other).unwrap().to_vec(),
    }
}

/// A reconciled invoice with `lines` lines of 2 × 10.00 (+ 2.00 tax each).
pub fn invoice_json(lines: usize, received_at: &str) -> Value {
    let line_items: Vec<Value> = (1..=lines)
        .map(|n| {
            json!({
                "description": format!("Item {n}"),
                "quantity": "2",
                "unitPrice": "10.00",
                "amount": "20.00",
                "taxCode": "VAT10",
                "taxAmount": "2.00",
                "accountCode": "6100",
                "trackingCategories": [{"name": "Region", "option": "North"}]
            })
        })
        .collect();
    let subtotal = format!("{}.00", 20 * lines);
    let tax = format!("{}.00", 2 * lines);
    let total = format!("{}.00", 22 * lines);
    json!({
        "documentType": "INVOICE",
        "invoiceNumber": format!("INV-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]),
        "purchaseOrderNumber": "PO-77",
        "supplier": {"supplierId": "sup-1", "externalId": "ERP-SUP-1", "name": "Acme Ltd", "taxNumber": "GB1"},
        "issueDate": "2026-10-30",
        "dueDate": "2026-11-29",
        "receivedAt": Timestamp::parse(received_at).unwrap().to_string(),
        "currency": "EUR",
        "subtotal": subtotal,
        "taxTotal": tax,
        "total": total,
        "lineItems": line_items
    })
}

// ------------------------------------------------------------------ answers

/// One answer of the API, read whole: status, headers and body text.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

impl Reply {
    pub async fn read(resp: reqwest::Response) -> Self {
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        Self {
            status,
            headers,
            text,
        }
    }

    /// The body as JSON (a panic naming the text when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|_| panic!("not JSON: {}", self.text))
    }

    /// Asserts a 200 and returns its body.
    pub fn ok(self) -> Value {
        assert_eq!(
            self.status, 200,
            "expected 200, got {}: {}",
            self.status, self.text
        );
        self.json()
    }

    /// Asserts the status, `error.code` and the error shape with a message and a requestId;
    /// returns the body.
    pub fn error(self, status: u16, code: &str) -> Value {
        let text = &self.text;
        assert_eq!(self.status, status, "body: {text}");
        let body = self.json();
        assert_eq!(body["error"]["code"], code, "body: {text}");
        for member in ["message", "requestId"] {
            assert!(
                body["error"][member]
                    .as_str()
                    .is_some_and(|m| !m.is_empty()),
                "{member} in body: {text}"
            );
        }
        body
    }

    /// Asserts a 400 VALIDATION_ERROR naming `field`; returns the body.
    pub fn invalid(self, field: &str) -> Value {
        let body = self.error(400, "VALIDATION_ERROR");
        assert_eq!(error_field(&body), field, "{body}");
        body
    }
}

/// What the platform's publish path refused, as the API would answer it.
#[derive(Debug)]
pub struct Refusal {
    pub status: u16,
    /// The error object: `code`, `message`, and `details` naming each bad field.
    pub error: Value,
}

impl Refusal {
    /// Asserts a VALIDATION_ERROR whose first detail names `field`; returns its message.
    pub fn invalid(&self, field: &str) -> String {
        assert_eq!(self.error["code"], "VALIDATION_ERROR", "{self:?}");
        assert_eq!(self.error["details"][0]["field"], field, "{self:?}");
        self.error["details"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

/// Sends a request and reads its whole answer: `t.get(&a, path).call().await.ok()`.
#[allow(async_fn_in_trait)]
pub trait Call {
    async fn call(self) -> Reply;
}

impl Call for reqwest::RequestBuilder {
    async fn call(self) -> Reply {
        Reply::read(self.send().await.unwrap()).await
    }
}

/// The field the first error detail names.
pub fn error_field(body: &Value) -> &str {
    body["error"]["details"][0]["field"]
        .as_str()
        .unwrap_or_default()
}

// ------------------------------------------------------------------ clients

impl TestStack {
    /// What `ledgerdock clients` drives, pointed at this stack's local registry.
    pub fn admin(&self) -> ledgerdock_infra::clients::ClientAdmin {
        ledgerdock_infra::clients::ClientAdmin::new(
            ledgerdock_infra::clients::Directory::Local(self.stack.api.clients.clone()),
            self.stack.dynamodb.clone(),
            &self.stack.app.config.table_name,
        )
    }

    /// Writes a grant straight to the table, as a change by any other means than
    /// `ledgerdock clients` would (a console edit, a script): nothing else is told.
    pub async fn put_grant(&self, client_id: &str, company: CompanyId, scopes: &[Scope]) {
        let grants = &self.stack.app.grants;
        grants.put(client_id, company, scopes).await.unwrap();
    }

    /// Creates a client as an operator would, granted `companies` with `scopes`, and gets it a
    /// token.
    pub async fn client_for(
        &self,
        companies: &[CompanyId],
        scopes: &[Scope],
        rate_limit: u32,
    ) -> (ledgerdock_infra::clients::Credentials, String) {
        let (_, credentials) = self
            .admin()
            .create("test connector", companies, scopes, rate_limit)
            .await
            .expect("client created");
        let token = self
            .token(&credentials.client_id, &credentials.client_secret, None)
            .await;
        (credentials, token)
    }

    /// The raw token endpoint answer for these credentials.
    pub async fn token_response(&self, client_id: &str, secret: &str) -> (u16, Value) {
        let resp = self
            .http
            .post(&self.stack.token_url)
            .basic_auth(client_id, Some(secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        (resp.status().as_u16(), resp.json().await.unwrap())
    }

    /// `GET path` as `tenant`, read whole.
    pub async fn fetch(&self, tenant: &Connector, path: &str) -> Reply {
        self.get(tenant, path).call().await
    }

    /// `POST path` with a JSON body as `tenant`, read whole.
    pub async fn post(&self, tenant: &Connector, path: &str, body: &Value) -> Reply {
        self.post_json(tenant, path, body).call().await
    }

    /// `PATCH path` with a JSON body as `tenant`, read whole.
    pub async fn patch(&self, tenant: &Connector, path: &str, body: &Value) -> Reply {
        self.request_as(tenant, reqwest::Method::PATCH, path)
            .json(body)
            .call()
            .await
    }

    /// `DELETE path` as `tenant`, read whole.
    pub async fn delete(&self, tenant: &Connector, path: &str) -> Reply {
        self.request_as(tenant, reqwest::Method::DELETE, path)
            .call()
            .await
    }

    /// A request as `tenant` sends it: its token and company header.
    pub fn request_as(
        &self,
        tenant: &Connector,
        method: reqwest::Method,
        path: &str,
    ) -> reqwest::RequestBuilder {
        self.request(method, &tenant.token, tenant.company, path)
    }

    /// A request with an explicit token and company header.
    pub fn request(
        &self,
        method: reqwest::Method,
        token: &str,
        company: CompanyId,
        path: &str,
    ) -> reqwest::RequestBuilder {
        self.http
            .request(method, self.url(path))
            .bearer_auth(token)
            .header("Lightyear-Company-ID", company.to_string())
    }
}
