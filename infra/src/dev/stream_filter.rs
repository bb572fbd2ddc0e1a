//! The event filter of a function's DynamoDB stream trigger, read from template.yaml and
//! applied in the dev stack as Lambda applies it in AWS: a record that matches none of the
//! function's `FilterCriteria` patterns never reaches it. So a filter that lets too much
//! through (an invoice's line items, an import job's progress writes) shows locally as it
//! would in AWS, and one that lets too little through loses events locally too.
//!
//! The patterns use Lambda's event-filtering syntax. The operators understood are the ones
//! the template may use: a list of exact values, `prefix`, `anything-but` and `exists`. Any
//! other is an error when the filter is read (the template test reads it), never a silent
//! pass.

use anyhow::{bail, Context};
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{json, Map, Value};
use serde_yaml::Value as Yaml;

/// The template the dev stack (and every function binary) was built with.
pub const TEMPLATE: &str = include_str!("../../../template.yaml");

/// One function's stream filter: a record passes if it matches any pattern (or there are
/// none).
#[derive(Debug, Clone)]
pub struct StreamFilter {
    patterns: Vec<Value>,
}

impl StreamFilter {
    /// The filter of the DynamoDB stream event of the function whose binary is `binary`.
    pub fn of(template: &str, binary: &str) -> anyhow::Result<Self> {
        let template: Yaml = serde_yaml::from_str(template).context("template.yaml parses")?;
        let resources = template["Resources"]
            .as_mapping()
            .context("template.yaml has Resources")?;
        let function = resources
            .values()
            .find(|r| r["Metadata"]["BuildProperties"]["Binary"].as_str() == Some(binary))
            .with_context(|| format!("template.yaml has no function {binary}"))?;
        let events = function["Properties"]["Events"]
            .as_mapping()
            .with_context(|| format!("{binary} has no events"))?;
        let stream = events
            .values()
            .find(|e| e["Type"].as_str() == Some("DynamoDB"))
            .with_context(|| format!("{binary} has no DynamoDB stream event"))?;
        let mut patterns = Vec::new();
        if let Some(filters) = stream["Properties"]["FilterCriteria"]["Filters"].as_sequence() {
            for filter in filters {
                let raw = filter["Pattern"]
                    .as_str()
                    .with_context(|| format!("{binary}: a filter without a Pattern string"))?;
                let pattern: Value = serde_json::from_str(raw)
                    .with_context(|| format!("{binary}: filter pattern {raw} is not JSON"))?;
                check(&pattern).with_context(|| format!("{binary}: filter pattern {raw}"))?;
                patterns.push(pattern);
            }
        }
        Ok(Self { patterns })
    }

    /// Whether Lambda would hand `record` (a stream record as Lambda shapes it) to the function.
    pub fn passes(&self, record: &Value) -> bool {
        self.patterns.is_empty() || self.patterns.iter().any(|p| matches(p, record))
    }
}

/// Refuses what the matcher does not understand.
fn check(pattern: &Value) -> anyhow::Result<()> {
    let Value::Object(fields) = pattern else {
        bail!("a pattern is an object of fields");
    };
    for (name, rule) in fields {
        match rule {
            Value::Object(_) => check(rule)?,
            Value::Array(alternatives) => {
                for alternative in alternatives {
                    match alternative {
                        Value::String(_) | Value::Number(_) | Value::Bool(_) | Value::Null => {}
                        Value::Object(operator) => {
                            let (op, arg) = match operator.iter().next() {
                                Some(one) if operator.len() == 1 => one,
                                _ => bail!("{name}: an operator object holds one operator"),
                            };
                            match (op.as_str(), arg) {
                                ("prefix", Value::String(_)) | ("exists", Value::Bool(_)) => {}
                                ("anything-but", Value::String(_))
                                | ("anything-but", Value::Number(_)) => {}
                                ("anything-but", Value::Array(values))
                                    if values.iter().all(|v| v.is_string() || v.is_number()) => {}
                                (other, _) => bail!(
                                    "{name}: the operator {other:?} (with {arg}) is not understood here"
                                ),
                            }
                        }
                        Value::Array(_) => bail!("{name}: a list inside a list"),
                    }
                }
            }
            other => bail!("{name}: {other} is neither a list of values nor a nested pattern"),
        }
    }
    Ok(())
}

