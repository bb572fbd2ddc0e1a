//! Creates the table and bucket the stack needs, from the same definitions template.yaml uses
//! (see `ledgerdock_shared::store::schema`). Safe to run on every start.

use anyhow::Context;
use aws_sdk_dynamodb::types::BillingMode;
use ledgerdock_shared::store::schema;

/// Creates the table, or brings one made by an earlier version up to date: an index it lacks
/// is added.
pub async fn ensure_table(client: &aws_sdk_dynamodb::Client, table: &str) -> anyhow::Result<()> {
    match client.describe_table().table_name(table).send().await {
        Ok(described) => return upgrade_table(client, table, described.table).await,
        Err(e)
            if e.as_service_error()
                .is_some_and(|e| e.is_resource_not_found_exception()) => {}
        Err(e) => {
            return Err(anyhow::anyhow!(
                aws_sdk_dynamodb::error::DisplayErrorContext(e)
            ))
            .context("DescribeTable")
        }
    }
    client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .set_attribute_definitions(Some(schema::attribute_definitions()))
        .set_key_schema(Some(schema::key_schema()))
        .set_global_secondary_indexes(Some(schema::global_secondary_indexes()))
        .send()
        .await
        .map_err(|e| anyhow::anyhow!(aws_sdk_dynamodb::error::DisplayErrorContext(e)))
        .with_context(|| format!("creating table {table}"))?;
    Ok(())
}

async fn upgrade_table(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    described: Option<aws_sdk_dynamodb::types::TableDescription>,
) -> anyhow::Result<()> {
    use aws_sdk_dynamodb::types::{CreateGlobalSecondaryIndexAction, GlobalSecondaryIndexUpdate};
    let Some(described) = described else {
        return Ok(());
    };
    let has: Vec<&str> = described
        .global_secondary_indexes()
        .iter()
        .filter_map(|i| i.index_name())
        .collect();
    let fail = |e: aws_sdk_dynamodb::error::SdkError<_, _>| {
        anyhow::anyhow!(aws_sdk_dynamodb::error::DisplayErrorContext(e))
    };
    for index in schema::global_secondary_indexes() {
        if has.contains(&index.index_name()) {
            continue;
        }
        let create = CreateGlobalSecondaryIndexAction::builder()
            .index_name(index.index_name())
            .set_key_schema(Some(index.key_schema().to_vec()))
            .set_projection(index.projection().cloned())
            .build()
            .context("index definition")?;
        client
            .update_table()
            .table_name(table)
            .set_attribute_definitions(Some(schema::attribute_definitions()))
            .global_secondary_index_updates(
                GlobalSecondaryIndexUpdate::builder().create(create).build(),
            )
            .send()
            .await
            .map_err(fail)
            .with_context(|| format!("adding index {} to {table}", index.index_name()))?;
    }
    Ok(())
}

pub async fn ensure_bucket(client: &aws_sdk_s3::Client, bucket: &str) -> anyhow::Result<()> {
    if client.head_bucket().bucket(bucket).send().await.is_ok() {
        return Ok(());
    }
    client
        .create_bucket()
        .bucket(bucket)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!(aws_sdk_s3::error::DisplayErrorContext(e)))
        .with_context(|| format!("creating bucket {bucket}"))?;
    Ok(())
}
