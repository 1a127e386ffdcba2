//! SOAP 1.1 envelopes of Five9's admin web service: building requests (escaped, children in the WSDL's
//! `xs:sequence` order) and reading responses by namespace + local name (never by prefix).
//!
//! The reader turns the `Body` into a small element tree. Responses are small except `getReportResultCsv`, whose
//! single `return` text holds the whole CSV: [`open_report_csv`] reads that one in place, as a byte stream the CSV
//! parser consumes while unescaping (no copy of the CSV, no tree).

use std::borrow::Cow;

use quick_xml::escape::{escape, resolve_predefined_entity};
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;

/// Namespace of the SOAP 1.1 envelope.
pub const SOAP_ENV_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";
/// Namespace of Five9's admin web service (operation and fault elements; children are unqualified).
pub const ADMIN_NS: &str = "http://service.admin.ws.five9.com/";

/// One child element of a request operation: `<name>text</name>` or a nested element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Text(&'static str, String),
    Elem(&'static str, Vec<Node>),
}

impl Node {
    pub fn text(name: &'static str, value: impl Into<String>) -> Self {
        Node::Text(name, value.into())
    }
}

/// Builds a request envelope. `children` must already be in the WSDL's sequence order (the callers are written
/// against the schema; the simulator checks the order). Text is XML-escaped.
pub fn envelope(operation: &str, children: &[Node]) -> String {
    let mut out = String::with_capacity(256);
    out.push_str(r#"<?xml version="1.0" encoding="UTF-8"?>"#);
    out.push_str(r#"<soapenv:Envelope xmlns:soapenv=""#);
    out.push_str(SOAP_ENV_NS);
    out.push_str(r#"" xmlns:ser=""#);
    out.push_str(ADMIN_NS);
    out.push_str(r#""><soapenv:Header/><soapenv:Body>"#);
    if children.is_empty() {
        out.push_str(&format!("<ser:{operation}/>"));
    } else {
        out.push_str(&format!("<ser:{operation}>"));
        write_nodes(&mut out, children);
        out.push_str(&format!("</ser:{operation}>"));
    }
    out.push_str("</soapenv:Body></soapenv:Envelope>");
    out
}

fn write_nodes(out: &mut String, nodes: &[Node]) {
    for node in nodes {
        match node {
            Node::Text(name, value) => {
                out.push('<');
                out.push_str(name);
                out.push('>');
                out.push_str(&escape(value.as_str()));
                out.push_str("</");
                out.push_str(name);
                out.push('>');
            }
            Node::Elem(name, children) => {
                out.push('<');
                out.push_str(name);
                out.push('>');
                write_nodes(out, children);
                out.push_str("</");
                out.push_str(name);
                out.push('>');
            }
        }
    }
}

/// An element of a response, namespace resolved. `ns` is `None` for unqualified elements.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Element {
    pub ns: Option<String>,
    pub local: String,
    /// Concatenated character data directly inside the element (entities and CDATA resolved).
    pub text: String,
    pub children: Vec<Element>,
}

impl Element {
    /// Children with this local name that are unqualified or in the admin namespace (children are unqualified
    /// per the schema; a qualified one is tolerated).
    pub fn children_named<'a>(&'a self, local: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.local == local && c.ns.as_deref().is_none_or(|ns| ns == ADMIN_NS))
    }
    pub fn child(&self, local: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.local == local && c.ns.as_deref().is_none_or(|ns| ns == ADMIN_NS))
    }
    /// Text of a child, `None` when the child is absent.
    pub fn child_text(&self, local: &str) -> Option<&str> {
        self.child(local).map(|c| c.text.as_str())
    }
    fn is(&self, ns: &str, local: &str) -> bool {
        self.ns.as_deref() == Some(ns) && self.local == local
    }
}

/// A SOAP fault: `detail`'s first element in the admin namespace names it (e.g. `AccessDisallowedFault`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub code: String,
    pub string: String,
    /// Local name of the detail element, e.g. `OperationsLimitExceededFault`; `None` when the fault has no
    /// recognisable detail.
    pub name: Option<String>,
    /// The detail element (its `message`, `limit`, `operationType`… children).
    pub detail: Option<Element>,
}

impl Fault {
    pub fn detail_text(&self, local: &str) -> Option<&str> {
        self.detail.as_ref().and_then(|d| d.child_text(local))
    }
    /// The most useful human text: the detail's `message`, else the faultstring.
    pub fn message(&self) -> &str {
        self.detail_text("message").filter(|m| !m.is_empty()).unwrap_or(&self.string)
    }
}

/// What a response body turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// The `{admin ns}{operation}Response` element.
    Response(Element),
    Fault(Fault),
}

