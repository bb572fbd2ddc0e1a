//! IAM, enforced locally from template.yaml: every call a function makes to the local
//! DynamoDB, S3 and SQS engines is checked against *that function's* policy statements as
//! the template writes them, before the engine sees it, and a denied call is answered as AWS
//! answers it (DynamoDB's `AccessDeniedException`, S3's 403 `AccessDenied`), so the handler's
//! own error path runs. Without it, a policy missing an action passes every local test and
//! fails on the first call in AWS.
//!
//! **Who calls.** Each function signs its calls with an access key of its own,
//! [`access_key_of`]`(function)`: the dev stack builds each function's SDK clients with it, and
//! the runtime-emulator tests give it to each function process as `AWS_ACCESS_KEY_ID`. The
//! engines read the key from the request's signature (the `Authorization` header, or a
//! pre-signed URL's `X-Amz-Credential`, so a download URL is allowed exactly when the function
//! that signed it may read the object). [`OPERATOR_ACCESS_KEY`] is the operator (the CLI, the
//! seeding, the tests' own setup and checks): it may do anything, as an administrator may.
//! A key that is neither is refused as AWS refuses an unknown one.
//!
//! **How a call is decided**, as IAM decides within one account's identity policies: a
//! statement applies when its `Action` and `Resource` patterns match and every condition holds;
//! an applicable `Deny` wins, else an applicable `Allow` allows, else the call is denied.
//! What a request needs is read from it as the service reads it ([`requests`]). The template
//! is read once at start ([`policy`]); anything in a policy the evaluator does not understand
//! fails that read (and the template test), so it never allows a call by ignoring a rule.
//!
//! **Where AWS is undocumented, the stricter reading.** S3 answers a read of a missing key with
//! 404 only to a caller that may list the bucket; whether a listing grant narrowed by
//! `s3:prefix` counts is not documented, so here it does not (403).
//!
//! Bucket policies (resource policies) are not evaluated: the template's one denies requests
//! not made over TLS, which no local request is.

pub mod policy;
pub mod requests;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;

use policy::{Account, Effect, Statement};
use requests::Authorization;

/// The local stack's AWS account, in every ARN and queue URL it hands out.
pub const ACCOUNT_ID: &str = "000000000000";
/// The stack name the template's `${AWS::StackName}` stands for locally.
pub const STACK_NAME: &str = "ledgerdock";

/// Where the template's ARNs point in a local stack with this table and bucket (the account,
/// region, stack and queue are the dev stack's own).
pub fn local_account(table: &str, bucket: &str) -> Account {
    Account {
        partition: "aws".into(),
        region: super::LOCAL_REGION.into(),
        account_id: ACCOUNT_ID.into(),
        stack_name: STACK_NAME.into(),
        table: table.into(),
        bucket: bucket.into(),
        queue: super::queue::QUEUE_NAME.into(),
    }
}
/// The operator's key: allowed everything (see the module docs).
pub const OPERATOR_ACCESS_KEY: &str = super::engines::LOCAL_ACCESS_KEY;

/// The access key a function signs with locally. Letters and digits only, as official
/// DynamoDB Local accepts no other.
pub fn access_key_of(function: &str) -> String {
    let letters: String = function
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    format!("ledgerdock{letters}")
}

/// Who made a request, from the access key it is signed with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    Operator,
    Function(String),
    /// A key nobody here holds (or no signature at all).
    Unknown,
}

/// Why a call was refused: what it needed, and what in the policy would have to allow it.
#[derive(Debug, Clone)]
pub struct Denied {
    pub caller: Caller,
    pub needed: Authorization,
    pub reason: String,
}

impl Denied {
    /// The message AWS gives, naming the principal, the action and the resource.
    pub fn message(&self) -> String {
        match &self.caller {
            Caller::Function(function) => format!(
                "User: arn:aws:sts::{ACCOUNT_ID}:assumed-role/{STACK_NAME}-{function}-role/{STACK_NAME}-{function} \
                 is not authorized to perform: {} on resource: {} because {}",
                self.needed.action, self.needed.resource, self.reason
            ),
            _ => "The security token included in the request is invalid.".to_string(),
        }
    }

