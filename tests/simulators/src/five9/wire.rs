//! Five9's wire format as the simulator speaks it: request envelopes checked against the WSDL's sequences,
//! response envelopes (`env` / `ns2` prefixes like Five9's JAX-WS stack), SOAP faults, 401/403 HTML pages and the
//! report CSVs.

use std::borrow::Cow;

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use quick_xml::escape::{escape, resolve_predefined_entity};
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;

use super::data::{Call, Stretch, World};

pub const SOAP_ENV_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";
pub const ADMIN_NS: &str = "http://service.admin.ws.five9.com/";

/// A request element (children unqualified per `elementFormDefault="unqualified"`).
#[derive(Debug, Clone, Default)]
pub struct ReqElement {
    /// Resolved namespace (`None` = unqualified).
    pub ns: Option<String>,
    pub local: String,
    pub text: String,
    pub children: Vec<ReqElement>,
}

impl ReqElement {
    pub fn child(&self, name: &str) -> Option<&ReqElement> {
        self.children.iter().find(|c| c.local == name)
    }
    pub fn text_of(&self, name: &str) -> Option<&str> {
        self.child(name).map(|c| c.text.as_str())
    }
}

/// Why a request was refused as a client error.
#[derive(Debug, Clone)]
pub struct ClientError(pub String);

/// Parses a request envelope; returns the operation element (in the admin namespace).
pub fn parse_request(xml: &str) -> Result<ReqElement, ClientError> {
    let mut reader = NsReader::from_str(xml);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<ReqElement> = Vec::new();
    let mut root: Option<ReqElement> = None;
    loop {
        let (ns, ev) = reader.read_resolved_event().map_err(|e| ClientError(format!("Unmarshalling Error: {e}")))?;
        let ns = match ns {
            ResolveResult::Bound(n) => Some(AsRef::<str>::as_ref(&n).to_owned()),
            ResolveResult::Unbound => None,
            ResolveResult::Unknown(p) => return Err(ClientError(format!("Unmarshalling Error: unbound prefix {p}"))),
        };
        match ev {
            Event::Start(e) => {
                let local = AsRef::<str>::as_ref(&e.local_name()).to_owned();
                stack.push(ReqElement { ns, local, ..Default::default() });
            }
            Event::Empty(e) => {
                let local = AsRef::<str>::as_ref(&e.local_name()).to_owned();
                let el = ReqElement { ns, local, ..Default::default() };
                attach(&mut stack, &mut root, el);
            }
            Event::End(_) => {
                let el = stack.pop().ok_or_else(|| ClientError("Unmarshalling Error: unbalanced".into()))?;
                attach(&mut stack, &mut root, el);
            }
            Event::Text(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&t.xml10_content());
                }
            }
            Event::CData(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&t.xml10_content());
                }
            }
            Event::GeneralRef(r) => {
                let s: Cow<str> = if r.is_char_ref() {
                    match r.resolve_char_ref() {
                        Ok(Some(c)) => c.to_string().into(),
                        _ => return Err(ClientError("Unmarshalling Error: bad character reference".into())),
                    }
                } else {
                    resolve_predefined_entity(&r)
                        .map(Cow::Borrowed)
                        .ok_or_else(|| ClientError("Unmarshalling Error: unknown entity".into()))?
                };
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&s);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !stack.is_empty() {
        return Err(ClientError("Unmarshalling Error: premature end of file".into()));
    }
    let envelope = root.ok_or_else(|| ClientError("Unmarshalling Error: no content".into()))?;
    if envelope.ns.as_deref() != Some(SOAP_ENV_NS) || envelope.local != "Envelope" {
        return Err(ClientError("not a SOAP 1.1 envelope".into()));
    }
    let body = envelope
        .children
        .into_iter()
        .find(|c| c.local == "Body" && c.ns.as_deref() == Some(SOAP_ENV_NS))
        .ok_or_else(|| ClientError("no SOAP Body".into()))?;
    let op = body.children.into_iter().next().ok_or_else(|| ClientError("empty SOAP Body".into()))?;
    if op.ns.as_deref() != Some(ADMIN_NS) {
        return Err(ClientError(format!("operation {} is not in namespace {ADMIN_NS}", op.local)));
    }
    Ok(op)
}

