//! `Response` and its streaming body, which gives the connection back to the pool when
//! the body has been read to its end.

use std::fmt;
use std::io::{self, Read};
use std::sync::Arc;

use http::{HeaderMap, StatusCode, Uri, Version};
use ureq_proto::client::state::RecvBody;
use ureq_proto::client::Call;

use crate::client::Inner;
use crate::error::{Error, Result};
use crate::exchange;
use crate::pool::Conn;

/// Default limit of [`Response::into_string`] and [`Response::into_vec`]: 1 MiB, far
/// above a REST response and far below a device's memory. Stream larger bodies with
/// [`Response::into_reader`] or raise it with
/// [`ClientBuilder::body_limit`](crate::ClientBuilder::body_limit).
pub const DEFAULT_BODY_LIMIT: u64 = 1024 * 1024;

/// A response: status, headers, and the body as a stream.
///
/// The connection goes back to the pool once the body is read to its end; dropping
/// the response before that closes the connection.
pub struct Response {
    status: StatusCode,
    version: Version,
    headers: HeaderMap,
    url: Uri,
    body: Body,
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl Response {
    pub(crate) fn new(head: http::Response<()>, url: Uri, body: Body) -> Response {
        let (parts, ()) = head.into_parts();
        Response {
            status: parts.status,
            version: parts.version,
            headers: parts.headers,
            url,
            body,
        }
    }

    /// The status code. Compares with integers: `resp.status() == 200`.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The HTTP version of the response.
    pub fn version(&self) -> Version {
        self.version
    }

    /// All response headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The first value of a header, if present and valid text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The URL that answered (after redirects).
    pub fn url(&self) -> &Uri {
        &self.url
    }

    /// The body as a stream (`impl Read`): nothing is buffered whole.
    pub fn into_reader(self) -> Body {
        self.body
    }

    /// The body as text, up to the client's body limit (default
    /// [`DEFAULT_BODY_LIMIT`]); a larger body is [`Error::BodyTooLarge`], never cut.
    pub fn into_string(self) -> Result<String> {
        let limit = self.body.limit;
        self.into_string_limited(limit)
    }

    /// The body as text, up to `limit` bytes.
    pub fn into_string_limited(self, limit: u64) -> Result<String> {
        let host = self
            .url
            .authority()
            .map(|a| a.to_string())
            .unwrap_or_default();
        let bytes = self.into_vec_limited(limit)?;
        String::from_utf8(bytes).map_err(|e| Error::protocol(&host, e))
    }

    /// The body as bytes, up to the client's body limit.
    pub fn into_vec(self) -> Result<Vec<u8>> {
        let limit = self.body.limit;
        self.into_vec_limited(limit)
    }

    /// The body as bytes, up to `limit` bytes; a larger body is
    /// [`Error::BodyTooLarge`].
    pub fn into_vec_limited(self, limit: u64) -> Result<Vec<u8>> {
        let hint = self
            .header("content-length")
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
            .min(limit);
        let mut out = Vec::with_capacity(hint as usize);
        let mut body = self.body;
        let host = body.host();
        (&mut body)
            .take(limit.saturating_add(1))
            .read_to_end(&mut out)
            .map_err(|e| Error::from_io(e, &host))?;
        if out.len() as u64 > limit {
            return Err(Error::BodyTooLarge { limit });
        }
        Ok(out)
    }
}

/// A response body being read: `impl Read`. `read` returns 0 only at the body's
/// real end; a body cut short is an error ([`Error::Truncated`] inside the
/// `io::Error`, see [`Error`]'s docs).
pub struct Body {
    state: State,
    limit: u64,
}

enum State {
    Done,
    Failed,
    Reading(Box<Reading>),
}

struct Reading {
    conn: Conn,
    call: Call<RecvBody>,
    client: Arc<Inner>,
    host: Arc<str>,
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Done => "done",
            State::Failed => "failed",
            State::Reading(_) => "reading",
        };
        f.debug_struct("Body").field("state", &state).finish()
    }
}

impl Body {
    /// A body that is already complete (none, or none left).
    pub(crate) fn empty(limit: u64) -> Body {
        Body {
            state: State::Done,
            limit,
        }
    }

    pub(crate) fn reading(conn: Conn, call: Call<RecvBody>, client: Arc<Inner>) -> Body {
        let limit = client.config.body_limit;
        let host = conn.io.host().clone();
        Body {
            state: State::Reading(Box::new(Reading {
                conn,
                call,
                client,
                host,
            })),
            limit,
        }
    }

    fn host(&self) -> Arc<str> {
        match &self.state {
            State::Reading(r) => r.host.clone(),
            _ => Arc::from(""),
        }
    }
}

impl Read for Body {
    fn read(&mut self, dst: &mut [u8]) -> io::Result<usize> {
        let State::Reading(r) = &mut self.state else {
            return match self.state {
                State::Failed => Err(io::Error::other("response body failed earlier")),
                _ => Ok(0),
            };
        };
        let max_line = r.client.config.max_response_head;
        let conn = &mut r.conn;
        let result = exchange::read_body(
            &mut conn.io,
            &mut conn.buf,
            &mut r.call,
            dst,
            &r.host,
            max_line,
        );
        match result {
            Ok(0) => {
                let State::Reading(r) = std::mem::replace(&mut self.state, State::Done) else {
                    unreachable!("matched above");
                };
                let Reading {
                    conn, call, client, ..
                } = *r;
                if exchange::finish_body(call, &conn.buf) {
                    client.pool.checkin(conn);
                } else {
                    conn.close();
                }
                Ok(0)
            }
            Ok(n) => Ok(n),
            Err(e) => {
                if let State::Reading(r) = std::mem::replace(&mut self.state, State::Failed) {
                    r.conn.close();
                }
                Err(e.into_io())
            }
        }
    }
}

impl Drop for Body {
    fn drop(&mut self) {
        if let State::Reading(r) = std::mem::replace(&mut self.state, State::Done) {
            debug!("body dropped before its end: closing {}", r.conn.io.host());
            r.conn.close();
        }
    }
}
