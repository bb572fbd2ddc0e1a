//! Each function's identity policy, read from template.yaml as SAM would deploy it: the
//! `Policies` of an `AWS::Serverless::Function`, with the template's intrinsic functions
//! (`!GetAtt Table.Arn`, `!Sub "${Table.Arn}/index/…"`, `!Ref …`) resolved against the local
//! stack's account, region, table, bucket and queue.
//!
//! Only what is understood is accepted: a SAM policy template, a managed policy, `NotAction`,
//! `NotResource`, a condition operator or key not listed in [`ConditionKey`] and
//! [`Operator`] each fail the read with a message naming the function and the element, so
//! the evaluator can never allow a call by ignoring what would have denied it in AWS.

use std::collections::BTreeMap;

use serde_yaml::Value;

/// Where the template's ARNs point in the local stack.
#[derive(Debug, Clone)]
pub struct Account {
    pub partition: String,
    pub region: String,
    pub account_id: String,
    pub stack_name: String,
    pub table: String,
    pub bucket: String,
    pub queue: String,
}

impl Account {
    pub fn table_arn(&self) -> String {
        format!(
            "arn:{}:dynamodb:{}:{}:table/{}",
            self.partition, self.region, self.account_id, self.table
        )
    }

    pub fn bucket_arn(&self, bucket: &str) -> String {
        format!("arn:{}:s3:::{bucket}", self.partition)
    }

    pub fn queue_arn(&self, queue: &str) -> String {
        format!(
            "arn:{}:sqs:{}:{}:{queue}",
            self.partition, self.region, self.account_id
        )
    }

    /// What `!GetAtt Resource.Attribute` resolves to.
    fn attribute(&self, resource: &str, attribute: &str) -> Result<String, String> {
        match (resource, attribute) {
            ("Table", "Arn") => Ok(self.table_arn()),
            ("Table", "StreamArn") => Ok(format!("{}/stream/*", self.table_arn())),
            ("WebhookAttemptQueue", "Arn") => Ok(self.queue_arn(&self.queue)),
            ("WebhookFanoutFailures", "Arn") => {
                Ok(self.queue_arn(&format!("{}-webhook-fanout-failures", self.stack_name)))
            }
            _ => Err(format!("!GetAtt {resource}.{attribute} is not known here")),
        }
    }

    /// What `!Ref Name` (a parameter or a resource) resolves to.
    fn reference(&self, name: &str) -> Result<String, String> {
        match name {
            "BucketName" => Ok(self.bucket.clone()),
            "Table" => Ok(self.table.clone()),
            "AWS::Partition" => Ok(self.partition.clone()),
            "AWS::Region" => Ok(self.region.clone()),
            "AWS::AccountId" => Ok(self.account_id.clone()),
            "AWS::StackName" => Ok(self.stack_name.clone()),
            // A Secrets Manager secret's ARN (Ref answers it); the local stack has no Secrets
            // Manager, so no call ever names it.
            "ContinuationKeySecret" => Ok(format!(
                "arn:{}:secretsmanager:{}:{}:secret:{}-continuation-key",
                self.partition, self.region, self.account_id, self.stack_name
            )),
            _ => Err(format!("!Ref {name} is not known here")),
        }
    }

