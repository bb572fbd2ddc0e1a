//! template.yaml and the code must describe the same system: the dev stack creates its table
//! from `shared::store::schema`, and its router applies `shared::handlers::ROUTES`. These tests
//! fail when one side changes without the other, and when the template holds something only
//! AWS would refuse (a reserved variable, an oversized environment, a policy element the local
//! IAM evaluator does not understand). Which permissions each function really uses is not
//! restated here: `tests/api/internals/least_privilege.rs` runs every function under the template's
//! IAM and fails on a denied call or an unused grant.

use std::collections::{BTreeMap, BTreeSet};

use ledgerdock_shared::gate::Route;
use ledgerdock_shared::handlers::ROUTES;

/// The route a function (crate) serves, if it serves one.
fn route_of(function: &str) -> Option<&'static Route> {
    ROUTES.iter().copied().find(|r| r.function == function)
}
use ledgerdock_shared::store::schema;
use serde_yaml::Value;

fn template() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml");
    serde_yaml::from_str(&std::fs::read_to_string(path).expect("template.yaml"))
        .expect("template.yaml parses")
}

/// The template resource whose cargo-lambda build produces the `binary` crate.
fn function<'a>(t: &'a Value, binary: &str) -> &'a Value {
    t["Resources"]
        .as_mapping()
        .unwrap()
        .values()
        .find(|r| r["Metadata"]["BuildProperties"]["Binary"].as_str() == Some(binary))
        .unwrap_or_else(|| panic!("template.yaml has no function building {binary}"))
}

fn text(v: &Value) -> &str {
    v.as_str()
        .unwrap_or_else(|| panic!("expected a string, got {v:?}"))
}

#[test]
fn table_key_schema_and_indexes_match_the_dev_stack() {
    let t = template();
    let props = &t["Resources"]["Table"]["Properties"];
    let attributes: Vec<(String, String)> = props["AttributeDefinitions"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|a| {
            (
                text(&a["AttributeName"]).to_string(),
                text(&a["AttributeType"]).to_string(),
            )
        })
        .collect();
    let expected: Vec<(String, String)> = schema::ATTRIBUTES
        .iter()
        .map(|(n, t)| (n.to_string(), t.to_string()))
        .collect();
    assert_eq!(attributes, expected);

    let keys: Vec<(&str, &str)> = props["KeySchema"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|k| (text(&k["AttributeName"]), text(&k["KeyType"])))
        .collect();
    assert_eq!(keys, vec![(schema::PK, "HASH"), (schema::SK, "RANGE")]);
    let code_keys: Vec<(String, String)> = schema::key_schema()
        .iter()
        .map(|k| {
            (
                k.attribute_name().to_string(),
                k.key_type().as_str().to_string(),
            )
        })
        .collect();
    assert_eq!(
        code_keys,
        vec![
            (schema::PK.to_string(), "HASH".to_string()),
            (schema::SK.to_string(), "RANGE".to_string())
        ]
    );

    let indexes: Vec<(&str, &str, &str, &str)> = props["GlobalSecondaryIndexes"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|i| {
            let ks = i["KeySchema"].as_sequence().unwrap();
            assert_eq!(text(&ks[0]["KeyType"]), "HASH");
            assert_eq!(text(&ks[1]["KeyType"]), "RANGE");
            (
                text(&i["IndexName"]),
                text(&ks[0]["AttributeName"]),
                text(&ks[1]["AttributeName"]),
                text(&i["Projection"]["ProjectionType"]),
            )
        })
        .collect();
    assert_eq!(indexes, schema::GLOBAL_INDEXES.to_vec());
    // And the definitions the dev stack passes to CreateTable say the same.
    let created = schema::global_secondary_indexes();
    assert_eq!(created.len(), indexes.len());
    for (made, declared) in created.iter().zip(&indexes) {
        assert_eq!(made.index_name(), declared.0);
    }
    assert_eq!(
        text(&props["TimeToLiveSpecification"]["AttributeName"]),
        schema::TTL_ATTRIBUTE
    );
}

#[test]
fn import_worker_hears_object_created_under_imports_and_the_sweep_is_scheduled() {
    let t = template();
    let resources = &t["Resources"];
    let worker = &resources["ProcessImportJobFunction"]["Properties"];
    let event = &worker["Events"]["ImportFileLanded"]["Properties"];
    assert_eq!(text(&worker["Events"]["ImportFileLanded"]["Type"]), "S3");
    assert_eq!(text(&event["Events"]), "s3:ObjectCreated:*");
    let rule = &event["Filter"]["S3Key"]["Rules"][0];
    assert_eq!(
        (text(&rule["Name"]), text(&rule["Value"])),
        ("prefix", "imports/")
    );
    let sweep = &resources["SweepImportJobsFunction"]["Properties"]["Events"];
    let schedule = sweep
        .as_mapping()
        .unwrap()
        .values()
        .find(|e| e["Type"].as_str() == Some("Schedule"))
        .expect("the sweep has a schedule");
    assert!(text(&schedule["Properties"]["Schedule"]).starts_with("rate("));
}

