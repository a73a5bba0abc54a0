//! Response heads: parsed once with httparse, their header map built only when
//! somebody looks at it.
//!
//! A pooled GET spends more on its response head than on anything but the cipher,
//! and most of that went into a header map nobody read: a firmware daemon checks
//! the status and reads the body. So [`parse`] validates the whole head (httparse,
//! as ureq-proto configures it: every name a token, every value visible bytes) and
//! keeps one copy of it; [`Head::headers`] makes the map from that copy on first
//! use, each value a slice of it (no allocation per value; a name that is not a
//! standard one is still copied by `HeaderName`).
//!
//! [`parse`] also decides how the body is framed ([`crate::framing`]) from the
//! fields that say so, gathered in the same pass, and skips informational (1xx)
//! answers.

use std::fmt;
use std::mem::MaybeUninit;
use std::sync::OnceLock;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Version};

use crate::framing::{BodyReader, Fields, Sent};

/// Most header fields in a response head: ureq-proto's limit, kept from when it
/// parsed response heads, so that the same heads are refused.
const MAX_FIELDS: usize = ureq_proto::client::MAX_RESPONSE_HEADERS;

/// The longest header name `HeaderName` takes.
const MAX_NAME: usize = u16::MAX as usize;

/// A response head: status and version, and the header fields as received, made
/// into a [`HeaderMap`] on first use.
pub(crate) struct Head {
    status: StatusCode,
    version: Version,
    /// The whole head as received: status line, fields, empty line.
    raw: Bytes,
    /// Whether [`raw`](Self::raw) is to be shown ([`crate::Response::raw_head`]).
    keep_raw: bool,
    /// Both `Transfer-Encoding` and `Content-Length` came.
    framed_twice: bool,
    /// Boxed: a head is moved several times on its way to the caller, a map made
    /// only when asked for should not make every move longer.
    headers: OnceLock<Box<HeaderMap>>,
}

impl fmt::Debug for Head {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Head")
            .field("status", &self.status)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

impl Head {
    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn version(&self) -> Version {
        self.version
    }

    /// The header fields, as a map: made on the first call.
    pub fn headers(&self) -> &HeaderMap {
        self.headers.get_or_init(|| Box::new(fields(&self.raw)))
    }

    /// The header map, taken out (made if it was not yet); `set_headers` (feature
    /// `gzip`) puts one back.
    pub fn take_headers(&mut self) -> HeaderMap {
        self.headers
            .take()
            .map_or_else(|| fields(&self.raw), |headers| *headers)
    }

    #[cfg(feature = "gzip")]
    pub fn set_headers(&mut self, headers: HeaderMap) {
        self.headers = OnceLock::from(Box::new(headers));
    }

    /// Whether the head has both `Transfer-Encoding` and `Content-Length` (see
    /// [`crate::response::reuse_allowed`]), known without the header map.
    pub fn framed_twice(&self) -> bool {
        self.framed_twice
    }

    /// The head's bytes as received, if the request asked to keep them.
    pub fn raw(&self) -> Option<&[u8]> {
        self.keep_raw.then_some(self.raw.as_ref())
    }

