//! `ledgerdock clients` against Cognito, with Cognito's answers replayed (request/response pairs
//! in the service's JSON 1.1 shape) and the grants in a real table (the embedded DynamoDB):
//! create, then a rotation that Cognito refuses in place, which replaces the client.

use aws_sdk_cognitoidentityprovider::config::{BehaviorVersion, Credentials, Region};
use aws_smithy_http_client::test_util::{ReplayEvent, StaticReplayClient};
use aws_smithy_types::body::SdkBody;
use ledgerdock_infra::clients::cognito::CognitoClients;
use ledgerdock_infra::clients::{ClientAdmin, Directory};
use ledgerdock_infra::dev::{DevOptions, DevStack};
use ledgerdock_shared::auth::Scope;
use ledgerdock_shared::domain::CompanyId;
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
    let stack = DevStack::start(DevOptions {
        port: 0,
        s3_port: 0,
        dynamodb_port: 0,
        in_memory: true,
        data_dir: scratch.path().to_path_buf(),
        ..DevOptions::default()
    })
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
    let cognito = aws_sdk_cognitoidentityprovider::Client::from_conf(
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
    );
    let admin = ClientAdmin::new(
        Directory::Cognito(CognitoClients::new(cognito, POOL)),
        stack.app.dynamodb.clone(),
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
