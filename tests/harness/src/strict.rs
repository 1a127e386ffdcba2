//! What real DynamoDB refuses and moto lets through, refused in the tests too: an SDK interceptor on the tests'
//! DynamoDB client that fails a call before it is sent when a key it names holds attributes other than the table's
//! key (`PK`, `SK`), and when a batch or transaction breaks DynamoDB's limits (more than 25 writes in a
//! `BatchWriteItem`, 100 keys in a `BatchGetItem`, 100 actions in a transaction, or one item twice in any of them:
//! moto refuses only some — a `BatchGetItem` over 100 keys, two deletes or two identical puts of one item, two
//! actions of a transaction on one item — and takes 26 writes, or a put and a delete of one item, in one call). DynamoDB answers such a call `ValidationException` ("The provided key element does not match the
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

/// Refuses calls whose keys are not exactly the table's key, and batches and transactions over DynamoDB's limits or
/// naming an item twice, as DynamoDB does.
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

/// The `(PK, SK)` of a key or item, for finding one item named twice.
fn key_text(key: &Key) -> (String, String) {
    let text = |name| key.get(name).map(|v| format!("{v:?}")).unwrap_or_default();
    (text("PK"), text("SK"))
}

/// What DynamoDB refuses in a batch or a transaction: its size over the limit, or an item named twice (API
/// Reference: BatchWriteItem "up to 25 item put or delete operations" and "the same item" twice is a
/// `ValidationException`; BatchGetItem "up to 100 items"; TransactWriteItems and TransactGetItems "up to 100
/// actions", and no two of them on the same item).
fn batch_refusal(context: &BeforeSerializationInterceptorContextRef<'_>) -> Option<String> {
    let input = context.input();
    let (operation, limit, keys): (&str, usize, Vec<&Key>) =
        if let Some(i) = input.downcast_ref::<BatchWriteItemInput>() {
            let requests = i.request_items.iter().flat_map(|tables| tables.values().flatten());
            let keys = requests
                .filter_map(|r| r.put_request.as_ref().map(|p| &p.item).or(r.delete_request.as_ref().map(|d| &d.key)))
                .collect();
            ("BatchWriteItem", 25, keys)
        } else if let Some(i) = input.downcast_ref::<BatchGetItemInput>() {
            let keys = i.request_items.iter().flat_map(|tables| tables.values()).flat_map(|r| r.keys.iter()).collect();
            ("BatchGetItem", 100, keys)
        } else if let Some(i) = input.downcast_ref::<TransactWriteItemsInput>() {
            let keys = i
                .transact_items
                .iter()
                .flatten()
                .filter_map(|t| {
                    (t.put.as_ref().map(|p| &p.item))
                        .or(t.delete.as_ref().map(|d| &d.key))
                        .or(t.update.as_ref().map(|u| &u.key))
                        .or(t.condition_check.as_ref().map(|c| &c.key))
                })
                .collect();
            ("TransactWriteItems", 100, keys)
        } else if let Some(i) = input.downcast_ref::<TransactGetItemsInput>() {
            let keys = i.transact_items.iter().flatten().filter_map(|t| t.get.as_ref().map(|g| &g.key)).collect();
            ("TransactGetItems", 100, keys)
        } else {
            return None;
        };
    if keys.len() > limit {
        return Some(format!("{operation} with {} items or actions, more than DynamoDB's {limit}", keys.len()));
    }
    let mut seen = std::collections::HashSet::new();
    keys.into_iter()
        .map(key_text)
        .find(|k| !seen.insert(k.clone()))
        .map(|(pk, sk)| format!("{operation} names the item {pk} {sk} twice"))
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
        if let Some(refusal) = batch_refusal(context) {
            return Err(format!("ValidationException (as DynamoDB answers; moto would not): {refusal}").into());
        }
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
        let mut other = delete(None);
        if let Some(d) = other.delete_request.as_mut() {
            d.key.insert("SK".into(), AttributeValue::S("Q#2".into()));
        }
        let refused = client.batch_write_item().request_items("t", vec![other, delete(Some("channel"))]);
        let error = format!("{:?}", refused.send().await.unwrap_err());
        assert!(error.contains("does not match the schema") && error.contains("channel"), "{error}");
        let plain = client.batch_write_item().request_items("t", vec![delete(None)]).send().await.unwrap_err();
        assert!(!format!("{plain:?}").contains("does not match the schema"), "{plain:?}");
        let get = client.get_item().table_name("t").set_key(Some(key(Some("x")))).send().await.unwrap_err();
        assert!(format!("{get:?}").contains("does not match the schema"));
        // One item twice, and more than 25 writes.
        let twice = client.batch_write_item().request_items("t", vec![delete(None), delete(None)]).send().await;
        assert!(format!("{:?}", twice.unwrap_err()).contains("twice"));
        let puts: Vec<WriteRequest> = (0..26)
            .map(|i| {
                let mut item = key(None);
                item.insert("SK".into(), AttributeValue::S(format!("Q#{i}")));
                WriteRequest::builder()
                    .put_request(aws_sdk_dynamodb::types::PutRequest::builder().set_item(Some(item)).build().unwrap())
                    .build()
            })
            .collect();
        let many = client.batch_write_item().request_items("t", puts).send().await;
        assert!(format!("{:?}", many.unwrap_err()).contains("more than DynamoDB's 25"));
    }
}
