//! BatchWriteItem in chunks of 25, with duplicate keys removed (last write wins), a bounded number of calls in
//! flight, and each call's unprocessed items retried with capped exponential back-off. Throttling errors
//! (`ProvisionedThroughputExceeded`, `ThrottlingException`, `RequestLimitExceeded`) are retried per call by the
//! SDK's standard retry strategy ([`crate::config::dynamodb_retry_config`]).
//!
//! Order: within one [`write_all`] each key appears once (duplicates are removed first), so the chunks may be
//! written in any order and concurrently; separate calls are sequential (each returns only when all its items are
//! written), which is what the import's digests and ranges rely on.

use std::collections::HashMap;
use std::time::Duration;

use acd_app::ports::StoreError;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, DeleteRequest, PutRequest, WriteRequest};
use futures::{StreamExt, stream};

use crate::dynamo::Item;
use crate::keys::{PK, SK};
use crate::sdk_error;

/// DynamoDB's limit of write requests per BatchWriteItem call.
pub const MAX_BATCH: usize = 25;
/// BatchWriteItem calls in flight at once unless configured (`DYNAMODB_WRITES_IN_FLIGHT`); see the README's
/// benchmark section for how it was chosen.
pub const DEFAULT_IN_FLIGHT: usize = 4;
/// The most calls in flight that may be configured (a Lambda of 128–512 MB has a fraction of a vCPU).
pub const MAX_IN_FLIGHT: usize = 32;
const MAX_ATTEMPTS: u32 = 10;
const BASE_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// What a flush did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchCounts {
    /// Requests sent (each item once, however often it was retried).
    pub requests: u64,
    /// BatchWriteItem calls, retries of unprocessed items included.
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

/// The key of an item, borrowed (no copies: this runs for every item written).
fn key_of(item: &Item) -> (&str, &str) {
    let text = |name: &str| match item.get(name) {
        Some(AttributeValue::S(s)) => s.as_str(),
        _ => "",
    };
    (text(PK), text(SK))
}

/// Puts and deletes as write requests, one per key: a later operation on a key replaces an earlier one
/// (deletes come before puts). A delete may be given a whole item: only its key is sent.
fn unique_requests(puts: Vec<Item>, deletes: Vec<Item>) -> Result<Vec<WriteRequest>, StoreError> {
    let deletes_len = deletes.len();
    let ops: Vec<Item> = deletes.into_iter().chain(puts).collect();
    let mut keep = vec![true; ops.len()];
    {
        let mut last: HashMap<(&str, &str), usize> = HashMap::with_capacity(ops.len());
        for (i, item) in ops.iter().enumerate() {
            if let Some(earlier) = last.insert(key_of(item), i) {
                keep[earlier] = false;
            }
        }
    }
    let backend = |e: aws_sdk_dynamodb::error::BuildError| StoreError::Backend(e.to_string());
    let mut requests = Vec::with_capacity(ops.len());
    for (i, (mut item, keep)) in ops.into_iter().zip(keep).enumerate() {
        if !keep {
            continue;
        }
        let request = if i < deletes_len {
            // A delete names the key only: DynamoDB refuses the whole call ("The provided key element does not match
            // the schema") for a key with any other attribute, and callers may hand whole items (until 2026-12-07 a
            // queue rename's name-index deletes carried their channel, and failed every import of the integration).
            item.retain(|name, _| name == PK || name == SK);
            WriteRequest::builder()
                .delete_request(DeleteRequest::builder().set_key(Some(item)).build().map_err(backend)?)
        } else {
            WriteRequest::builder().put_request(PutRequest::builder().set_item(Some(item)).build().map_err(backend)?)
        };
        requests.push(request.build());
    }
    Ok(requests)
}

