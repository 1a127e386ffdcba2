//! SOAP 1.1 envelopes of Five9's admin web service: building requests (escaped, children in the WSDL's
//! `xs:sequence` order) and reading responses by namespace + local name (never by prefix).
//!
//! The reader turns the `Body` into a small element tree. Responses are small except `getReportResultCsv`, whose
//! single `return` text holds the whole CSV: [`open_report_csv`] reads that one in place, as a byte stream the CSV
//! parser consumes while unescaping (no tree, and no copy of the CSV beyond one 64 KiB chunk at a time).

use std::borrow::Cow;

use quick_xml::escape::{EscapeError, escape, resolve_predefined_entity, unescape};
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
/// the body as a whole (a report result can be tens of MB). A result's text is plain text with entity references:
/// it is unescaped a chunk at a time with `quick_xml::escape::unescape`, not event by event (an event per
/// reference, two per quoted field, was a third of the cost of reading an Agent State report). A response without
/// a `return` element is an error (a report always has at least its header line: no `return` is no answer, never
/// an empty report). An empty `return` reads as an empty CSV, which the report parsers refuse for want of a
/// header. Call [`CsvText::finish`] after reading to check the rest of the document (a truncated body fails there
/// or while reading).
pub fn open_report_csv(body: &str) -> Result<ReportReply<'_>, ParseError> {
    let mut reader = NsReader::from_str(body);
    reader.config_mut().check_end_names = true;
    // Depth of the open elements: 1 = Envelope, 2 = Body, 3 = the response; their names as written, outermost first.
    let mut depth = 0usize;
    let mut open = Vec::with_capacity(3);
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
        let name = || AsRef::<str>::as_ref(&start.name()).to_owned();
        match depth {
            0 if is(SOAP_ENV_NS, "Envelope") && !empty => {
                depth = 1;
                open.push(name());
            }
            0 => return Err(ParseError(format!("expected a SOAP Envelope, found <{local}>"))),
            1 if is(SOAP_ENV_NS, "Body") && !empty => {
                depth = 2;
                open.push(name());
            }
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
            2 if is(ADMIN_NS, REPORT_RESULT) => {
                depth = 3;
                open.push(name());
            }
            2 => return Err(ParseError(format!("the SOAP body holds no {REPORT_RESULT} (found {local})"))),
            3 if local == "return" && ns.as_deref().is_none_or(|n| n == ADMIN_NS) => {
                let at = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
                let (text, trailer) = match plain_text(body, at, AsRef::<str>::as_ref(&start.name())) {
                    Some((text, trailer)) if !empty => (Text::Plain(text), Some(trailer)),
                    _ if empty => (Text::Done, None),
                    _ => (Text::Marked, None),
                };
                return Ok(ReportReply::Csv(CsvText {
                    reader,
                    text,
                    trailer,
                    pending: Cow::Borrowed(""),
                    offset: 0,
                    // After `return` closes, the response, the Body and the Envelope are still open.
                    open,
                    failed: None,
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

/// Unescaped text handed out at a time from a report result without markup: the CSV reader's buffer is refilled
/// from it, and only a chunk holding entity references is copied (a quoted field is two `&quot;`).
const PLAIN_CHUNK: usize = 64 * 1024;

/// The raw (still escaped) text of the `return` element that starts at byte `at` of `body`, and the document after
/// its end tag, when that text holds no markup at all: no CDATA section, comment or element, just text up to
/// `</name>`. That is what a report result is; anything else (or a body cut inside the text) gives `None` and is
/// read event by event, which reports what is wrong.
fn plain_text<'a>(body: &'a str, at: usize, name: &str) -> Option<(&'a str, &'a str)> {
    let rest = body.get(at..)?;
    let lt = rest.find('<')?;
    let after = rest[lt..].strip_prefix("</")?;
    let close = after.find('>')?;
    (after[..close].trim_end_matches(|c: char| c.is_ascii_whitespace()) == name)
        .then(|| (&rest[..lt], &after[close + 1..]))
}

/// Where to cut the next chunk of plain text: at most [`PLAIN_CHUNK`] bytes, on a character boundary, never inside
/// an entity reference (one without its `;` in the chunk starts the next chunk instead).
fn chunk_end(raw: &str) -> usize {
    if raw.len() <= PLAIN_CHUNK {
        return raw.len();
    }
    let mut end = PLAIN_CHUNK;
    while !raw.is_char_boundary(end) {
        end -= 1;
    }
    match raw[..end].rfind('&') {
        Some(amp) if !raw[amp..end].contains(';') => match amp {
            0 => raw.find(';').map_or(raw.len(), |i| i + 1),
            // A reference longer than a chunk is not one: unescaping up to its `;` (or the end) reports it.
            _ => amp,
        },
        _ => end,
    }
}

fn escape_error(e: EscapeError) -> ParseError {
    ParseError(match e {
        EscapeError::UnrecognizedEntity(_, name) => format!("unknown entity &{name};"),
        EscapeError::InvalidCharRef(e) => format!("invalid character reference ({e})"),
        EscapeError::UnterminatedEntity(_) => "an entity reference without its ';'".into(),
        other => format!("invalid text: {other}"),
    })
}

/// How the rest of the report result's text is read.
enum Text<'a> {
    /// Text without markup (the usual result), still escaped: unescaped a chunk at a time.
    Plain(&'a str),
    /// Text with CDATA sections or comments (or something wrong): read by the document's reader, event by event.
    Marked,
    Done,
}

/// The text of a report result's `return` element as a byte stream (see [`open_report_csv`]).
pub struct CsvText<'a> {
    /// The document's reader: inside `return` while the text is [`Text::Marked`], otherwise just after its start.
    reader: NsReader<&'a [u8]>,
    text: Text<'a>,
    /// The document after `return`'s end tag when the text is read as [`Text::Plain`] (checked by `finish`).
    trailer: Option<&'a str>,
    /// Unescaped text not yet handed out: borrowed from the body, or one resolved chunk or character reference.
    pending: Cow<'a, str>,
    offset: usize,
    /// The elements still open once `return` is closed (the response, Body, Envelope), as written, outermost first.
    open: Vec<String>,
    /// An error met while filling a read that had already copied bytes: returned by the next read.
    failed: Option<String>,
}

impl<'a> CsvText<'a> {
    fn next_piece(&mut self) -> Result<bool, ParseError> {
        loop {
            let piece: Cow<'a, str> = match self.text {
                Text::Done => return Ok(false),
                Text::Plain("") => {
                    self.text = Text::Done;
                    return Ok(false);
                }
                Text::Plain(raw) => {
                    let (now, later) = raw.split_at(chunk_end(raw));
                    // Moved past only once read: a chunk that fails stays next, so every later read (and
                    // `finish`) fails on it too.
                    let piece = unescape(now).map_err(escape_error)?;
                    self.text = Text::Plain(later);
                    piece
                }
                Text::Marked => match self.next_marked()? {
                    Some(piece) => piece,
                    None => {
                        self.text = Text::Done;
                        return Ok(false);
                    }
                },
            };
            if piece.is_empty() {
                continue;
            }
            self.pending = piece;
            self.offset = 0;
            return Ok(true);
        }
    }

    /// The next piece of text by events (`None` at `return`'s end tag).
    fn next_marked(&mut self) -> Result<Option<Cow<'a, str>>, ParseError> {
        loop {
            let pos = self.reader.buffer_position();
            let event =
                self.reader.read_event().map_err(|e| ParseError(format!("invalid XML after byte {pos}: {e}")))?;
            return Ok(Some(match event {
                Event::Text(t) => t.into_inner(),
                Event::CData(t) => t.into_inner(),
                Event::GeneralRef(r) if r.is_char_ref() => match r.resolve_char_ref() {
                    Ok(Some(c)) => Cow::Owned(c.to_string()),
                    _ => return Err(ParseError("invalid character reference".into())),
                },
                Event::GeneralRef(r) => match resolve_predefined_entity(&r) {
                    Some(s) => Cow::Borrowed(s),
                    None => return Err(ParseError(format!("unknown entity &{};", &*r))),
                },
                Event::End(_) => return Ok(None),
                Event::Start(_) | Event::Empty(_) => {
                    return Err(ParseError("an element inside the report result's text".into()));
                }
                Event::Eof => return Err(ParseError("the XML ends inside the report result (truncated body)".into())),
                Event::Comment(_) | Event::PI(_) | Event::Decl(_) | Event::DocType(_) => continue,
            }));
        }
    }

    /// Reads past the end of the result and checks that the document closes properly (a body cut after the CSV
    /// fails here).
    pub fn finish(mut self) -> Result<(), ParseError> {
        if let Some(e) = self.failed.take() {
            return Err(ParseError(e));
        }
        while self.next_piece()? {}
        match self.trailer {
            Some(trailer) => close_plain(trailer, &self.open),
            None => close_events(self.reader, self.open.len()),
        }
    }
}

/// The document after a plain result's `return` (read past by `plain_text`, so the document's reader never saw
/// it): read by a reader of its own that first re-opens the elements still open, so it checks the end names as the
/// document's reader would.
fn close_plain(trailer: &str, open: &[String]) -> Result<(), ParseError> {
    let mut doc = String::with_capacity(trailer.len() + 64);
    for name in open {
        doc.push('<');
        doc.push_str(name);
        doc.push('>');
    }
    doc.push_str(trailer);
    let mut reader = NsReader::from_str(&doc);
    reader.config_mut().check_end_names = true;
    for _ in open {
        reader.read_event().map_err(|e| ParseError(format!("invalid element name: {e}")))?;
    }
    close_events(reader, open.len())
}

/// The document after `return`, read on by the document's own reader (it checks the end names).
fn close_events(mut reader: NsReader<&[u8]>, mut open: usize) -> Result<(), ParseError> {
    loop {
        let pos = reader.buffer_position();
        match reader.read_event().map_err(|e| ParseError(format!("invalid XML after byte {pos}: {e}")))? {
            Event::Start(_) | Event::Empty(_) if open == 0 => {
                return Err(ParseError("an element after the document's root element".into()));
            }
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

impl std::io::Read for CsvText<'_> {
    /// Fills `out` with as many pieces of text as fit (pieces are chunks of plain text, or, read by events, the text
    /// between references: one piece per call made the CSV reader refill its buffer for every few bytes). An error
    /// after some bytes were copied is returned by the next call, after those bytes.
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let invalid = |e: String| std::io::Error::new(std::io::ErrorKind::InvalidData, e);
        if let Some(e) = self.failed.take() {
            return Err(invalid(e));
        }
        let mut n = 0;
        while n < out.len() {
            if self.offset >= self.pending.len() {
                match self.next_piece() {
                    Ok(true) => {}
                    Ok(false) => break,
                    Err(e) if n == 0 => return Err(invalid(e.0)),
                    Err(e) => {
                        self.failed = Some(e.0);
                        break;
                    }
                }
            }
            let rest = &self.pending.as_bytes()[self.offset..];
            let take = rest.len().min(out.len() - n);
            out[n..n + take].copy_from_slice(&rest[..take]);
            self.offset += take;
            n += take;
        }
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

    fn report_body(text: &str) -> String {
        format!(
            r#"<env:Envelope xmlns:env="{SOAP_ENV_NS}"><env:Body><ns2:{REPORT_RESULT} xmlns:ns2="{ADMIN_NS}"><return>{text}</return></ns2:{REPORT_RESULT}></env:Body></env:Envelope>"#
        )
    }

    /// Reads the whole result `chunk` bytes at a time (a CSV reader's refills), or the first error.
    fn read_in_chunks(body: &str, chunk: usize) -> Result<String, String> {
        let Ok(ReportReply::Csv(mut csv)) = open_report_csv(body) else { panic!("a result") };
        let (mut out, mut buf) = (Vec::new(), vec![0u8; chunk]);
        loop {
            match std::io::Read::read(&mut csv, &mut buf) {
                Ok(0) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(e) => return Err(format!("after {:?}: {e}", String::from_utf8_lossy(&out))),
            }
        }
        csv.finish().map_err(|e| e.0)?;
        Ok(String::from_utf8(out).unwrap())
    }

    /// What the tree parser reads as the `return` text (the reference the streaming reader must match).
    fn tree_text(body: &str) -> String {
        let Reply::Response(r) = parse_reply(body, "getReportResultCsv").unwrap() else { panic!("not a response") };
        r.child_text("return").unwrap_or_default().to_owned()
    }

    #[test]
    fn report_text_reads_the_same_whatever_the_reader_asks_for() {
        let plain = "ID,TIMESTAMP,NAME\n1,&quot;Mon, 25 Nov 2024 05:00:00&quot;,Sales &amp; Support\n\
                     2,&quot;Tue, 26 Nov 2024 05:00:00&quot;,Jos&#233; &lt;&#x4E2D;&gt;&apos;\n";
        let want = "ID,TIMESTAMP,NAME\n1,\"Mon, 25 Nov 2024 05:00:00\",Sales & Support\n\
                    2,\"Tue, 26 Nov 2024 05:00:00\",José <中>'\n";
        // With markup inside (CDATA, a comment) the text is read event by event; the same text either way.
        let marked = plain.replace("Jos&#233;", "<![CDATA[Jos]]><!-- note -->&#233;");
        for text in [plain, &marked] {
            for chunk in [1, 2, 3, 5, 8, 64, 8192] {
                assert_eq!(read_in_chunks(&report_body(text), chunk).as_deref(), Ok(want), "{chunk} bytes at a time");
            }
        }
        assert_eq!(read_in_chunks(&report_body(""), 8).as_deref(), Ok(""));
        assert_eq!(read_in_chunks(&report_body("a").replace("</return>", "</return  \n>"), 8).as_deref(), Ok("a"));
        let empty = report_body("").replace("<return></return>", "<return/>");
        assert_eq!(read_in_chunks(&empty, 8).as_deref(), Ok(""));
    }

    #[test]
    fn large_results_are_cut_into_chunks_between_references_and_characters() {
        // Rows whose references and multi-byte characters fall on every offset around the chunk boundaries.
        let mut text = String::new();
        let mut n = 0;
        while text.len() < 3 * PLAIN_CHUNK + 100 {
            text.push_str(&format!("{n},&quot;Zoë &amp; Ünal&quot;,&#x4E2D;{}\n", "x".repeat(n % 7)));
            n += 1;
        }
        let body = report_body(&text);
        let want = tree_text(&body);
        assert!(want.contains("\"Zoë & Ünal\",中"));
        for chunk in [7, 8192, 1 << 20] {
            let got = read_in_chunks(&body, chunk);
            assert!(got.as_deref() == Ok(want.as_str()), "{chunk}: {:?}", got.map(|t| t.len()));
        }
        // Every cut is at a character boundary, after a whole reference, and the chunks cover the text.
        let (mut rest, mut pieces) = (text.as_str(), 0);
        while !rest.is_empty() {
            let end = chunk_end(rest);
            assert!(end > 0 && end <= PLAIN_CHUNK && rest.is_char_boundary(end));
            let (now, later) = rest.split_at(end);
            assert!(now.rfind('&').is_none_or(|amp| now[amp..].contains(';')), "a reference cut at {end}");
            rest = later;
            pieces += 1;
        }
        assert_eq!(pieces, text.len().div_ceil(PLAIN_CHUNK));
        // An ampersand that starts a chunk and never ends is an error, not a chunk cut forever.
        let bad = format!("&{}", "a".repeat(PLAIN_CHUNK + 10));
        assert_eq!(chunk_end(&bad), bad.len());
        assert!(read_in_chunks(&report_body(&bad), 8192).unwrap_err().contains("without its ';'"));
    }

    #[test]
    fn report_text_errors_are_never_a_short_report() {
        for text in ["1,a&amp;b,&bogus;,2\n", "1,<![CDATA[a]]>&bogus;,2\n"] {
            for chunk in [1, 4, 8192] {
                let err = read_in_chunks(&report_body(text), chunk).unwrap_err();
                assert!(err.contains("unknown entity &bogus;"), "{chunk}: {err}");
                let before = err.strip_prefix("after \"").and_then(|e| e.split_once('"')).unwrap().0;
                assert!("1,a&b,".starts_with(before), "{chunk}: only text before the error is handed out: {err}");
            }
        }
        for chunk in [1, 8192] {
            let err = read_in_chunks(&report_body("1,&#xD800;\n"), chunk).unwrap_err();
            assert!(err.contains("invalid character reference"), "{chunk}: {err}");
            let err = read_in_chunks(&report_body("1,2\n<x/>3"), chunk).unwrap_err();
            assert!(err.starts_with("after \"1,2\\n\": an element inside"), "{chunk}: {err}");
            // A body cut inside the text, after it, or closed by other names: an error, never a short report.
            let body = report_body("1,&quot;a&quot;\n2,b\n");
            let cut = &body[..body.find("2,b").unwrap()];
            assert!(read_in_chunks(cut, chunk).unwrap_err().contains("truncated body"), "{chunk}");
            let cut = &body[..body.find("</env:Body>").unwrap()];
            assert!(read_in_chunks(cut, chunk).unwrap_err().contains("truncated body"), "{chunk}");
            let wrong = body.replace("</env:Body>", "</env:Bodies>");
            let err = read_in_chunks(&wrong, chunk).unwrap_err();
            assert!(err.contains("expected `</env:Body>`, but `</env:Bodies>` was found"), "{chunk}: {err}");
            for more in ["<more/>", "<more></more>"] {
                let err = read_in_chunks(&format!("{body}{more}"), chunk).unwrap_err();
                assert!(err.contains("after the document's root"), "{chunk}: {err}");
            }
            let extra = format!("{body} text");
            assert!(read_in_chunks(&extra, chunk).unwrap_err().contains("after the document's root"), "{chunk}");
            let wrong = body.replace("</return>", "</other>");
            assert!(read_in_chunks(&wrong, chunk).is_err(), "{chunk}");
        }
        // A chunk that fails to unescape fails `finish` too, not only the read that met it.
        let body = report_body("1,&bogus;,2\n");
        let Ok(ReportReply::Csv(mut csv)) = open_report_csv(&body) else { panic!("a result") };
        assert!(std::io::Read::read(&mut csv, &mut [0u8; 64]).is_err());
        assert!(csv.finish().unwrap_err().0.contains("unknown entity"));
        // An error met after some bytes of a read is kept for the next read, and for `finish`.
        let body = report_body("1,<![CDATA[2]]>&bogus;");
        let Ok(ReportReply::Csv(mut csv)) = open_report_csv(&body) else { panic!("a result") };
        let mut buf = [0u8; 64];
        assert_eq!(std::io::Read::read(&mut csv, &mut buf).unwrap(), 3);
        assert!(csv.finish().unwrap_err().0.contains("unknown entity"));
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
