//! DynamoDB attribute values, read and written the same way by every adapter.

use aws_sdk_dynamodb::types::AttributeValue;

use crate::domain::Scope;

/// A string attribute.
pub fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub fn scope_list(scopes: &[Scope]) -> AttributeValue {
    AttributeValue::L(
        scopes
            .iter()
            .map(|s| AttributeValue::S(s.name().into()))
            .collect(),
    )
}

pub fn parse_scopes(value: Option<&AttributeValue>) -> Vec<Scope> {
    value
        .and_then(|v| v.as_l().ok())
        .map(|list| {
            list.iter()
                .filter_map(|v| v.as_s().ok())
                .filter_map(|s| Scope::parse(s))
                .collect()
        })
        .unwrap_or_default()
}
