//! The SOAP transport: one operation sent, retried within the deadline, its fault mapped to a typed error.

use super::*;
use crate::http::RequestTimeout;

/// A response element and the server's `Date` header.
type Answer = (Element, Option<DateTime<Utc>>);

impl Five9Connector {
    /// One operation, retried on transient failures; faults mapped to typed errors. Returns the response element
    /// and the server's `Date` header.
    pub(super) async fn call(
        &self,
        operation: &str,
        children: &[Node],
        deadline: Deadline,
    ) -> Result<Answer, ConnectorError> {
        match self.call_raw(operation, children, deadline).await? {
            Ok(r) => Ok(r),
            Err(fault) => Err(map_fault(&fault)),
        }
    }

    /// Like [`Self::call`] but hands back non-transient faults for the caller to inspect.
    pub(super) async fn call_raw(
        &self,
        operation: &str,
        children: &[Node],
        deadline: Deadline,
    ) -> Result<Result<Answer, Fault>, ConnectorError> {
        let body = soap::envelope(operation, children);
        self.retried(deadline, || self.send_once(operation, body.clone(), deadline)).await
    }

    /// One SOAP exchange retried within the deadline: transient failures and faults that map to `Unavailable` are
    /// retried; other faults come back as `Ok(Err(fault))`; rate limits end the call, never retried here (see
    /// module docs).
    pub(super) async fn retried<T, F, Fut>(
        &self,
        deadline: Deadline,
        attempt: F,
    ) -> Result<Result<T, Fault>, ConnectorError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<Result<T, Fault>, ConnectorError>>,
    {
        let outcome = with_retry(self.opts.retry, deadline, || {
            let exchange = attempt();
            async move {
                match exchange.await {
                    Ok(Ok(r)) => Ok(Ok(Ok(r))),
                    Ok(Err(fault)) => match map_fault(&fault) {
                        e @ (ConnectorError::Unavailable { .. } | ConnectorError::Busy { .. }) => Err(e),
                        _ => Ok(Ok(Err(fault))),
                    },
                    Err(e @ ConnectorError::RateLimited { .. }) => Ok(Err(e)),
                    Err(e) => Err(e),
                }
            }
        })
        .await;
        match outcome {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(e)) | Err(e) => Err(e),
        }
    }

    /// [`Self::fetch_report_once`] retried like [`Self::call_raw`].
    pub(super) async fn fetch_report(
        &self,
        identifier: &str,
        deadline: Deadline,
    ) -> Result<Result<String, Fault>, ConnectorError> {
        self.retried(deadline, || self.fetch_report_once(identifier, deadline)).await
    }

    pub(super) async fn send_once(
        &self,
        operation: &str,
        body: String,
        deadline: Deadline,
    ) -> Result<Result<Answer, Fault>, ConnectorError> {
        let timeout = RequestTimeout::Total(self.opts.request_timeout);
        let (status, date, text) = self.exchange(operation, body, deadline, timeout).await?;
        match soap::parse_reply(&text, operation) {
            Ok(Reply::Response(el)) if status.is_success() => Ok(Ok((el, date))),
            Ok(Reply::Response(_)) => Err(ConnectorError::unavailable(format!("{operation}: HTTP {status}"))),
            Ok(Reply::Fault(f)) => Ok(Err(f)),
            Err(e) if status.is_success() => Err(ConnectorError::malformed(format!("{operation} response: {}", e.0))),
            Err(_) => Err(ConnectorError::unavailable(format!("{operation}: HTTP {status} without a SOAP fault"))),
        }
    }

    /// `getReportResultCsv` once: the whole body (one buffer, read in place later by [`soap::open_report_csv`]), or
    /// the fault. Only the start of the body is looked at here (to tell a fault from a result). A download that
    /// keeps receiving bytes is bounded by the deadline alone, one that stalls by
    /// [`Five9Options::report_idle_timeout`] ([`RequestTimeout::Idle`]).
    pub(super) async fn fetch_report_once(
        &self,
        identifier: &str,
        deadline: Deadline,
    ) -> Result<Result<String, Fault>, ConnectorError> {
        const OPERATION: &str = "getReportResultCsv";
        let body = soap::envelope(OPERATION, &[Node::text("identifier", identifier)]);
        let timeout = RequestTimeout::Idle(self.opts.report_idle_timeout);
        let (status, _, text) = self.exchange(OPERATION, body, deadline, timeout).await?;
        if !status.is_success() {
            return match soap::parse_reply(&text, OPERATION) {
                Ok(Reply::Fault(f)) => Ok(Err(f)),
                _ => Err(ConnectorError::unavailable(format!("{OPERATION}: HTTP {status} without a SOAP fault"))),
            };
        }
        match soap::open_report_csv(&text) {
            Ok(soap::ReportReply::Csv(_)) => Ok(Ok(text)),
            Ok(soap::ReportReply::Fault(f)) => Ok(Err(f)),
            Err(e) => Err(ConnectorError::malformed(format!("{OPERATION} response: {}", e.0))),
        }
    }

    /// One HTTP exchange under the connector's lock, bounded by `timeout` and the deadline: the status, the `Date`
    /// header and the body (read into one buffer; strictly UTF-8 for a 2xx, else malformed). Statuses that carry no
    /// SOAP answer (401, 403, 429, other non-2xx but 500) are mapped to errors here.
    pub(super) async fn exchange(
        &self,
        operation: &str,
        body: String,
        deadline: Deadline,
        timeout: RequestTimeout,
    ) -> Result<(reqwest::StatusCode, Option<DateTime<Utc>>, String), ConnectorError> {
        let guard = tokio::time::timeout(deadline.remaining(), self.lock.lock())
            .await
            .map_err(|_| ConnectorError::DeadlineExceeded)?;
        let request = self
            .http
            .reqwest()
            .post(&self.url)
            .header(reqwest::header::CONTENT_TYPE, "text/xml;charset=UTF-8")
            .header("SOAPAction", "\"\"")
            .basic_auth(&self.username, Some(self.password.expose_secret()))
            .body(body);
        let past_deadline = |e: ConnectorError| if deadline.is_past() { ConnectorError::DeadlineExceeded } else { e };
        let response = self.http.send_with(request, deadline, &self.calls, timeout).await.map_err(past_deadline)?;
        let status = response.status();
        let date = response
            .headers()
            .get(reqwest::header::DATE)
            .and_then(|d| d.to_str().ok())
            .and_then(|d| DateTime::parse_from_rfc2822(d).ok())
            .map(|d| d.with_timezone(&Utc));
        let retry_after = crate::http::retry_after(response.headers());
        let read_failed = |e: ConnectorError| {
            let why = match e {
                ConnectorError::Unavailable { message } => message,
                other => other.to_string(),
            };
            past_deadline(ConnectorError::unavailable(format!("reading the {operation} response failed: {why}")))
        };
        // One buffer, sized by Content-Length when given (a report result can be tens of MB: no second copy).
        let mut response = response;
        let mut buf = Vec::with_capacity(response.content_length().unwrap_or(0).min(256 << 20) as usize);
        while crate::http::read_chunk(&mut response, &mut buf, timeout).await.map_err(read_failed)? {}
        drop(guard);
        if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
            return Err(ConnectorError::CredentialsRejected);
        }
        if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            return Err(ConnectorError::RateLimited { retry_after });
        }
        if status.is_success() {
            // Strictly UTF-8 (the web service's encoding): bytes that are not would be replaced without a word, and
            // two agents or campaigns whose names differ only there would become one.
            let text = String::from_utf8(buf).map_err(|e| {
                ConnectorError::malformed(format!(
                    "{operation}: the response is not UTF-8 (at byte {})",
                    e.utf8_error().valid_up_to()
                ))
            })?;
            return Ok((status, date, text));
        }
        if status == reqwest::StatusCode::INTERNAL_SERVER_ERROR {
            // Read only for a SOAP fault (no data is taken from it): bytes that are not UTF-8 (an application
            // server's or proxy's Latin-1 error page) are replaced, and a body without a fault is `Unavailable`.
            let text = String::from_utf8(buf).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
            return Ok((status, date, text));
        }
        if status.is_server_error() {
            return Err(ConnectorError::unavailable(format!("{operation}: HTTP {status}")));
        }
        Err(ConnectorError::unavailable(format!("{operation}: unexpected HTTP {status}")))
    }
}

