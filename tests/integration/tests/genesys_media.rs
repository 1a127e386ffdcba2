//! Genesys Cloud queues by channel (issue 13, "what the mapping screens see"): every Genesys queue has media
//! settings for calls, chats and emails, so a queue's chat and email channels are listed only once the ACD showed
//! traffic for them. Against a voice-only org of the Genesys simulator (`media: [voice]`, `genesys-sim --media
//! voice`), through the real import (moto) and the real `GET /queues` of the queries API: every queue is listed as
//! calls and no chat or email queue appears, although the queue listing carries settings for every medium (as
//! Genesys Cloud's does: `all_media_settings`) and the import stores those channels, waiting for traffic.

use std::time::Duration;

use acd_app::http::TenantAuth;
use acd_app::import::{ImportConfig, ImportEvent, RunOutcome};
use acd_aws::items::QueueItem;
use acd_aws::wiring;
use acd_connectors::{Deadline, Endpoints};
use acd_integration_tests::{ImportEnv, api_request, decode};
use acd_simulators::genesys::{GenesysSimConfig, GenesysSimulator, MediaType};
use chrono::{DateTime, Utc};
use serde_dynamo::aws_sdk_dynamodb_1::from_items;
use serde_json::json;

#[tokio::test]
async fn a_voice_only_org_lists_no_chat_or_email_queues() {
    let now: DateTime<Utc> = "2024-05-10T09:07:00Z".parse().unwrap();
    let sim = GenesysSimulator::start(GenesysSimConfig {
        now: Some(now),
        history_days: 3,
        queues: 6,
        media: Some(vec![MediaType::Voice]),
        all_media_settings: true,
        ..GenesysSimConfig::default()
    })
    .await
    .unwrap();
    let env = ImportEnv::start(
        "tenant-voice",
        Endpoints::default()
            .with_var("GENESYS_CLOUD_API_BASE_URL", sim.base_url())
            .with_var("GENESYS_CLOUD_LOGIN_BASE_URL", sim.base_url()),
    )
    .await;

    let queue_ids = sim.queue_ids();
    for id in &queue_ids {
        assert_eq!(sim.queue_media(id), vec![MediaType::Voice], "{id}");
    }

    let body = json!({"name": "Voice only", "type": "genesys_cloud",
        "credentials": {"client_id": sim.client_id(), "client_secret": sim.client_secret()},
        "settings": {"region": "eu_central_1", "history_days": 2}});
    let (status, created) = env.call("POST", "/integrations", Some(&body)).await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let run = env
        .importer(ImportConfig { now: Some(now), ..ImportConfig::default() })
        .run(&ImportEvent { tenant_id: "tenant-voice".into(), integration_id: id.clone(), at_once: false }, deadline())
        .await
        .unwrap()
        .run
        .unwrap();
    assert_eq!(run.outcome, RunOutcome::Succeeded, "{run:?}");

    // The import stored the chat and email queues (the listing's settings name them), waiting for traffic.
    let items = env.query(format!("T#tenant-voice#I#{id}")).await;
    let items = items.into_iter().filter(|i| i["SK"].as_s().is_ok_and(|sk| sk.starts_with("Q#"))).collect();
    let stored: Vec<QueueItem> = from_items(items).unwrap();
    let mut channels: Vec<String> = stored.iter().map(|q| format!("{:?}", q.channel)).collect();
    channels.sort();
    channels.dedup();
    assert_eq!(channels, ["Calls", "Chats", "Emails"], "stored from the listing's settings");
    assert_eq!(stored.len(), 3 * queue_ids.len(), "three channels per queue stored");

    let queries =
        wiring::queues_query_api(&env.stack.settings, &env.stack.clients, TenantAuth::JwtClaim("tenant_id".into()));
    let path = format!("/queues?integration_id={id}&limit=100");
    let (status, _, page) = decode(queries.handle(api_request("GET", &path, Some("tenant-voice"), None)).await);
    assert_eq!(status, 200, "{page}");
    let items = page["items"].as_array().unwrap();
    let channels: Vec<&str> = items.iter().map(|q| q["channel"].as_str().unwrap()).collect();
    assert_eq!(items.len(), queue_ids.len(), "one calls queue per Genesys queue: {page}");
    assert!(channels.iter().all(|c| *c == "calls"), "no chat or email queue in a voice-only org: {channels:?}");
    // And they carry data: the calls were imported.
    assert!(items.iter().all(|q| q["data_from"].is_string()), "{page}");
}

fn deadline() -> Deadline {
    Deadline::after(Duration::from_secs(600))
}
