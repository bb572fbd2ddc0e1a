//! What an AWS request asks to be allowed, read from the request as the service reads it: the
//! IAM action, the resource's ARN and the condition keys the template's policies use. One
//! request may need several (a transaction needs each of its writes' actions; a copy needs
//! to read its source and write its target).

use std::collections::BTreeMap;

use serde_json::Value;

use super::policy::Account;
use ledgerdock_shared::store::schema;

/// One permission a request needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    pub action: String,
    pub resource: String,
    /// Condition keys and their values (`dynamodb:LeadingKeys` → the partition keys named).
    pub context: BTreeMap<String, Vec<String>>,
}

impl Authorization {
    fn new(action: impl Into<String>, resource: impl Into<String>) -> Self {
        Self {
            action: action.into(),
            resource: resource.into(),
            context: BTreeMap::new(),
        }
    }

    fn with(mut self, key: &str, values: Vec<String>) -> Self {
        if !values.is_empty() {
            self.context.insert(key.to_string(), values);
        }
        self
    }

    /// The keys a denial names in its log line.
    pub fn keys(&self) -> String {
        self.context
            .iter()
            .map(|(k, v)| format!("{k}={}", v.join(",")))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

const LEADING_KEYS: &str = "dynamodb:LeadingKeys";

/// The partition key (PK) of an item or key in DynamoDB JSON.
fn partition_of(item: &Value) -> Option<String> {
    item[schema::PK]["S"].as_str().map(str::to_string)
}

fn table_resource(account: &Account, table: &str) -> String {
    format!(
        "arn:{}:dynamodb:{}:{}:table/{table}",
        account.partition, account.region, account.account_id
    )
}

/// The hash key's value a Query's KeyConditionExpression pins (`PK = :pk`, names and values
/// resolved), for the table's or the index's hash attribute.
fn queried_partition(body: &Value) -> Option<String> {
    let hash_attribute = match body["IndexName"].as_str() {
        None => schema::PK,
        Some(index) => {
            schema::GLOBAL_INDEXES
                .iter()
                .find(|(name, ..)| *name == index)?
                .1
        }
    };
    let expression = body["KeyConditionExpression"].as_str()?;
    for clause in expression.split(" AND ").flat_map(|c| c.split(" and ")) {
        let Some((left, right)) = clause.split_once('=') else {
            continue;
        };
        if left.ends_with(['<', '>', '!']) || right.starts_with('=') {
            continue;
        }
        let (left, right) = (
            left.trim().trim_start_matches('('),
            right.trim().trim_end_matches(')'),
        );
        let name = if left.starts_with('#') {
            body["ExpressionAttributeNames"][left].as_str()?
        } else {
            left
        };
        if name == hash_attribute {
            return body["ExpressionAttributeValues"][right]["S"]
                .as_str()
                .map(str::to_string);
        }
    }
    None
}

/// A DynamoDB JSON request (`X-Amz-Target: DynamoDB_20120810.<Operation>`).
pub fn dynamodb(account: &Account, target: &str, body: &Value) -> Vec<Authorization> {
    let operation = target.strip_prefix("DynamoDB_20120810.").unwrap_or(target);
    let table = body["TableName"].as_str().unwrap_or("*");
    let on_table = |action: &str, table: &str, keys: Vec<String>| {
        Authorization::new(format!("dynamodb:{action}"), table_resource(account, table))
            .with(LEADING_KEYS, keys)
    };
    match operation {
        "GetItem" | "UpdateItem" | "DeleteItem" => vec![on_table(
            operation,
            table,
            partition_of(&body["Key"]).into_iter().collect(),
        )],
        "PutItem" => vec![on_table(
            operation,
            table,
            partition_of(&body["Item"]).into_iter().collect(),
        )],
        "Query" | "Scan" => {
            let mut resource = table_resource(account, table);
            if let Some(index) = body["IndexName"].as_str() {
                resource = format!("{resource}/index/{index}");
            }
            let keys = if operation == "Query" {
                // A query whose partition cannot be read is refused outright, never let
                // through a ForAllValues condition as one naming no key would be.
                vec![queried_partition(body).unwrap_or_default()]
            } else {
                Vec::new()
            };
            vec![
                Authorization::new(format!("dynamodb:{operation}"), resource)
                    .with(LEADING_KEYS, keys),
            ]
        }
        "BatchGetItem" | "BatchWriteItem" => body["RequestItems"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(table, requests)| {
                let keys: Vec<String> = if operation == "BatchGetItem" {
                    requests["Keys"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(partition_of)
                        .collect()
                } else {
                    requests
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|r| {
                            partition_of(&r["PutRequest"]["Item"])
                                .or_else(|| partition_of(&r["DeleteRequest"]["Key"]))
                        })
                        .collect()
                };
                on_table(operation, table, keys)
            })
            .collect(),
        // A transaction needs the permission of each action it holds, on its item.
        "TransactWriteItems" | "TransactGetItems" => body["TransactItems"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|item| {
                let (kind, op) = item.as_object()?.iter().next()?;
                let (action, key) = match kind.as_str() {
                    "Put" => ("PutItem", &op["Item"]),
                    "Update" => ("UpdateItem", &op["Key"]),
                    "Delete" => ("DeleteItem", &op["Key"]),
                    "ConditionCheck" => ("ConditionCheckItem", &op["Key"]),
                    "Get" => ("GetItem", &op["Key"]),
                    _ => ("Unknown", &op["Key"]),
                };
                Some(on_table(
                    action,
                    op["TableName"].as_str().unwrap_or("*"),
                    partition_of(key).into_iter().collect(),
                ))
            })
            .collect(),
        other => vec![on_table(other, table, Vec::new())],
    }
}

/// An SQS JSON request (`X-Amz-Target: AmazonSQS.<Operation>`); the queue is the last
/// segment of its URL.
pub fn sqs(account: &Account, target: &str, body: &Value) -> Vec<Authorization> {
    let operation = target.strip_prefix("AmazonSQS.").unwrap_or(target);
    // The batch call is authorized as the single one, as SQS documents.
    let action = operation.strip_suffix("Batch").unwrap_or(operation);
    let queue = body["QueueUrl"]
        .as_str()
        .and_then(|url| url.rsplit('/').next())
        .unwrap_or("*");
    vec![Authorization::new(
        format!("sqs:{action}"),
        account.queue_arn(queue),
    )]
}

/// The query parameters of a URI, decoded.
fn query(uri: &http::Uri) -> BTreeMap<String, String> {
    uri.query()
        .map(|q| {
            form_urlencoded::parse(q.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default()
}

/// An S3 REST request, path-style (`/<bucket>/<key>`), as the local engine is addressed.
pub fn s3(
    account: &Account,
    method: &http::Method,
    uri: &http::Uri,
    headers: &http::HeaderMap,
) -> Vec<Authorization> {
    let path = uri.path().trim_start_matches('/');
    let (bucket, key) = path.split_once('/').unwrap_or((path, ""));
    let key = percent_encoding::percent_decode_str(key)
        .decode_utf8_lossy()
        .into_owned();
    let params = query(uri);
    let bucket_arn = account.bucket_arn(bucket);
    let object_arn = format!("{bucket_arn}/{key}");
    let on_bucket = |action: &str| Authorization::new(action, bucket_arn.clone());
    let on_object = |action: &str| Authorization::new(action, object_arn.clone());
    use http::Method;
    if key.is_empty() {
        return vec![match *method {
            Method::PUT => on_bucket("s3:CreateBucket"),
            Method::DELETE => on_bucket("s3:DeleteBucket"),
            // HeadBucket and listings are ListBucket, the listed prefix its condition key.
            Method::HEAD => on_bucket("s3:ListBucket"),
            Method::GET if params.contains_key("versions") => on_bucket("s3:ListBucketVersions"),
            Method::GET if params.contains_key("uploads") => {
                on_bucket("s3:ListBucketMultipartUploads")
            }
            Method::GET => on_bucket("s3:ListBucket").with(
                "s3:prefix",
                params.get("prefix").cloned().into_iter().collect(),
            ),
            Method::POST if params.contains_key("delete") => {
                Authorization::new("s3:DeleteObject", format!("{bucket_arn}/*"))
            }
            _ => on_bucket("s3:UnknownBucketOperation"),
        }];
    }
    match *method {
        Method::GET | Method::HEAD => vec![on_object("s3:GetObject")],
        Method::PUT => {
            let mut needed = vec![on_object("s3:PutObject")];
            if let Some(source) = headers
                .get("x-amz-copy-source")
                .and_then(|v| v.to_str().ok())
            {
                let source = percent_encoding::percent_decode_str(source.trim_start_matches('/'))
                    .decode_utf8_lossy()
                    .into_owned();
                let source = source.split('?').next().unwrap_or_default();
                needed.push(Authorization::new(
                    "s3:GetObject",
                    format!("arn:{}:s3:::{source}", account.partition),
                ));
            }
            needed
        }
        Method::POST => vec![on_object("s3:PutObject")],
        Method::DELETE if params.contains_key("uploadId") => {
            vec![on_object("s3:AbortMultipartUpload")]
        }
        Method::DELETE => vec![on_object("s3:DeleteObject")],
        _ => vec![on_object("s3:UnknownObjectOperation")],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn account() -> Account {
        super::super::local_account("t", "b")
    }

    #[test]
    fn a_transaction_needs_each_of_its_writes_on_its_own_partition() {
        let body = json!({"TransactItems": [
            {"Put": {"TableName": "t", "Item": {"PK": {"S": "COMPANY#1"}, "SK": {"S": "X"}}}},
            {"Update": {"TableName": "t", "Key": {"PK": {"S": "WEBHOOKS#c"}, "SK": {"S": "Y"}}}},
            {"ConditionCheck": {"TableName": "t", "Key": {"PK": {"S": "CLIENT#c"}, "SK": {"S": "Z"}}}}
        ]});
        let needed = dynamodb(&account(), "DynamoDB_20120810.TransactWriteItems", &body);
        let summary: Vec<(String, Vec<String>)> = needed
            .iter()
            .map(|a| (a.action.clone(), a.context[LEADING_KEYS].clone()))
            .collect();
        assert_eq!(
            summary,
            vec![
                ("dynamodb:PutItem".into(), vec!["COMPANY#1".into()]),
                ("dynamodb:UpdateItem".into(), vec!["WEBHOOKS#c".into()]),
                (
                    "dynamodb:ConditionCheckItem".into(),
                    vec!["CLIENT#c".into()]
                ),
            ]
        );
        assert!(needed
            .iter()
            .all(|a| a.resource == "arn:aws:dynamodb:us-east-1:000000000000:table/t"));
    }

    #[test]
    fn a_query_names_the_partition_its_key_condition_pins_on_the_table_or_index() {
        let body = json!({
            "TableName": "t",
            "KeyConditionExpression": "#pk = :pk AND begins_with(SK, :prefix)",
            "ExpressionAttributeNames": {"#pk": "PK"},
            "ExpressionAttributeValues": {":pk": {"S": "COMPANY#1"}, ":prefix": {"S": "INVOICE#"}}
        });
        let needed = dynamodb(&account(), "DynamoDB_20120810.Query", &body);
        assert_eq!(
            needed[0].context[LEADING_KEYS],
            vec!["COMPANY#1".to_string()]
        );
        let (index, hash, ..) = schema::GLOBAL_INDEXES[0];
        let body = json!({
            "TableName": "t", "IndexName": index,
            "KeyConditionExpression": format!("{hash} = :p"),
            "ExpressionAttributeValues": {":p": {"S": "Q#1"}}
        });
        let needed = dynamodb(&account(), "DynamoDB_20120810.Query", &body);
        assert_eq!(
            needed[0].resource,
            format!("arn:aws:dynamodb:us-east-1:000000000000:table/t/index/{index}")
        );
        assert_eq!(needed[0].context[LEADING_KEYS], vec!["Q#1".to_string()]);
    }

    #[test]
    fn s3_requests_are_the_actions_s3_authorizes_them_as() {
        let headers = http::HeaderMap::new();
        let get = s3(
            &account(),
            &http::Method::HEAD,
            &"/b/imports/x%231".parse().unwrap(),
            &headers,
        );
        assert_eq!(
            (get[0].action.as_str(), get[0].resource.as_str()),
            ("s3:GetObject", "arn:aws:s3:::b/imports/x#1")
        );
        let list = s3(
            &account(),
            &http::Method::GET,
            &"/b?list-type=2&prefix=imports%2F".parse().unwrap(),
            &headers,
        );
        assert_eq!(list[0].action, "s3:ListBucket");
        assert_eq!(list[0].context["s3:prefix"], vec!["imports/".to_string()]);
        let mut copy = http::HeaderMap::new();
        copy.insert("x-amz-copy-source", "b/imports/a".parse().unwrap());
        let copied = s3(
            &account(),
            &http::Method::PUT,
            &"/b/imports/a".parse().unwrap(),
            &copy,
        );
        assert_eq!(
            copied.iter().map(|a| a.action.as_str()).collect::<Vec<_>>(),
            ["s3:PutObject", "s3:GetObject"]
        );
    }
}