/// Maps a SOAP fault to a typed error, by the detail element's local name.
pub(super) fn map_fault(f: &Fault) -> ConnectorError {
    let name = f.name.as_deref().unwrap_or("");
    let message: String = f.message().chars().take(200).collect();
    match name {
        "AccessDisallowedFault" => ConnectorError::PermissionMissing {
            message: format!("{message} (the API user needs the ADMIN and REPORTING roles)"),
        },
        "OperationsLimitExceededFault" => {
            tracing::warn!(
                operation_type = f.detail_text("operationType").unwrap_or(""),
                limit = f.detail_text("limit").unwrap_or(""),
                "Five9 API limit exceeded"
            );
            ConnectorError::RateLimited { retry_after: None }
        }
        "ReportNotFoundFault" => ConnectorError::Configuration {
            message: format!(
                "report not found: {}/{}",
                f.detail_text("folder").unwrap_or("?"),
                f.detail_text("reportName").unwrap_or("?")
            ),
        },
        "InvalidAccountFault" => ConnectorError::CredentialsRejected,
        // Assumed to be how Five9 refuses a concurrent request of the same user (not verified): another integration
        // or tool using this API user right now, not a fault of this integration.
        "UserAlreadyLoggedInFault" => ConnectorError::Busy {
            message: format!(
                "Five9 {name}: {message} (another integration or tool is using this API user; give each integration \
                 its own user)"
            ),
        },
        "ServiceUnavailableFault" | "ServerFault" | "AdminSessionClosedFault" | "SessionClosedFault" => {
            ConnectorError::unavailable(format!("Five9 {name}: {message}"))
        }
        "UnknownIdentifierFault" | "ResultIsNotReadyFault" => {
            ConnectorError::malformed(format!("Five9 {name} for a report it had just started: {message}"))
        }
        "IncorrectArgumentFault" | "MissedArgumentFault" | "InvalidRegexpPatternFault" | "ObjectNotFoundFault" => {
            ConnectorError::Configuration { message: format!("Five9 {name}: {message}") }
        }
        // A fault of the SOAP `Client` class (JAX-WS answers a request that does not fit the schema so, without a
        // detail) refuses the request itself: sent again unchanged it is refused again, so it is not retried. The
        // two sides disagree on the wire format: malformed, like an answer that does not fit it.
        other if is_client_fault(&f.code) => {
            let name = if other.is_empty() { String::new() } else { format!(" {other}") };
            ConnectorError::malformed(format!("Five9 refused the request (SOAP Client fault{name}): {message}"))
        }
        "" => ConnectorError::unavailable(format!("Five9 fault without detail: {message}")),
        other => ConnectorError::unavailable(format!("Five9 {other}: {message}")),
    }
}

/// Whether a SOAP 1.1 `faultcode` (a qualified name such as `env:Client` or `soap:Client.Validation`) is of the
/// `Client` class.
fn is_client_fault(code: &str) -> bool {
    let local = code.rsplit_once(':').map_or(code, |(_, local)| local);
    local.split('.').next() == Some("Client")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_faults_are_told_by_the_local_name_of_their_code() {
        for code in ["env:Client", "soap:Client", "Client", "S:Client.Validation"] {
            assert!(is_client_fault(code), "{code}");
        }
        for code in ["env:Server", "soap:Server.Busy", "", "env:ClientX", "Clients"] {
            assert!(!is_client_fault(code), "{code}");
        }
    }
}