fn attach(stack: &mut [ReqElement], root: &mut Option<ReqElement>, el: ReqElement) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(el),
        None => *root = Some(el),
    }
}

/// Checks an element's children against a WSDL `xs:sequence`: `(name, min, max)` in schema order. Children must be
/// unqualified, known, in order, and within their occurrence bounds.
pub fn check_sequence(el: &ReqElement, seq: &[(&str, usize, usize)]) -> Result<(), ClientError> {
    let mut pos = 0;
    let mut counts = vec![0usize; seq.len()];
    for c in &el.children {
        if c.ns.is_some() {
            return Err(ClientError(format!(
                "Unmarshalling Error: unexpected element (uri:\"{ADMIN_NS}\", local:\"{}\"). Children are unqualified",
                c.local
            )));
        }
        match seq.iter().skip(pos).position(|(n, _, _)| *n == c.local) {
            Some(i) => {
                pos += i;
                counts[pos] += 1;
                if counts[pos] > seq[pos].2 {
                    return Err(ClientError(format!("Unmarshalling Error: too many <{}>", c.local)));
                }
            }
            None => {
                let expected: Vec<String> = seq.iter().skip(pos).map(|(n, _, _)| format!("<{{}}{n}>")).collect();
                return Err(ClientError(format!(
                    "Unmarshalling Error: unexpected element (uri:\"\", local:\"{}\"). Expected elements are {}",
                    c.local,
                    expected.join(",")
                )));
            }
        }
    }
    for (i, (n, min, _)) in seq.iter().enumerate() {
        if counts[i] < *min {
            return Err(ClientError(format!("Unmarshalling Error: missing required element <{n}>")));
        }
    }
    Ok(())
}

/// A response element tree to serialise (children unqualified).
pub enum Out {
    Text(&'static str, String),
    Elem(&'static str, Vec<Out>),
}

impl Out {
    pub fn text(name: &'static str, value: impl ToString) -> Out {
        Out::Text(name, value.to_string())
    }
}

fn write(out: &mut String, nodes: &[Out]) {
    for n in nodes {
        match n {
            Out::Text(name, v) => {
                out.push_str(&format!("<{name}>{}</{name}>", escape(v.as_str())));
            }
            Out::Elem(name, children) => {
                out.push_str(&format!("<{name}>"));
                write(out, children);
                out.push_str(&format!("</{name}>"));
            }
        }
    }
}

/// `<env:Envelope …><env:Header/><env:Body><ns2:{op}Response xmlns:ns2=…>…</ns2:{op}Response></env:Body></env:Envelope>`
pub fn response(op: &str, children: &[Out]) -> String {
    let mut s = format!(
        "<?xml version='1.0' encoding='UTF-8'?><env:Envelope xmlns:env=\"{SOAP_ENV_NS}\"><env:Header/><env:Body>\
         <ns2:{op}Response xmlns:ns2=\"{ADMIN_NS}\">"
    );
    write(&mut s, children);
    s.push_str(&format!("</ns2:{op}Response></env:Body></env:Envelope>"));
    s
}

/// A SOAP 1.1 fault with `detail/ns2:{name}` holding `fields` (in the fault type's sequence order) — `message`
/// is among them where the type has it.
pub fn fault(code: &str, faultstring: &str, name: &str, fields: &[Out]) -> String {
    let mut s = format!(
        "<?xml version='1.0' encoding='UTF-8'?><env:Envelope xmlns:env=\"{SOAP_ENV_NS}\"><env:Header/><env:Body>\
         <env:Fault><faultcode>env:{code}</faultcode><faultstring>{}</faultstring><detail>\
         <ns2:{name} xmlns:ns2=\"{ADMIN_NS}\">",
        escape(faultstring)
    );
    write(&mut s, fields);
    s.push_str(&format!("</ns2:{name}></detail></env:Fault></env:Body></env:Envelope>"));
    s
}

/// A fault whose type has only `message`.
pub fn simple_fault(name: &str, message: &str) -> String {
    fault("Server", message, name, &[Out::text("message", message)])
}

/// A client (unmarshalling) fault without detail, as JAX-WS answers schema violations.
pub fn client_fault(message: &str) -> String {
    format!(
        "<?xml version='1.0' encoding='UTF-8'?><env:Envelope xmlns:env=\"{SOAP_ENV_NS}\"><env:Header/><env:Body>\
         <env:Fault><faultcode>env:Client</faultcode><faultstring>{}</faultstring></env:Fault></env:Body></env:Envelope>",
        escape(message)
    )
}

/// The HTML error page served for 401 / 403 / 5xx (Five9's front end answers these outside SOAP).
pub fn html_error(status: u16, reason: &str) -> String {
    format!(
        "<html><head><meta http-equiv=\"Content-Type\" content=\"text/html;charset=utf-8\"/><title>Error {status} \
         {reason}</title></head><body><h2>HTTP ERROR {status}</h2><p>Problem accessing /wsadmin/v13/AdminWebService. \
         Reason:<pre>    {reason}</pre></p><hr/></body></html>"
    )
}

/// Parses an `xs:dateTime`: with an offset (`Z`, `±HH:MM`) it is exact; without one it is read in the domain's zone
/// (ambiguous wall times take the earlier instant, like Five9's documented default-zone reading).
pub fn parse_xs_datetime(raw: &str, tz: Tz) -> Option<DateTime<Utc>> {
    let raw = raw.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Some(t.with_timezone(&Utc));
    }
    let naive = NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M:%S%.f").ok()?;
    tz.from_local_datetime(&naive).earliest().map(|t| t.with_timezone(&Utc))
}

/// `Mon, 25 Nov 2024 13:05:10` in the domain's zone, without an offset.
pub fn five9_timestamp(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz).format("%a, %d %b %Y %H:%M:%S").to_string()
}