/// Why a body could not be read. The text is safe to show (no body content beyond element names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError(pub String);

/// Parses a response envelope and returns the body's response or fault element.
pub fn parse_reply(body: &str, operation: &str) -> Result<Reply, ParseError> {
    let mut root = parse_document(body)?;
    if !root.is(SOAP_ENV_NS, "Envelope") {
        return Err(ParseError(format!("expected a SOAP Envelope, found <{}>", root.local)));
    }
    let body_at = root
        .children
        .iter()
        .position(|c| c.is(SOAP_ENV_NS, "Body"))
        .ok_or_else(|| ParseError("the SOAP envelope has no Body".into()))?;
    // Moved out, not cloned: a report result holds the whole CSV.
    let mut body_el = root.children.swap_remove(body_at);
    if let Some(f) = body_el.children.iter().find(|c| c.is(SOAP_ENV_NS, "Fault")) {
        return Ok(Reply::Fault(read_fault(f)));
    }
    let expected = format!("{operation}Response");
    match body_el.children.iter().position(|c| c.is(ADMIN_NS, &expected)) {
        Some(i) => Ok(Reply::Response(body_el.children.swap_remove(i))),
        None => Err(ParseError(format!(
            "the SOAP body holds no {expected} (found {})",
            body_el.children.first().map(|c| c.local.as_str()).unwrap_or("nothing")
        ))),
    }
}

fn read_fault(f: &Element) -> Fault {
    // SOAP 1.1 fault children are unqualified.
    let text = |name: &str| f.children.iter().find(|c| c.local == name).map(|c| c.text.trim().to_owned());
    let detail = f
        .children
        .iter()
        .find(|c| c.local == "detail")
        .and_then(|d| d.children.iter().find(|c| c.ns.as_deref() == Some(ADMIN_NS)))
        .cloned();
    Fault {
        code: text("faultcode").unwrap_or_default(),
        string: text("faultstring").unwrap_or_default(),
        name: detail.as_ref().map(|d| d.local.clone()),
        detail,
    }
}

/// The next event of `reader` with its element's namespace URI resolved; an undeclared prefix or ill-formed XML is an
/// error naming the byte position.
fn next_event<'a>(reader: &mut NsReader<&'a [u8]>) -> Result<(Option<String>, Event<'a>), ParseError> {
    let pos = reader.buffer_position();
    let (ns, event) =
        reader.read_resolved_event().map_err(|e| ParseError(format!("invalid XML after byte {pos}: {e}")))?;
    let ns = match ns {
        ResolveResult::Bound(n) => Some(AsRef::<str>::as_ref(&n).to_owned()),
        ResolveResult::Unbound => None,
        ResolveResult::Unknown(p) => return Err(ParseError(format!("undeclared namespace prefix {p:?}"))),
    };
    Ok((ns, event))
}

/// Parses a whole XML document into its root element (namespaces resolved). Rejects truncated or ill-formed input.
pub fn parse_document(xml: &str) -> Result<Element, ParseError> {
    let mut reader = NsReader::from_str(xml);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    loop {
        let (ns, event) = next_event(&mut reader)?;
        match event {
            Event::Start(e) | Event::Empty(e) if root.is_some() => {
                let _ = e;
                return Err(ParseError("content after the document's root element".into()));
            }
            Event::Start(e) => {
                let local = AsRef::<str>::as_ref(&e.local_name()).to_owned();
                stack.push(Element { ns, local, ..Element::default() });
            }
            Event::Empty(e) => {
                let local = AsRef::<str>::as_ref(&e.local_name()).to_owned();
                let el = Element { ns, local, ..Element::default() };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => root = Some(el),
                }
            }
            Event::End(_) => {
                let Some(el) = stack.pop() else {
                    return Err(ParseError("unbalanced end tag".into()));
                };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => root = Some(el),
                }
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
                let resolved = if r.is_char_ref() {
                    match r.resolve_char_ref() {
                        Ok(Some(c)) => c.to_string(),
                        _ => return Err(ParseError("invalid character reference".into())),
                    }
                } else {
                    match resolve_predefined_entity(&r) {
                        Some(s) => s.to_owned(),
                        None => return Err(ParseError(format!("unknown entity &{};", &*r))),
                    }
                };
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&resolved);
                }
            }
            Event::Eof => break,
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
        }
    }
    if !stack.is_empty() {
        return Err(ParseError(format!("the XML ends inside <{}> (truncated body)", stack[stack.len() - 1].local)));
    }
    root.ok_or_else(|| ParseError("empty XML document".into()))
}

