//! `ledgerdock clients` against Cognito: the real SDK client with only its HTTP connection
//! replaced, replaying request/response pairs in the shape of the service's JSON 1.1 API (as
//! documented for each action). Each test also checks the requests the code sent.

use aws_sdk_cognitoidentityprovider::config::{BehaviorVersion, Credentials, Region};
use aws_smithy_http_client::test_util::{ReplayEvent, StaticReplayClient};
use aws_smithy_types::body::SdkBody;
use ledgerdock_infra::clients::cognito::{CognitoClients, Rotation};
use ledgerdock_infra::clients::{ClientAdmin, Directory};
use ledgerdock_infra::dev::{DevOptions, DevStack};
use ledgerdock_shared::domain::CompanyId;
use ledgerdock_shared::domain::Scope;
use serde_json::{json, Value};

const POOL: &str = "eu-west-1_AbCdEf123";

fn call(action: &str, request: Value, status: u16, response: Value) -> ReplayEvent {
    ReplayEvent::new(
        http::Request::builder()
            .method("POST")
            .uri("https://cognito-idp.eu-west-1.amazonaws.com/")
            .header("content-type", "application/x-amz-json-1.1")
            .header(
                "x-amz-target",
                format!("AWSCognitoIdentityProviderService.{action}"),
            )
            .body(SdkBody::from(request.to_string()))
            .unwrap(),
        http::Response::builder()
            .status(status)
            .header("content-type", "application/x-amz-json-1.1")
            .body(SdkBody::from(response.to_string()))
            .unwrap(),
    )
}

fn cognito_client(replay: &StaticReplayClient) -> aws_sdk_cognitoidentityprovider::Client {
    aws_sdk_cognitoidentityprovider::Client::from_conf(
        aws_sdk_cognitoidentityprovider::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("eu-west-1"))
            .credentials_provider(Credentials::new(
                "AKIDEXAMPLE",
                "secret",
                None,
                None,
                "test",
            ))
            .retry_config(aws_smithy_types::retry::RetryConfig::disabled())
            .http_client(replay.clone())
            .build(),
    )
}

fn cognito_with(events: Vec<ReplayEvent>) -> (CognitoClients, StaticReplayClient) {
    let replay = StaticReplayClient::new(events);
    (CognitoClients::new(cognito_client(&replay), POOL), replay)
}

