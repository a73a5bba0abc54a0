//! The HTTP/1.1 vocabulary of the test server: what it recorded ([`Request`])
//! and what it is told to do in answer ([`Reply`], a list of [`Step`]s); and the
//! parsing of heads (httparse) and messages that the server, the proxy and the
//! tests share.

use std::io::{self, Read};
use std::time::Duration;

use rustls::pki_types::CertificateDer;
use rustls::{CipherSuite, ProtocolVersion};

/// A request as the server received it. The server keeps them in arrival order.
#[derive(Clone, Debug)]
pub struct Request {
    /// Index of the accepted TCP connection, from 0.
    pub conn_id: usize,
    /// Index of this request on its connection, from 0.
    pub seq_on_conn: usize,
    /// "GET", "POST", ...
    pub method: String,
    /// The request-target as sent: "/path?q", or the absolute form.
    pub target: String,
    /// "HTTP/1.1" normally.
    pub version: String,
    /// Header fields in order; names lowercased, values trimmed.
    pub headers: Vec<(String, String)>,
    /// The body: de-chunked if chunked (trailers dropped), else Content-Length bytes.
    pub body: Vec<u8>,
    /// The head exactly as received, request line to the blank line included.
    pub raw_head: Vec<u8>,
    /// `Expect: 100-continue` (answered): body bytes that had already arrived when
    /// the server sent "100 Continue". A client that waits for it sends none.
    pub body_before_continue: usize,
    /// For HTTPS: what was negotiated on this request's connection.
    pub tls: Option<TlsInfo>,
    /// The whole request (head and body) arrived as TLS 1.3 early data (0-RTT),
    /// before the handshake ended.
    pub early_data: bool,
}

/// What a TLS connection negotiated, seen from the server.
#[derive(Clone, Debug)]
pub struct TlsInfo {
    /// The SNI the client sent, if any.
    pub sni: Option<String>,
    /// TLS 1.2 or TLS 1.3.
    pub version: Option<ProtocolVersion>,
    /// The cipher suite the server chose (it follows the client's order).
    pub cipher_suite: Option<CipherSuite>,
    /// True if the handshake resumed an earlier session.
    pub resumed: bool,
    /// The client's leaf certificate, if it sent one.
    pub client_cert: Option<CertificateDer<'static>>,
}

impl Request {
    /// The first header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of headers with this name (case-insensitive), in order.
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The body as text (lossy UTF-8).
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// True if the request asks for an interim "100 Continue".
    pub fn expects_continue(&self) -> bool {
        self.header("expect")
            .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"))
    }

    /// True if the body is sent with chunked transfer coding.
    pub fn is_chunked(&self) -> bool {
        self.header_all("transfer-encoding")
            .iter()
            .flat_map(|v| v.split(','))
            .any(|coding| coding.trim().eq_ignore_ascii_case("chunked"))
    }

    /// Parses a head (request line + fields + blank line); body and ids left empty.
    pub(crate) fn parse_head(raw: &[u8]) -> io::Result<Request> {
        let mut fields = [httparse::EMPTY_HEADER; MAX_FIELDS];
        let mut head = httparse::Request::new(&mut fields);
        complete(head.parse(raw), "request head")?;
        let text = |s: Option<&str>| s.unwrap_or_default().to_string();
        Ok(Request {
            conn_id: 0,
            seq_on_conn: 0,
            method: text(head.method),
            target: text(head.path),
            version: format!("HTTP/1.{}", head.version.unwrap_or(1)),
            headers: owned(head.headers),
            body: Vec::new(),
            raw_head: raw.to_vec(),
            body_before_continue: 0,
            tls: None,
            early_data: false,
        })
    }

    /// The Content-Length value, if the header is present.
    pub(crate) fn content_length(&self) -> io::Result<Option<usize>> {
        content_length(&self.headers)
    }
}

/// One thing the server does while answering.
#[derive(Clone, Debug)]
pub enum Step {
    /// Write these bytes in one write (then flush the TLS records).
    Send(Vec<u8>),
    /// Write one byte at a time, pausing this long between bytes.
    SendSlowly(Vec<u8>, Duration),
    /// Do nothing for a while; ends early when the server stops.
    Sleep(Duration),
    /// TLS: send close_notify, then close TCP. Plain: same as `Close`. Ends the connection.
    CloseNotify,
    /// Close TCP (FIN) without close_notify. Ends the connection.
    Close,
}

/// The server's answer to one request: steps in order, then keep the
/// connection open for the next request or close it.
#[derive(Clone, Debug)]
pub struct Reply {
    /// What to do, in order.
    pub steps: Vec<Step>,
    /// After the steps: true = read the next request on this connection;
    /// false = close (after close_notify on TLS).
    pub keep_alive: bool,
}

impl Reply {
    /// "200 OK" with a Content-Length and this body; keeps the connection.
    pub fn ok(body: &[u8]) -> Reply {
        Reply::status(200, &[], body)
    }