    /// `!Sub` with `${Name}` and `${Resource.Attribute}` placeholders.
    fn substitute(&self, text: &str) -> Result<String, String> {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after
                .find('}')
                .ok_or_else(|| format!("unclosed ${{ in !Sub {text:?}"))?;
            let name = &after[..end];
            let value = match name.split_once('.') {
                Some((resource, attribute)) if !name.starts_with("AWS::") => {
                    self.attribute(resource, attribute)?
                }
                _ => self.reference(name)?,
            };
            out.push_str(&value);
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    /// A template value that must come out as a string: a literal or an intrinsic function.
    fn resolve(&self, value: &Value) -> Result<String, String> {
        match value {
            Value::String(s) => Ok(s.clone()),
            Value::Tagged(tagged) => {
                let argument = tagged
                    .value
                    .as_str()
                    .ok_or_else(|| format!("{} takes a string here", tagged.tag))?;
                match tagged.tag.to_string().trim_start_matches('!') {
                    "Ref" => self.reference(argument),
                    "Sub" => self.substitute(argument),
                    "GetAtt" => {
                        let (resource, attribute) = argument
                            .split_once('.')
                            .ok_or_else(|| format!("!GetAtt {argument} names no attribute"))?;
                        self.attribute(resource, attribute)
                    }
                    other => Err(format!("the intrinsic function !{other} is not understood")),
                }
            }
            other => Err(format!("expected a string or an intrinsic, got {other:?}")),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
}

/// The condition operators the evaluator understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    StringEquals,
    StringLike,
}

/// How a condition treats a key with several values (`dynamodb:LeadingKeys` of a batch).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetQualifier {
    /// The key must be present and every value must match.
    None,
    /// Every value present must match; true when the key is absent (as in AWS).
    ForAllValues,
    /// At least one value must match; false when the key is absent.
    ForAnyValue,
}

/// The condition keys the evaluator understands; any other fails the read.
pub const CONDITION_KEYS: [&str; 2] = ["dynamodb:LeadingKeys", "s3:prefix"];

#[derive(Debug, Clone)]
pub struct Condition {
    pub qualifier: SetQualifier,
    pub operator: Operator,
    pub key: String,
    pub values: Vec<String>,
}

impl Condition {
    fn matches_one(&self, candidate: &str) -> bool {
        self.values.iter().any(|pattern| match self.operator {
            Operator::StringEquals => pattern == candidate,
            Operator::StringLike => wildcard_match(pattern, candidate),
        })
    }

    /// Whether the request's values of this condition's key satisfy it.
    pub fn holds(&self, context: &BTreeMap<String, Vec<String>>) -> bool {
        let values = context.get(&self.key).map(Vec::as_slice).unwrap_or(&[]);
        match self.qualifier {
            SetQualifier::ForAllValues => values.iter().all(|v| self.matches_one(v)),
            SetQualifier::ForAnyValue => values.iter().any(|v| self.matches_one(v)),
            SetQualifier::None => !values.is_empty() && values.iter().all(|v| self.matches_one(v)),
        }
    }

    pub fn describe(&self) -> String {
        let qualifier = match self.qualifier {
            SetQualifier::None => "",
            SetQualifier::ForAllValues => "ForAllValues:",
            SetQualifier::ForAnyValue => "ForAnyValue:",
        };
        format!(
            "{qualifier}{:?} {} {:?}",
            self.operator, self.key, self.values
        )
    }
}

#[derive(Debug, Clone)]
pub struct Statement {
    /// Where it stands: its position among the function's statements, and its Sid if any.
    pub label: String,
    pub effect: Effect,
    pub actions: Vec<String>,
    pub resources: Vec<String>,
    pub conditions: Vec<Condition>,
}

impl Statement {
    pub fn names_action(&self, action: &str) -> bool {
        self.actions
            .iter()
            .any(|a| wildcard_match(&a.to_ascii_lowercase(), &action.to_ascii_lowercase()))
    }

    pub fn names_resource(&self, resource: &str) -> bool {
        self.resources.iter().any(|r| wildcard_match(r, resource))
    }

