//! BatchWriteItem in chunks of 25, with duplicate keys removed (last write wins) and unprocessed items retried
//! with capped exponential back-off.

use std::collections::HashMap;
use std::time::Duration;

use acd_app::ports::StoreError;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, DeleteRequest, PutRequest, WriteRequest};

use crate::dynamo::Item;
use crate::keys::{PK, SK};
use crate::sdk_error;

/// DynamoDB's limit of write requests per BatchWriteItem call.
pub const MAX_BATCH: usize = 25;
const MAX_ATTEMPTS: u32 = 10;
const BASE_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// What a flush did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchCounts {
    /// Requests sent (each item once, however often it was retried).
    pub requests: u64,
    /// BatchWriteItem calls, retries included.
    pub calls: u64,
}

/// A failure budget for tests: the writer fails once this many calls were made (a run "killed" mid-way).
#[derive(Debug, Clone, Default)]
pub struct AbortAfter(pub Option<std::sync::Arc<std::sync::atomic::AtomicI64>>);

impl AbortAfter {
    pub fn after(calls: u64) -> Self {
        Self(Some(std::sync::Arc::new(std::sync::atomic::AtomicI64::new(calls as i64))))
    }
    fn take(&self) -> Result<(), StoreError> {
        if let Some(left) = &self.0
            && left.fetch_sub(1, std::sync::atomic::Ordering::SeqCst) <= 0
        {
            return Err(StoreError::Backend("aborted by the test hook (simulated crash)".into()));
        }
        Ok(())
    }
}

fn key_of(item: &Item) -> (String, String) {
    let text = |name: &str| match item.get(name) {
        Some(AttributeValue::S(s)) => s.clone(),
        _ => String::new(),
    };
    (text(PK), text(SK))
}