pub fn hms(secs: u64) -> String {
    format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
}

fn csv_string(rows: impl FnOnce(&mut csv::Writer<Vec<u8>>) -> csv::Result<()>) -> String {
    let mut w = csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(Vec::new());
    // Writing to a Vec cannot fail except on programming errors; an empty CSV would show up in tests.
    let _ = rows(&mut w);
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}

/// The Call Log CSV (with a SKILL column after CAMPAIGN when `with_skill`), rows in arrival order.
pub fn call_log_csv(world: &World, calls: &[Call], with_skill: bool, limit: usize) -> String {
    let tz = world.tz();
    csv_string(|w| {
        let mut header = vec!["CALL ID", "TIMESTAMP", "CAMPAIGN"];
        if with_skill {
            header.push("SKILL");
        }
        header.extend([
            "CALL TYPE",
            "AGENT",
            "AGENT NAME",
            "DISPOSITION",
            "ANI",
            "DNIS",
            "CALL TIME",
            "IVR TIME",
            "QUEUE WAIT TIME",
            "RING TIME",
            "TALK TIME",
            "HOLD TIME",
            "PARK TIME",
            "AFTER CALL WORK TIME",
            "TRANSFERS",
            "CONFERENCES",
            "HOLDS",
            "ABANDONED",
        ]);
        w.write_record(&header)?;
        for c in calls.iter().take(limit) {
            let agent = c.agent.map(|a| &world.agents[a]);
            let call_time = c.ivr_secs + c.queue_wait_secs + c.ring_secs + c.talk_secs;
            let mut rec: Vec<String> =
                vec![c.id.to_string(), five9_timestamp(c.at, tz), world.campaigns[c.campaign].name.clone()];
            if with_skill {
                rec.push(c.skill.map(|s| world.skills[s].name.clone()).unwrap_or_else(|| "[None]".into()));
            }
            rec.extend([
                if c.inbound { "Inbound".to_owned() } else { "Outbound".to_owned() },
                agent.map(|a| a.user_name.clone()).unwrap_or_else(|| "[None]".into()),
                agent.map(|a| a.full_name()).unwrap_or_default(),
                c.disposition.to_owned(),
                c.ani.clone(),
                c.dnis.clone(),
                hms(call_time),
                hms(c.ivr_secs),
                hms(c.queue_wait_secs),
                hms(c.ring_secs),
                hms(c.talk_secs),
                hms(c.hold_secs),
                hms(0),
                hms(c.acw_secs),
                "0".into(),
                "0".into(),
                if c.hold_secs > 0 { "1".into() } else { "0".into() },
                if c.abandoned { "1".into() } else { "0".into() },
            ]);
            w.write_record(&rec)?;
        }
        Ok(())
    })
}