    /// A response with this status, headers and body. Adds Content-Length
    /// unless `headers` has Content-Length or Transfer-Encoding, or the status
    /// is 1xx, 204 or 304 with an empty body. Keeps the connection.
    pub fn status(code: u16, headers: &[(&str, &str)], body: &[u8]) -> Reply {
        let framed = headers.iter().any(|(n, _)| {
            n.eq_ignore_ascii_case("content-length") || n.eq_ignore_ascii_case("transfer-encoding")
        });
        let bodiless = (100..200).contains(&code) || code == 204 || code == 304;
        let mut out = status_line(code);
        for (name, value) in headers {
            out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        }
        let skip_length = framed || (bodiless && body.is_empty());
        if !skip_length {
            out.extend_from_slice(format!("content-length: {}\r\n", body.len()).as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(body);
        Reply::raw(&out)
    }

    /// A chunked response: one chunk per entry (empty entries skipped, as an
    /// empty chunk would end the body), then the last chunk and the trailers.
    pub fn chunked(code: u16, chunks: &[&[u8]], trailers: &[(&str, &str)]) -> Reply {
        let mut out = status_line(code);
        out.extend_from_slice(b"transfer-encoding: chunked\r\n\r\n");
        for chunk in chunks.iter().filter(|c| !c.is_empty()) {
            out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
            out.extend_from_slice(chunk);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"0\r\n");
        for (name, value) in trailers {
            out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        Reply::raw(&out)
    }

    /// Sends exactly these bytes; keeps the connection.
    pub fn raw(bytes: &[u8]) -> Reply {
        Reply::steps(vec![Step::Send(bytes.to_vec())], true)
    }

    /// Any steps.
    pub fn steps(steps: Vec<Step>, keep_alive: bool) -> Reply {
        Reply { steps, keep_alive }
    }

    /// The same reply, then the server closes the connection.
    pub fn then_close(mut self) -> Reply {
        self.keep_alive = false;
        self
    }

    /// All bytes of the `Send`/`SendSlowly` steps, concatenated.
    pub fn bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for step in &self.steps {
            if let Step::Send(b) | Step::SendSlowly(b, _) = step {
                out.extend_from_slice(b);
            }
        }
        out
    }
}

fn status_line(code: u16) -> Vec<u8> {
    let reason = http::StatusCode::from_u16(code)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Unknown");
    format!("HTTP/1.1 {code} {reason}\r\n").into_bytes()
}

pub(crate) fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

// ---------------------------------------------------------------------------
// Parsing (httparse), shared by the server, the proxy and the raw helpers.

/// Most header fields parsed in one head.
const MAX_FIELDS: usize = 128;

/// What httparse parsed, if the head was complete and valid.
fn complete<T>(parsed: httparse::Result<T>, what: &str) -> io::Result<T> {
    match parsed {
        Ok(httparse::Status::Complete(t)) => Ok(t),
        Ok(httparse::Status::Partial) => Err(invalid(format!("{what} incomplete"))),
        Err(e) => Err(invalid(format!("bad {what}: {e}"))),
    }
}

/// Header fields as (lowercased name, value).
fn owned(fields: &[httparse::Header<'_>]) -> Vec<(String, String)> {
    let value = |v: &[u8]| String::from_utf8_lossy(v).trim().to_string();
    fields
        .iter()
        .map(|f| (f.name.to_ascii_lowercase(), value(f.value)))
        .collect()
}

/// Status code and header fields (names lowercased) of a response head.
pub(crate) fn parse_response_head(raw: &[u8]) -> io::Result<(u16, Vec<(String, String)>)> {
    let mut fields = [httparse::EMPTY_HEADER; MAX_FIELDS];
    let mut head = httparse::Response::new(&mut fields);
    complete(head.parse(raw), "response head")?;
    Ok((head.code.unwrap_or_default(), owned(head.headers)))
}

/// The Content-Length of these header fields (names lowercased), if there is one.
pub(crate) fn content_length(fields: &[(String, String)]) -> io::Result<Option<usize>> {
    let Some((_, v)) = fields.iter().find(|(n, _)| n == "content-length") else {
        return Ok(None);
    };
    v.parse()
        .map(Some)
        .map_err(|_| invalid(format!("bad content-length {v:?}")))
}

/// The size on a chunk-size line (without its CRLF; extensions allowed).
pub(crate) fn chunk_size(line: &[u8]) -> io::Result<u64> {
    let with_end = [line, b"\r\n"].concat();
    match httparse::parse_chunk_size(&with_end) {
        Ok(httparse::Status::Complete((_, size))) => Ok(size),
        _ => Err(invalid(format!(
            "bad chunk size line {:?}",
            String::from_utf8_lossy(line)
        ))),
    }
}

/// Where the head in `data` ends (after its blank line), once it is complete.
pub fn head_end(data: &[u8]) -> Option<usize> {
    find(data, b"\r\n\r\n").map(|i| i + 4)
}

/// The first position of `needle` in `haystack`.
pub(crate) fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Reads one head from a stream, through its blank line, a byte at a time (so
/// nothing after it is consumed). `stream` may be a [`rustls::Stream`].
pub fn read_head(stream: &mut impl Read) -> io::Result<String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while head_end(&head).is_none() {
        stream.read_exact(&mut byte)?;
        head.push(byte[0]);
    }
    Ok(String::from_utf8_lossy(&head).into_owned())
}

/// Reads one message, request or response, from a stream: its head ([`read_head`])
/// and its Content-Length body (none without one).
pub fn read_message(stream: &mut impl Read) -> io::Result<(String, Vec<u8>)> {
    let head = read_head(stream)?;
    // The fields follow the start line.
    let start_line = head.find("\r\n").map_or(0, |i| i + 2);
    let mut fields = [httparse::EMPTY_HEADER; MAX_FIELDS];
    let parsed = httparse::parse_headers(&head.as_bytes()[start_line..], &mut fields);
    let (_, fields) = complete(parsed, "head")?;
    let mut body = vec![0u8; content_length(&owned(fields))?.unwrap_or(0)];
    stream.read_exact(&mut body)?;
    Ok((head, body))
}

/// Reads until the stream ends: (bytes, how it ended).
pub fn read_until_end(stream: &mut impl Read) -> (Vec<u8>, io::Result<()>) {
    let mut data = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => return (data, Ok(())),
            Ok(n) => data.extend_from_slice(&chunk[..n]),
            Err(e) => return (data, Err(e)),
        }
    }
}