/// Writes puts and deletes, at most `in_flight` BatchWriteItem calls at a time. Duplicate keys keep the last
/// operation; order across keys is irrelevant. Returns when every item is written, or with the first error (the
/// calls still in flight are then dropped: the caller treats the whole write as failed).
pub async fn write_all(
    client: &Client,
    table: &str,
    puts: Vec<Item>,
    deletes: Vec<Item>,
    in_flight: usize,
    abort: &AbortAfter,
) -> Result<BatchCounts, StoreError> {
    let requests = unique_requests(puts, deletes)?;
    let total = requests.len() as u64;
    let mut chunks = Vec::with_capacity(requests.len().div_ceil(MAX_BATCH));
    let mut rest = requests.into_iter();
    loop {
        let chunk: Vec<WriteRequest> = rest.by_ref().take(MAX_BATCH).collect();
        if chunk.is_empty() {
            break;
        }
        chunks.push(chunk);
    }
    // After a failure no new call starts, but the calls in flight are awaited: when this returns, nothing of it
    // can still land in the table (a dropped request may already be on its way).
    let failed = std::sync::atomic::AtomicBool::new(false);
    let failed = &failed;
    let results: Vec<Result<u64, StoreError>> = stream::iter(chunks.into_iter().map(|chunk| async move {
        if failed.load(std::sync::atomic::Ordering::SeqCst) {
            return Ok(0);
        }
        let result = write_chunk(client, table, chunk, abort).await;
        if result.is_err() {
            failed.store(true, std::sync::atomic::Ordering::SeqCst);
        }
        result
    }))
    .buffer_unordered(in_flight.clamp(1, MAX_IN_FLIGHT))
    .collect()
    .await;
    let mut calls = 0;
    for result in results {
        calls += result?;
    }
    Ok(BatchCounts { requests: total, calls })
}

/// How long to wait before the `attempt`th retry of unprocessed items: exponential up to [`MAX_BACKOFF`], plus up to
/// half of that again at random, so that the calls in flight that met the same throttled partitions do not retry in
/// step and meet again (until 2026-12-07 every call waited the same; the import-store review found it). The jitter
/// is added, not taken out of the wait: a write keeps retrying at least as long as before.
fn retry_wait(attempt: u32) -> Duration {
    use rand::RngExt as _;
    let backoff = BASE_BACKOFF.saturating_mul(1 << attempt.min(10)).min(MAX_BACKOFF);
    backoff + (backoff / 2).mul_f64(rand::rng().random::<f64>())
}