fn matches(pattern: &Value, event: &Value) -> bool {
    let Value::Object(fields) = pattern else {
        return false;
    };
    fields.iter().all(|(name, rule)| {
        let field = event.get(name);
        match rule {
            Value::Object(_) => field.is_some_and(|inner| matches(rule, inner)),
            Value::Array(alternatives) => alternatives.iter().any(|a| leaf(a, field)),
            _ => false,
        }
    })
}

/// One alternative of a field's list, against the field (absent: `None`).
fn leaf(alternative: &Value, field: Option<&Value>) -> bool {
    if let Some(Value::Bool(wanted)) = alternative.get("exists") {
        return field.is_some() == *wanted;
    }
    let Some(value) = field else {
        return false;
    };
    // A list in the event matches if any of its members does.
    if let Value::Array(members) = value {
        return members.iter().any(|m| leaf(alternative, Some(m)));
    }
    match alternative {
        Value::Object(operator) => {
            if let Some(Value::String(prefix)) = operator.get("prefix") {
                return value
                    .as_str()
                    .is_some_and(|v| v.starts_with(prefix.as_str()));
            }
            match operator.get("anything-but") {
                Some(Value::Array(excluded)) => !excluded.contains(value),
                Some(excluded) => excluded != value,
                None => false,
            }
        }
        exact => exact == value,
    }
}

/// An item image in the DynamoDB JSON a stream record carries (`{"S": "…"}`).
pub fn image_json(image: &std::collections::HashMap<String, AttributeValue>) -> Value {
    Value::Object(
        image
            .iter()
            .map(|(name, value)| (name.clone(), attribute_json(value)))
            .collect::<Map<String, Value>>(),
    )
}

fn attribute_json(value: &AttributeValue) -> Value {
    match value {
        AttributeValue::S(s) => json!({ "S": s }),
        AttributeValue::N(n) => json!({ "N": n }),
        AttributeValue::Bool(b) => json!({ "BOOL": b }),
        AttributeValue::Null(_) => json!({ "NULL": true }),
        AttributeValue::Ss(values) => json!({ "SS": values }),
        AttributeValue::Ns(values) => json!({ "NS": values }),
        AttributeValue::L(values) => {
            json!({ "L": values.iter().map(attribute_json).collect::<Vec<_>>() })
        }
        AttributeValue::M(map) => json!({ "M": image_json(map) }),
        AttributeValue::B(bytes) => {
            use base64::Engine;
            json!({ "B": base64::engine::general_purpose::STANDARD.encode(bytes.as_ref()) })
        }
        AttributeValue::Bs(values) => {
            use base64::Engine;
            let encoded: Vec<String> = values
                .iter()
                .map(|b| base64::engine::general_purpose::STANDARD.encode(b.as_ref()))
                .collect();
            json!({ "BS": encoded })
        }
        _ => Value::Null,
    }
}

