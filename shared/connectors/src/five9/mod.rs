//! Scaffolding only: the real connector is being written (issue 3). Every call fails with a configuration error.

use acd_domain::{AgentSegment, ExternalAgent, ExternalStatus, Five9Settings, IntervalStats, Queue, TimeWindow};
use async_trait::async_trait;
use secrecy::SecretString;

use crate::{CallCounter, Connector, ConnectorError, Deadline, Endpoints, HttpClient};

pub struct Five9Connector {
    calls: CallCounter,
}

impl Five9Connector {
    pub fn new(
        _http: HttpClient,
        _endpoints: &Endpoints,
        _settings: Five9Settings,
        _username: String,
        _password: SecretString,
    ) -> Self {
        Self { calls: CallCounter::default() }
    }
}

fn unbuilt<T>() -> Result<T, ConnectorError> {
    Err(ConnectorError::Configuration { message: "connector not built yet".into() })
}

#[async_trait]
impl Connector for Five9Connector {
    async fn verify(&self, _deadline: Deadline) -> Result<(), ConnectorError> {
        unbuilt()
    }
    async fn list_queues(&self, _deadline: Deadline) -> Result<Vec<Queue>, ConnectorError> {
        unbuilt()
    }
    async fn interval_stats(
        &self,
        _q: &[Queue],
        _w: TimeWindow,
        _d: Deadline,
    ) -> Result<Vec<IntervalStats>, ConnectorError> {
        unbuilt()
    }
    async fn list_agents(&self, _deadline: Deadline) -> Result<Vec<ExternalAgent>, ConnectorError> {
        unbuilt()
    }
    async fn list_statuses(&self, _deadline: Deadline) -> Result<Vec<ExternalStatus>, ConnectorError> {
        unbuilt()
    }
    async fn agent_segments(
        &self,
        _a: &[ExternalAgent],
        _w: TimeWindow,
        _d: Deadline,
    ) -> Result<Vec<AgentSegment>, ConnectorError> {
        unbuilt()
    }
    fn max_window(&self) -> chrono::Duration {
        chrono::Duration::days(1)
    }
    fn calls_made(&self) -> u64 {
        self.calls.get()
    }
}
