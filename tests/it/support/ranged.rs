//! A file served as a server with range support serves it (RFC 9110 §14: `ETag`,
//! `Range: bytes=N-`, `If-Range`), so that download tests script only the faults:
//! [`answer`] says what such a server answers, and [`Answer`]'s methods make the
//! [`Reply`]: whole, cut after some body bytes without close_notify, or stalled.

use std::time::Duration;

use super::message::{Reply, Request, Step};

/// Longest a stalled reply holds its connection: the server's stop (at the end of
/// the test) cuts the sleep short, so this only bounds a test that forgot it.
const STALL: Duration = Duration::from_secs(600);

/// What a server with range support answers to a request for a file.
#[derive(Clone, Debug)]
pub struct Answer {
    /// 200, 206 or 416.
    pub status: u16,
    /// The first byte of the file in the body.
    pub start: usize,
    /// Header fields, without framing (`Content-Length` is added by the methods).
    pub headers: Vec<(String, String)>,
}

/// The answer to `request` for `body` tagged `etag` (a quoted strong tag, or "" for
/// none): 206 from N for `Range: bytes=N-` when there is no `If-Range` or it names
/// `etag`; 416 (`Content-Range: bytes */LEN`) when N is not below the length; else
/// 200 with the whole file.
pub fn answer(request: &Request, body: &[u8], etag: &str) -> Answer {
    let len = body.len();
    let mut headers = vec![("Accept-Ranges".to_string(), "bytes".to_string())];
    if !etag.is_empty() {
        headers.push(("ETag".into(), etag.into()));
    }
    let from = request
        .header("range")
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.strip_suffix('-'))
        .and_then(|n| n.parse::<usize>().ok());
    let if_range_holds = request.header("if-range").is_none_or(|v| v == etag);
    match from {
        Some(n) if if_range_holds && n < len => {
            headers.push((
                "Content-Range".into(),
                format!("bytes {n}-{}/{len}", len - 1),
            ));
            Answer {
                status: 206,
                start: n,
                headers,
            }
        }
        Some(_) if if_range_holds => {
            headers.push(("Content-Range".into(), format!("bytes */{len}")));
            Answer {
                status: 416,
                start: len,
                headers,
            }
        }
        _ => Answer {
            status: 200,
            start: 0,
            headers,
        },
    }
}

impl Answer {
    /// The head with a `Content-Length` for the rest of `body` from `start`.
    pub fn head(&self, body: &[u8]) -> Vec<u8> {
        let length = body.len().saturating_sub(self.start);
        self.head_with(Some(length))
    }

    /// The head with this `Content-Length`, or none (a close-delimited body).
    pub fn head_with(&self, length: Option<usize>) -> Vec<u8> {
        let reason = http::StatusCode::from_u16(self.status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("Unknown");
        let mut out = format!("HTTP/1.1 {} {reason}\r\n", self.status);
        for (name, value) in &self.headers {
            out.push_str(&format!("{name}: {value}\r\n"));
        }
        match length {
            Some(n) => out.push_str(&format!("Content-Length: {n}\r\n")),
            None => out.push_str("Connection: close\r\n"),
        }
        out.push_str("\r\n");
        out.into_bytes()
    }

    /// The whole answer; keeps the connection.
    pub fn reply(&self, body: &[u8]) -> Reply {
        let mut out = self.head(body);
        out.extend_from_slice(body.get(self.start..).unwrap_or_default());
        Reply::raw(&out)
    }

    /// The head (with the full `Content-Length`) and `after` body bytes at most,
    /// then TCP closes without close_notify: a link that broke.
    pub fn cut(&self, body: &[u8], after: usize) -> Reply {
        let mut out = self.head(body);
        out.extend_from_slice(self.slice(body, after));
        Reply::steps(vec![Step::Send(out), Step::Close], false)
    }

    /// Like [`cut`](Self::cut) with a close-delimited body (no `Content-Length`,
    /// `Connection: close`): only close_notify could tell its end, and none comes.
    pub fn cut_close_delimited(&self, body: &[u8], after: usize) -> Reply {
        let mut out = self.head_with(None);
        out.extend_from_slice(self.slice(body, after));
        Reply::steps(vec![Step::Send(out), Step::Close], false)
    }

    /// The whole answer close-delimited, ended by close_notify (TLS) and close.
    pub fn close_delimited(&self, body: &[u8]) -> Reply {
        let mut out = self.head_with(None);
        out.extend_from_slice(body.get(self.start..).unwrap_or_default());
        Reply::steps(vec![Step::Send(out), Step::CloseNotify], false)
    }

    /// The head and `after` body bytes, then nothing until the server stops: a
    /// transfer that hangs half-way.
    pub fn stall(&self, body: &[u8], after: usize) -> Reply {
        let mut out = self.head(body);
        out.extend_from_slice(self.slice(body, after));
        Reply::steps(vec![Step::Send(out), Step::Sleep(STALL)], false)
    }

    /// Up to `after` bytes of the body from `start`.
    fn slice<'b>(&self, body: &'b [u8], after: usize) -> &'b [u8] {
        let rest = body.get(self.start..).unwrap_or_default();
        &rest[..after.min(rest.len())]
    }
}