    pub fn describe(&self) -> String {
        let mut text = format!(
            "{} ({:?} {} on {})",
            self.label,
            self.effect,
            self.actions.join(", "),
            self.resources.join(", ")
        );
        for condition in &self.conditions {
            text.push_str(&format!(" if {}", condition.describe()));
        }
        text
    }
}

/// IAM's wildcard match: `*` any run of characters, `?` any one.
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

fn strings(value: &Value, account: &Account) -> Result<Vec<String>, String> {
    match value {
        Value::Sequence(items) => items.iter().map(|v| account.resolve(v)).collect(),
        one => Ok(vec![account.resolve(one)?]),
    }
}

fn conditions(value: &Value) -> Result<Vec<Condition>, String> {
    let Some(map) = value.as_mapping() else {
        return if value.is_null() {
            Ok(Vec::new())
        } else {
            Err("Condition is not a mapping".into())
        };
    };
    let mut out = Vec::new();
    for (operator, keys) in map {
        let operator = operator.as_str().unwrap_or_default();
        let (qualifier, bare) = match operator.split_once(':') {
            Some(("ForAllValues", bare)) => (SetQualifier::ForAllValues, bare),
            Some(("ForAnyValue", bare)) => (SetQualifier::ForAnyValue, bare),
            Some(_) => {
                return Err(format!(
                    "the condition operator {operator} is not understood"
                ))
            }
            None => (SetQualifier::None, operator),
        };
        let operator_kind = match bare {
            "StringEquals" => Operator::StringEquals,
            "StringLike" => Operator::StringLike,
            _ => {
                return Err(format!(
                    "the condition operator {operator} is not understood"
                ))
            }
        };
        for (key, values) in keys
            .as_mapping()
            .ok_or_else(|| format!("{operator} is not a mapping"))?
        {
            let key = key.as_str().unwrap_or_default();
            if !CONDITION_KEYS.contains(&key) {
                return Err(format!("the condition key {key} is not understood"));
            }
            let values = match values {
                Value::Sequence(items) => items
                    .iter()
                    .map(|v| v.as_str().map(str::to_string))
                    .collect::<Option<Vec<_>>>(),
                one => one.as_str().map(|s| vec![s.to_string()]),
            }
            .ok_or_else(|| format!("{operator} {key}: values must be strings"))?;
            out.push(Condition {
                qualifier,
                operator: operator_kind,
                key: key.to_string(),
                values,
            });
        }
    }
    Ok(out)
}

/// Every function's statements, by the binary its template resource builds.
pub fn read(template: &str, account: &Account) -> Result<BTreeMap<String, Vec<Statement>>, String> {
    let template: Value =
        serde_yaml::from_str(template).map_err(|e| format!("template.yaml: {e}"))?;
    if !template["Globals"]["Function"]["Policies"].is_null() {
        return Err("Globals.Function.Policies is not understood".into());
    }
    let mut functions = BTreeMap::new();
    for resource in template["Resources"]
        .as_mapping()
        .ok_or("template.yaml has no Resources")?
        .values()
    {
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let binary = resource["Metadata"]["BuildProperties"]["Binary"]
            .as_str()
            .ok_or("a function names no BuildProperties.Binary")?
            .to_string();
        let fail = |what: String| format!("{binary}'s Policies: {what}");
        let properties = &resource["Properties"];
        if !properties["Role"].is_null() {
            return Err(fail("a Role of its own is not understood".into()));
        }
        let mut statements = Vec::new();
        for policy in properties["Policies"].as_sequence().into_iter().flatten() {
            let Some(document) = policy.as_mapping().filter(|m| {
                m.keys()
                    .all(|k| matches!(k.as_str(), Some("Version" | "Statement")))
            }) else {
                return Err(fail(format!(
                    "only inline policy documents are understood (a SAM policy template or a managed policy is not): {policy:?}"
                )));
            };
            let listed = document
                .get("Statement")
                .and_then(Value::as_sequence)
                .ok_or_else(|| fail("a policy has no Statement list".into()))?;
            for statement in listed {
                let label = match statement["Sid"].as_str() {
                    Some(sid) => format!("statement {} ({sid})", statements.len() + 1),
                    None => format!("statement {}", statements.len() + 1),
                };
                for key in statement.as_mapping().into_iter().flat_map(|m| m.keys()) {
                    let key = key.as_str().unwrap_or_default();
                    if !matches!(key, "Sid" | "Effect" | "Action" | "Resource" | "Condition") {
                        return Err(fail(format!("{label}: {key} is not understood")));
                    }
                }
                let effect = match statement["Effect"].as_str() {
                    Some("Allow") => Effect::Allow,
                    Some("Deny") => Effect::Deny,
                    other => return Err(fail(format!("{label}: Effect {other:?}"))),
                };
                statements.push(Statement {
                    label: label.clone(),
                    effect,
                    actions: strings(&statement["Action"], account)
                        .map_err(|e| fail(format!("{label}: {e}")))?,
                    resources: strings(&statement["Resource"], account)
                        .map_err(|e| fail(format!("{label}: {e}")))?,
                    conditions: conditions(&statement["Condition"])
                        .map_err(|e| fail(format!("{label}: {e}")))?,
                });
            }
        }
        functions.insert(binary, statements);
    }
    Ok(functions)
}

/// The template resource of the function building `binary`, to change.
fn function_mut<'a>(template: &'a mut Value, binary: &str) -> Result<&'a mut Value, String> {
    template["Resources"]
        .as_mapping_mut()
        .ok_or("no Resources")?
        .values_mut()
        .find(|r| r["Metadata"]["BuildProperties"]["Binary"].as_str() == Some(binary))
        .ok_or_else(|| format!("no function builds {binary}"))
}

