//! App clients in Amazon Cognito, for `ledgerdock clients` against AWS: one app client per
//! integrating system, with a secret, the client_credentials flow only, and exactly the
//! scopes its grants cover.

use anyhow::Context;
use aws_sdk_cognitoidentityprovider::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_cognitoidentityprovider::types::OAuthFlowType;
use aws_sdk_cognitoidentityprovider::Client;
use ledgerdock_shared::domain::Scope;

/// An SDK failure with its full context, naming the Cognito action.
fn failed<E: std::error::Error>(action: &'static str) -> impl FnOnce(E) -> anyhow::Error {
    move |e| anyhow::anyhow!("Cognito {action} failed: {}", DisplayErrorContext(e))
}

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
            .map_err(failed("CreateUserPoolClient"))?;
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
            .map_err(failed("UpdateUserPoolClient"))?;
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
                    return Err(failed("AddUserPoolClientSecret")(e));
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
            .map_err(failed("ListUserPoolClientSecrets"))?;
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
                .map_err(failed("DeleteUserPoolClientSecret"))?;
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
            Err(e) => Err(failed("DeleteUserPoolClient")(e)),
        }
    }
}
