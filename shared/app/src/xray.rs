//! X-Ray subsegments from `tracing` spans, sent to the Lambda X-Ray daemon (issue 13, Tracing).
//!
//! With `Tracing: Active` Lambda records a segment per invocation and hands the function its trace header in
//! `_X_AMZN_TRACE_ID` (`Root=1-…;Parent=…;Sampled=1`, set per invocation by `lambda_runtime`) and the daemon's
//! address in `AWS_XRAY_DAEMON_ADDRESS`. This layer turns three kinds of spans into subsegments of that segment
//! and sends each, when its span closes, as one UDP datagram (`{"format":"json","version":1}` + newline + the
//! subsegment document, the daemon protocol):
//!
//! - the AWS SDK's operation spans (`DynamoDB.PutItem`, `Secrets Manager.GetSecretValue`…, target `aws_sdk_*`,
//!   fields `rpc.service` / `rpc.method`): namespace `aws`, `aws.operation`; their HTTP status comes from an event
//!   of target [`TARGET`] with field `xray_status` that the SDK interceptor in `acd_aws` emits after each attempt;
//! - vendor calls (`acd_connectors::http::HttpClient::send`, span `vendor_call` of target [`TARGET`], fields
//!   `xray.name` = the ACD's host, `http.method`, `http.url` without query, `http.status`, `xray.fault`):
//!   namespace `remote`.
//!
//! Error flags follow the document format: `throttle` + `error` for 429, `error` for other 4xx, `fault` for 5xx
//! and for a call that got no answer. Nothing else is recorded: no headers, no bodies, no query strings, so no
//! credential or token can reach a document.
//!
//! Not in Lambda, without a daemon address, or for an unsampled invocation the layer is not installed or sends
//! nothing, and the spans it would read are `debug` spans that no other layer enables: a no-op.

use std::fmt::Write as _;
use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use rand::RngExt as _;
use serde_json::{Value, json};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

/// The target of the vendor-call spans and of the SDK interceptor's status events.
pub const TARGET: &str = "acd_xray";

/// The parts of an X-Ray trace header this layer needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceHeader {
    pub root: String,
    pub parent: String,
    pub sampled: bool,
}

impl TraceHeader {
    /// Parses `Root=1-…;Parent=…;Sampled=1` (other keys ignored); `None` without a root or a parent.
    pub fn parse(header: &str) -> Option<Self> {
        let (mut root, mut parent, mut sampled) = (None, None, false);
        for part in header.split(';') {
            match part.trim().split_once('=') {
                Some(("Root", v)) => root = Some(v.to_owned()),
                Some(("Parent", v)) => parent = Some(v.to_owned()),
                Some(("Sampled", v)) => sampled = v == "1",
                _ => {}
            }
        }
        Some(Self { root: root?, parent: parent?, sampled })
    }
}

/// The UDP address in `AWS_XRAY_DAEMON_ADDRESS` (`host:port`, or `tcp:host:port udp:host:port`).
pub fn daemon_address(value: &str) -> Option<SocketAddr> {
    let udp = value.split_whitespace().find_map(|p| p.strip_prefix("udp:")).unwrap_or(value.trim());
    udp.to_socket_addrs().ok()?.next()
}

type TraceSource = Arc<dyn Fn() -> Option<TraceHeader> + Send + Sync>;

/// The layer; see the module docs.
pub struct XrayLayer {
    socket: UdpSocket,
    daemon: SocketAddr,
    trace: TraceSource,
}

impl XrayLayer {
    /// Sends to `daemon`, under the trace header `trace` gives when a top-level traced span opens.
    pub fn new(
        daemon: SocketAddr,
        trace: impl Fn() -> Option<TraceHeader> + Send + Sync + 'static,
    ) -> std::io::Result<Self> {
        let bind: SocketAddr = if daemon.is_ipv6() { "[::]:0" } else { "0.0.0.0:0" }.parse().expect("address");
        let socket = UdpSocket::bind(bind)?;
        socket.set_nonblocking(true)?;
        Ok(Self { socket, daemon, trace: Arc::new(trace) })
    }

    /// The layer for a Lambda function, sending to the daemon at `daemon` (`AWS_XRAY_DAEMON_ADDRESS`, read at
    /// start-up into [`crate::telemetry::Logging`]); `None` when the address is not usable. The trace header is
    /// per invocation: the runtime sets `_X_AMZN_TRACE_ID` before each one, so it is read per span.
    pub fn for_lambda(daemon: &str) -> Option<Self> {
        let daemon = daemon_address(daemon)?;
        let trace = || std::env::var("_X_AMZN_TRACE_ID").ok().and_then(|h| TraceHeader::parse(&h));
        Self::new(daemon, trace).ok()
    }

    fn send(&self, document: &Value) {
        let datagram = format!("{{\"format\":\"json\",\"version\":1}}\n{document}");
        // Best effort, never blocking: a lost subsegment must not slow or fail the function.
        let _ = self.socket.send_to(datagram.as_bytes(), self.daemon);
    }
}

/// Whether this layer reads the span or event (its per-layer filter).
pub fn is_traced(metadata: &Metadata<'_>) -> bool {
    if metadata.target() == TARGET {
        return true;
    }
    metadata.is_span() && metadata.target().starts_with("aws_sdk_") && metadata.fields().field("rpc.service").is_some()
}

/// One open subsegment.
struct Open {
    id: String,
    root: String,
    parent: String,
    start: f64,
    fields: Fields,
}