    /// Keeps the head's bytes for [`raw`](Self::raw).
    pub fn keep_raw(&mut self) {
        self.keep_raw = true;
    }
}

/// Reads the response head at the start of `input`, answering the request `sent`:
/// `(bytes used, head and its body's reader)`; `(0, None)` while the head is
/// incomplete; `(used, None)` for an informational response, which is skipped.
pub(crate) fn parse(
    input: &[u8],
    sent: Sent,
) -> Result<(usize, Option<(Head, BodyReader)>), ureq_proto::Error> {
    let mut slots = [const { MaybeUninit::uninit() }; MAX_FIELDS];
    let mut parsed = httparse::Response::new(&mut []);
    // `Response::parse`'s configuration (the default), which ureq-proto uses.
    let config = httparse::ParserConfig::default();
    let used = match config.parse_response_with_uninit_headers(&mut parsed, input, &mut slots) {
        Ok(httparse::Status::Complete(used)) => used,
        Ok(httparse::Status::Partial) => return Ok((0, None)),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(ureq_proto::Error::HttpParseTooManyHeaders)
        }
        Err(e) => return Err(e.into()),
    };
    let version = match parsed.version {
        Some(0) => Version::HTTP_10,
        Some(1) => Version::HTTP_11,
        _ => return Err(ureq_proto::Error::UnsupportedVersion),
    };
    let code = parsed.code.unwrap_or(0);
    let status = StatusCode::from_u16(code)
        .map_err(|_| ureq_proto::Error::HttpParseFail(format!("invalid status code: {code:03}")))?;
    let mut fields = Fields::default();
    for field in parsed.headers.iter() {
        let name = field.name.as_bytes();
        // httparse allows in names and values exactly what `HeaderName` and
        // `HeaderValue` allow (token characters; visible bytes, space and tab), so
        // the map made later takes every field. Only a name's length is not its
        // concern.
        if name.len() > MAX_NAME {
            return Err(bad_field(&"header name too long"));
        }
        match name.len() {
            14 if name.eq_ignore_ascii_case(b"content-length") => {
                fields.content_length(field.value)
            }
            17 if name.eq_ignore_ascii_case(b"transfer-encoding") => {
                fields.transfer_encoding(field.value)
            }
            10 if name.eq_ignore_ascii_case(b"connection") => fields.connection(field.value),
            _ => {}
        }
    }
    if code == 100 {
        // A 100 Continue that came after the wait for it: skipped, if bare.
        if !parsed.headers.is_empty() {
            return Err(ureq_proto::Error::HeadersWith100);
        }
        return Ok((used, None));
    }
    // 101 Switching Protocols is a final response, framed like the others.
    if (100..200).contains(&code) && code != 101 {
        fields.check()?;
        return Ok((used, None));
    }
    let reader = fields.framing(version, code, sent)?;
    let head = Head {
        status,
        version,
        raw: Bytes::copy_from_slice(input.get(..used).unwrap_or_default()),
        keep_raw: false,
        framed_twice: fields.framed_twice(),
        headers: OnceLock::new(),
    };
    Ok((used, Some((head, reader))))
}

fn bad_field(e: &dyn fmt::Display) -> ureq_proto::Error {
    ureq_proto::Error::HttpParseFail(e.to_string())
}

/// The header map of a head [`parse`] accepted: each value a slice of `raw`.
fn fields(raw: &Bytes) -> HeaderMap {
    let mut slots = [const { MaybeUninit::uninit() }; MAX_FIELDS];
    let mut parsed = httparse::Response::new(&mut []);
    let config = httparse::ParserConfig::default();
    if config
        .parse_response_with_uninit_headers(&mut parsed, raw, &mut slots)
        .is_err()
    {
        // Not for a head `parse` accepted: the same bytes, the same parser.
        return HeaderMap::new();
    }
    let mut headers = HeaderMap::with_capacity(parsed.headers.len());
    for field in parsed.headers.iter() {
        let name = HeaderName::from_bytes(field.name.as_bytes());
        let value = HeaderValue::from_maybe_shared(slice_of(raw, field.value));
        // Both were checked by `parse`.
        if let (Ok(name), Ok(value)) = (name, value) {
            headers.append(name, value);
        }
    }
    headers
}