/// One chunk of at most 25 requests, its unprocessed items retried until written; returns the calls it took.
async fn write_chunk(
    client: &Client,
    table: &str,
    mut pending: Vec<WriteRequest>,
    abort: &AbortAfter,
) -> Result<u64, StoreError> {
    let mut calls = 0;
    let mut attempt = 0;
    loop {
        abort.take()?;
        calls += 1;
        let out = client
            .batch_write_item()
            .request_items(table, pending)
            .send()
            .await
            .map_err(|e| sdk_error("BatchWriteItem", e))?;
        pending = out.unprocessed_items.and_then(|mut m| m.remove(table)).unwrap_or_default();
        if pending.is_empty() {
            return Ok(calls);
        }
        attempt += 1;
        if attempt >= MAX_ATTEMPTS {
            return Err(StoreError::Backend(format!(
                "{} items still unprocessed after {attempt} attempts",
                pending.len()
            )));
        }
        let backoff = retry_wait(attempt);
        tracing::debug!(
            unprocessed = pending.len(),
            attempt,
            backoff_ms = backoff.as_millis() as u64,
            "retrying unprocessed items"
        );
        tokio::time::sleep(backoff).await;
    }
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
        let counts = write_all(&client, "t", puts, vec![], 1, &AbortAfter::default()).await.unwrap();
        assert_eq!(counts, BatchCounts { requests: 60, calls: 3 });
        assert_eq!(*sizes.lock().unwrap(), vec![25, 25, 10]);
    }

    #[test]
    fn retries_wait_exponentially_plus_up_to_half_at_random() {
        for attempt in 1..MAX_ATTEMPTS {
            let backoff = BASE_BACKOFF.saturating_mul(1 << attempt).min(MAX_BACKOFF);
            let waits: Vec<Duration> = (0..50).map(|_| retry_wait(attempt)).collect();
            assert!(waits.iter().all(|w| *w >= backoff && *w <= backoff * 3 / 2), "attempt {attempt}: {waits:?}");
            let distinct: std::collections::HashSet<&Duration> = waits.iter().collect();
            assert!(distinct.len() > 40, "calls in flight must not retry in step: {waits:?}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_delete_given_a_whole_item_sends_only_its_key() {
        let sent = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = sent.clone();
        let rule = mock!(aws_sdk_dynamodb::Client::batch_write_item)
            .match_requests(move |r| {
                for w in &r.request_items().unwrap()["t"] {
                    let mut names: Vec<String> = w.delete_request().unwrap().key().keys().cloned().collect();
                    names.sort();
                    seen.lock().unwrap().push(names);
                }
                true
            })
            .then_output(|| BatchWriteItemOutput::builder().build());
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&rule]);
        let deletes = vec![item("p", "a", "with a value"), item("p", "b", "too")];
        write_all(&client, "t", vec![], deletes, 1, &AbortAfter::default()).await.unwrap();
        let key = vec![PK.to_owned(), SK.to_owned()];
        assert_eq!(*sent.lock().unwrap(), vec![key.clone(), key], "DynamoDB refuses a key with other attributes");
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
        let counts = write_all(&client, "t", puts, vec![], 1, &AbortAfter::default()).await.unwrap();
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
        let err =
            write_all(&client, "t", vec![item("p", "s", "v")], vec![], 1, &AbortAfter::default()).await.unwrap_err();
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
        let err = write_all(&client, "t", puts, vec![], 1, &AbortAfter::after(2)).await.unwrap_err();
        assert!(err.to_string().contains("aborted"));
        assert_eq!(rule.num_calls(), 2);
    }

    /// The keys of a batch's put requests, sorted.
    fn put_keys(requests: &[WriteRequest]) -> Vec<String> {
        let mut keys: Vec<String> =
            requests.iter().filter_map(|w| w.put_request()).map(|p| key_of(p.item()).1.to_string()).collect();
        keys.sort();
        keys
    }

    #[tokio::test(start_paused = true)]
    async fn each_call_retries_its_own_unprocessed_items_while_others_are_in_flight() {
        use std::sync::{Arc, Mutex};
        // Every chunk's first call leaves its first 3 items unprocessed; their retry carries exactly those.
        let written = Arc::new(Mutex::new(Vec::<String>::new()));
        let retried = Arc::new(Mutex::new(std::collections::HashSet::<String>::new()));
        let (w, r) = (written.clone(), retried.clone());
        let rule = mock!(aws_sdk_dynamodb::Client::batch_write_item).then_compute_output(move |input| {
            let requests = &input.request_items().unwrap()["t"];
            let keys = put_keys(requests);
            let mut retried = r.lock().unwrap();
            let first_call = !keys.iter().any(|k| retried.contains(k));
            let unprocessed: Vec<WriteRequest> =
                if first_call && requests.len() > 3 { requests[..3].to_vec() } else { vec![] };
            let left = put_keys(&unprocessed);
            retried.extend(left.iter().cloned());
            w.lock().unwrap().extend(keys.into_iter().filter(|k| !left.contains(k)));
            let mut out = BatchWriteItemOutput::builder();
            if !unprocessed.is_empty() {
                out = out.unprocessed_items("t", unprocessed);
            }
            out.build()
        });
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&rule]);
        let puts: Vec<Item> = (0..100).map(|i| item("p", &format!("s{i:03}"), "v")).collect();
        let counts = write_all(&client, "t", puts, vec![], 4, &AbortAfter::default()).await.unwrap();
        // 4 chunks, each written in 2 calls.
        assert_eq!(counts, BatchCounts { requests: 100, calls: 8 });
        let mut written = written.lock().unwrap().clone();
        written.sort();
        let expected: Vec<String> = (0..100).map(|i| format!("s{i:03}")).collect();
        assert_eq!(written, expected, "every item written exactly once");
    }

    #[tokio::test]
    async fn throttled_calls_are_retried_by_the_dynamodb_retry_strategy() {
        let throttled = r#"{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"The level of configured provisioned throughput for the table was exceeded."}"#;
        let rule = mock!(aws_sdk_dynamodb::Client::batch_write_item)
            .sequence()
            .http_status(400, Some(throttled.to_owned()))
            .times(3)
            .output(|| BatchWriteItemOutput::builder().build())
            .build();
        let retry = crate::config::dynamodb_retry_config().with_initial_backoff(Duration::from_millis(1));
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, [&rule], |c| c.retry_config(retry.clone()));
        let puts: Vec<Item> = (0..10).map(|i| item("p", &format!("s{i}"), "v")).collect();
        let counts = write_all(&client, "t", puts, vec![], 4, &AbortAfter::default()).await.unwrap();
        assert_eq!(counts, BatchCounts { requests: 10, calls: 1 });
        assert_eq!(rule.num_calls(), 4, "three throttled attempts, then written");
    }

    #[tokio::test]
    async fn throttling_beyond_the_retry_budget_fails_the_write() {
        let throttled =
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException","message":"Rate exceeded"}"#;
        let rule = mock!(aws_sdk_dynamodb::Client::batch_write_item)
            .sequence()
            .http_status(400, Some(throttled.to_owned()))
            .repeatedly()
            .build();
        let retry = crate::config::dynamodb_retry_config().with_initial_backoff(Duration::from_millis(1));
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, [&rule], |c| c.retry_config(retry.clone()));
        let err =
            write_all(&client, "t", vec![item("p", "s", "v")], vec![], 4, &AbortAfter::default()).await.unwrap_err();
        assert!(err.to_string().contains("ThrottlingException"), "{err}");
        assert_eq!(rule.num_calls(), crate::config::DYNAMODB_MAX_ATTEMPTS as usize);
    }

    /// A real HTTP endpoint answering BatchWriteItem after a delay, counting the calls in flight.
    #[tokio::test(flavor = "current_thread")]
    async fn at_most_the_configured_number_of_calls_are_in_flight() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};
        for in_flight in [1usize, 3, 8] {
            let (now, peak, calls) =
                (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
            let (n, p, c) = (now.clone(), peak.clone(), calls.clone());
            let app = axum::Router::new().fallback(move || {
                let (n, p, c) = (n.clone(), p.clone(), c.clone());
                async move {
                    let current = n.fetch_add(1, Ordering::SeqCst) + 1;
                    p.fetch_max(current, Ordering::SeqCst);
                    c.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    n.fetch_sub(1, Ordering::SeqCst);
                    ([("content-type", "application/x-amz-json-1.0")], "{}")
                }
            });
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let url = format!("http://{}", listener.local_addr().unwrap());
            let server = tokio::spawn(async move { axum::serve(listener, app).await });
            let conf = aws_sdk_dynamodb::Config::builder()
                .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
                .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
                .credentials_provider(aws_sdk_dynamodb::config::Credentials::for_tests())
                .endpoint_url(url)
                .build();
            let client = Client::from_conf(conf);
            let puts: Vec<Item> = (0..250).map(|i| item("p", &format!("s{i}"), "v")).collect();
            let counts = write_all(&client, "t", puts, vec![], in_flight, &AbortAfter::default()).await.unwrap();
            server.abort();
            assert_eq!(counts, BatchCounts { requests: 250, calls: 10 });
            assert_eq!(calls.load(Ordering::SeqCst), 10);
            assert_eq!(peak.load(Ordering::SeqCst), in_flight, "{in_flight} in flight");
        }
    }
}