/// What a `getReportResultCsv` answer turned out to be: the report CSV (read in place) or a fault.
pub enum ReportReply<'a> {
    Csv(CsvText<'a>),
    Fault(Fault),
}

/// The operation whose answer [`open_report_csv`] reads.
const REPORT_RESULT: &str = "getReportResultCsvResponse";

/// Opens the CSV of a `getReportResultCsv` response envelope *in place*: the returned [`CsvText`] is an
/// [`std::io::Read`] over the `return` element's text, unescaped as it is read, so the CSV is never copied out of
/// the body (a report result can be tens of MB). A response without a `return` element is an error (a report
/// always has at least its header line: no `return` is no answer, never an empty report). An empty `return` reads as
/// an empty CSV, which the report parsers refuse for want of a header. Call [`CsvText::finish`] after reading to
/// check the rest of the document (a truncated body fails there or while reading).
pub fn open_report_csv(body: &str) -> Result<ReportReply<'_>, ParseError> {
    let mut reader = NsReader::from_str(body);
    reader.config_mut().check_end_names = true;
    // Depth of the open elements: 1 = Envelope, 2 = Body, 3 = the response.
    let mut depth = 0usize;
    loop {
        let (ns, event) = next_event(&mut reader)?;
        let (start, empty) = match event {
            Event::Start(e) => (e, false),
            Event::Empty(e) => (e, true),
            Event::End(_) => {
                return Err(ParseError(match depth {
                    3 => format!("the {REPORT_RESULT} has no return element (no report result)"),
                    2 => format!("the SOAP body holds no {REPORT_RESULT} (found nothing)"),
                    _ => "the SOAP envelope has no Body".into(),
                }));
            }
            Event::Eof => return Err(ParseError("the XML ends before the report result (truncated body)".into())),
            Event::Text(t) if depth == 0 && t.trim_ascii().is_empty() => continue,
            Event::Text(_) | Event::GeneralRef(_) | Event::CData(_) if depth == 0 => {
                return Err(ParseError("content outside the document's root element".into()));
            }
            _ => continue,
        };
        let local = AsRef::<str>::as_ref(&start.local_name()).to_owned();
        let is = |want_ns: &str, want: &str| ns.as_deref() == Some(want_ns) && local == want;
        match depth {
            0 if is(SOAP_ENV_NS, "Envelope") && !empty => depth = 1,
            0 => return Err(ParseError(format!("expected a SOAP Envelope, found <{local}>"))),
            1 if is(SOAP_ENV_NS, "Body") && !empty => depth = 2,
            1 if is(SOAP_ENV_NS, "Body") => return Err(ParseError("the SOAP Body is empty".into())),
            2 if is(SOAP_ENV_NS, "Fault") => {
                // Faults are small: read them with the tree parser.
                return match parse_reply(body, "getReportResultCsv")? {
                    Reply::Fault(f) => Ok(ReportReply::Fault(f)),
                    Reply::Response(_) => Err(ParseError("the SOAP body holds a Fault and a response".into())),
                };
            }
            2 if is(ADMIN_NS, REPORT_RESULT) && empty => {
                return Err(ParseError(format!("the {REPORT_RESULT} has no return element (no report result)")));
            }
            2 if is(ADMIN_NS, REPORT_RESULT) => depth = 3,
            2 => return Err(ParseError(format!("the SOAP body holds no {REPORT_RESULT} (found {local})"))),
            3 if local == "return" && ns.as_deref().is_none_or(|n| n == ADMIN_NS) => {
                return Ok(ReportReply::Csv(CsvText {
                    reader,
                    pending: Cow::Borrowed(""),
                    offset: 0,
                    // After `return` closes, the response, the Body and the Envelope are still open.
                    open_after: 3,
                    done: empty,
                }));
            }
            _ if empty => {}
            _ => {
                let end = start.to_end().into_owned();
                reader.read_to_end(end.name()).map_err(|e| ParseError(format!("invalid XML: {e}")))?;
            }
        }
    }
}

/// The text of a report result's `return` element as a byte stream (see [`open_report_csv`]).
pub struct CsvText<'a> {
    reader: NsReader<&'a [u8]>,
    /// Unescaped text not yet handed out: borrowed from the body, or one resolved character reference.
    pending: Cow<'a, str>,
    offset: usize,
    open_after: usize,
    done: bool,
}

