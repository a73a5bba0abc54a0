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
//! ureq-proto still frames the body and decides whether the connection stays open.
//! It is handed a head of its own: the status line and every `Content-Length`,
//! `Transfer-Encoding` and `Connection` field, in the order received. Those fields,
//! the status, the version and the request's method are all its framing rules look
//! at, so it frames exactly as it would from the whole head. An informational (1xx)
//! response goes to ureq-proto whole: its `100 Continue` rules look at every field.

use std::fmt;
use std::mem::MaybeUninit;
use std::sync::OnceLock;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Version};
use ureq_proto::client::state::RecvResponse;
use ureq_proto::client::Call;

/// Most header fields in a response head: ureq-proto's limit, so that a head is
/// refused the same way whichever of the two parses it.
const MAX_FIELDS: usize = ureq_proto::client::MAX_RESPONSE_HEADERS;

/// The longest header name `HeaderName` takes.
const MAX_NAME: usize = u16::MAX as usize;

/// Bytes of the framing head ([`FramingHead`]) kept on the stack: a status line and
/// a `Content-Length` or `Transfer-Encoding`. A longer one goes to the heap.
const FRAMING_STACK: usize = 128;

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

    /// The header map, taken out (made if it was not yet); [`set_headers`] puts one back.
    ///
    /// [`set_headers`]: Self::set_headers
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