/// A stream record as Lambda shapes it for filtering: its event name, keys and images.
pub fn record_json(
    keys: (&str, &str),
    old: Option<&std::collections::HashMap<String, AttributeValue>>,
    new: Option<&std::collections::HashMap<String, AttributeValue>>,
) -> Value {
    let event_name = match (old, new) {
        (None, _) => "INSERT",
        (Some(_), None) => "REMOVE",
        (Some(_), Some(_)) => "MODIFY",
    };
    let mut dynamodb = json!({
        "Keys": {"PK": {"S": keys.0}, "SK": {"S": keys.1}},
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    });
    if let Some(old) = old {
        dynamodb["OldImage"] = image_json(old);
    }
    if let Some(new) = new {
        dynamodb["NewImage"] = image_json(new);
    }
    json!({"eventName": event_name, "eventSource": "aws:dynamodb", "dynamodb": dynamodb})
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn item(pairs: &[(&str, &str)]) -> HashMap<String, AttributeValue> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), AttributeValue::S(v.to_string())))
            .collect()
    }

    fn fanout() -> StreamFilter {
        StreamFilter::of(TEMPLATE, "webhook-fanout").expect("the template's filter is understood")
    }

    #[test]
    fn the_fan_out_hears_invoice_headers_and_import_jobs_that_change_state_and_nothing_else() {
        let filter = fanout();
        let header = |status: &str| {
            item(&[
                ("PK", "COMPANY#c"),
                ("SK", "INVOICE#i"),
                ("entity", "INVOICE"),
                ("status", status),
            ])
        };
        let job = |status: &str| {
            item(&[
                ("PK", "COMPANY#c"),
                ("SK", "IMPORTJOB#j"),
                ("entity", "IMPORT_JOB"),
                ("status", status),
            ])
        };
        let keys = ("COMPANY#c", "INVOICE#i");
        // Published, exported, rejected: handed over.
        assert!(filter.passes(&record_json(keys, None, Some(&header("READY_FOR_EXPORT")))));
        for status in ["EXPORTED", "REJECTED"] {
            let record = record_json(
                keys,
                Some(&header("READY_FOR_EXPORT")),
                Some(&header(status)),
            );
            assert!(filter.passes(&record), "{status}");
        }
        // An import job ending: handed over; its progress writes are not.
        let job_keys = ("COMPANY#c", "IMPORTJOB#j");
        for status in ["FINISHED", "FAILED"] {
            let ended = record_json(job_keys, Some(&job("IN_PROGRESS")), Some(&job(status)));
            assert!(filter.passes(&ended), "{status}");
        }
        let progress = record_json(
            job_keys,
            Some(&job("IN_PROGRESS")),
            Some(&job("IN_PROGRESS")),
        );
        assert!(
            !filter.passes(&progress),
            "a progress write starts no invocation"
        );
        assert!(!filter.passes(&record_json(job_keys, None, Some(&job("IN_PROGRESS")))));
        // A line item, a request counter, a delete: never.
        let line = item(&[
            ("PK", "COMPANY#c"),
            ("SK", "INVOICE#i#V1#LINE#00001"),
            ("entity", "INVOICE_LINE"),
        ]);
        assert!(!filter.passes(&record_json(
            ("COMPANY#c", "INVOICE#i#V1#LINE#00001"),
            None,
            Some(&line)
        )));
        let counter = item(&[("PK", "USAGE#c1"), ("SK", "2026-12-06T10:00")]);
        assert!(!filter.passes(&record_json(
            ("USAGE#c1", "2026-12-06T10:00"),
            None,
            Some(&counter)
        )));
        let gone = record_json(keys, Some(&header("EXPORTED")), None);
        assert!(!filter.passes(&gone));
    }

    #[test]
    fn an_operator_the_filter_does_not_understand_is_refused_not_ignored() {
        let with = |pattern: &str| {
            TEMPLATE.replacen(
                "FilterCriteria:\n              Filters:\n                - Pattern: '",
                &format!("FilterCriteria:\n              Filters:\n                - Pattern: '{pattern}'\n                - Pattern: '"),
                1,
            )
        };
        for pattern in [
            r#"{"dynamodb": {"NewImage": {"n": {"N": [{"numeric": [">", 1]}]}}}}"#,
            r#"{"eventName": [{"suffix": "T"}]}"#,
            r#"{"eventName": "INSERT"}"#,
            r#"{"eventName": [["INSERT"]]}"#,
        ] {
            let template = with(pattern);
            assert_ne!(template, TEMPLATE, "the pattern was put in");
            let refused = StreamFilter::of(&template, "webhook-fanout");
            assert!(refused.is_err(), "{pattern} must be refused");
        }
    }

    #[test]
    fn each_operator_matches_as_lambda_documents() {
        let pattern = |p: Value| {
            check(&p).unwrap();
            p
        };
        let event = json!({"a": "INVOICE#1", "b": 3, "c": ["x", "y"], "nested": {"d": "v"}});
        let cases = [
            (json!({"a": [{"prefix": "INVOICE#"}]}), true),
            (json!({"a": [{"prefix": "IMPORT"}]}), false),
            (json!({"b": [3]}), true),
            (json!({"b": [{"anything-but": [3, 4]}]}), false),
            (json!({"a": [{"anything-but": "x"}]}), true),
            (json!({"c": ["y"]}), true),
            (json!({"missing": [{"exists": false}]}), true),
            (json!({"a": [{"exists": false}]}), false),
            (json!({"missing": [{"exists": true}]}), false),
            (json!({"nested": {"d": ["v"]}}), true),
            (json!({"nested": {"d": ["w"]}}), false),
            (json!({"missing": {"d": ["v"]}}), false),
        ];
        for (p, expected) in cases {
            assert_eq!(matches(&pattern(p.clone()), &event), expected, "{p}");
        }
    }
}