/// One Agent State Details row (before CSV): the row's timestamp and duration as Five9 writes them.
pub struct StateRowOut<'a> {
    pub stretch: &'a Stretch,
    pub at: DateTime<Utc>,
    pub secs: u64,
}

/// The Agent State Details CSV, rows sorted by agent then time.
pub fn agent_state_csv(world: &World, rows: &[StateRowOut<'_>], limit: usize) -> String {
    let tz = world.tz();
    csv_string(|w| {
        w.write_record([
            "AGENT",
            "AGENT NAME",
            "AGENT FIRST NAME",
            "AGENT LAST NAME",
            "AGENT ID",
            "DATE",
            "TIMESTAMP",
            "STATE",
            "REASON CODE",
            "AGENT STATE TIME",
            "CALL TYPE",
            "SKILL AVAILABILITY",
        ])?;
        for r in rows.iter().take(limit) {
            let a = &world.agents[r.stretch.agent];
            let local = r.at.with_timezone(&tz);
            w.write_record([
                a.user_name.clone(),
                a.full_name(),
                a.first_name.clone(),
                a.last_name.clone(),
                a.id.to_string(),
                local.format("%a, %d %b %Y").to_string(),
                five9_timestamp(r.at, tz),
                r.stretch.state.to_owned(),
                r.stretch.reason.unwrap_or("").to_owned(),
                hms(r.secs),
                if r.stretch.state == "On Call" { "Inbound".into() } else { String::new() },
                if r.stretch.state == "Ready" { "Sales, Support".into() } else { String::new() },
            ])?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_checked_against_the_schema_sequence() {
        let ok = r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:ser="http://service.admin.ws.five9.com/"><soapenv:Header/><soapenv:Body><ser:runReport><folderName>A &amp; B</folderName><reportName>R</reportName><criteria><time><end>2024-11-03T00:00:00.000-07:00</end><start>2024-11-02T00:00:00.000-07:00</start></time></criteria></ser:runReport></soapenv:Body></soapenv:Envelope>"#;
        let op = parse_request(ok).unwrap();
        assert_eq!(op.local, "runReport");
        assert_eq!(op.text_of("folderName"), Some("A & B"));
        check_sequence(&op, &[("folderName", 0, 1), ("reportName", 0, 1), ("criteria", 0, 1)]).unwrap();
        let time = op.child("criteria").unwrap().child("time").unwrap();
        assert!(check_sequence(time, &[("end", 0, 1), ("start", 0, 1)]).is_ok());
        assert!(check_sequence(time, &[("start", 0, 1), ("end", 0, 1)]).is_err());
        let qualified = ok.replace("<folderName>A &amp; B</folderName>", "<ser:folderName>A</ser:folderName>");
        let op = parse_request(&qualified).unwrap();
        assert!(check_sequence(&op, &[("folderName", 0, 1), ("reportName", 0, 1), ("criteria", 0, 1)]).is_err());
    }

    #[test]
    fn criteria_times_with_and_without_offsets() {
        let tz = chrono_tz::America::Los_Angeles;
        let a = parse_xs_datetime("2024-11-03T01:30:00.000-08:00", tz).unwrap();
        assert_eq!(a.to_rfc3339(), "2024-11-03T09:30:00+00:00");
        let b = parse_xs_datetime("2024-11-03T01:30:00.000", tz).unwrap();
        assert_eq!(b.to_rfc3339(), "2024-11-03T08:30:00+00:00");
        assert_eq!(five9_timestamp(a, tz), "Sun, 03 Nov 2024 01:30:00");
        assert_eq!(hms(3723), "01:02:03");
    }
}
