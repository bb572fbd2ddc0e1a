//! The functions of template.yaml as the dev stack runs them: each with its own state and its
//! own SDK clients, signed with that function's access key ([`super::iam::access_key_of`]),
//! as each Lambda function runs with its own execution role. The engines check each call
//! against that function's policy, so a handler the dev stack runs can do exactly what the
//! deployed function may, and no more.

use std::collections::BTreeMap;
use std::sync::Arc;

use ledgerdock_shared::edge::config::Config;
use ledgerdock_shared::AppState;

use super::iam::{access_key_of, Iam};
use super::{local_sdk_as, local_sqs_as};

pub struct Functions {
    states: BTreeMap<String, Arc<AppState>>,
}

impl Functions {
    /// One state per function the template deploys, each pointed at the stack's engines.
    pub fn new(
        iam: &Iam,
        config: &Config,
        dynamodb_url: &str,
        s3_url: &str,
        sqs_url: &str,
    ) -> Self {
        let states = iam
            .functions()
            .map(|function| {
                let key = access_key_of(function);
                let (dynamodb, s3) = local_sdk_as(&key, dynamodb_url, s3_url);
                let sqs = local_sqs_as(&key, sqs_url);
                let state = AppState::with_sdk(config.clone(), dynamodb, s3, sqs);
                (function.to_string(), Arc::new(state))
            })
            .collect();
        Self { states }
    }

    /// The state `function` runs with. Every function crate is in the template (a test
    /// holds them together), so an unknown name is a mistake in the stack's own code.
    pub fn of(&self, function: &str) -> Arc<AppState> {
        self.states
            .get(function)
            .cloned()
            .unwrap_or_else(|| panic!("template.yaml deploys no function {function}"))
    }
}
