//! Where the connector commands (`poll`, `listen`) reach the API and as whom: flags, or the
//! environment, or — against the dev stack with none given — the first demo client in
//! `.ledgerdock/demo.json`, so a newcomer's first `ledgerdock poll` needs no setup.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use ledgerdock_shared::domain::CompanyId;

use crate::connector::api::ApiTarget;

#[derive(Args)]
pub struct ConnectionArgs {
    /// The API's base URL (a deployed stack's stage URL, or the dev stack's).
    #[arg(
        long,
        env = "LEDGERDOCK_API_URL",
        default_value = "http://127.0.0.1:3000"
    )]
    pub api_url: String,
    /// The OAuth2 token endpoint (default: the API's own `/oauth2/token`, as the dev stack
    /// serves it; in AWS, `https://<domain>.auth.<region>.amazoncognito.com/oauth2/token`).
    #[arg(long, env = "LEDGERDOCK_TOKEN_URL")]
    pub token_url: Option<String>,
    /// The machine client's id.
    #[arg(long, env = "LEDGERDOCK_CLIENT_ID")]
    pub client_id: Option<String>,
    /// The machine client's secret (prefer the environment: a flag shows in `ps`).
    #[arg(long, env = "LEDGERDOCK_CLIENT_SECRET", hide_env_values = true)]
    pub client_secret: Option<String>,
    /// The company (`Lightyear-Company-ID`) to act for.
    #[arg(long, env = "LEDGERDOCK_COMPANY_ID")]
    pub company: Option<CompanyId>,
    /// Where the dev stack wrote demo.json (read only when no client is given).
    #[arg(long, default_value = ".ledgerdock")]
    pub data_dir: PathBuf,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct DemoFile {
    api_url: String,
    token_url: String,
    companies: Vec<DemoClient>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct DemoClient {
    company_id: CompanyId,
    name: String,
    client_id: String,
    client_secret: String,
}

impl ConnectionArgs {
    pub fn target(self) -> anyhow::Result<ApiTarget> {
        let token_url = |api: &str| format!("{}/oauth2/token", api.trim_end_matches('/'));
        if let (Some(client_id), Some(client_secret)) = (&self.client_id, &self.client_secret) {
            let company = self
                .company
                .context("--company (or LEDGERDOCK_COMPANY_ID) is required with a client")?;
            return Ok(ApiTarget {
                token_url: self
                    .token_url
                    .clone()
                    .unwrap_or_else(|| token_url(&self.api_url)),
                api_url: self.api_url,
                client_id: client_id.clone(),
                client_secret: client_secret.clone(),
                company,
            });
        }
        if self.client_id.is_some() || self.client_secret.is_some() {
            anyhow::bail!("give both --client-id and --client-secret (or neither, for the dev stack's demo client)");
        }
        let path = self.data_dir.join("demo.json");
        let raw = std::fs::read(&path).with_context(|| {
            format!(
                "no client given (--client-id/--client-secret or LEDGERDOCK_CLIENT_ID/\
                 LEDGERDOCK_CLIENT_SECRET), and no {} from `ledgerdock dev --seed-demo` to take \
                 the demo client from",
                path.display()
            )
        })?;
        let demo: DemoFile =
            serde_json::from_slice(&raw).with_context(|| format!("reading {}", path.display()))?;
        let chosen = match self.company {
            Some(company) => demo.companies.into_iter().find(|c| c.company_id == company),
            None => demo.companies.into_iter().next(),
        }
        .with_context(|| format!("{} has no demo client for that company", path.display()))?;
        eprintln!(
            "acting as the demo client of {} ({}), from {}",
            chosen.name,
            chosen.company_id,
            path.display()
        );
        Ok(ApiTarget {
            api_url: demo.api_url,
            token_url: self.token_url.unwrap_or(demo.token_url),
            client_id: chosen.client_id,
            client_secret: chosen.client_secret,
            company: chosen.company_id,
        })
    }
}