/// `part`, a slice of `raw`'s bytes, as a `Bytes` sharing them.
fn slice_of(raw: &Bytes, part: &[u8]) -> Bytes {
    let start = (part.as_ptr() as usize).saturating_sub(raw.as_ptr() as usize);
    let end = start.saturating_add(part.len()).min(raw.len());
    raw.slice(start.min(end)..end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ureq_proto::client::state::{Prepare, RecvResponse};
    use ureq_proto::client::{Call, RecvBodyResult, RecvResponseResult, SendRequestResult};
    use ureq_proto::BodyMode;

    /// A ureq-proto call for `method`, ready to read a response.
    fn call(method: &http::Method, close: bool) -> Call<RecvResponse> {
        let mut request = http::Request::new(());
        *request.method_mut() = method.clone();
        if *method == http::Method::CONNECT {
            *request.uri_mut() = "h.example:443".parse().unwrap();
        }
        if *method == http::Method::POST {
            // Without a body to send: straight to the response.
            request
                .headers_mut()
                .insert("content-length", "0".parse().unwrap());
        }
        if close {
            request
                .headers_mut()
                .insert("connection", "close".parse().unwrap());
        }
        let call: Call<Prepare> = Call::new(request).unwrap();
        let mut call = call.proceed();
        let mut scratch = [0u8; 256];
        call.write(&mut scratch).unwrap();
        match call.proceed() {
            Ok(Some(SendRequestResult::RecvResponse(call))) => call,
            _ => panic!("no response state"),
        }
    }

    /// What ureq-proto makes of `head` (whole) for `method`: the body mode
    /// (`NoBody` for a response without body bytes), and whether the connection
    /// must close after it; `None` for an error or a skipped 1xx.
    fn theirs(method: &http::Method, close: bool, head: &[u8]) -> Option<(BodyMode, bool)> {
        let mut call = call(method, close);
        match call.try_response(head, false) {
            Ok((_, Some(_))) => {}
            _ => return None,
        }
        match call.proceed()? {
            RecvResponseResult::RecvBody(mut body) => {
                let mode = body.body_mode();
                // The body's end, so the call can move on and say how it closes.
                let end: Vec<u8> = match mode {
                    BodyMode::LengthDelimited(n) => vec![b'x'; n as usize],
                    BodyMode::Chunked => b"0\r\n\r\n".to_vec(),
                    _ => Vec::new(),
                };
                body.read(&end, &mut vec![0; end.len()]).unwrap();
                let close = match body.proceed()? {
                    RecvBodyResult::Cleanup(c) => c.must_close_connection(),
                    RecvBodyResult::Redirect(c) => c.must_close_connection(),
                };
                Some((mode, close))
            }
            RecvResponseResult::Cleanup(c) => Some((BodyMode::NoBody, c.must_close_connection())),
            RecvResponseResult::Redirect(c) => Some((BodyMode::NoBody, c.must_close_connection())),
        }
    }

    /// What this module makes of it, in the same terms.
    fn ours(method: &http::Method, close: bool, head: &[u8]) -> Option<(BodyMode, bool)> {
        let sent = Sent {
            head: *method == http::Method::HEAD,
            connect: *method == http::Method::CONNECT,
            close,
        };
        let (_, Some((_, reader))) = parse(head, sent).ok()? else {
            return None;
        };
        let mode = if !reader.has_body() {
            BodyMode::NoBody
        } else if reader.is_chunked() {
            BodyMode::Chunked
        } else if reader.is_close_delimited() {
            BodyMode::CloseDelimited
        } else {
            BodyMode::LengthDelimited(reader.length_left().unwrap())
        };
        Some((mode, reader.must_close()))
    }

    /// Heads whose framing and connection rules differ, for the comparison.
    const HEADS: &[&[u8]] = &[
        b"HTTP/1.1 200 OK\r\nserver: x\r\ncontent-length: 5\r\ndate: y\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\ntransfer-encoding:  CHUNKED \r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunkedx\r\ncontent-length: 2\r\n\r\n",
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-length: 9\r\n\r\n",
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-length: x\r\n\r\n",
        b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\ncontent-length: 6\r\n\r\n",
        b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\ncontent-length: 5\r\n\r\n",
        b"HTTP/1.1 200 OK\r\ncontent-length: 5, 05\r\n\r\n",
        b"HTTP/1.1 200 OK\r\ncontent-length: 5,\r\n\r\n",
        b"HTTP/1.1 200 OK\r\ncontent-length: 5, 6\r\n\r\n",
        b"HTTP/1.1 200 OK\r\ncontent-length: +5\r\n\r\n",
        b"HTTP/1.1 200 OK\r\ncontent-length: \r\n\r\n",
        b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\ncontent-length: 000000000000000000000000007\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551616\r\n\r\n",
        b"HTTP/1.0 200 OK\r\ncontent-length: 5\r\n\r\n",
        b"HTTP/1.0 200 OK\r\ncontent-length: 5\r\nconnection: Keep-Alive\r\n\r\n",
        b"HTTP/1.0 200 OK\r\nconnection: foo, keep-alive\r\n\r\n",
        b"HTTP/1.0 200 OK\r\ntransfer-encoding: chunked\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nconnection: upgrade, CLOSE\r\ncontent-length: 1\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nconnection: keep-alive\r\nconnection: close\r\ncontent-length: 1\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nconnection: close\xff\r\ncontent-length: 1\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nconnection: closed\r\ncontent-length: 1\r\n\r\n",
        b"HTTP/1.1 204 No Content\r\ncontent-length: 5\r\n\r\n",
        b"HTTP/1.1 304 Not Modified\r\ntransfer-encoding: chunked\r\n\r\n",
        b"HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\n\r\n",
        b"HTTP/1.1 201 Created\r\n\r\n",
        b"HTTP/1.1 407 Proxy Authentication Required\r\ncontent-length: 2\r\n\r\n",
        b"HTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\n",
        b"HTTP/1.1 103 Early Hints\r\ncontent-length: x\r\n\r\n",
        b"HTTP/1.1 100 Continue\r\n\r\n",
        b"HTTP/1.1 100 Continue\r\nx: y\r\n\r\n",
        b"HTTP/1.1 200 OK\r\ncontent-length: x\r\n\r\n",
    ];

    /// Every head above, for every method and with or without a request's
    /// `Connection: close`: the same framing and the same close as ureq-proto's.
    #[test]
    fn framing_and_close_are_what_ureq_proto_gives() {
        let methods = [
            http::Method::GET,
            http::Method::HEAD,
            http::Method::POST,
            http::Method::CONNECT,
        ];
        for head in HEADS {
            for method in &methods {
                for close in [false, true] {
                    let text = String::from_utf8_lossy(head);
                    assert_eq!(
                        theirs(method, close, head),
                        ours(method, close, head),
                        "{method} close={close} {text}"
                    );
                }
            }
        }
    }

    /// Both parsers on one head: framing and close, skipped (`None`) or the error.
    type Outcome = Result<Option<(BodyMode, bool)>, String>;

    fn theirs_or_error(method: &http::Method, close: bool, head: &[u8]) -> Outcome {
        let mut call = call(method, close);
        match call.try_response(head, false) {
            Err(e) => Err(e.to_string()),
            Ok((_, None)) => Ok(None),
            Ok((_, Some(_))) => Ok(theirs(method, close, head)),
        }
    }

    fn ours_or_error(method: &http::Method, close: bool, head: &[u8]) -> Outcome {
        let sent = Sent {
            head: *method == http::Method::HEAD,
            connect: *method == http::Method::CONNECT,
            close,
        };
        match parse(head, sent) {
            Err(e) => Err(e.to_string()),
            Ok((_, None)) => Ok(None),
            Ok((_, Some(_))) => Ok(ours(method, close, head)),
        }
    }

    /// Heads made at random (a fixed seed: the same heads every run) from status
    /// lines and framing fields that differ in small ways: both parsers must agree on
    /// the framing, the close, the skipping of 1xx and the error, whatever the mix.
    #[test]
    fn random_heads_are_framed_as_ureq_proto_frames_them() {
        const STATUS: &[&str] = &[
            "HTTP/1.1 200 OK",
            "HTTP/1.0 200 OK",
            "HTTP/1.1 204 No",
            "HTTP/1.1 304 No",
            "HTTP/1.1 100 Go",
            "HTTP/1.1 101 Up",
            "HTTP/1.1 103 Hints",
            "HTTP/1.0 302 Go",
            "HTTP/1.1 404 No",
            "HTTP/1.1 500 Err",
        ];
        const FIELDS: &[&str] = &[
            "content-length: 5",
            "Content-Length: 0",
            "content-length: 5, 5",
            "content-length: 5,7",
            "content-length: x",
            "content-length: -1",
            "content-length: +5",
            "content-length: 18446744073709551616",
            "content-length:",
            "transfer-encoding: chunked",
            "Transfer-Encoding: gzip, chunked",
            "transfer-encoding: chunked, gzip",
            "transfer-encoding: gzip",
            "transfer-encoding: CHUNKED",
            "transfer-encoding: xchunked",
            "connection: close",
            "Connection: Keep-Alive",
            "connection: keep-alive, close",
            "connection: upgrade",
            "connection: closed",
            "x-other: close",
        ];
        let methods = [
            http::Method::GET,
            http::Method::HEAD,
            http::Method::POST,
            http::Method::CONNECT,
        ];
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = |n: usize| {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            (seed >> 33) as usize % n
        };
        for _ in 0..3000 {
            let mut head = String::from(STATUS[next(STATUS.len())]);
            head.push_str("\r\n");
            for _ in 0..next(4) {
                head.push_str(FIELDS[next(FIELDS.len())]);
                head.push_str("\r\n");
            }
            head.push_str("\r\n");
            let method = &methods[next(methods.len())];
            let close = next(2) == 1;
            assert_eq!(
                theirs_or_error(method, close, head.as_bytes()),
                ours_or_error(method, close, head.as_bytes()),
                "{method} close={close} {head:?}"
            );
        }
    }

    #[test]
    fn framing_errors_are_ureq_proto_s() {
        let sent = Sent::default();
        let cases: [(&[u8], ureq_proto::Error); 4] = [
            (
                b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\ncontent-length: 6\r\n\r\n",
                ureq_proto::Error::TooManyContentLengthHeaders,
            ),
            (
                b"HTTP/1.1 200 OK\r\ncontent-length: 5x\r\n\r\n",
                ureq_proto::Error::BadContentLengthHeader,
            ),
            (
                b"HTTP/1.1 103 Early Hints\r\ncontent-length: -1\r\n\r\n",
                ureq_proto::Error::BadContentLengthHeader,
            ),
            (
                b"HTTP/1.1 100 Continue\r\nx: y\r\n\r\n",
                ureq_proto::Error::HeadersWith100,
            ),
        ];
        for (head, expected) in cases {
            let err = parse(head, sent).map(|_| ()).unwrap_err();
            assert_eq!(err, expected, "{}", String::from_utf8_lossy(head));
        }
    }

    #[test]
    fn informational_heads_are_skipped_whole() {
        let input = b"HTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\nHTTP/1.1 200 OK\r\n";
        let (used, head) = parse(input, Sent::default()).unwrap();
        assert!(head.is_none());
        assert_eq!(&input[used..], b"HTTP/1.1 200 OK\r\n");
    }

    #[test]
    fn headers_are_made_on_first_use_as_received() {
        let input = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nx-a: 1\r\nx-a: 2\r\n\
                      content-length: 2\r\n\r\nok";
        let (used, head) = parse(input, Sent::default()).unwrap();
        let (head, reader) = head.unwrap();
        assert_eq!(used, input.len() - 2);
        assert_eq!(reader.length_left(), Some(2));
        assert!(head.headers.get().is_none(), "made before it was asked for");
        assert_eq!(head.status(), StatusCode::OK);
        assert_eq!(head.headers()["content-type"], "text/plain");
        let all: Vec<_> = head.headers().get_all("x-a").iter().collect();
        assert_eq!(all, ["1", "2"]);
        assert_eq!(head.raw(), None);
    }

    #[test]
    fn a_partial_head_waits_and_a_bad_one_fails() {
        let sent = Sent::default();
        assert!(matches!(
            parse(b"HTTP/1.1 200 OK\r\nx: y\r\n", sent),
            Ok((0, None))
        ));
        assert!(parse(b"HTTP/1.1 200 OK\r\nx y: z\r\n\r\n", sent).is_err());
        assert!(parse(b"HTTP/1.1 099 Low\r\n\r\n", sent).is_err());
        let mut many = b"HTTP/1.1 200 OK\r\n".to_vec();
        for i in 0..=MAX_FIELDS {
            many.extend_from_slice(format!("x-{i}: v\r\n").as_bytes());
        }
        many.extend_from_slice(b"\r\n");
        assert!(matches!(
            parse(&many, sent),
            Err(ureq_proto::Error::HttpParseTooManyHeaders)
        ));
    }

    #[test]
    fn a_long_connection_field_is_read_whole() {
        let long = "close, ".repeat(40);
        let input = format!("HTTP/1.1 200 OK\r\nconnection: {long}x\r\ncontent-length: 0\r\n\r\n");
        let method = http::Method::GET;
        let ours = ours(&method, false, input.as_bytes());
        assert_eq!(theirs(&method, false, input.as_bytes()), ours);
        assert_eq!(ours, Some((BodyMode::NoBody, true)));
    }
}
