//! The table's definition, as code: the test harness and the local run create the table from it, and a test checks
//! that `infra/template.yaml` declares exactly the same keys and indexes.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType,
};

use crate::keys::{GSI1, GSI1PK, GSI1SK, PK, SK};

/// `(index name, partition key, sort key)` of every global secondary index (all project every attribute).
pub const GLOBAL_INDEXES: &[(&str, &str, &str)] = &[(GSI1, GSI1PK, GSI1SK)];

/// Every key attribute (all strings).
pub fn key_attributes() -> Vec<&'static str> {
    let mut names = vec![PK, SK];
    for (_, pk, sk) in GLOBAL_INDEXES {
        names.push(pk);
        names.push(sk);
    }
    names
}

fn key(name: &str, kind: KeyType) -> KeySchemaElement {
    KeySchemaElement::builder().attribute_name(name).key_type(kind).build().expect("static key schema")
}

/// Creates the table (on-demand) unless it exists.
pub async fn create_table(client: &Client, table: &str) -> Result<(), String> {
    let mut request = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key(PK, KeyType::Hash))
        .key_schema(key(SK, KeyType::Range));
    for name in key_attributes() {
        request = request.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("static attribute definition"),
        );
    }
    for (index, pk, sk) in GLOBAL_INDEXES {
        request = request.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(*index)
                .key_schema(key(pk, KeyType::Hash))
                .key_schema(key(sk, KeyType::Range))
                .projection(Projection::builder().projection_type(ProjectionType::All).build())
                .build()
                .expect("static index"),
        );
    }
    match request.send().await {
        Ok(_) => Ok(()),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_in_use_exception()) => Ok(()),
        Err(e) => Err(aws_smithy_types::error::display::DisplayErrorContext(e).to_string()),
    }
}