#[derive(Default)]
struct Fields {
    service: Option<String>,
    operation: Option<String>,
    name: Option<String>,
    method: Option<String>,
    url: Option<String>,
    status: Option<u64>,
    fault: bool,
    region: Option<String>,
    table_name: Option<String>,
    request_id: Option<String>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        let value = value.to_owned();
        match field.name() {
            "rpc.service" => self.service = Some(value),
            "rpc.method" => self.operation = Some(value),
            "xray.name" => self.name = Some(value),
            "http.method" => self.method = Some(value),
            "http.url" => self.url = Some(value),
            "xray_region" if !value.is_empty() => self.region = Some(value),
            "xray_table_name" => self.table_name = Some(value),
            "xray_request_id" => self.request_id = Some(value),
            _ => {}
        }
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        if matches!(field.name(), "http.status" | "xray_status") {
            self.status = Some(value);
        }
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.record_u64(field, value.max(0) as u64);
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        if matches!(field.name(), "xray.fault" | "xray_fault") {
            self.fault |= value;
        }
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let mut text = String::new();
        let _ = write!(text, "{value:?}");
        self.record_str(field, text.trim_matches('"'));
    }
}

fn now_seconds() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or_default()
}

fn new_id() -> String {
    format!("{:016x}", rand::rng().random::<u64>())
}

impl<S> Layer<S> for XrayLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        // The parent: the enclosing traced span, else the invocation's segment.
        let enclosing =
            span.scope().skip(1).find_map(|s| s.extensions().get::<Open>().map(|o| (o.root.clone(), o.id.clone())));
        let (root, parent) = match enclosing {
            Some(found) => found,
            None => match (self.trace)() {
                Some(header) if header.sampled => (header.root, header.parent),
                _ => return,
            },
        };
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        span.extensions_mut().insert(Open { id: new_id(), root, parent, start: now_seconds(), fields });
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id)
            && let Some(open) = span.extensions_mut().get_mut::<Open>()
        {
            values.record(&mut open.fields);
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        if event.metadata().target() != TARGET {
            return;
        }
        if let Some(span) = ctx.event_span(event)
            && let Some(open) = span.extensions_mut().get_mut::<Open>()
        {
            event.record(&mut open.fields);
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        let Some(open) = span.extensions_mut().remove::<Open>() else { return };
        self.send(&document(&open, now_seconds()));
    }
}

/// The subsegment document of a closed span.
fn document(open: &Open, end: f64) -> Value {
    let f = &open.fields;
    let aws = f.service.is_some();
    let name = if aws { f.service.clone() } else { f.name.clone() }.unwrap_or_else(|| "call".into());
    let mut doc = json!({
        "name": name,
        "id": open.id,
        "trace_id": open.root,
        "parent_id": open.parent,
        "start_time": open.start,
        "end_time": end,
        "type": "subsegment",
        "namespace": if aws { "aws" } else { "remote" },
    });
    if aws {
        let mut fields = json!({ "operation": f.operation.clone().unwrap_or_default() });
        if let Some(region) = &f.region {
            fields["region"] = json!(region);
        }
        match f.table_name.as_deref().map(|t| t.split(',').collect::<Vec<_>>()) {
            Some(tables) if tables.len() == 1 => fields["table_name"] = json!(tables[0]),
            Some(tables) => fields["table_names"] = json!(tables),
            None => {}
        }
        if let Some(request_id) = &f.request_id {
            fields["request_id"] = json!(request_id);
        }
        doc["aws"] = fields;
    }
    let mut http = json!({});
    if f.method.is_some() || f.url.is_some() {
        http["request"] = json!({ "method": f.method, "url": f.url });
    }
    if let Some(status) = f.status {
        http["response"] = json!({ "status": status });
    }
    if http.as_object().is_some_and(|o| !o.is_empty()) {
        doc["http"] = http;
    }
    let status = f.status.unwrap_or(0);
    if status == 429 {
        doc["throttle"] = json!(true);
    }
    if (400..500).contains(&status) {
        doc["error"] = json!(true);
    }
    if status >= 500 || f.fault {
        doc["fault"] = json!(true);
    }
    doc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_headers_and_daemon_addresses_parse() {
        let h = TraceHeader::parse("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1");
        assert_eq!(
            h,
            Some(TraceHeader {
                root: "1-5759e988-bd862e3fe1be46a994272793".into(),
                parent: "53995c3f42cd8ad8".into(),
                sampled: true
            })
        );
        assert!(!TraceHeader::parse("Root=1-a-b;Parent=c;Sampled=0").unwrap().sampled);
        assert_eq!(TraceHeader::parse("Root=1-a-b;Sampled=1"), None);
        assert_eq!(daemon_address("169.254.79.129:2000"), Some("169.254.79.129:2000".parse().unwrap()));
        assert_eq!(daemon_address("tcp:127.0.0.1:2000 udp:127.0.0.2:2001"), Some("127.0.0.2:2001".parse().unwrap()));
        assert_eq!(daemon_address("nonsense"), None);
    }

    #[test]
    fn error_flags_follow_the_status() {
        let open = |status: Option<u64>, fault: bool| Open {
            id: "a".repeat(16),
            root: "1-a-b".into(),
            parent: "p".repeat(16),
            start: 1.0,
            fields: Fields { name: Some("api.example".into()), status, fault, ..Fields::default() },
        };
        let d = document(&open(Some(429), false), 2.0);
        assert_eq!(
            (d["throttle"].clone(), d["error"].clone(), d["fault"].clone()),
            (json!(true), json!(true), Value::Null)
        );
        let d = document(&open(Some(503), false), 2.0);
        assert_eq!((d["error"].clone(), d["fault"].clone()), (Value::Null, json!(true)));
        let d = document(&open(None, true), 2.0);
        assert_eq!(d["fault"], json!(true));
        let d = document(&open(Some(200), false), 2.0);
        assert_eq!((d["namespace"].clone(), d["http"]["response"]["status"].clone()), (json!("remote"), json!(200)));
        assert!(d.get("error").is_none() && d.get("fault").is_none());
    }
}
