//! Composition: the application services wired to their AWS implementations. Used by the functions' `main`,
//! the tests and the local run, so all three run the same code.

use std::sync::Arc;

use acd_app::http::TenantAuth;
use acd_app::http::integrations::IntegrationsApi;
use acd_app::import::{ImportConfig, ImportService};
use acd_app::integrations::IntegrationService;
use acd_app::ports::CredentialVerifier;
use acd_connectors::ConnectorFactory;

use crate::import_store::DynamoImportStore;

use crate::{AwsClients, DynamoStore, EventBridgeSchedules, SecretsManagerStore, Settings};

pub fn dynamo_store(settings: &Settings, clients: &AwsClients) -> DynamoStore {
    DynamoStore {
        client: clients.dynamodb().clone(),
        table: settings.table_name.clone(),
        max_integrations: settings.max_integrations_per_tenant,
    }
}

pub fn secrets_store(settings: &Settings, clients: &AwsClients) -> SecretsManagerStore {
    SecretsManagerStore { client: clients.lazy_secrets(), prefix: settings.secret_prefix.clone() }
}

pub fn schedules(settings: &Settings, clients: &AwsClients) -> EventBridgeSchedules {
    EventBridgeSchedules {
        client: clients.lazy_scheduler(),
        settings: settings.clone(),
        lambda: Some(clients.lazy_lambda()),
    }
}

pub fn import_store(settings: &Settings, clients: &AwsClients) -> DynamoImportStore {
    let mut store = DynamoImportStore::new(clients.dynamodb().clone(), settings.table_name.clone());
    store.writes_in_flight = settings.writes_in_flight;
    store.hour_buckets = settings.hour_buckets;
    store.compact_segment_buckets = settings.compact_segment_buckets;
    store
}

/// The process's connector factory: one HTTP client, the vendors' endpoint overrides, and the service's own account
/// closed to customers' roles unless the settings allow it ([`Settings::account_closed_to_roles`]).
pub fn connector_factory(
    settings: &Settings,
    endpoints: acd_connectors::Endpoints,
) -> Result<ConnectorFactory, acd_connectors::ConnectorError> {
    let factory = ConnectorFactory::new(acd_connectors::HttpClient::new()?, endpoints);
    Ok(factory.with_service_account(settings.account_closed_to_roles()))
}

/// The import service with its AWS stores and the process's connector factory.
pub fn import_service(
    settings: &Settings,
    clients: &AwsClients,
    connectors: ConnectorFactory,
    config: ImportConfig,
) -> ImportService {
    // Every import run reads its integration's secret: that client is built now, with DynamoDB's.
    clients.secrets();
    let mut store = import_store(settings, clients);
    if let Some(n) = config.abort_after_batches {
        store.abort = crate::batch::AbortAfter::after(n);
    }
    ImportService::new(
        Arc::new(dynamo_store(settings, clients)),
        Arc::new(secrets_store(settings, clients)),
        Arc::new(store),
        connectors,
        config,
    )
    .with_events(Arc::new(event_publisher(settings, clients)))
    .with_schedules(Arc::new(schedules(settings, clients)))
}

/// Status-change events on the bus `EVENT_BUS_NAME` (default `default`).
pub fn event_publisher(settings: &Settings, clients: &AwsClients) -> crate::events::EventBridgePublisher {
    crate::events::EventBridgePublisher { client: clients.lazy_events(), bus: settings.event_bus_name.clone() }
}

pub fn integration_service(
    settings: &Settings,
    clients: &AwsClients,
    verifier: Arc<dyn CredentialVerifier>,
) -> IntegrationService {
    IntegrationService {
        repo: Arc::new(dynamo_store(settings, clients)),
        secrets: Arc::new(secrets_store(settings, clients)),
        schedules: Arc::new(schedules(settings, clients)),
        verifier,
        runs: Arc::new(import_store(settings, clients)),
        tokens: Arc::new(dynamo_store(settings, clients)),
        default_history_days: settings.default_history_days,
        trusted_account_id: settings.trusted_account_id.clone(),
        budgets: Default::default(),
        events: Some(Arc::new(event_publisher(settings, clients))),
    }
}

pub fn integrations_api(
    settings: &Settings,
    clients: &AwsClients,
    verifier: Arc<dyn CredentialVerifier>,
    auth: TenantAuth,
) -> IntegrationsApi {
    IntegrationsApi {
        service: integration_service(settings, clients, verifier),
        auth,
        scopes: settings.scopes.clone(),
        idempotency: Arc::new(dynamo_store(settings, clients)),
        ingest: ingest_admin(settings, clients),
    }
}

pub fn ingest_store(settings: &Settings, clients: &AwsClients) -> crate::ingest_store::DynamoIngestStore {
    crate::ingest_store::DynamoIngestStore::new(clients.dynamodb().clone(), settings.table_name.clone())
}

/// Creating `push` integrations and managing their ingest keys (routes of the integrations API).
pub fn ingest_admin(settings: &Settings, clients: &AwsClients) -> acd_app::ingest::IngestAdmin {
    acd_app::ingest::IngestAdmin {
        repo: Arc::new(dynamo_store(settings, clients)),
        store: Arc::new(ingest_store(settings, clients)),
        schedules: Arc::new(schedules(settings, clients)),
        config: settings.ingest.clone(),
        default_history_days: settings.default_history_days,
    }
}

/// The `ingest` function's API: pushed queues, intervals and agent events, authenticated by ingest keys.
pub fn ingest_api(settings: &Settings, clients: &AwsClients) -> acd_app::ingest::http::IngestApi {
    acd_app::ingest::http::IngestApi {
        service: acd_app::ingest::IngestService {
            repo: Arc::new(dynamo_store(settings, clients)),
            store: Arc::new(ingest_store(settings, clients)),
            config: settings.ingest.clone(),
            events: Some(Arc::new(event_publisher(settings, clients))),
        },
    }
}

/// The `queues-query` API: queues, intervals, agent states and mappings, all read from (and mappings written to)
/// the one table.
pub fn queues_query_api(
    settings: &Settings,
    clients: &AwsClients,
    auth: TenantAuth,
) -> acd_app::http::queries::QueriesApi {
    let store = Arc::new(dynamo_store(settings, clients));
    acd_app::http::queries::QueriesApi {
        queries: acd_app::query::QueryService::new(store.clone()),
        mappings: acd_app::mappings::MappingService { store },
        auth,
        scopes: settings.scopes.clone(),
    }
}
