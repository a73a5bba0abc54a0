//! `RequestBuilder`: method, URL, headers, per-request timeout, and the body.

use std::fmt;
use std::io::{Read, Seek};
use std::time::Duration;

use http::header::{HeaderName, HeaderValue};
use http::{HeaderMap, Method, Uri};

use crate::client::Client;
use crate::error::{Error, Result};
use crate::exchange::ReqBody;
use crate::netloc;
use crate::response::Response;

/// A request being built; sent by [`call`](Self::call) or one of the `send_*` methods.
///
/// ```no_run
/// # fn main() -> Result<(), tinyhttps::Error> {
/// let client = tinyhttps::Client::new();
/// let resp = client
///     .post("https://device-api.example.com/v1/readings")
///     .header("Content-Type", "application/json")
///     .send_string(r#"{"temp":21.5}"#)?;
/// assert_eq!(resp.status(), 201);
/// # Ok(()) }
/// ```
#[must_use = "a request is sent only by call() or a send_* method"]
pub struct RequestBuilder<'a> {
    client: &'a Client,
    parts: Result<RequestParts>,
}

/// What the client needs to send a request, body aside.
pub(crate) struct RequestParts {
    pub method: Method,
    pub uri: Uri,
    pub headers: HeaderMap,
    pub timeout: Option<Duration>,
    pub keep_raw_head: bool,
}

impl fmt::Debug for RequestBuilder<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Header values may hold credentials: names only.
        match &self.parts {
            Ok(p) => f
                .debug_struct("RequestBuilder")
                .field("method", &p.method)
                // Not yet checked: hide as for a URL that did not parse.
                .field("uri", &netloc::redact_str(&p.uri.to_string()))
                .field("headers", &p.headers.keys().collect::<Vec<_>>())
                .finish(),
            Err(e) => f.debug_struct("RequestBuilder").field("error", e).finish(),
        }
    }
}

impl<'a> RequestBuilder<'a> {
    pub(crate) fn new(client: &'a Client, method: Method, url: &str) -> Self {
        let parts = url
            .parse::<Uri>()
            .map_err(|_| Error::InvalidUrl {
                url: netloc::redact_str(url).into(),
                reason: "not a valid URL",
            })
            .map(|uri| RequestParts {
                method,
                uri,
                headers: HeaderMap::new(),
                timeout: None,
                keep_raw_head: false,
            });
        RequestBuilder { client, parts }
    }

    /// Adds a header (a repeated name adds another value). An invalid name or value
    /// makes the request fail with [`Error::InvalidRequest`] when sent.
    ///
    /// Setting `Content-Length` before [`send_reader`](Self::send_reader) sends the
    /// body with that length instead of chunked; `Expect: 100-continue` waits for
    /// the server's go-ahead (up to a second) before sending the body.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        if let Ok(parts) = &mut self.parts {
            let parsed_name = HeaderName::from_bytes(name.as_bytes());
            let parsed_value = HeaderValue::from_str(value);
            match (parsed_name, parsed_value) {
                (Ok(n), Ok(v)) => {
                    parts.headers.append(n, v);
                }
                _ => {
                    self.parts = Err(Error::invalid_request(format_args!(
                        "invalid header {name:?}"
                    )))
                }
            }
        }
        self
    }

    /// The overall deadline of this request (connect to last body byte), replacing
    /// the client's [`timeout`](crate::ClientBuilder::timeout).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        if let Ok(parts) = &mut self.parts {
            parts.timeout = Some(timeout);
        }
        self
    }

    /// Keeps the response head exactly as the server sent it, for
    /// [`Response::raw_head`]: the reason phrase and the case of header names, which
    /// [`Response::status`] and [`Response::headers`] do not keep (a curl-like tool
    /// shows them). Costs a copy of the head per response, so it is off by default.
    pub fn keep_raw_head(mut self) -> Self {
        if let Ok(parts) = &mut self.parts {
            parts.keep_raw_head = true;
        }
        self
    }

    /// Sends the request without a body.
    pub fn call(self) -> Result<Response> {
        self.client.execute(self.parts?, ReqBody::None)
    }

    /// Sends `body` with a `Content-Length`. The head and a body of up to a few KiB
    /// leave in one write.
    ///
    /// A server that answers before it has the whole body (413, 401) and stops
    /// reading or closes fails the upload's writes: its answer is then returned, as
    /// the response (the connection is closed after it), not the write error, and
    /// the request is not retried.
    pub fn send_bytes(self, body: &[u8]) -> Result<Response> {
        self.client.execute(self.parts?, ReqBody::Bytes(body))
    }

    /// Sends text as the body (see [`send_bytes`](Self::send_bytes)).
    pub fn send_string(self, body: &str) -> Result<Response> {
        self.send_bytes(body.as_bytes())
    }

    /// Streams the body from a reader: chunked, or with the `Content-Length` header
    /// if one was set (then the reader must yield exactly that many bytes). Nothing
    /// is buffered whole. A streamed body cannot be replayed, so such a request is
    /// never retried and 307/308 redirects are returned, not followed. An answer
    /// that comes before the body is all sent is returned as for
    /// [`send_bytes`](Self::send_bytes).
    pub fn send_reader(self, mut reader: impl Read) -> Result<Response> {
        self.client
            .execute(self.parts?, ReqBody::Reader(&mut reader))
    }

    /// Streams the body like [`send_reader`](Self::send_reader), from a source that
    /// can be read again (a `File`, a `Cursor`): if an idempotent request fails on a
    /// reused connection before any answer, or a 307/308 redirect keeps the body,
    /// it seeks back to where it started and sends the body again.
    pub fn send_seekable(self, mut source: impl Read + Seek) -> Result<Response> {
        let start = source.stream_position().map_err(|e| {
            Error::invalid_request(format_args!("request body position unknown: {e}"))
        })?;
        self.client
            .execute(self.parts?, ReqBody::Seekable(&mut source, start))
    }
}
