//! The single table's key schema and indexes. The dev stack creates its table from these
//! definitions, and a test checks that template.yaml declares exactly the same.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType,
};

pub const PK: &str = "PK";
pub const SK: &str = "SK";
/// Sparse export-queue index: its key attributes exist only while an invoice is READY_FOR_EXPORT.
pub const EXPORT_QUEUE_INDEX: &str = "ExportQueue";
pub const EQ_PK: &str = "EQ_PK";
pub const EQ_SK: &str = "EQ_SK";

/// Sparse claim-queue index: an invoice is in it while READY_FOR_EXPORT, as in the export
/// queue, keyed by when it may be claimed: `0#<receivedAt>#<id>` while nobody holds a claim
/// on it, `1#<claimedUntil>#<id>` once claimed (claimable again once that time has passed).
/// See `store::invoices`.
pub const CLAIM_QUEUE_INDEX: &str = "ClaimQueue";
pub const CQ_PK: &str = "CQ_PK";
pub const CQ_SK: &str = "CQ_SK";

/// Sparse index of import jobs still IN_PROGRESS, ordered by deadline, for the sweep. One
/// partition value ([`OPEN_JOBS_PARTITION`]): only unfinished jobs are in it, a small set.
pub const OPEN_JOBS_INDEX: &str = "OpenImportJobs";
pub const OJ_PK: &str = "OJ_PK";
pub const OJ_SK: &str = "OJ_SK";
pub const OPEN_JOBS_PARTITION: &str = "OPEN";
/// Sparse index of webhook deliveries waiting for an attempt, ordered by when it is due, for
/// the sweep. Spread over [`DUE_SHARDS`] partitions (`DUE#<n>`, `n` from the subscription id),
/// so no one key takes every tenant's retries and the sweep reads them side by side: a
/// delivery leaves the index when it is delivered or given up on. Projects whole items: the
/// sweep needs each one entire.
pub const DUE_DELIVERIES_INDEX: &str = "DueDeliveries";
pub const DD_PK: &str = "DD_PK";
pub const DD_SK: &str = "DD_SK";
pub const DUE_PARTITION: &str = "DUE";
/// How many partitions the due index is spread over.
pub const DUE_SHARDS: u32 = 16;

/// The due-index partition of a subscription's deliveries: `DUE#<0..16>`, the same for all of
/// them.
pub fn due_partition(subscription: &crate::domain::SubscriptionId) -> String {
    let shard = subscription
        .to_string()
        .bytes()
        .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)))
        % DUE_SHARDS;
    due_shard(shard)
}

/// The due-index partition number `shard` (below [`DUE_SHARDS`]).
pub fn due_shard(shard: u32) -> String {
    format!("{DUE_PARTITION}#{shard}")
}
/// Epoch-seconds attribute the table's TTL deletes items by (idempotency records).
pub const TTL_ATTRIBUTE: &str = "expiresAtEpoch";

/// `(attribute, type)` for every key attribute of the table and its indexes.
pub const ATTRIBUTES: [(&str, &str); 10] = [
    (PK, "S"),
    (SK, "S"),
    (EQ_PK, "S"),
    (EQ_SK, "S"),
    (CQ_PK, "S"),
    (CQ_SK, "S"),
    (OJ_PK, "S"),
    (OJ_SK, "S"),
    (DD_PK, "S"),
    (DD_SK, "S"),
];
/// `(index name, hash key, range key, projection)`.
pub const GLOBAL_INDEXES: [(&str, &str, &str, &str); 4] = [
    (EXPORT_QUEUE_INDEX, EQ_PK, EQ_SK, "KEYS_ONLY"),
    (CLAIM_QUEUE_INDEX, CQ_PK, CQ_SK, "KEYS_ONLY"),
    (OPEN_JOBS_INDEX, OJ_PK, OJ_SK, "KEYS_ONLY"),
    (DUE_DELIVERIES_INDEX, DD_PK, DD_SK, "ALL"),
];

fn key(name: &str, kind: KeyType) -> KeySchemaElement {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(kind)
        .build()
        .unwrap_or_else(|_| unreachable!("name and type are set"))
}

pub fn attribute_definitions() -> Vec<AttributeDefinition> {
    ATTRIBUTES
        .iter()
        .map(|(name, _)| {
            AttributeDefinition::builder()
                .attribute_name(*name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap_or_else(|_| unreachable!("name and type are set"))
        })
        .collect()
}

pub fn key_schema() -> Vec<KeySchemaElement> {
    vec![key(PK, KeyType::Hash), key(SK, KeyType::Range)]
}

pub fn global_secondary_indexes() -> Vec<GlobalSecondaryIndex> {
    GLOBAL_INDEXES
        .iter()
        .map(|(name, hash, range, projection)| {
            GlobalSecondaryIndex::builder()
                .index_name(*name)
                .key_schema(key(hash, KeyType::Hash))
                .key_schema(key(range, KeyType::Range))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::from(*projection))
                        .build(),
                )
                .build()
                .unwrap_or_else(|_| unreachable!("name, keys and projection are set"))
        })
        .collect()
}

/// The partition of a company's invoices (headers and line items).
pub fn company_pk(company: &crate::domain::CompanyId) -> String {
    format!("COMPANY#{company}")
}

/// What sets the partition of a company's import jobs (with their Idempotency-Key records and
/// open-jobs counter) apart from its invoices: `COMPANY#<id>#IMPORTS`. Every feature's items
/// sit in a partition of their own beside the company's (webhooks in `#WEBHOOKS` and
/// `#WEBHOOK#<subscription>`), so IAM can grant each function writes on its feature's
/// partitions alone (`dynamodb:LeadingKeys`).
pub const IMPORTS_PARTITION_SUFFIX: &str = "#IMPORTS";
/// The same for a company's supplier cards: `COMPANY#<id>#SUPPLIERS`.
pub const SUPPLIERS_PARTITION_SUFFIX: &str = "#SUPPLIERS";

pub fn imports_pk(company: &crate::domain::CompanyId) -> String {
    format!("{}{IMPORTS_PARTITION_SUFFIX}", company_pk(company))
}

pub fn suppliers_pk(company: &crate::domain::CompanyId) -> String {
    format!("{}{SUPPLIERS_PARTITION_SUFFIX}", company_pk(company))
}

/// The IAM pattern (`dynamodb:LeadingKeys`, StringLike) that matches a company's own partition
/// and none beside it: `?` is one character, and a company id is a UUID, so the longer
/// `COMPANY#<id>#IMPORTS` and the rest never match.
pub const COMPANY_PARTITION_PATTERN: &str = "COMPANY#????????-????-????-????-????????????";

/// The company a partition key belongs to, whichever of its partitions it is.
pub fn company_of_partition(pk: &str) -> Option<crate::domain::CompanyId> {
    let rest = pk.strip_prefix("COMPANY#")?;
    rest.split('#').next()?.parse().ok()
}

/// The partition of a machine client's profile and grants.
pub fn client_pk(client_id: &str) -> String {
    format!("CLIENT#{client_id}")
}