/// Writes puts and deletes. Duplicate keys keep the last operation; order across keys is irrelevant.
pub async fn write_all(
    client: &Client,
    table: &str,
    puts: Vec<Item>,
    deletes: Vec<Item>,
    abort: &AbortAfter,
) -> Result<BatchCounts, StoreError> {
    let mut by_key: HashMap<(String, String), WriteRequest> = HashMap::new();
    let mut order: Vec<(String, String)> = Vec::new();
    let mut add = |key: (String, String), request: WriteRequest| {
        if by_key.insert(key.clone(), request).is_none() {
            order.push(key);
        }
    };
    for key in deletes {
        let request = WriteRequest::builder()
            .delete_request(
                DeleteRequest::builder()
                    .set_key(Some(key.clone()))
                    .build()
                    .map_err(|e| StoreError::Backend(e.to_string()))?,
            )
            .build();
        add(key_of(&key), request);
    }
    for item in puts {
        let k = key_of(&item);
        let request = WriteRequest::builder()
            .put_request(
                PutRequest::builder().set_item(Some(item)).build().map_err(|e| StoreError::Backend(e.to_string()))?,
            )
            .build();
        add(k, request);
    }
    let requests: Vec<WriteRequest> = order.into_iter().filter_map(|k| by_key.remove(&k)).collect();
    let mut counts = BatchCounts { requests: requests.len() as u64, calls: 0 };
    for chunk in requests.chunks(MAX_BATCH) {
        let mut pending = chunk.to_vec();
        let mut attempt = 0;
        while !pending.is_empty() {
            abort.take()?;
            counts.calls += 1;
            let out = client
                .batch_write_item()
                .request_items(table, std::mem::take(&mut pending))
                .send()
                .await
                .map_err(|e| sdk_error("BatchWriteItem", e))?;
            pending = out.unprocessed_items.and_then(|mut m| m.remove(table)).unwrap_or_default();
            if pending.is_empty() {
                break;
            }
            attempt += 1;
            if attempt >= MAX_ATTEMPTS {
                return Err(StoreError::Backend(format!(
                    "{} items still unprocessed after {attempt} attempts",
                    pending.len()
                )));
            }
            let backoff = BASE_BACKOFF.saturating_mul(1 << attempt.min(10)).min(MAX_BACKOFF);
            tracing::debug!(
                unprocessed = pending.len(),
                attempt,
                backoff_ms = backoff.as_millis() as u64,
                "retrying unprocessed items"
            );
            tokio::time::sleep(backoff).await;
        }
    }
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::operation::batch_write_item::BatchWriteItemOutput;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    fn item(pk: &str, sk: &str, v: &str) -> Item {
        HashMap::from([
            (PK.to_owned(), AttributeValue::S(pk.into())),
            (SK.to_owned(), AttributeValue::S(sk.into())),
            ("v".to_owned(), AttributeValue::S(v.into())),
        ])
    }

    #[tokio::test(start_paused = true)]
    async fn chunks_of_25_with_duplicates_removed() {
        let sizes = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = sizes.clone();
        let rule = mock!(aws_sdk_dynamodb::Client::batch_write_item)
            .match_requests(move |r| {
                let n = r.request_items().and_then(|m| m.get("t")).map_or(0, Vec::len);
                seen.lock().unwrap().push(n);
                // DynamoDB refuses two requests for one key in a call.
                let keys: std::collections::HashSet<_> = r.request_items().unwrap()["t"]
                    .iter()
                    .map(|w| format!("{:?}", w.put_request().map(|p| p.item().get("SK").cloned())))
                    .collect();
                assert_eq!(keys.len(), n, "duplicate keys in one batch");
                true
            })
            .then_output(|| BatchWriteItemOutput::builder().build());
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&rule]);
        let mut puts: Vec<Item> = (0..60).map(|i| item("p", &format!("s{i}"), "old")).collect();
        puts.extend((0..10).map(|i| item("p", &format!("s{i}"), "new")));
        let counts = write_all(&client, "t", puts, vec![], &AbortAfter::default()).await.unwrap();
        assert_eq!(counts, BatchCounts { requests: 60, calls: 3 });
        assert_eq!(*sizes.lock().unwrap(), vec![25, 25, 10]);
    }

    #[tokio::test(start_paused = true)]
    async fn unprocessed_items_are_retried_until_written() {
        let unprocessed = |n: usize| {
            let reqs: Vec<WriteRequest> = (0..n)
                .map(|i| {
                    WriteRequest::builder()
                        .put_request(
                            PutRequest::builder().set_item(Some(item("p", &format!("u{i}"), "x"))).build().unwrap(),
                        )
                        .build()
                })
                .collect();
            BatchWriteItemOutput::builder().unprocessed_items("t", reqs).build()
        };
        let first = mock!(aws_sdk_dynamodb::Client::batch_write_item).then_output(move || unprocessed(7));
        let second = mock!(aws_sdk_dynamodb::Client::batch_write_item).then_output(move || unprocessed(2));
        let third =
            mock!(aws_sdk_dynamodb::Client::batch_write_item).then_output(|| BatchWriteItemOutput::builder().build());
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, [&first, &second, &third]);
        let puts: Vec<Item> = (0..20).map(|i| item("p", &format!("s{i}"), "v")).collect();
        let counts = write_all(&client, "t", puts, vec![], &AbortAfter::default()).await.unwrap();
        assert_eq!(counts, BatchCounts { requests: 20, calls: 3 });
        assert_eq!(first.num_calls() + second.num_calls() + third.num_calls(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn items_that_stay_unprocessed_fail_the_write_after_capped_retries() {
        let rule = mock!(aws_sdk_dynamodb::Client::batch_write_item).then_output(|| {
            let req = WriteRequest::builder()
                .put_request(PutRequest::builder().set_item(Some(item("p", "s", "v"))).build().unwrap())
                .build();
            BatchWriteItemOutput::builder().unprocessed_items("t", vec![req]).build()
        });
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&rule]);
        let started = tokio::time::Instant::now();
        let err = write_all(&client, "t", vec![item("p", "s", "v")], vec![], &AbortAfter::default()).await.unwrap_err();
        assert!(err.to_string().contains("unprocessed"), "{err}");
        assert_eq!(rule.num_calls(), MAX_ATTEMPTS as usize);
        // Back-off is capped: 9 waits, none above 2 s.
        assert!(started.elapsed() <= MAX_BACKOFF * 9, "{:?}", started.elapsed());
        assert!(started.elapsed() >= Duration::from_secs(5));
    }

    #[tokio::test(start_paused = true)]
    async fn the_abort_hook_fails_after_the_given_number_of_calls() {
        let rule =
            mock!(aws_sdk_dynamodb::Client::batch_write_item).then_output(|| BatchWriteItemOutput::builder().build());
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&rule]);
        let puts: Vec<Item> = (0..100).map(|i| item("p", &format!("s{i}"), "v")).collect();
        let err = write_all(&client, "t", puts, vec![], &AbortAfter::after(2)).await.unwrap_err();
        assert!(err.to_string().contains("aborted"));
        assert_eq!(rule.num_calls(), 2);
    }
}