    /// The dev log's line: the function, the action, the key and what would have to allow it.
    pub fn log(&self) {
        let function = match &self.caller {
            Caller::Function(f) => f.as_str(),
            Caller::Operator => "operator",
            Caller::Unknown => "unknown caller",
        };
        tracing::warn!(
            function,
            action = %self.needed.action,
            resource = %self.needed.resource,
            keys = %self.needed.keys(),
            "AccessDenied (template.yaml's IAM, enforced locally): {}",
            self.reason
        );
    }
}

/// One permission as the template grants it: one action of one statement of a function's
/// policy, on one of the statement's resources (patterns as written, intrinsics resolved).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Grant {
    pub function: String,
    pub statement: String,
    pub action: String,
    pub resource: String,
}

impl std::fmt::Display for Grant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {} of {} on {}",
            self.function, self.action, self.statement, self.resource
        )
    }
}

/// Every function's policy, and who holds which key; and, for the template test, which grants
/// the calls so far used and which calls were denied.
#[derive(Debug)]
pub struct Iam {
    pub account: Account,
    functions: BTreeMap<String, Vec<Statement>>,
    by_key: HashMap<String, String>,
    used: Mutex<BTreeSet<Grant>>,
    denied: Mutex<Vec<Denied>>,
}

impl Iam {
    /// Reads every function's policy from `template` (template.yaml's text).
    pub fn from_template(template: &str, account: Account) -> Result<Self, String> {
        let functions = policy::read(template, &account)?;
        let mut by_key = HashMap::new();
        for function in functions.keys() {
            if let Some(other) = by_key.insert(access_key_of(function), function.clone()) {
                return Err(format!(
                    "{function} and {other} would sign with one access key"
                ));
            }
        }
        Ok(Self {
            account,
            functions,
            by_key,
            used: Mutex::new(BTreeSet::new()),
            denied: Mutex::new(Vec::new()),
        })
    }

    /// Every grant of every Allow statement, one per action and resource.
    pub fn grants(&self) -> Vec<Grant> {
        let mut grants = Vec::new();
        for (function, statements) in &self.functions {
            for statement in statements.iter().filter(|s| s.effect == Effect::Allow) {
                for action in &statement.actions {
                    for resource in &statement.resources {
                        grants.push(Grant {
                            function: function.clone(),
                            statement: statement.label.clone(),
                            action: action.clone(),
                            resource: resource.clone(),
                        });
                    }
                }
            }
        }
        grants
    }

    /// The grants that allowed a call so far.
    pub fn used(&self) -> BTreeSet<Grant> {
        self.used.lock().map(|u| u.clone()).unwrap_or_default()
    }

    /// The calls refused so far.
    pub fn denied(&self) -> Vec<Denied> {
        self.denied.lock().map(|d| d.clone()).unwrap_or_default()
    }

    /// The functions the template deploys.
    pub fn functions(&self) -> impl Iterator<Item = &str> {
        self.functions.keys().map(String::as_str)
    }

    pub fn statements(&self, function: &str) -> &[Statement] {
        self.functions.get(function).map_or(&[], Vec::as_slice)
    }

    pub fn caller(&self, access_key: Option<&str>) -> Caller {
        match access_key {
            Some(OPERATOR_ACCESS_KEY) => Caller::Operator,
            Some(key) => self
                .by_key
                .get(key)
                .map_or(Caller::Unknown, |f| Caller::Function(f.clone())),
            None => Caller::Unknown,
        }
    }

