//! TLS 1.3 early data (0-RTT), opt-in with
//! [`ClientBuilder::early_data`](crate::ClientBuilder::early_data): which requests
//! may ride in the first flight of a new resumed connection ([`eligible`]), and
//! the exchange that sends one there ([`send_and_receive`]).
//!
//! ```text
//! one_hop ── eligible? ── connection(early) ── new TLS, rustls offers early data?
//!    │ no                                       │ yes: handshake not run yet
//!    ▼                                          ▼
//! exchange::send_and_receive        request serialized in memory ─► ClientHello +
//!                                   early data ─► handshake ─► refused: written
//!                                   again ─► response head (425: sent again, not early)
//! ```
//!
//! Early data can be replayed by an attacker, so only requests that are safe to
//! repeat go early, and a request goes early at most once (`run.rs`).

use std::io::{self, Read, Write};

use http::request::Parts;
use http::{header, Method};
use ureq_proto::client::state::Prepare;
use ureq_proto::client::Call;

use crate::deadline::ShortWait;
use crate::error::Result;
use crate::exchange::{self, Answer, HeadRules, ReqBody, Transport};
use crate::pool::Connection;
use crate::run::Shared;
use crate::transport::{ConnectionKind, EarlyData};

/// Largest request body sent as early data, in bytes. Servers take at most about
/// this much early data (nginx: 16 KiB, OpenSSL's usual setting), so a larger
/// body is not copied for an attempt that cannot fit. The whole request must
/// also fit what the server's ticket allows, checked when the connection is made.
const MAX_EARLY_BODY: usize = 16 * 1024;

/// Whether a request may be sent as early data, where it can be replayed:
/// `GET`, `HEAD` or `OPTIONS` without a body, or any request with an
/// `Idempotency-Key` header (the server dedupes it) and no body or one in memory
/// of at most [`MAX_EARLY_BODY`]. Never a streamed body, never with `Expect` (it
/// waits for the server before the body).
pub(crate) fn eligible(parts: &Parts, body: &ReqBody) -> bool {
    let headers = &parts.headers;
    if headers.contains_key(header::EXPECT) {
        return false;
    }
    let keyed = headers.contains_key("idempotency-key");
    match body {
        ReqBody::None => {
            keyed || matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS)
        }
        ReqBody::Bytes(bytes) => keyed && bytes.len() <= MAX_EARLY_BODY,
        ReqBody::Reader(_) | ReqBody::Seekable(..) => false,
    }
}

/// Sends the request of `call` on `conn`, a new TLS connection whose handshake
/// has not run ([`TimedStream::early_data_room`](crate::transport::TimedStream::early_data_room)
/// was `Some`): the request is serialized in memory, goes in the first flight as
/// early data if it fits (else, or if the server refuses it, it is written after
/// the handshake), then the response head is read. Also says whether the server
/// took the request as early data (its answer may then be `425 Too Early`).
pub(crate) fn send_and_receive(
    shared: &Shared,
    conn: &mut Connection,
    call: Call<Prepare>,
    body: &mut ReqBody,
    host: &str,
    rules: HeadRules,
) -> Result<(Answer, bool)> {
    let mut request = Memory::default();
    let sent = exchange::send_request(
        &mut request,
        &mut conn.buf,
        call,
        body,
        host,
        None,
        rules.max_request,
    )?;
    let (kind, early) = conn.stream.finish_tls_early(&request.0)?;
    conn.kind = kind;
    if kind == ConnectionKind::NewTlsFull {
        shared
            .tls
            .saw_server(&conn.key.netloc, conn.stream.server_leaf());
    }
    let (head, next) = exchange::recv_head(&mut conn.stream, &mut conn.buf, sent, host, rules)?;
    let answer = Answer {
        head,
        next,
        reusable: true,
    };
    Ok((answer, early == EarlyData::Accepted))
}

/// A transport that keeps what is written: the request, serialized before the
/// handshake. Reads see an end of stream (an eligible request never waits for
/// the server while it is sent).
#[derive(Default)]
pub(crate) struct Memory(pub Vec<u8>);

impl Read for Memory {
    fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
        Ok(0)
    }
}

impl Write for Memory {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Transport for Memory {
    fn set_read_cap(&mut self, _: Option<ShortWait>) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(method: Method, headers: &[(&str, &str)]) -> Parts {
        let mut builder = http::Request::builder()
            .method(method)
            .uri("https://h.example/");
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(()).unwrap().into_parts().0
    }

    #[test]
    fn only_requests_safe_to_replay_go_early() {
        let small = [0u8; 10];
        let large = vec![0u8; MAX_EARLY_BODY + 1];
        let key = [("idempotency-key", "k1")];
        type Case<'a> = (Method, &'a [(&'a str, &'a str)], ReqBody<'a>, bool);
        let cases: &[Case] = &[
            (Method::GET, &[], ReqBody::None, true),
            (Method::HEAD, &[], ReqBody::None, true),
            (Method::OPTIONS, &[], ReqBody::None, true),
            (Method::GET, &[], ReqBody::Bytes(&small), false),
            (Method::POST, &[], ReqBody::None, false),
            (Method::PUT, &[], ReqBody::Bytes(&small), false),
            (Method::DELETE, &[], ReqBody::None, false),
            (Method::POST, &key, ReqBody::None, true),
            (Method::POST, &key, ReqBody::Bytes(&small), true),
            (Method::POST, &key, ReqBody::Bytes(&large), false),
            (
                Method::GET,
                &[("expect", "100-continue")],
                ReqBody::None,
                false,
            ),
        ];
        for (method, headers, body, expect) in cases {
            let p = parts(method.clone(), headers);
            assert_eq!(eligible(&p, body), *expect, "{method} {headers:?}");
        }
        let mut reader: &[u8] = b"streamed";
        let p = parts(Method::POST, &key);
        assert!(!eligible(&p, &ReqBody::Reader(&mut reader)));
    }
}