fn created(id: &str, secret: &str) -> Value {
    json!({"UserPoolClient": {
        "UserPoolId": POOL, "ClientName": "Acme ERP", "ClientId": id, "ClientSecret": secret,
        "AllowedOAuthFlows": ["client_credentials"], "AllowedOAuthFlowsUserPoolClient": true,
        "AllowedOAuthScopes": ["ledgerdock/invoices.read"]
    }})
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_rotation_replaces_the_client_with_the_same_grants() {
    let scratch = tempfile::tempdir().unwrap();
    let stack = DevStack::start(DevOptions::ephemeral(scratch.path().to_path_buf()))
        .await
        .unwrap();
    let create_request = json!({
        "UserPoolId": POOL, "ClientName": "Acme ERP", "GenerateSecret": true,
        "AllowedOAuthFlows": ["client_credentials"], "AllowedOAuthFlowsUserPoolClient": true,
        "AllowedOAuthScopes": ["ledgerdock/invoices.read"]
    });
    let replay = StaticReplayClient::new(vec![
        call(
            "CreateUserPoolClient",
            create_request.clone(),
            200,
            created("old0client", "old-secret"),
        ),
        call(
            "AddUserPoolClientSecret",
            json!({"UserPoolId": POOL, "ClientId": "old0client"}),
            400,
            json!({"__type": "InvalidParameterException", "message": "secret rotation is not available for this client"}),
        ),
        call(
            "CreateUserPoolClient",
            create_request,
            200,
            created("new0client", "new-secret"),
        ),
        call(
            "DeleteUserPoolClient",
            json!({"UserPoolId": POOL, "ClientId": "old0client"}),
            200,
            json!({}),
        ),
    ]);
    let admin = ClientAdmin::new(
        Directory::Cognito(CognitoClients::new(cognito_client(&replay), POOL)),
        stack.dynamodb.clone(),
        &stack.app.config.table_name,
    );
    let (a, b) = (CompanyId::new_random(), CompanyId::new_random());

    let (view, credentials) = admin
        .create("Acme ERP", &[a, b], &[Scope::InvoicesRead], 90)
        .await
        .unwrap();
    assert_eq!(credentials.client_id, "old0client");
    assert_eq!(credentials.client_secret, "old-secret");
    assert_eq!(view.grants.len(), 2);

    let rotated = admin.rotate_secret("old0client").await.unwrap();
    assert_eq!(rotated.client_id, "new0client");
    assert_eq!(rotated.client_secret, "new-secret");
    assert_eq!(rotated.replaced_client_id.as_deref(), Some("old0client"));

    let new = admin.show("new0client").await.unwrap();
    assert_eq!((new.name.as_str(), new.rate_limit), ("Acme ERP", 90));
    let mut companies: Vec<_> = new.grants.iter().map(|g| g.company_id).collect();
    companies.sort();
    let mut expected = vec![a, b];
    expected.sort();
    assert_eq!(companies, expected);
    assert!(
        admin.show("old0client").await.is_err(),
        "the old client is gone"
    );
    assert!(stack
        .app
        .grants
        .list("old0client")
        .await
        .unwrap()
        .is_empty());
    replay.relaxed_requests_match();
    stack.stop().await;
}

#[tokio::test]
async fn creates_a_client_credentials_app_client_with_exactly_the_granted_scopes() {
    let (cognito, replay) = cognito_with(vec![call(
        "CreateUserPoolClient",
        json!({
            "UserPoolId": POOL,
            "ClientName": "Acme ERP",
            "GenerateSecret": true,
            "AllowedOAuthFlows": ["client_credentials"],
            "AllowedOAuthFlowsUserPoolClient": true,
            "AllowedOAuthScopes": ["ledgerdock/invoices.read", "ledgerdock/imports.write"]
        }),
        200,
        json!({"UserPoolClient": {
            "UserPoolId": POOL, "ClientName": "Acme ERP",
            "ClientId": "4abc123def456ghi789jkl0mno", "ClientSecret": "s3cr3t-from-cognito",
            "AllowedOAuthFlows": ["client_credentials"], "AllowedOAuthFlowsUserPoolClient": true,
            "AllowedOAuthScopes": ["ledgerdock/invoices.read", "ledgerdock/imports.write"],
            "CreationDate": 1.7636e9, "LastModifiedDate": 1.7636e9
        }}),
    )]);
    let (id, secret) = cognito
        .create("Acme ERP", &[Scope::InvoicesRead, Scope::ImportsWrite])
        .await
        .unwrap();
    assert_eq!(
        (id.as_str(), secret.as_str()),
        ("4abc123def456ghi789jkl0mno", "s3cr3t-from-cognito")
    );
    replay.relaxed_requests_match();
}

#[tokio::test]
async fn scope_updates_resend_the_whole_client_credentials_configuration() {
    let (cognito, replay) = cognito_with(vec![call(
        "UpdateUserPoolClient",
        json!({
            "UserPoolId": POOL,
            "ClientId": "4abc",
            "ClientName": "Acme ERP",
            "AllowedOAuthFlows": ["client_credentials"],
            "AllowedOAuthFlowsUserPoolClient": true,
            "AllowedOAuthScopes": ["ledgerdock/invoices.read", "ledgerdock/invoices.write"]
        }),
        200,
        json!({"UserPoolClient": {"UserPoolId": POOL, "ClientId": "4abc", "ClientName": "Acme ERP"}}),
    )]);
    cognito
        .set_scopes(
            "4abc",
            "Acme ERP",
            &[Scope::InvoicesRead, Scope::InvoicesWrite],
        )
        .await
        .unwrap();
    replay.relaxed_requests_match();
}

#[tokio::test]
async fn rotates_in_place_and_deletes_the_old_secret() {
    let (cognito, replay) = cognito_with(vec![
        call(
            "AddUserPoolClientSecret",
            json!({"UserPoolId": POOL, "ClientId": "4abc"}),
            200,
            json!({"ClientSecretDescriptor": {
                "ClientSecretId": "4abc--1763700000000", "ClientSecretValue": "new-secret",
                "ClientSecretCreateDate": 1.7637e9
            }}),
        ),
        call(
            "ListUserPoolClientSecrets",
            json!({"UserPoolId": POOL, "ClientId": "4abc"}),
            200,
            json!({"ClientSecrets": [
                {"ClientSecretId": "4abc--1763600000000", "ClientSecretCreateDate": 1.7636e9},
                {"ClientSecretId": "4abc--1763700000000", "ClientSecretCreateDate": 1.7637e9}
            ]}),
        ),
        call(
            "DeleteUserPoolClientSecret",
            json!({"UserPoolId": POOL, "ClientId": "4abc", "ClientSecretId": "4abc--1763600000000"}),
            200,
            json!({}),
        ),
    ]);
    assert_eq!(
        cognito.rotate_secret("4abc").await.unwrap(),
        Rotation::InPlace("new-secret".into())
    );
    replay.relaxed_requests_match();
}

#[tokio::test]
async fn a_refused_in_place_rotation_asks_for_a_replacement_and_missing_clients_are_errors() {
    let (cognito, replay) = cognito_with(vec![
        call(
            "AddUserPoolClientSecret",
            json!({"UserPoolId": POOL, "ClientId": "4abc"}),
            400,
            json!({"__type": "LimitExceededException", "message": "client already has two secrets"}),
        ),
        call(
            "AddUserPoolClientSecret",
            json!({"UserPoolId": POOL, "ClientId": "gone"}),
            400,
            json!({"__type": "ResourceNotFoundException", "message": "User pool client gone does not exist."}),
        ),
        call(
            "DeleteUserPoolClient",
            json!({"UserPoolId": POOL, "ClientId": "gone"}),
            400,
            json!({"__type": "ResourceNotFoundException", "message": "User pool client gone does not exist."}),
        ),
    ]);
    match cognito.rotate_secret("4abc").await.unwrap() {
        Rotation::NotSupported(why) => assert!(why.contains("LimitExceededException"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert!(cognito.rotate_secret("gone").await.is_err());
    // Deleting a client Cognito no longer has is not an error: its grants still go.
    cognito.delete("gone").await.unwrap();
    replay.relaxed_requests_match();
}

/// A DynamoDB JSON 1.0 call as the SDK sends it, and the service's answer.
fn dynamodb_call(action: &str, response: Value) -> ReplayEvent {
    ReplayEvent::new(
        http::Request::builder()
            .method("POST")
            .uri("https://dynamodb.eu-west-1.amazonaws.com/")
            .header("x-amz-target", format!("DynamoDB_20120810.{action}"))
            .body(SdkBody::empty())
            .unwrap(),
        http::Response::builder()
            .status(200)
            .header("content-type", "application/x-amz-json-1.0")
            .body(SdkBody::from(response.to_string()))
            .unwrap(),
    )
}

#[tokio::test]
async fn deleting_a_client_reads_its_grants_strongly_consistently_and_deletes_each() {
    let company = CompanyId::new_random();
    let replay = StaticReplayClient::new(vec![
        dynamodb_call(
            "Query",
            json!({"Count": 1, "ScannedCount": 1, "Items": [
                {"PK": {"S": "CLIENT#c1"}, "SK": {"S": format!("COMPANY#{company}")}}
            ]}),
        ),
        dynamodb_call("BatchWriteItem", json!({"UnprocessedItems": {}})),
    ]);
    let dynamodb = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("eu-west-1"))
            .credentials_provider(Credentials::new(
                "AKIDEXAMPLE",
                "secret",
                None,
                None,
                "test",
            ))
            .http_client(replay.clone())
            .build(),
    );
    ledgerdock_shared::store::clients::ClientStore::new(
        dynamodb,
        "ledgerdock",
        std::time::Duration::ZERO,
    )
    .delete("c1")
    .await
    .unwrap();
    let requests = replay.actual_requests().collect::<Vec<_>>();
    assert_eq!(requests.len(), 2);
    let query: Value = serde_json::from_slice(requests[0].body().bytes().unwrap()).unwrap();
    assert_eq!(query["ConsistentRead"], true, "{query}");
    assert_eq!(query["ExpressionAttributeValues"][":pk"]["S"], "CLIENT#c1");
    let write: Value = serde_json::from_slice(requests[1].body().bytes().unwrap()).unwrap();
    let deletes = write["RequestItems"]["ledgerdock"].as_array().unwrap();
    let keys: Vec<&str> = deletes
        .iter()
        .map(|d| d["DeleteRequest"]["Key"]["SK"]["S"].as_str().unwrap())
        .collect();
    assert_eq!(
        keys,
        vec!["PROFILE".to_string(), format!("COMPANY#{company}")]
    );
}