/// `template` with the function building `binary` given `policies` (its `Policies` list, as
/// YAML) instead of its own: to see what the stack refuses under another policy.
pub fn with_policies(template: &str, binary: &str, policies: &str) -> Result<String, String> {
    let mut template: Value = serde_yaml::from_str(template).map_err(|e| e.to_string())?;
    let policies: Value = serde_yaml::from_str(policies).map_err(|e| e.to_string())?;
    let function = function_mut(&mut template, binary)?;
    function["Properties"]["Policies"] = policies;
    serde_yaml::to_string(&template).map_err(|e| e.to_string())
}

/// `template` with `action` taken out of every statement of the function building `binary`
/// (a statement left with no action goes): to see how the code fares without it.
pub fn without_action(template: &str, binary: &str, action: &str) -> Result<String, String> {
    let mut template: Value = serde_yaml::from_str(template).map_err(|e| e.to_string())?;
    let function = function_mut(&mut template, binary)?;
    let mut found = false;
    for policy in function["Properties"]["Policies"]
        .as_sequence_mut()
        .into_iter()
        .flatten()
    {
        if let Some(statements) = policy["Statement"].as_sequence_mut() {
            for statement in statements.iter_mut() {
                if let Some(actions) = statement["Action"].as_sequence_mut() {
                    let before = actions.len();
                    actions.retain(|a| a.as_str() != Some(action));
                    found |= actions.len() != before;
                }
            }
            statements.retain(|s| {
                s["Action"]
                    .as_sequence()
                    .is_none_or(|actions| !actions.is_empty())
            });
        }
    }
    if !found {
        return Err(format!("{binary} holds no {action}"));
    }
    serde_yaml::to_string(&template).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_as_iam_matches_them() {
        assert!(wildcard_match("COMPANY#*", "COMPANY#1"));
        assert!(wildcard_match("COMPANY#*", "COMPANY#"));
        assert!(!wildcard_match("COMPANY#*", "USAGE#1"));
        assert!(wildcard_match("a?c", "abc"));
        assert!(!wildcard_match("a?c", "ac"));
        assert!(wildcard_match("*#WEBHOOK*", "COMPANY#1#WEBHOOK#2"));
        assert!(wildcard_match(
            "arn:aws:s3:::b/imports/*",
            "arn:aws:s3:::b/imports/x/y"
        ));
        assert!(!wildcard_match(
            "arn:aws:s3:::b/imports/*",
            "arn:aws:s3:::b/documents/x"
        ));
        assert!(wildcard_match("", ""));
        assert!(!wildcard_match("", "x"));
    }
}