impl<'a> CsvText<'a> {
    fn next_piece(&mut self) -> Result<bool, ParseError> {
        loop {
            if self.done {
                return Ok(false);
            }
            let pos = self.reader.buffer_position();
            let event =
                self.reader.read_event().map_err(|e| ParseError(format!("invalid XML after byte {pos}: {e}")))?;
            let piece: Cow<'a, str> = match event {
                Event::Text(t) => t.into_inner(),
                Event::CData(t) => t.into_inner(),
                Event::GeneralRef(r) => Cow::Owned(if r.is_char_ref() {
                    match r.resolve_char_ref() {
                        Ok(Some(c)) => c.to_string(),
                        _ => return Err(ParseError("invalid character reference".into())),
                    }
                } else {
                    match resolve_predefined_entity(&r) {
                        Some(s) => s.to_owned(),
                        None => return Err(ParseError(format!("unknown entity &{};", &*r))),
                    }
                }),
                Event::End(_) => {
                    self.done = true;
                    return Ok(false);
                }
                Event::Start(_) | Event::Empty(_) => {
                    return Err(ParseError("an element inside the report result's text".into()));
                }
                Event::Eof => return Err(ParseError("the XML ends inside the report result (truncated body)".into())),
                Event::Comment(_) | Event::PI(_) | Event::Decl(_) | Event::DocType(_) => continue,
            };
            if piece.is_empty() {
                continue;
            }
            self.pending = piece;
            self.offset = 0;
            return Ok(true);
        }
    }

    /// Reads past the end of the result and checks that the document closes properly (a body cut after the CSV
    /// fails here).
    pub fn finish(mut self) -> Result<(), ParseError> {
        while self.next_piece()? {}
        let mut open = self.open_after;
        loop {
            let pos = self.reader.buffer_position();
            match self.reader.read_event().map_err(|e| ParseError(format!("invalid XML after byte {pos}: {e}")))? {
                Event::Start(_) => open += 1,
                Event::End(_) if open == 0 => return Err(ParseError("unbalanced end tag".into())),
                Event::End(_) => open -= 1,
                Event::Eof if open > 0 => return Err(ParseError("the XML ends early (truncated body)".into())),
                Event::Eof => return Ok(()),
                Event::Text(t) if open == 0 && t.trim_ascii().is_empty() => {}
                Event::Text(_) | Event::GeneralRef(_) | Event::CData(_) if open == 0 => {
                    return Err(ParseError("content after the document's root element".into()));
                }
                _ => {}
            }
        }
    }
}

impl std::io::Read for CsvText<'_> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        if self.offset >= self.pending.len() {
            let more = self.next_piece().map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e.0))?;
            if !more {
                return Ok(0);
            }
        }
        let rest = &self.pending.as_bytes()[self.offset..];
        let n = rest.len().min(out.len());
        out[..n].copy_from_slice(&rest[..n]);
        self.offset += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_escape_text_and_keep_order() {
        let xml = envelope("getSkills", &[Node::text("skillNamePattern", "Sales & <Support> \"é\"")]);
        assert!(xml.contains("<ser:getSkills><skillNamePattern>Sales &amp; &lt;Support&gt; &quot;é&quot;</skillNamePattern></ser:getSkills>"));
        let parsed = parse_document(&xml).unwrap();
        let body = &parsed.children[1];
        assert_eq!(body.children[0].ns.as_deref(), Some(ADMIN_NS));
        assert_eq!(body.children[0].children[0].text, "Sales & <Support> \"é\"");
        assert!(envelope("getCallCountersState", &[]).contains("<ser:getCallCountersState/>"));
    }

    #[test]
    fn responses_are_read_by_namespace_not_prefix() {
        let xml = r#"<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Body>
            <x:getSkillsResponse xmlns:x="http://service.admin.ws.five9.com/"><return><name>A &amp; B</name></return>
            </x:getSkillsResponse></S:Body></S:Envelope>"#;
        let Reply::Response(r) = parse_reply(xml, "getSkills").unwrap() else { panic!("not a response") };
        assert_eq!(r.child("return").unwrap().child_text("name"), Some("A & B"));
        // Same local name in another namespace is not the response.
        let wrong = xml.replace("http://service.admin.ws.five9.com/", "urn:other");
        assert!(parse_reply(&wrong, "getSkills").is_err());
    }

    #[test]
    fn truncated_and_garbage_bodies_are_errors() {
        let xml = r#"<env:Envelope xmlns:env="http://schemas.xmlsoap.org/soap/envelope/"><env:Body><ns2:getSkillsResponse xmlns:ns2="http://service.admin.ws.five9.com/"><return><name>A"#;
        assert!(parse_reply(xml, "getSkills").is_err());
        assert!(parse_reply("<html><body>oops</body></html>", "getSkills").is_err());
        assert!(parse_reply("", "getSkills").is_err());
        assert!(parse_reply("not xml at all", "getSkills").is_err());
    }
}