/// Reads the response head at the start of `input` and moves `call` past it:
/// `(bytes used, head)`; `(0, None)` while the head is incomplete; `(used, None)`
/// for an informational response, which is skipped.
pub(crate) fn parse(
    call: &mut Call<RecvResponse>,
    input: &[u8],
) -> Result<(usize, Option<Head>), ureq_proto::Error> {
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
    let code = parsed.code.unwrap_or(0);
    // 101 Switching Protocols is a final response, framed like the others.
    if (100..200).contains(&code) && code != 101 {
        return call
            .try_response(input, false)
            .map(|(used, _)| (used, None));
    }
    let version = match parsed.version {
        Some(0) => Version::HTTP_10,
        Some(1) => Version::HTTP_11,
        _ => return Err(ureq_proto::Error::UnsupportedVersion),
    };
    let status = StatusCode::from_u16(code)
        .map_err(|_| ureq_proto::Error::HttpParseFail(format!("invalid status code: {code:03}")))?;
    let mut framing = FramingHead::new(version, code);
    let (mut length, mut coding) = (false, false);
    for field in parsed.headers.iter() {
        let name = field.name.as_bytes();
        // httparse allows in names and values exactly what `HeaderName` and
        // `HeaderValue` allow (token characters; visible bytes, space and tab), so
        // the map made later takes every field. Only a name's length is not its
        // concern.
        if name.len() > MAX_NAME {
            return Err(bad_field(&"header name too long"));
        }
        let framing_field = match name.len() {
            14 => name.eq_ignore_ascii_case(b"content-length"),
            17 => name.eq_ignore_ascii_case(b"transfer-encoding"),
            10 => name.eq_ignore_ascii_case(b"connection"),
            _ => false,
        };
        if framing_field {
            length |= name.len() == 14;
            coding |= name.len() == 17;
            framing.field(input, name, field.value);
        }
    }
    framing.end();
    match call.try_response(framing.bytes(), false)? {
        (_, Some(_)) => {}
        _ => return Err(bad_field(&"the framing head did not parse")),
    }
    let head = Head {
        status,
        version,
        raw: Bytes::copy_from_slice(input.get(..used).unwrap_or_default()),
        keep_raw: false,
        framed_twice: length && coding,
        headers: OnceLock::new(),
    };
    Ok((used, Some(head)))
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

/// The head [`parse`] hands ureq-proto: a status line and the fields that frame the
/// body, as received.
struct FramingHead {
    stack: [u8; FRAMING_STACK],
    len: usize,
    /// The whole framing head, once it outgrew `stack`.
    heap: Vec<u8>,
}

impl FramingHead {
    fn new(version: Version, code: u16) -> FramingHead {
        let minor = if version == Version::HTTP_10 {
            b'0'
        } else {
            b'1'
        };
        // `code` is three digits (httparse reads exactly three).
        let digit = |d: u16| b'0'.saturating_add(u8::try_from(d % 10).unwrap_or(0));
        let line = *b"HTTP/1.x nnn \r\n";
        let mut stack = [0; FRAMING_STACK];
        if let Some(start) = stack.get_mut(..line.len()) {
            start.copy_from_slice(&line);
        }
        for (at, byte) in [
            (7, minor),
            (9, digit(code / 100)),
            (10, digit(code / 10)),
            (11, digit(code)),
        ] {
            if let Some(b) = stack.get_mut(at) {
                *b = byte;
            }
        }
        FramingHead {
            stack,
            len: line.len(),
            heap: Vec::new(),
        }
    }

    /// The field `name: value`, both slices of `input`: copied as one slice from
    /// the name to the value's end (whatever space the server put after the colon),
    /// then a line end.
    fn field(&mut self, input: &[u8], name: &[u8], value: &[u8]) {
        let base = input.as_ptr() as usize;
        let start = (name.as_ptr() as usize).saturating_sub(base);
        let end = (value.as_ptr() as usize)
            .saturating_sub(base)
            .saturating_add(value.len());
        match input.get(start..end) {
            Some(line) if end > start => self.push(&[line, b"\r\n"]),
            _ => self.push(&[name, b": ", value, b"\r\n"]),
        }
    }

    fn end(&mut self) {
        self.push(&[b"\r\n"]);
    }

    fn push(&mut self, parts: &[&[u8]]) {
        if self.heap.is_empty() {
            let size = parts.iter().map(|p| p.len()).fold(0, usize::saturating_add);
            let end = self.len.saturating_add(size);
            if let Some(mut out) = self.stack.get_mut(self.len..end) {
                for part in parts {
                    let (dst, rest) = out.split_at_mut(part.len());
                    dst.copy_from_slice(part);
                    out = rest;
                }
                self.len = end;
                return;
            }
            self.heap
                .extend_from_slice(self.stack.get(..self.len).unwrap_or_default());
        }
        for part in parts {
            self.heap.extend_from_slice(part);
        }
    }

    fn bytes(&self) -> &[u8] {
        if self.heap.is_empty() {
            self.stack.get(..self.len).unwrap_or_default()
        } else {
            &self.heap
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ureq_proto::client::state::Prepare;
    use ureq_proto::client::{RecvResponseResult, SendRequestResult};
    use ureq_proto::BodyMode;

    /// A call for `method`, ready to read a response.
    fn call(method: http::Method) -> Call<RecvResponse> {
        let mut request = http::Request::new(());
        *request.method_mut() = method;
        let call: Call<Prepare> = Call::new(request).unwrap();
        let mut call = call.proceed();
        let mut scratch = [0u8; 256];
        call.write(&mut scratch).unwrap();
        match call.proceed() {
            Ok(Some(SendRequestResult::RecvResponse(call))) => call,
            _ => panic!("no response state"),
        }
    }

    /// The body mode ureq-proto gives `head` (whole) and what this module's parse
    /// gives it: they must agree.
    fn modes(method: http::Method, head: &[u8]) -> (Option<BodyMode>, Option<BodyMode>) {
        let mode = |next: Option<RecvResponseResult>| match next {
            Some(RecvResponseResult::RecvBody(c)) => Some(c.body_mode()),
            Some(_) => Some(BodyMode::NoBody),
            None => None,
        };
        let mut whole = call(method.clone());
        let whole_ok = whole.try_response(head, false).map(|(_, r)| r.is_some());
        let whole_mode = match whole_ok {
            Ok(true) => mode(whole.proceed()),
            _ => None,
        };
        let mut ours = call(method);
        let ours_mode = match parse(&mut ours, head) {
            Ok((_, Some(_))) => mode(ours.proceed()),
            _ => None,
        };
        (whole_mode, ours_mode)
    }

    #[test]
    fn framing_is_what_the_whole_head_gives() {
        let heads: &[&[u8]] = &[
            b"HTTP/1.1 200 OK\r\nserver: x\r\ncontent-length: 5\r\ndate: y\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-length: 9\r\n\r\n",
            b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\ncontent-length: 6\r\n\r\n",
            b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\ncontent-length: 5\r\n\r\n",
            b"HTTP/1.0 200 OK\r\ncontent-length: 5\r\n\r\n",
            b"HTTP/1.0 200 OK\r\ntransfer-encoding: chunked\r\n\r\n",
            b"HTTP/1.1 204 No Content\r\ncontent-length: 5\r\n\r\n",
            b"HTTP/1.1 304 Not Modified\r\ncontent-length: 5\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n",
            b"HTTP/1.1 200 OK\r\ncontent-length: x\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551616\r\n\r\n",
        ];
        for head in heads {
            for method in [http::Method::GET, http::Method::HEAD] {
                let (whole, ours) = modes(method.clone(), head);
                let text = String::from_utf8_lossy(head);
                assert_eq!(whole, ours, "{method} {text}");
            }
        }
    }

    #[test]
    fn headers_are_made_on_first_use_as_received() {
        let input = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nx-a: 1\r\nx-a: 2\r\n\
                      content-length: 2\r\n\r\nok";
        let mut c = call(http::Method::GET);
        let (used, head) = parse(&mut c, input).unwrap();
        let head = head.unwrap();
        assert_eq!(used, input.len() - 2);
        assert!(head.headers.get().is_none(), "made before it was asked for");
        assert_eq!(head.status(), StatusCode::OK);
        assert_eq!(head.headers()["content-type"], "text/plain");
        let all: Vec<_> = head.headers().get_all("x-a").iter().collect();
        assert_eq!(all, ["1", "2"]);
        assert_eq!(head.raw(), None);
    }

    #[test]
    fn a_partial_head_waits_and_a_bad_one_fails() {
        let mut c = call(http::Method::GET);
        assert!(matches!(
            parse(&mut c, b"HTTP/1.1 200 OK\r\nx: y\r\n"),
            Ok((0, None))
        ));
        let mut c = call(http::Method::GET);
        assert!(parse(&mut c, b"HTTP/1.1 200 OK\r\nx y: z\r\n\r\n").is_err());
        let mut c = call(http::Method::GET);
        assert!(parse(&mut c, b"HTTP/1.1 099 Low\r\n\r\n").is_err());
        let mut many = b"HTTP/1.1 200 OK\r\n".to_vec();
        for i in 0..=MAX_FIELDS {
            many.extend_from_slice(format!("x-{i}: v\r\n").as_bytes());
        }
        many.extend_from_slice(b"\r\n");
        let mut c = call(http::Method::GET);
        assert!(matches!(
            parse(&mut c, &many),
            Err(ureq_proto::Error::HttpParseTooManyHeaders)
        ));
    }

    #[test]
    fn a_long_framing_head_goes_to_the_heap() {
        let long = "close, ".repeat(40);
        let input = format!("HTTP/1.1 200 OK\r\nconnection: {long}x\r\ncontent-length: 0\r\n\r\n");
        let (whole, ours) = modes(http::Method::GET, input.as_bytes());
        assert_eq!(whole, ours);
        assert!(ours.is_some());
    }
}
