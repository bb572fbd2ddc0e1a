//! App clients in Amazon Cognito, for `ledgerdock clients` against AWS: one app client per
//! integrating system, with a secret, the client_credentials flow only, and exactly the
//! scopes its grants cover.

use anyhow::Context;
use aws_sdk_cognitoidentityprovider::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_cognitoidentityprovider::types::OAuthFlowType;
use aws_sdk_cognitoidentityprovider::Client;
use ledgerdock_shared::auth::Scope;

fn oauth_scopes(scopes: &[Scope]) -> Vec<String> {
    scopes.iter().map(Scope::oauth_name).collect()
}

/// What an in-place secret rotation came to.
#[derive(Debug, PartialEq, Eq)]
pub enum Rotation {
    /// The client keeps its id; only the new secret works.
    InPlace(String),
    /// Cognito refused to add a secret to this client (older pools, or a limit): the caller
    /// replaces the client instead.
    NotSupported(String),
}

#[derive(Clone)]
pub struct CognitoClients {
    client: Client,
    user_pool_id: String,
}

impl CognitoClients {
    pub fn new(client: Client, user_pool_id: impl Into<String>) -> Self {
        Self {
            client,
            user_pool_id: user_pool_id.into(),
        }
    }

    /// Creates an app client; returns its id and secret.
    pub async fn create(&self, name: &str, scopes: &[Scope]) -> anyhow::Result<(String, String)> {
        let out = self
            .client
            .create_user_pool_client()
            .user_pool_id(&self.user_pool_id)
            .client_name(name)
            .generate_secret(true)
            .allowed_o_auth_flows(OAuthFlowType::ClientCredentials)
            .allowed_o_auth_flows_user_pool_client(true)
            .set_allowed_o_auth_scopes(Some(oauth_scopes(scopes)))
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("{}", DisplayErrorContext(e)))
            .context("Cognito CreateUserPoolClient")?;
        let client = out
            .user_pool_client
            .context("Cognito returned no app client")?;
        match (client.client_id, client.client_secret) {
            (Some(id), Some(secret)) => Ok((id, secret)),
            _ => anyhow::bail!("Cognito returned an app client without id or secret"),
        }
    }

    /// Sets the scopes the client's tokens may carry. UpdateUserPoolClient resets whatever it
    /// is not told, so the whole client_credentials configuration is sent again.
    pub async fn set_scopes(
        &self,
        client_id: &str,
        name: &str,
        scopes: &[Scope],
    ) -> anyhow::Result<()> {
        self.client
            .update_user_pool_client()
            .user_pool_id(&self.user_pool_id)
            .client_id(client_id)
            .client_name(name)
            .allowed_o_auth_flows(OAuthFlowType::ClientCredentials)
            .allowed_o_auth_flows_user_pool_client(true)
            .set_allowed_o_auth_scopes(Some(oauth_scopes(scopes)))
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("{}", DisplayErrorContext(e)))
            .context("Cognito UpdateUserPoolClient")?;
        Ok(())
    }

    /// Adds a new secret, then deletes every other one, so only the new secret works.
    pub async fn rotate_secret(&self, client_id: &str) -> anyhow::Result<Rotation> {
        let added = self
            .client
            .add_user_pool_client_secret()
            .user_pool_id(&self.user_pool_id)
            .client_id(client_id)
            .send()
            .await;
        let descriptor = match added {
            Ok(out) => out
                .client_secret_descriptor
                .context("Cognito returned no secret")?,
            Err(e) => {
                let code = e.code().unwrap_or_default().to_string();
                if matches!(
                    code.as_str(),
                    "ResourceNotFoundException"
                        | "NotAuthorizedException"
                        | "TooManyRequestsException"
                ) || e.as_service_error().is_none()
                {
                    return Err(anyhow::anyhow!("{}", DisplayErrorContext(e)))
                        .context("Cognito AddUserPoolClientSecret");
                }
                return Ok(Rotation::NotSupported(format!(
                    "{code}: {}",
                    e.message().unwrap_or("no message")
                )));
            }
        };
        let (Some(new_id), Some(secret)) =
            (descriptor.client_secret_id, descriptor.client_secret_value)
        else {
            anyhow::bail!("Cognito returned a secret without id or value");
        };
        let listed = self
            .client
            .list_user_pool_client_secrets()
            .user_pool_id(&self.user_pool_id)
            .client_id(client_id)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("{}", DisplayErrorContext(e)))
            .context("Cognito ListUserPoolClientSecrets")?;
        for old in listed.client_secrets() {
            let Some(old_id) = old.client_secret_id().filter(|id| *id != new_id) else {
                continue;
            };
            self.client
                .delete_user_pool_client_secret()
                .user_pool_id(&self.user_pool_id)
                .client_id(client_id)
                .client_secret_id(old_id)
                .send()
                .await
                .map_err(|e| anyhow::anyhow!("{}", DisplayErrorContext(e)))
                .context("Cognito DeleteUserPoolClientSecret")?;
        }
        Ok(Rotation::InPlace(secret))
    }

    pub async fn delete(&self, client_id: &str) -> anyhow::Result<()> {
        let result = self
            .client
            .delete_user_pool_client()
            .user_pool_id(&self.user_pool_id)
            .client_id(client_id)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // Already gone from Cognito: deleting its grants is what is left to do.
            Err(e) if e.code() == Some("ResourceNotFoundException") => Ok(()),
            Err(e) => Err(anyhow::anyhow!("{}", DisplayErrorContext(e)))
                .context("Cognito DeleteUserPoolClient"),
        }
    }
}

#[cfg(test)]
mod tests {
    //! The Cognito calls, replayed against request/response pairs in the shape of the real
    //! service's JSON 1.1 API (as documented for each action): the SDK client is the real one,
    //! only the HTTP connection is replaced.

    use super::*;
    use aws_sdk_cognitoidentityprovider::config::{BehaviorVersion, Credentials, Region};
    use aws_smithy_http_client::test_util::{ReplayEvent, StaticReplayClient};
    use aws_smithy_types::body::SdkBody;
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

    fn cognito(events: Vec<ReplayEvent>) -> (CognitoClients, StaticReplayClient) {
        let replay = StaticReplayClient::new(events);
        let config = aws_sdk_cognitoidentityprovider::Config::builder()
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
            .build();
        (CognitoClients::new(Client::from_conf(config), POOL), replay)
    }

    #[tokio::test]
    async fn creates_a_client_credentials_app_client_with_exactly_the_granted_scopes() {
        let (cognito, replay) = cognito(vec![call(
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
        let (cognito, replay) = cognito(vec![call(
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
        let (cognito, replay) = cognito(vec![
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
        let (cognito, replay) = cognito(vec![
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
}
