//! Creates the table and bucket the stack needs, from the same definitions template.yaml uses
//! (see `ledgerdock_shared::store::schema`). Safe to run on every start.

use anyhow::Context;
use aws_sdk_dynamodb::types::BillingMode;
use ledgerdock_shared::store::schema;

pub async fn ensure_table(client: &aws_sdk_dynamodb::Client, table: &str) -> anyhow::Result<()> {
    match client.describe_table().table_name(table).send().await {
        Ok(_) => return Ok(()),
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