    /// Whether `function`'s policy allows `needed`, and by which grant; the error says what
    /// would have to.
    pub fn decide(&self, function: &str, needed: &Authorization) -> Result<Grant, String> {
        let statements = self.statements(function);
        let applies = |s: &&Statement| {
            s.names_action(&needed.action)
                && s.names_resource(&needed.resource)
                && s.conditions.iter().all(|c| c.holds(&needed.context))
        };
        if let Some(deny) = statements
            .iter()
            .filter(|s| s.effect == Effect::Deny)
            .find(applies)
        {
            return Err(format!(
                "an explicit deny in {function}'s {} applies",
                deny.describe()
            ));
        }
        if let Some(allow) = statements
            .iter()
            .filter(|s| s.effect == Effect::Allow)
            .find(applies)
        {
            let lower = needed.action.to_ascii_lowercase();
            let pick = |patterns: &[String], value: &str, lower_case: bool| {
                patterns
                    .iter()
                    .find(|p| {
                        if lower_case {
                            policy::wildcard_match(&p.to_ascii_lowercase(), value)
                        } else {
                            policy::wildcard_match(p, value)
                        }
                    })
                    .cloned()
                    .unwrap_or_default()
            };
            return Ok(Grant {
                function: function.to_string(),
                statement: allow.label.clone(),
                action: pick(&allow.actions, &lower, true),
                resource: pick(&allow.resources, &needed.resource, false),
            });
        }
        let near: Vec<String> = statements
            .iter()
            .filter(|s| s.effect == Effect::Allow && s.names_action(&needed.action))
            .map(Statement::describe)
            .collect();
        Err(if near.is_empty() {
            format!(
                "no identity-based policy allows the {} action (no statement of {function}'s Policies in template.yaml names it)",
                needed.action
            )
        } else {
            format!(
                "no identity-based policy allows the {} action on it ({function}'s {} would have to cover it)",
                needed.action,
                near.join("; ")
            )
        })
    }

    /// Checks every permission a request needs for the caller holding `access_key`.
    pub fn check(
        &self,
        access_key: Option<&str>,
        needed: &[Authorization],
    ) -> Result<Caller, Denied> {
        let caller = self.caller(access_key);
        match &caller {
            Caller::Operator => Ok(caller),
            Caller::Unknown => Err(Denied {
                caller,
                needed: needed.first().cloned().unwrap_or_else(|| Authorization {
                    action: "unknown".into(),
                    resource: "*".into(),
                    context: BTreeMap::new(),
                }),
                reason: "the access key is not one the local stack issued".into(),
            }),
            Caller::Function(function) => {
                let mut grants = Vec::with_capacity(needed.len());
                for authorization in needed {
                    match self.decide(function, authorization) {
                        Ok(grant) => grants.push(grant),
                        Err(reason) => {
                            let denied = Denied {
                                caller: caller.clone(),
                                needed: authorization.clone(),
                                reason,
                            };
                            if let Ok(mut all) = self.denied.lock() {
                                all.push(denied.clone());
                            }
                            return Err(denied);
                        }
                    }
                }
                if let Ok(mut used) = self.used.lock() {
                    used.extend(grants);
                }
                Ok(caller)
            }
        }
    }

    /// Whether S3 answers `caller` a missing key with 404 rather than 403: only a caller that
    /// may list the bucket outright (see the module docs).
    pub fn may_learn_missing_keys(&self, caller: &Caller, bucket: &str) -> bool {
        match caller {
            Caller::Operator => true,
            Caller::Unknown => false,
            Caller::Function(function) => self
                .decide(
                    function,
                    &Authorization {
                        action: "s3:ListBucket".into(),
                        resource: self.account.bucket_arn(bucket),
                        context: BTreeMap::new(),
                    },
                )
                .is_ok(),
        }
    }
}