#[test]
fn webhooks_hear_the_tables_stream_of_news_and_retry_every_minute() {
    use ledgerdock_shared::features::webhooks::events::{NEWS_ENTITIES, NEWS_STATUSES};
    let t = template();
    let resources = &t["Resources"];
    let stream = &resources["Table"]["Properties"]["StreamSpecification"];
    assert_eq!(
        text(&stream["StreamViewType"]),
        "NEW_AND_OLD_IMAGES",
        "events are told from the item before and after"
    );
    let fanout = &function(&t, "webhook-fanout")["Properties"]["Events"]["Stream"];
    assert_eq!(text(&fanout["Type"]), "DynamoDB");
    let properties = &fanout["Properties"];
    match &properties["Stream"] {
        Value::Tagged(tagged) if tagged.tag == "GetAtt" => {
            assert_eq!(text(&tagged.value), "Table.StreamArn")
        }
        other => panic!("expected !GetAtt Table.StreamArn, got {other:?}"),
    }
    assert_eq!(text(&properties["StartingPosition"]), "LATEST");
    // The dev stack's capture hands the fan-out batches of the template's size.
    assert_eq!(
        properties["BatchSize"].as_u64(),
        Some(ledgerdock_infra::dev::webhooks::BATCH_SIZE as u64)
    );
    // A batch that keeps failing is recorded, not retried for the stream's whole day.
    assert!(properties["MaximumRetryAttempts"].as_u64().is_some());
    assert_eq!(
        text(&properties["DestinationConfig"]["OnFailure"]["Type"]),
        "SQS"
    );
    // The filter lets through every item kind and state an event can come from, and the dev
    // stack's evaluator understands it (its own tests say what it lets through).
    let pattern: serde_json::Value =
        serde_json::from_str(text(&properties["FilterCriteria"]["Filters"][0]["Pattern"]))
            .expect("the filter pattern is JSON");
    let listed = |field: &str| -> Vec<String> {
        pattern["dynamodb"]["NewImage"][field]["S"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(listed("entity"), NEWS_ENTITIES);
    assert_eq!(listed("status"), NEWS_STATUSES);
    assert_eq!(
        pattern["eventName"],
        serde_json::json!(["INSERT", "MODIFY"])
    );
    ledgerdock_infra::dev::stream_filter::StreamFilter::of(
        ledgerdock_infra::dev::stream_filter::TEMPLATE,
        "webhook-fanout",
    )
    .expect("the dev stack applies the filter as written");
    let dispatch = &function(&t, "dispatch-webhooks")["Properties"];
    assert_eq!(
        text(&dispatch["Events"]["EveryMinute"]["Properties"]["Schedule"]),
        "rate(1 minute)"
    );
    // The sweep runs one at a time and is never retried (the next minute's run is).
    assert_eq!(dispatch["ReservedConcurrentExecutions"].as_u64(), Some(1));
    assert_eq!(
        dispatch["EventInvokeConfig"]["MaximumRetryAttempts"].as_u64(),
        Some(0)
    );
    assert!(dispatch["Timeout"].as_u64().unwrap() <= 60);

    // The attempt queue, its consumer and the dev stack's stand-ins for both agree.
    use ledgerdock_infra::dev::queue;
    let resources = &t["Resources"];
    let attempt_queue = &resources["WebhookAttemptQueue"]["Properties"];
    assert_eq!(
        attempt_queue["VisibilityTimeout"].as_u64(),
        Some(queue::VISIBILITY_TIMEOUT.as_secs())
    );
    let deliver = &function(&t, "deliver-webhooks")["Properties"];
    let source = &deliver["Events"]["Attempts"];
    assert_eq!(text(&source["Type"]), "SQS");
    let source = &source["Properties"];
    assert_eq!(source["BatchSize"].as_u64(), Some(queue::BATCH_SIZE as u64));
    assert_eq!(
        source["ScalingConfig"]["MaximumConcurrency"].as_u64(),
        Some(queue::MAX_CONCURRENCY as u64)
    );
    assert_eq!(
        text(&source["FunctionResponseTypes"][0]),
        "ReportBatchItemFailures"
    );
    // A batch attempted at once ends within the consumer's timeout, and the visibility
    // timeout is six times that, as Lambda advises for an SQS event source.
    let timeout = deliver["Timeout"].as_u64().unwrap();
    let batch_secs = (queue::BATCH_SIZE
        / ledgerdock_shared::features::webhooks::dispatch::CONCURRENCY) as u64
        * ledgerdock_shared::features::webhooks::delivery::ATTEMPT_TIMEOUT.as_secs();
    assert!(batch_secs * 2 <= timeout, "{batch_secs} s of {timeout} s");
    assert!(queue::VISIBILITY_TIMEOUT.as_secs() >= 6 * timeout);
    assert!(ledgerdock_shared::features::webhooks::dispatch::CLAIM_FOR.as_secs() >= timeout);
    for function_name in ["webhook-fanout", "dispatch-webhooks", "deliver-webhooks"] {
        let variables = &function(&t, function_name)["Properties"]["Environment"]["Variables"];
        assert_eq!(
            reference(&variables[ledgerdock_shared::edge::config::ENV_WEBHOOK_QUEUE_URL]),
            "WebhookAttemptQueue",
            "{function_name}"
        );
    }
}

#[test]
fn every_route_is_a_function_with_the_same_method_path_and_scope() {
    let t = template();
    for route in ROUTES {
        let function = function(&t, route.function);
        let api = &function["Properties"]["Events"]["Api"]["Properties"];
        assert_eq!(text(&api["Path"]), route.path, "{}", route.function);
        assert_eq!(
            text(&api["Method"]).to_uppercase(),
            route.method,
            "{}",
            route.function
        );
        let scopes: Vec<&str> = api["Auth"]["AuthorizationScopes"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(text)
            .collect();
        let names: Vec<String> = route.scopes.iter().map(|s| s.oauth_name()).collect();
        assert_eq!(scopes, names, "{}", route.function);
        assert_eq!(text(&api["Auth"]["Authorizer"]), "CognitoAuthorizer");
    }
}

#[test]
fn every_function_crate_is_deployed_and_built_for_arm64_al2023() {
    let t = template();
    let globals = &t["Globals"]["Function"];
    assert_eq!(text(&globals["Runtime"]), "provided.al2023");
    // arm64 unless the documented switch for local x86_64 runs says otherwise.
    let architecture = reference(&globals["Architectures"][0]);
    assert_eq!(architecture, "Architecture");
    assert_eq!(text(&t["Parameters"][architecture]["Default"]), "arm64");
    let functions_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../functions");
    for entry in std::fs::read_dir(functions_dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        let function = function(&t, &name);
        assert_eq!(
            text(&function["Metadata"]["BuildMethod"]),
            "rust-cargolambda"
        );
    }
}

/// The parameter a `!Ref Name` names.
fn reference(v: &Value) -> &str {
    match v {
        Value::Tagged(tagged) if tagged.tag == "Ref" => text(&tagged.value),
        other => panic!("expected !Ref, got {other:?}"),
    }
}

/// The policy statements of a function, flattened.
fn statements(t: &Value, binary: &str) -> Vec<Value> {
    function(t, binary)["Properties"]["Policies"]
        .as_sequence()
        .unwrap()
        .iter()
        .flat_map(|p| p["Statement"].as_sequence().cloned().unwrap_or_default())
        .collect()
}

#[test]
fn no_function_may_list_the_bucket() {
    // S3 answers a missing key 403 rather than 404 to a caller that may not list the bucket;
    // the code takes that 403 as "missing" (store::import_files, store::documents), so no
    // function needs a listing, which would show it every company's file names.
    let t = template();
    let functions_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../functions");
    for entry in std::fs::read_dir(functions_dir).unwrap() {
        let binary = entry.unwrap().file_name().to_string_lossy().into_owned();
        for statement in statements(&t, &binary) {
            let actions = statement["Action"]
                .as_sequence()
                .cloned()
                .unwrap_or_default();
            assert!(
                !actions
                    .iter()
                    .any(|a| a.as_str().is_some_and(|a| a.starts_with("s3:List"))),
                "{binary} may list the bucket"
            );
        }
    }
}

#[test]
fn import_files_and_old_versions_expire_and_imports_are_bounded_in_concurrency() {
    let t = template();
    let rules = t["Resources"]["Bucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
        .as_sequence()
        .expect("the bucket has lifecycle rules")
        .clone();
    let imports = rules
        .iter()
        .find(|r| r["Prefix"].as_str() == Some("imports/"))
        .expect("a rule for imports/");
    assert_eq!(imports["ExpirationInDays"].as_u64(), Some(7));
    assert!(rules.iter().any(|r| r["Prefix"].is_null()
        && r["NoncurrentVersionExpiration"]["NoncurrentDays"].as_u64() == Some(30)));
    assert!(rules
        .iter()
        .all(|r| r["Status"].as_str() == Some("Enabled")));

    let worker = &function(&t, "process-import-job")["Properties"];
    assert_eq!(
        reference(&worker["ReservedConcurrentExecutions"]),
        "ImportWorkerConcurrency"
    );
    let stage = &t["Resources"]["Api"]["Properties"]["MethodSettings"][0];
    assert_eq!(reference(&stage["ThrottlingRateLimit"]), "StageRateLimit");
    assert_eq!(reference(&stage["ThrottlingBurstLimit"]), "StageBurstLimit");
    for parameter in [
        "ImportWorkerConcurrency",
        "StageRateLimit",
        "StageBurstLimit",
    ] {
        assert!(
            t["Parameters"][parameter]["Default"].as_u64().is_some(),
            "{parameter}"
        );
    }
}

/// A new dev stack's environment for the functions (what sam-env.json holds).
async fn dev_stack_function_environment() -> std::collections::BTreeMap<&'static str, String> {
    let dir = tempfile::tempdir().unwrap();
    let stack = ledgerdock_infra::dev::DevStack::start(
        ledgerdock_infra::dev::DevOptions::ephemeral(dir.path().to_path_buf()),
    )
    .await
    .unwrap();
    let written: serde_json::Value = serde_json::from_slice(
        &std::fs::read(stack.data_dir.join(ledgerdock_infra::dev::SAM_ENV_FILE)).unwrap(),
    )
    .unwrap();
    let environment = stack.function_environment();
    assert_eq!(written["Parameters"], serde_json::json!(environment));
    stack.stop().await;
    environment
}

#[tokio::test]
async fn sam_local_can_set_every_variable_that_points_a_function_at_the_dev_stack() {
    use ledgerdock_shared::edge::config::*;
    // SAM passes a function only the variables its template declares: each one the dev
    // stack's sam-env.json sets must be declared for every function.
    let t = template();
    let variables = &t["Globals"]["Function"]["Environment"]["Variables"];
    for name in dev_stack_function_environment().await.keys() {
        if *name == ENV_CONTINUATION_SECRET_ARN {
            // Declared by the functions that page alone (see the next test).
            continue;
        }
        assert!(
            !variables[*name].is_null(),
            "template.yaml Globals must declare {name} for sam local --env-vars"
        );
    }
    assert_eq!(
        text(&variables[ENV_CONTINUATION_SECRET]),
        "",
        "no secret in any function's environment in AWS"
    );
    // Where the template gives a literal, it is the code's own default, so AWS and a function
    // without the variable behave alike.
    for (name, default) in [
        (ENV_IMPORT_UPLOAD_GRACE, DEFAULT_IMPORT_UPLOAD_GRACE),
        (
            ENV_IMPORT_PROCESSING_DEADLINE,
            DEFAULT_IMPORT_PROCESSING_DEADLINE,
        ),
        (ENV_IMPORT_LEASE, DEFAULT_IMPORT_LEASE),
    ] {
        assert_eq!(
            text(&variables[name]),
            default.as_secs().to_string(),
            "{name}"
        );
    }
    for name in [ENV_DYNAMODB_ENDPOINT, ENV_S3_ENDPOINT] {
        assert_eq!(
            text(&variables[name]),
            "",
            "{name}: AWS's own endpoints in AWS"
        );
    }
    assert_eq!(text(&variables[ENV_S3_FORCE_PATH_STYLE]), "false");
}

#[test]
fn functions_verify_tokens_themselves_only_where_sam_local_says_so() {
    use ledgerdock_shared::edge::config::{ENV_JWKS_URL, ENV_TOKEN_ISSUER};
    // Declared (so `sam local --env-vars` can set them) and empty (so AWS never uses them).
    let t = template();
    let variables = &t["Globals"]["Function"]["Environment"]["Variables"];
    for name in [ENV_JWKS_URL, ENV_TOKEN_ISSUER] {
        assert_eq!(variables[name].as_str(), Some(""), "{name}");
    }
}

/// What each error API Gateway answers itself must be: (response type, status, code).
/// `None` keeps the status API Gateway picks (the DEFAULT_* catch-alls).
const GATEWAY_ERRORS: &[(&str, Option<&str>, &str)] = &[
    ("UNAUTHORIZED", Some("401"), "UNAUTHENTICATED"),
    ("EXPIRED_TOKEN", Some("401"), "UNAUTHENTICATED"),
    ("ACCESS_DENIED", Some("403"), "FORBIDDEN"),
    ("INVALID_SIGNATURE", Some("403"), "FORBIDDEN"),
    ("WAF_FILTERED", Some("403"), "FORBIDDEN"),
    ("MISSING_AUTHENTICATION_TOKEN", Some("404"), "NOT_FOUND"),
    ("RESOURCE_NOT_FOUND", Some("404"), "NOT_FOUND"),
    ("BAD_REQUEST_BODY", Some("400"), "VALIDATION_ERROR"),
    ("BAD_REQUEST_PARAMETERS", Some("400"), "VALIDATION_ERROR"),
    ("REQUEST_TOO_LARGE", Some("413"), "PAYLOAD_TOO_LARGE"),
    (
        "UNSUPPORTED_MEDIA_TYPE",
        Some("415"),
        "UNSUPPORTED_MEDIA_TYPE",
    ),
    ("THROTTLED", Some("429"), "RATE_LIMITED"),
    ("QUOTA_EXCEEDED", Some("429"), "RATE_LIMITED"),
    ("INTEGRATION_TIMEOUT", Some("504"), "TIMEOUT"),
    ("INTEGRATION_FAILURE", Some("502"), "UNAVAILABLE"),
    ("DEFAULT_4XX", None, "BAD_REQUEST"),
    ("DEFAULT_5XX", None, "INTERNAL"),
];

/// Renders a gateway response template as API Gateway would, with the `$context` variables
/// a template may use; the message holds quotes and a backslash, as real ones can.
fn render_gateway_template(template: &str) -> String {
    let message =
        r#"Invalid key=value pair (missing equal-sign) in Authorization header: "Bearer \x""#;
    template
        .replace("$context.requestId", "0b1c2d3e-request")
        // messageString is the message between quotes, as documented: not escaped.
        .replace("$context.error.messageString", &format!("\"{message}\""))
        .replace("$context.error.message", message)
}

#[test]
fn every_error_the_gateway_answers_itself_is_valid_json_in_the_api_error_format() {
    let t = template();
    let responses: Vec<&Value> = t["Resources"]
        .as_mapping()
        .unwrap()
        .values()
        .filter(|r| r["Type"].as_str() == Some("AWS::ApiGateway::GatewayResponse"))
        .collect();
    assert_eq!(
        responses.len(),
        GATEWAY_ERRORS.len(),
        "one response per listed type"
    );
    for (response_type, status, code) in GATEWAY_ERRORS {
        let response = responses
            .iter()
            .find(|r| r["Properties"]["ResponseType"].as_str() == Some(response_type))
            .unwrap_or_else(|| panic!("template.yaml does not shape {response_type}"));
        let props = &response["Properties"];
        assert_eq!(props["StatusCode"].as_str(), *status, "{response_type}");
        let body = render_gateway_template(text(&props["ResponseTemplates"]["application/json"]));
        let parsed: serde_json::Value = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("{response_type} renders invalid JSON ({e}): {body}"));
        let error = parsed["error"]
            .as_object()
            .unwrap_or_else(|| panic!("{body}"));
        assert_eq!(error["code"], *code, "{response_type}");
        assert!(
            error["message"].as_str().is_some_and(|m| m.len() > 10),
            "{response_type}: {body}"
        );
        assert_eq!(error["requestId"], "0b1c2d3e-request", "{response_type}");
        assert_eq!(
            error.len(),
            3,
            "{response_type}: only code, message, requestId: {body}"
        );
        // Every 429 and retryable 5xx says when to come back.
        if matches!(*status, Some("429" | "502")) || *code == "TIMEOUT" {
            assert!(
                props["ResponseParameters"]["gatewayresponse.header.Retry-After"]
                    .as_str()
                    .is_some_and(|v| v.starts_with('\'') && v.ends_with('\'')),
                "{response_type} needs a Retry-After header"
            );
        }
    }
}

#[test]
fn the_gateway_template_check_catches_a_quoted_message_string() {
    // The defect this guards against: quoting messageString, which is already quoted.
    let broken = r#"{"error":{"code":"X","message":"$context.error.messageString","requestId":"$context.requestId"}}"#;
    assert!(serde_json::from_str::<serde_json::Value>(&render_gateway_template(broken)).is_err());
}

/// Actions that change items. A grant of any of them must say which partitions it covers.
const DYNAMODB_WRITES: [&str; 8] = [
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:PartiQLInsert",
    "dynamodb:PartiQLUpdate",
    "dynamodb:PartiQLDelete",
    "dynamodb:*",
];

/// For one function: each DynamoDB write action it holds, and the partition-key patterns it
/// holds it on (`dynamodb:LeadingKeys`), or `<whole table>` where no condition narrows it.
fn dynamodb_writes(t: &Value, binary: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut writes: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for statement in statements(t, binary) {
        assert_eq!(text(&statement["Effect"]), "Allow", "{binary}");
        let actions: Vec<String> = match &statement["Action"] {
            Value::Sequence(actions) => actions.iter().map(|a| text(a).to_string()).collect(),
            one => vec![text(one).to_string()],
        };
        let leading_keys =
            &statement["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"];
        let partitions: BTreeSet<String> = match leading_keys.as_sequence() {
            Some(keys) => keys.iter().map(|k| text(k).to_string()).collect(),
            None => BTreeSet::from(["<whole table>".to_string()]),
        };
        for action in actions
            .into_iter()
            .filter(|a| DYNAMODB_WRITES.contains(&a.as_str()))
        {
            writes
                .entry(action)
                .or_default()
                .extend(partitions.iter().cloned());
        }
    }
    writes
}

#[test]
fn every_dynamodb_write_is_held_to_partitions_the_code_names() {
    // Which function uses which grant is not restated here: the least-privilege tour in the
    // integration suite runs every function under enforcement and fails on a denied call or
    // an unused grant. What this adds: no write may reach the whole table, and every partition
    // pattern a write is held to is one the code's own key design names.
    use ledgerdock_shared::domain::CompanyId;
    use ledgerdock_shared::store::clients::USAGE_PARTITION_PREFIX;
    use ledgerdock_shared::store::webhooks::{
        LOG_PARTITION_INFIX, OWNER_PARTITION_PREFIX, SUBSCRIPTIONS_PARTITION_SUFFIX,
    };
    let id = CompanyId::new_random();
    let company = schema::company_pk(&id)
        .trim_end_matches(&id.to_string())
        .to_string();
    let mut named: BTreeSet<String> = [
        format!("{company}*{LOG_PARTITION_INFIX}*"),
        format!("{company}*{SUBSCRIPTIONS_PARTITION_SUFFIX}"),
        format!("{company}*{}", schema::IMPORTS_PARTITION_SUFFIX),
        format!("{company}*{}", schema::SUPPLIERS_PARTITION_SUFFIX),
        schema::COMPANY_PARTITION_PATTERN.to_string(),
        format!(
            "{}{}",
            schema::COMPANY_PARTITION_PATTERN,
            ledgerdock_shared::store::events::EVENTS_PARTITION_SUFFIX
        ),
        format!(
            "{}{}",
            schema::COMPANY_PARTITION_PATTERN,
            ledgerdock_shared::store::history::HISTORY_PARTITION_SUFFIX
        ),
        format!("{USAGE_PARTITION_PREFIX}*"),
        format!("{OWNER_PARTITION_PREFIX}*"),
    ]
    .into();
    // Each kind of master data's partition (supplier cards' among them).
    named.extend(ledgerdock_shared::domain::ImportType::ALL.map(|t| {
        format!(
            "{company}*#{}",
            ledgerdock_shared::domain::master_data::kind_info(t).partition
        )
    }));
    let t = template();
    let functions_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../functions");
    for entry in std::fs::read_dir(functions_dir).unwrap() {
        let binary = entry.unwrap().file_name().to_string_lossy().into_owned();
        for (action, partitions) in dynamodb_writes(&t, &binary) {
            for partition in partitions {
                assert!(
                    named.contains(&partition),
                    "{binary} may {action} on {partition}, not a partition the code names ({named:?})"
                );
            }
        }
    }
}

#[test]
fn only_functions_that_page_may_read_the_continuation_secret_and_none_holds_it_in_its_environment()
{
    use ledgerdock_shared::edge::config::{ENV_CONTINUATION_SECRET, ENV_CONTINUATION_SECRET_ARN};
    let t = template();
    let functions_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../functions");
    let mut paging = 0;
    for entry in std::fs::read_dir(functions_dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        let pages = route_of(&name).is_some_and(|r| r.pages);
        let variables = &function(&t, &name)["Properties"]["Environment"]["Variables"];
        assert!(variables[ENV_CONTINUATION_SECRET].is_null(), "{name}");
        let reads_secret = statements(&t, &name).iter().any(|s| {
            s["Action"].as_sequence().is_some_and(|a| {
                a.iter()
                    .any(|a| a.as_str() == Some("secretsmanager:GetSecretValue"))
            })
        });
        if pages {
            paging += 1;
            assert_eq!(
                reference(&variables[ENV_CONTINUATION_SECRET_ARN]),
                "ContinuationKeySecret",
                "{name}"
            );
            let grant = statements(&t, &name)
                .into_iter()
                .find(|s| s["Action"][0].as_str() == Some("secretsmanager:GetSecretValue"))
                .unwrap_or_else(|| panic!("{name} pages but may not read the secret"));
            assert_eq!(
                reference(&grant["Resource"]),
                "ContinuationKeySecret",
                "{name}"
            );
        } else {
            assert!(variables[ENV_CONTINUATION_SECRET_ARN].is_null(), "{name}");
            assert!(!reads_secret, "{name} never pages but may read the secret");
        }
    }
    assert_eq!(
        paging, 9,
        "the invoice queue, an invoice's history, a webhook's delivery log, and the lists of \
         each kind of master data and of a tracking category's options page"
    );
}

fn openapi() -> Value {
    serde_yaml::from_str(ledgerdock_infra::dev::openapi::OPENAPI_YAML).expect("openapi.yaml parses")
}

/// An operation's parameters, `$ref`s resolved against the document's components.
fn parameters<'a>(doc: &'a Value, operation: &'a Value) -> Vec<&'a Value> {
    operation["parameters"]
        .as_sequence()
        .map(|ps| {
            ps.iter()
                .map(|p| match p["$ref"].as_str() {
                    Some(r) => {
                        let name = r.trim_start_matches("#/components/parameters/");
                        &doc["components"]["parameters"][name]
                    }
                    None => p,
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn the_openapi_document_declares_exactly_the_routes_scopes_and_query_parameters_the_code_serves() {
    let doc = openapi();
    assert_eq!(text(&doc["openapi"]), "3.1.0");
    let paths = doc["paths"].as_mapping().unwrap();
    let operations: usize = paths
        .values()
        .map(|item| item.as_mapping().unwrap().len())
        .sum();
    assert_eq!(operations, ROUTES.len(), "one operation per route, no more");
    let scopes = &doc["components"]["securitySchemes"]["clientCredentials"]["flows"]
        ["clientCredentials"]["scopes"];
    let t = template();
    for route in ROUTES {
        let operation = &doc["paths"][route.path][route.method.to_ascii_lowercase()];
        assert!(
            operation.is_mapping(),
            "openapi.yaml lacks {} {}",
            route.method,
            route.path
        );
        // The scopes: the operation's, the template's, and the code's are one. Any one of
        // them admits, as in the authorizer, which OpenAPI says with one security
        // requirement per scope (one requirement listing several would demand them all).
        let declared: Vec<&str> = operation["security"]
            .as_sequence()
            .into_iter()
            .flatten()
            .map(|requirement| {
                let listed = requirement["clientCredentials"].as_sequence().unwrap();
                assert_eq!(
                    listed.len(),
                    1,
                    "{}: one scope per requirement",
                    route.function
                );
                text(&listed[0])
            })
            .collect();
        let names: Vec<String> = route.scopes.iter().map(|s| s.oauth_name()).collect();
        assert_eq!(declared, names, "{}", route.function);
        for scope in &names {
            assert!(
                !scopes[scope.as_str()].is_null(),
                "{scope} is not a declared scope"
            );
        }
        let event = &function(&t, route.function)["Properties"]["Events"]["Api"]["Properties"];
        assert_eq!(text(&event["Path"]), route.path);
        let authorized: Vec<&str> = event["Auth"]["AuthorizationScopes"]
            .as_sequence()
            .into_iter()
            .flatten()
            .map(text)
            .collect();
        assert_eq!(authorized, names, "{}", route.function);
        // Query parameters: exactly those the code takes (any other is a 400).
        let params = parameters(&doc, operation);
        let mut query: Vec<&str> = params
            .iter()
            .filter(|p| p["in"].as_str() == Some("query"))
            .map(|p| text(&p["name"]))
            .collect();
        query.sort_unstable();
        let mut code = route.query.to_vec();
        code.sort_unstable();
        assert_eq!(query, code, "{} query parameters", route.function);
        assert_eq!(
            query.contains(&"continuationKey"),
            route.pages,
            "{} pages",
            route.function
        );
        // Every operation names its company and answers the common errors.
        assert!(
            params
                .iter()
                .any(|p| p["name"].as_str() == Some("Lightyear-Company-ID")
                    && p["in"].as_str() == Some("header")
                    && p["required"].as_bool() == Some(true)),
            "{}",
            route.function
        );
        for status in ["400", "401", "403", "429", "503"] {
            assert!(
                !operation["responses"][status].is_null(),
                "{} documents no {status}",
                route.function
            );
        }
        // And its path parameters are the route's {segments}.
        let mut path_params: Vec<&str> = params
            .iter()
            .filter(|p| p["in"].as_str() == Some("path"))
            .map(|p| text(&p["name"]))
            .collect();
        path_params.sort_unstable();
        let mut segments: Vec<&str> = route
            .path
            .split('/')
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
            .collect();
        segments.sort_unstable();
        assert_eq!(path_params, segments, "{}", route.function);
    }
}

#[test]
fn every_error_code_the_api_or_its_gateway_answers_is_in_the_openapi_error_schema() {
    let doc = openapi();
    let error_code =
        &doc["components"]["schemas"]["Error"]["properties"]["error"]["properties"]["code"]["$ref"];
    assert_eq!(text(error_code), "#/components/schemas/ErrorCode");
    let codes: Vec<&str> = doc["components"]["schemas"]["ErrorCode"]["enum"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(text)
        .collect();
    for (_, _, code) in GATEWAY_ERRORS {
        assert!(codes.contains(code), "{code}");
    }
    use ledgerdock_shared::ApiError;
    let samples = [
        ApiError::Unauthenticated(String::new()),
        ApiError::Forbidden(String::new()),
        ApiError::field("f", "m"),
        ApiError::InvalidContinuationKey(String::new()),
        ApiError::not_found(""),
        ApiError::IdempotencyKeyReused(String::new()),
        ApiError::PayloadTooLarge(String::new()),
        ApiError::UnsupportedMediaType(String::new()),
        ApiError::internal(""),
    ];
    for error in samples {
        assert!(codes.contains(&error.code()), "{}", error.code());
    }
    for code in [
        "INVALID_STATE_TRANSITION",
        "RATE_LIMITED",
        "TOO_MANY_OPEN_JOBS",
        "UNAVAILABLE",
        "METHOD_NOT_ALLOWED",
    ] {
        assert!(codes.contains(&code), "{code}");
    }
}

#[test]
fn every_function_has_a_sam_local_event_and_api_events_match_their_routes() {
    let functions_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../functions");
    for entry in std::fs::read_dir(functions_dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        let path = format!("{}/events/{name}.json", env!("CARGO_MANIFEST_DIR"));
        let event: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(&path).unwrap_or_else(|_| panic!("{path} is missing")),
        )
        .unwrap_or_else(|e| panic!("{path}: {e}"));
        let Some(route) = route_of(&name) else {
            continue;
        };
        assert_eq!(event["resource"], route.path, "{path}");
        assert_eq!(event["httpMethod"], route.method, "{path}");
        assert_eq!(
            event["requestContext"]["resourcePath"], route.path,
            "{path}"
        );
        let claims = &event["requestContext"]["authorizer"]["claims"];
        assert_eq!(claims["token_use"], "access", "{path}");
        assert!(
            claims["scope"].as_str().is_some_and(|s| s
                .split(' ')
                .any(|s| route.scopes.iter().any(|r| r.oauth_name() == s))),
            "{path}: the claims carry the route's scope"
        );
        assert!(
            event["headers"]["Lightyear-Company-ID"].is_string(),
            "{path}"
        );
    }
}

#[test]
fn the_dev_stack_understands_every_functions_policy_and_enforces_it_as_written() {
    use ledgerdock_infra::dev::iam::Iam;
    let account = local_account();
    // Anything the evaluator does not understand (a SAM policy template, NotAction, an
    // unknown condition key) fails here, so it can never allow a call by ignoring a rule.
    let iam = Iam::from_template(ledgerdock_infra::dev::stream_filter::TEMPLATE, account)
        .unwrap_or_else(|e| panic!("{e}"));
    let functions_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../functions");
    let mut crates: Vec<String> = std::fs::read_dir(functions_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    crates.sort();
    let deployed: Vec<&str> = iam.functions().collect();
    assert_eq!(deployed, crates, "one identity per function crate");
    for function in deployed {
        assert!(
            !iam.statements(function).is_empty(),
            "{function} runs with no permissions at all"
        );
    }
}

/// Names Lambda sets itself; a function configuration that declares one is refused.
const LAMBDA_RESERVED_VARIABLES: [&str; 19] = [
    "_HANDLER",
    "_X_AMZN_TRACE_ID",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API",
    "LAMBDA_TASK_ROOT",
    "LAMBDA_RUNTIME_DIR",
    "TZ",
];

#[test]
fn every_functions_environment_is_one_lambda_accepts() {
    // What only AWS checks when the stack deploys: no reserved name, names Lambda allows, and
    // at most 4 KB of variables per function. A value the template computes counts at its
    // longest: a number parameter 20 characters, anything else (an ARN, a URL, a name) 256.
    let t = template();
    let globals = t["Globals"]["Function"]["Environment"]["Variables"]
        .as_mapping()
        .unwrap()
        .clone();
    let longest = |value: &Value| -> usize {
        match value {
            Value::String(s) => s.len(),
            Value::Tagged(tagged) if tagged.tag == "Ref" => {
                let name = text(&tagged.value);
                if t["Parameters"][name]["Type"].as_str() == Some("Number") {
                    20
                } else {
                    256
                }
            }
            _ => 256,
        }
    };
    let functions_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../functions");
    for entry in std::fs::read_dir(functions_dir).unwrap() {
        let binary = entry.unwrap().file_name().to_string_lossy().into_owned();
        let mut variables = globals.clone();
        if let Some(own) =
            function(&t, &binary)["Properties"]["Environment"]["Variables"].as_mapping()
        {
            for (name, value) in own {
                variables.insert(name.clone(), value.clone());
            }
        }
        let mut size = 0;
        for (name, value) in &variables {
            let name = text(name);
            assert!(
                !LAMBDA_RESERVED_VARIABLES.contains(&name),
                "{binary} declares {name}, which Lambda reserves"
            );
            assert!(
                name.starts_with(|c: char| c.is_ascii_alphabetic())
                    && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                "{binary}: {name} is not a name Lambda takes"
            );
            size += name.len() + longest(value);
        }
        assert!(size <= 4096, "{binary}: {size} bytes of variables at most");
    }
}

#[test]
fn no_webhook_function_may_write_a_companys_invoices_or_import_jobs() {
    use ledgerdock_infra::dev::iam::{requests::Authorization, Iam};
    let account = local_account();
    let table = account.table_arn();
    let iam = Iam::from_template(ledgerdock_infra::dev::stream_filter::TEMPLATE, account).unwrap();
    let company = schema::company_pk(&ledgerdock_shared::domain::CompanyId::new_random());
    let webhook_functions: Vec<&str> = iam.functions().filter(|f| f.contains("webhook")).collect();
    assert_eq!(webhook_functions.len(), 14, "{webhook_functions:?}");
    for function in webhook_functions {
        for action in [
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
            "dynamodb:BatchWriteItem",
        ] {
            let write = Authorization {
                action: action.into(),
                resource: table.clone(),
                context: BTreeMap::from([(
                    "dynamodb:LeadingKeys".to_string(),
                    vec![company.clone()],
                )]),
            };
            assert!(
                iam.decide(function, &write).is_err(),
                "{function} may {action} on {company}"
            );
        }
    }
}

#[test]
fn each_feature_writes_its_own_partitions_and_no_other_features() {
    use ledgerdock_infra::dev::iam::policy::wildcard_match;
    use ledgerdock_infra::dev::iam::{requests::Authorization, Iam};
    use ledgerdock_shared::domain::CompanyId;
    let company = CompanyId::new_random();
    let own = schema::company_pk(&company);
    let imports = schema::imports_pk(&company);
    let suppliers = schema::suppliers_pk(&company);
    // The company's own partition and no other matches the pattern the invoice functions hold.
    assert!(wildcard_match(schema::COMPANY_PARTITION_PATTERN, &own));
    let events = ledgerdock_shared::store::events::events_pk(&company);
    let history = ledgerdock_shared::store::history::history_pk(&company);
    for other in [
        &imports,
        &suppliers,
        &format!("{own}#WEBHOOKS"),
        &events,
        &history,
    ] {
        assert!(
            !wildcard_match(schema::COMPANY_PARTITION_PATTERN, other),
            "{other}"
        );
    }
    let account = local_account();
    let table = account.table_arn();
    let iam = Iam::from_template(ledgerdock_infra::dev::stream_filter::TEMPLATE, account).unwrap();
    let may_write = |function: &str, action: &str, partition: &str| {
        iam.decide(
            function,
            &Authorization {
                action: action.into(),
                resource: table.clone(),
                context: BTreeMap::from([(
                    "dynamodb:LeadingKeys".to_string(),
                    vec![partition.to_string()],
                )]),
            },
        )
        .is_ok()
    };
    for function in [
        "complete-invoice-export",
        "reject-invoice-export",
        "bulk-complete-invoice-exports",
        "bulk-reject-invoice-exports",
    ] {
        assert!(
            may_write(function, "dynamodb:UpdateItem", &own),
            "{function}"
        );
        for other in [&imports, &suppliers] {
            assert!(
                !may_write(function, "dynamodb:UpdateItem", other),
                "{function} on {other}"
            );
        }
    }
    // The event feed and the invoices' history are the stream consumer's alone to write.
    assert!(may_write("webhook-fanout", "dynamodb:PutItem", &events));
    assert!(may_write(
        "webhook-fanout",
        "dynamodb:BatchWriteItem",
        &history
    ));
    for function in [
        "publish-invoice",
        "complete-invoice-export",
        "process-import-job",
    ] {
        assert!(
            !may_write(function, "dynamodb:PutItem", &events),
            "{function}"
        );
        for action in ["dynamodb:PutItem", "dynamodb:BatchWriteItem"] {
            assert!(!may_write(function, action, &history), "{function}");
        }
    }
    assert!(may_write("publish-invoice", "dynamodb:PutItem", &own));
    assert!(!may_write("publish-invoice", "dynamodb:PutItem", &imports));
    for (function, action) in [
        ("start-import-job", "dynamodb:PutItem"),
        ("start-import-job", "dynamodb:UpdateItem"),
        ("process-import-job", "dynamodb:UpdateItem"),
        ("sweep-import-jobs", "dynamodb:UpdateItem"),
    ] {
        assert!(may_write(function, action, &imports), "{function} {action}");
        assert!(
            !may_write(function, action, &own),
            "{function} {action} on invoices"
        );
    }
    assert!(may_write(
        "process-import-job",
        "dynamodb:BatchWriteItem",
        &suppliers
    ));
    assert!(!may_write(
        "process-import-job",
        "dynamodb:BatchWriteItem",
        &own
    ));
}

/// Where the template's ARNs point in the tests: the dev stack's default table, bucket and queue.
fn local_account() -> ledgerdock_infra::dev::iam::policy::Account {
    ledgerdock_infra::dev::iam::local_account("ledgerdock", "ledgerdock-local")
}
