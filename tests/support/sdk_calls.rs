//! Watching the real AWS SDK clients: an interceptor that records every call a client makes
//! (its operation, and when it started and ended, retries included), and an `AppState` built
//! on the dev stack with such clients. The round-trip tests count the calls; the
//! overhead bench compares the time spent in them with the time the whole request took.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::config::interceptors::{
    BeforeSerializationInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_types::config_bag::{Storable, StoreReplace};
use ledgerdock_shared::AppState;

use crate::TestStack;

/// One SDK call: its operation, when it started and when it ended.
#[derive(Debug, Clone)]
pub struct SdkCall {
    pub operation: String,
    pub started: Instant,
    pub ended: Instant,
}

/// Where a call's start waits for its end, in the call's own configuration bag.
#[derive(Debug, Clone)]
struct Started(Instant);

impl Storable for Started {
    type Storer = StoreReplace<Self>;
}

/// Records every call of the client it is installed on.
#[derive(Debug, Clone, Default)]
pub struct SdkRecorder(Arc<Mutex<Vec<SdkCall>>>);

impl Intercept for SdkRecorder {
    fn name(&self) -> &'static str {
        "SdkRecorder"
    }

    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        cfg.interceptor_state().store_put(Started(Instant::now()));
        Ok(())
    }

    fn read_after_execution(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let ended = Instant::now();
        // Only what an engine answered is a call to it: a pre-signed URL runs the same
        // pipeline but is never sent.
        if context.response().is_none() {
            return Ok(());
        }
        if let (Some(operation), Some(Started(started))) =
            (cfg.load::<Metadata>(), cfg.load::<Started>())
        {
            self.0.lock().unwrap().push(SdkCall {
                operation: operation.name().to_string(),
                started: *started,
                ended,
            });
        }
        Ok(())
    }
}

impl SdkRecorder {
    /// The calls since the last take.
    pub fn take(&self) -> Vec<SdkCall> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

/// Calls by operation.
pub fn by_operation(calls: &[SdkCall]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for call in calls {
        *counts.entry(call.operation.clone()).or_default() += 1;
    }
    counts
}

/// How long at least one call was in flight (calls made side by side count once).
pub fn busy(calls: &[SdkCall]) -> Duration {
    crate::stats::union_length(calls.iter().map(|c| (c.started, c.ended)).collect())
}

/// The stack's own state with a recorded DynamoDB client, and the per-container caches of a
/// deployed function (the dev stack turns them off so that a revoke applies at once).
pub fn recorded_app(t: &TestStack) -> (AppState, SdkRecorder) {
    recorded_app_reaching(t, None, Watch::DynamoDb)
}

/// As [`recorded_app`], with its S3 and SQS clients recorded too: every call the app makes to
/// an engine, whichever it is.
pub fn recorded_app_every_client(t: &TestStack) -> (AppState, SdkRecorder) {
    recorded_app_reaching(t, None, Watch::EveryClient)
}

/// As [`recorded_app`], its DynamoDB client reaching the stack's engine through `endpoint`
/// (a proxy in front of it, such as [`crate::network::DistantProxy`]).
pub fn recorded_app_through(t: &TestStack, endpoint: &str) -> (AppState, SdkRecorder) {
    recorded_app_reaching(t, Some(endpoint), Watch::DynamoDb)
}

/// Which of the app's clients the recorder is installed on.
#[derive(PartialEq)]
enum Watch {
    DynamoDb,
    EveryClient,
}

fn recorded_app_reaching(
    t: &TestStack,
    endpoint: Option<&str>,
    watch: Watch,
) -> (AppState, SdkRecorder) {
    let recorder = SdkRecorder::default();
    let mut client = t
        .stack
        .dynamodb
        .config()
        .to_builder()
        .interceptor(recorder.clone());
    if let Some(endpoint) = endpoint {
        client = client.endpoint_url(endpoint);
    }
    let dynamodb = aws_sdk_dynamodb::Client::from_conf(client.build());
    let (mut s3, mut sqs) = (t.stack.s3.clone(), t.stack.sqs.clone());
    if watch == Watch::EveryClient {
        let s3_config = s3.config().to_builder().interceptor(recorder.clone());
        s3 = aws_sdk_s3::Client::from_conf(s3_config.build());
        let sqs_config = sqs.config().to_builder().interceptor(recorder.clone());
        sqs = aws_sdk_sqs::Client::from_conf(sqs_config.build());
    }
    let mut config = t.stack.app.config.clone();
    config.grant_cache_ttl = Duration::from_secs(60);
    let app = AppState::with_sdk(config, dynamodb, s3, sqs);
    (app, recorder)
}