/// The access key a SigV4-signed request names: from its `Authorization` header, or from a
/// pre-signed URL's `X-Amz-Credential`.
pub fn access_key(headers: &http::HeaderMap, uri: &http::Uri) -> Option<String> {
    if let Some(auth) = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let credential = auth.split("Credential=").nth(1)?;
        return credential.split('/').next().map(str::to_string);
    }
    let query = uri.query()?;
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "X-Amz-Credential")
        .and_then(|(_, v)| v.split('/').next().map(str::to_string))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn account() -> Account {
        local_account("ledgerdock", "ledgerdock-local")
    }

    fn template_with(policies: &str) -> String {
        format!(
            "Resources:\n  F:\n    Type: AWS::Serverless::Function\n    Metadata:\n      BuildProperties:\n        Binary: f\n    Properties:\n      Policies:\n{policies}"
        )
    }

    fn update(pk: &str) -> Vec<Authorization> {
        requests::dynamodb(
            &account(),
            "DynamoDB_20120810.UpdateItem",
            &json!({"TableName": "ledgerdock", "Key": {"PK": {"S": pk}, "SK": {"S": "x"}}}),
        )
    }

    const PUT_ONLY: &str = "        - Statement:\n            - Effect: Allow\n              Action: [dynamodb:PutItem]\n              Resource: !GetAtt Table.Arn\n";

    #[test]
    fn a_call_no_statement_allows_is_denied_and_the_denial_names_what_is_missing() {
        let iam = Iam::from_template(&template_with(PUT_ONLY), account()).unwrap();
        let denied = iam
            .check(Some(&access_key_of("f")), &update("COMPANY#1"))
            .unwrap_err();
        assert_eq!(denied.needed.action, "dynamodb:UpdateItem");
        assert!(denied.reason.contains("no statement"), "{}", denied.reason);
        assert!(denied.message().contains("is not authorized to perform: dynamodb:UpdateItem on resource: arn:aws:dynamodb:us-east-1:000000000000:table/ledgerdock"));
        // The operator may, and a stranger may not.
        assert_eq!(
            iam.check(Some(OPERATOR_ACCESS_KEY), &update("COMPANY#1"))
                .unwrap(),
            Caller::Operator
        );
        assert_eq!(
            iam.check(Some("someoneelse"), &update("COMPANY#1"))
                .unwrap_err()
                .caller,
            Caller::Unknown
        );
    }

    #[test]
    fn leading_keys_conditions_bound_the_partitions_and_an_explicit_deny_wins() {
        let policies = "        - Statement:\n            - Effect: Allow\n              Action: [dynamodb:UpdateItem]\n              Resource: !GetAtt Table.Arn\n              Condition:\n                ForAllValues:StringLike:\n                  dynamodb:LeadingKeys: [\"COMPANY#*\"]\n            - Effect: Deny\n              Action: [dynamodb:*]\n              Resource: !Sub \"${Table.Arn}\"\n              Condition:\n                ForAnyValue:StringEquals:\n                  dynamodb:LeadingKeys: [\"COMPANY#locked\"]\n";
        let iam = Iam::from_template(&template_with(policies), account()).unwrap();
        let key = access_key_of("f");
        assert!(iam.check(Some(&key), &update("COMPANY#1")).is_ok());
        let outside = iam.check(Some(&key), &update("USAGE#1")).unwrap_err();
        assert!(
            outside.reason.contains("would have to cover it"),
            "{}",
            outside.reason
        );
        let locked = iam
            .check(Some(&key), &update("COMPANY#locked"))
            .unwrap_err();
        assert!(locked.reason.contains("explicit deny"), "{}", locked.reason);
    }

    #[test]
    fn a_policy_element_the_evaluator_does_not_understand_fails_the_read() {
        for policies in [
            "        - DynamoDBCrudPolicy:\n            TableName: !Ref Table\n",
            "        - AWSLambdaBasicExecutionRole\n",
            "        - Statement:\n            - Effect: Allow\n              NotAction: [s3:*]\n              Resource: \"*\"\n",
            "        - Statement:\n            - Effect: Allow\n              Action: [s3:GetObject]\n              Resource: \"*\"\n              Condition:\n                IpAddress:\n                  aws:SourceIp: [\"10.0.0.0/8\"]\n",
            "        - Statement:\n            - Effect: Allow\n              Action: [s3:GetObject]\n              Resource: \"*\"\n              Condition:\n                StringLike:\n                  s3:ExistingObjectTag/x: [\"y\"]\n",
            "        - Statement:\n            - Effect: Allow\n              Action: [s3:GetObject]\n              Resource: !GetAtt Elsewhere.Arn\n",
        ] {
            let error = Iam::from_template(&template_with(policies), account()).unwrap_err();
            assert!(error.starts_with("f's Policies"), "{error}");
        }
    }

    #[test]
    fn the_access_key_comes_from_the_signature_or_a_presigned_url() {
        let mut headers = http::HeaderMap::new();
        headers.insert(
            http::header::AUTHORIZATION,
            "AWS4-HMAC-SHA256 Credential=ledgerdockf/20261206/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=00".parse().unwrap(),
        );
        assert_eq!(
            access_key(&headers, &"/".parse().unwrap()).as_deref(),
            Some("ledgerdockf")
        );
        let uri: http::Uri = "/b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=ledgerdockg%2F20261206%2Fus-east-1%2Fs3%2Faws4_request".parse().unwrap();
        assert_eq!(
            access_key(&http::HeaderMap::new(), &uri).as_deref(),
            Some("ledgerdockg")
        );
    }
}
