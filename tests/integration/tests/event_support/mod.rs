//! Status-change events as a subscriber sees them: a rule forwards the default bus's events with source
//! `acd-integrations` to an SQS queue of the same moto, read back over moto's SQS query API (`ops.rs`, `ingest.rs`).

use acd_test_harness::AwsStack;
use serde_json::{Value, json};

/// One SQS query-API call to moto (unsigned; moto routes by the credential scope and checks no signature).
async fn sqs(endpoint: &str, params: &[(&str, &str)]) -> String {
    let mut form: Vec<(&str, &str)> = vec![("Version", "2012-11-05")];
    form.extend_from_slice(params);
    let response = reqwest::Client::new()
        .post(endpoint)
        .header(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=testing/20261130/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=0",
        )
        .form(&form)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "SQS {params:?}: {}", response.status());
    response.text().await.unwrap()
}

fn xml_unescape(s: &str) -> String {
    s.replace("&quot;", "\"").replace("&lt;", "<").replace("&gt;", ">").replace("&#39;", "'").replace("&amp;", "&")
}

/// A queue receiving every event of the default bus with source `acd-integrations`.
pub async fn event_queue(stack: &AwsStack) -> String {
    let endpoint = &stack.moto.endpoint;
    let created = sqs(endpoint, &[("Action", "CreateQueue"), ("QueueName", "status-events")]).await;
    let url = created.split("<QueueUrl>").nth(1).and_then(|s| s.split("</QueueUrl>").next()).unwrap().to_owned();
    let events = stack.clients.events();
    events
        .put_rule()
        .name("acd-status")
        .event_bus_name("default")
        .event_pattern(json!({"source": [acd_aws::events::SOURCE]}).to_string())
        .send()
        .await
        .unwrap();
    let target = aws_sdk_eventbridge::types::Target::builder()
        .id("queue")
        .arn("arn:aws:sqs:us-east-1:123456789012:status-events")
        .build()
        .unwrap();
    events.put_targets().rule("acd-status").event_bus_name("default").targets(target).send().await.unwrap();
    url
}

/// The events delivered to the queue so far (EventBridge envelopes), oldest first.
pub async fn received(stack: &AwsStack, queue_url: &str) -> Vec<Value> {
    let mut out = Vec::new();
    loop {
        let params = [("Action", "ReceiveMessage"), ("QueueUrl", queue_url), ("MaxNumberOfMessages", "10")];
        let xml = sqs(&stack.moto.endpoint, &params).await;
        let bodies: Vec<Value> = xml
            .split("<Body>")
            .skip(1)
            .map(|s| serde_json::from_str(&xml_unescape(s.split("</Body>").next().unwrap())).unwrap())
            .collect();
        if bodies.is_empty() {
            return out;
        }
        out.extend(bodies);
    }
}
