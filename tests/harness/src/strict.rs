//! What real DynamoDB refuses and moto lets through, refused in the tests too: an SDK interceptor on the tests'
//! DynamoDB client that fails a call before it is sent when a key it names holds attributes other than the table's
//! key (`PK`, `SK`). DynamoDB answers such a call `ValidationException` ("The provided key element does not match the
//! schema"); moto checks the key of a single `DeleteItem` but not the delete requests of a `BatchWriteItem`, so until
//! 2026-12-07 a queue rename's name-index deletes (whole items: key and channel) passed every test and would have
//! failed every import of the integration in AWS.

use aws_sdk_dynamodb::config::interceptors::BeforeSerializationInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept};
use aws_sdk_dynamodb::error::BoxError;
use aws_sdk_dynamodb::operation::batch_get_item::BatchGetItemInput;
use aws_sdk_dynamodb::operation::batch_write_item::BatchWriteItemInput;
use aws_sdk_dynamodb::operation::delete_item::DeleteItemInput;
use aws_sdk_dynamodb::operation::get_item::GetItemInput;
use aws_sdk_dynamodb::operation::transact_get_items::TransactGetItemsInput;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsInput;
use aws_sdk_dynamodb::operation::update_item::UpdateItemInput;
use aws_sdk_dynamodb::types::AttributeValue;

type Key = std::collections::HashMap<String, AttributeValue>;

/// The table's key attributes (`acd_aws::schema`).
const KEY_ATTRIBUTES: [&str; 2] = ["PK", "SK"];

/// Refuses calls whose keys are not exactly the table's key, as DynamoDB does.
#[derive(Debug, Default)]
pub struct StrictKeys;

/// Every key a call names (not the items it puts).
fn keys_of<'a>(context: &'a BeforeSerializationInterceptorContextRef<'_>) -> Vec<(&'static str, &'a Key)> {
    let input = context.input();
    let mut keys = Vec::new();
    if let Some(i) = input.downcast_ref::<BatchWriteItemInput>() {
        let deletes = i.request_items.iter().flat_map(|tables| tables.values().flatten());
        keys.extend(deletes.filter_map(|r| r.delete_request.as_ref()).map(|d| ("BatchWriteItem", &d.key)));
    } else if let Some(i) = input.downcast_ref::<BatchGetItemInput>() {
        let reads = i.request_items.iter().flat_map(|tables| tables.values());
        keys.extend(reads.flat_map(|r| r.keys.iter()).map(|k| ("BatchGetItem", k)));
    } else if let Some(i) = input.downcast_ref::<DeleteItemInput>() {
        keys.extend(i.key.iter().map(|k| ("DeleteItem", k)));
    } else if let Some(i) = input.downcast_ref::<GetItemInput>() {
        keys.extend(i.key.iter().map(|k| ("GetItem", k)));
    } else if let Some(i) = input.downcast_ref::<UpdateItemInput>() {
        keys.extend(i.key.iter().map(|k| ("UpdateItem", k)));
    } else if let Some(i) = input.downcast_ref::<TransactWriteItemsInput>() {
        for item in i.transact_items.iter().flatten() {
            let named = [
                item.delete.as_ref().map(|d| &d.key),
                item.update.as_ref().map(|u| &u.key),
                item.condition_check.as_ref().map(|c| &c.key),
            ];
            keys.extend(named.into_iter().flatten().map(|k| ("TransactWriteItems", k)));
        }
    } else if let Some(i) = input.downcast_ref::<TransactGetItemsInput>() {
        keys.extend(
            i.transact_items.iter().flatten().filter_map(|t| t.get.as_ref()).map(|g| ("TransactGetItems", &g.key)),
        );
    }
    keys
}

impl Intercept for StrictKeys {
    fn name(&self) -> &'static str {
        "StrictKeys"
    }

    fn read_before_execution(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        for (operation, key) in keys_of(context) {
            let exact = key.len() == KEY_ATTRIBUTES.len() && KEY_ATTRIBUTES.iter().all(|a| key.contains_key(*a));
            if !exact {
                let mut names: Vec<&String> = key.keys().collect();
                names.sort();
                return Err(format!(
                    "ValidationException (as DynamoDB answers; moto would not): {operation} names a key with the \
                     attributes {names:?}, not exactly {KEY_ATTRIBUTES:?}: The provided key element does not match \
                     the schema"
                )
                .into());
            }
        }
        Ok(())
    }
}

/// `client` (configured as the functions configure theirs) that also refuses what DynamoDB refuses ([`StrictKeys`]).
pub fn dynamodb_client(client: &aws_sdk_dynamodb::Client) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::from_conf(client.config().to_builder().interceptor(StrictKeys).build())
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::types::{DeleteRequest, WriteRequest};

    use super::*;

    fn key(extra: Option<&str>) -> Key {
        let mut key = Key::from([
            ("PK".to_owned(), AttributeValue::S("T#a".into())),
            ("SK".to_owned(), AttributeValue::S("Q#1".into())),
        ]);
        if let Some(name) = extra {
            key.insert(name.to_owned(), AttributeValue::S("calls".into()));
        }
        key
    }

    #[tokio::test]
    async fn a_batch_delete_with_more_than_the_key_is_refused_before_it_is_sent() {
        // No server behind the endpoint: a call the interceptor lets through fails to connect instead.
        let sdk = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url("http://127.0.0.1:9")
            .credentials_provider(aws_sdk_dynamodb::config::SharedCredentialsProvider::new(
                aws_sdk_dynamodb::config::Credentials::new("t", "t", None, None, "test"),
            ))
            .build();
        let client = dynamodb_client(&aws_sdk_dynamodb::Client::new(&sdk));
        let delete = |extra| {
            WriteRequest::builder()
                .delete_request(DeleteRequest::builder().set_key(Some(key(extra))).build().unwrap())
                .build()
        };
        let refused = client.batch_write_item().request_items("t", vec![delete(None), delete(Some("channel"))]);
        let error = format!("{:?}", refused.send().await.unwrap_err());
        assert!(error.contains("does not match the schema") && error.contains("channel"), "{error}");
        let plain = client.batch_write_item().request_items("t", vec![delete(None)]).send().await.unwrap_err();
        assert!(!format!("{plain:?}").contains("does not match the schema"), "{plain:?}");
        let get = client.get_item().table_name("t").set_key(Some(key(Some("x")))).send().await.unwrap_err();
        assert!(format!("{get:?}").contains("does not match the schema"));
    }
}
