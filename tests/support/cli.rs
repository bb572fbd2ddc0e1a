//! The `ledgerdock` CLI as a user runs it against a test stack: `poll` and `listen` as a
//! connector (its credentials in the environment, as the docs suggest), `trigger` as the
//! platform's developer.

use std::process::Command;

use ledgerdock_shared::domain::CompanyId;

use crate::emulator::function_binaries;
use crate::{Connector, TestStack};

/// The `ledgerdock` binary, built with the workspace's other binaries.
pub fn ledgerdock() -> Command {
    let mut command = Command::new(function_binaries().join("ledgerdock"));
    // Nothing of the test's own environment chooses the API or the client.
    for (name, _) in std::env::vars() {
        if name.starts_with("LEDGERDOCK_") {
            command.env_remove(name);
        }
    }
    command
}

impl TestStack {
    /// `ledgerdock <subcommand>` acting as `tenant` against this stack.
    pub fn cli_as(&self, tenant: &Connector, subcommand: &str) -> Command {
        let mut command = ledgerdock();
        command
            .arg(subcommand)
            .env("LEDGERDOCK_API_URL", &self.stack.api_url)
            .env("LEDGERDOCK_TOKEN_URL", &self.stack.token_url)
            .env("LEDGERDOCK_CLIENT_ID", &tenant.client_id)
            .env("LEDGERDOCK_CLIENT_SECRET", &tenant.client_secret)
            .env("LEDGERDOCK_COMPANY_ID", tenant.company.to_string());
        command
    }

    /// `ledgerdock trigger <event>` into `company` of this stack.
    pub fn trigger(&self, event: &str, company: CompanyId) -> Command {
        let mut command = ledgerdock();
        command.args([
            "trigger",
            event,
            "--company",
            &company.to_string(),
            "--dynamodb-endpoint",
            &self.stack.dynamodb_url,
            "--s3-endpoint",
            &self.stack.s3_url,
            "--table",
            &self.stack.app.config.table_name,
            "--bucket",
            &self.stack.app.config.bucket_name,
        ]);
        command
    }
}
