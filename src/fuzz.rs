//! The fuzzing entry points: arbitrary server bytes through the exchange, over
//! memory; arbitrary bytes as a certificate for the validity reader. Compiled only
//! under `cfg(fuzzing)` (cargo fuzz) and in this crate's unit tests.

// A test harness (built only for tests and cargo fuzz), not the library: it may
// slice and count without the library's checks.
#![allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]

use http::Method;
use ureq_proto::client::Call;

use crate::config::DEFAULT_MAX_REQUEST_HEAD;
use crate::exchange::scripted::Scripted;
use crate::exchange::{self, RecvBuf, ReqBody};

/// Response head limit used by the harness: small, so that limits are reached.
const MAX_HEAD: usize = 16 * 1024;

/// Runs one request against `data` as the server's whole answer. The first byte picks
/// the method, the read sizes and whether a body is sent; the rest is the response.
/// Returns the body bytes received, or `None` when the exchange failed (cleanly).
pub fn exchange(data: &[u8]) -> Option<Vec<u8>> {
    let (&control, response) = data.split_first()?;
    let method = match control & 3 {
        0 => Method::GET,
        1 => Method::HEAD,
        2 => Method::POST,
        _ => Method::PUT,
    };
    let step = 1 + usize::from(control >> 2) * 37;
    let mut request = http::Request::new(());
    *request.method_mut() = method.clone();
    *request.uri_mut() = "http://fuzz.example/x".parse().ok()?;
    let mut call = Call::new(request).ok()?;
    let body: &[u8] = b"payload";
    let mut body = if method == Method::GET || method == Method::HEAD {
        ReqBody::None
    } else {
        call.header("content-length", body.len()).ok()?;
        ReqBody::Bytes(body)
    };
    let mut io = Scripted::new(response).in_reads_of(step);
    let mut buf = RecvBuf::new();
    let host = "fuzz.example:80";
    let sent = exchange::send_request(
        &mut io,
        &mut buf,
        call,
        &mut body,
        host,
        None,
        DEFAULT_MAX_REQUEST_HEAD,
    )
    .ok()?;
    let (_head, mut reader) =
        exchange::recv_response(&mut io, &mut buf, sent, host, MAX_HEAD).ok()?;
    if !reader.has_body() {
        exchange::finish_bodyless(reader, &buf);
        return Some(Vec::new());
    }
    let mut out = Vec::new();
    // The caller's buffer: 1 to 700 bytes, from the control byte, so that chunk data
    // fills it mid-chunk at small sizes too.
    let mut chunk = [0u8; 700];
    let room = 1 + usize::from(control >> 4) * 46;
    loop {
        let dst = &mut chunk[..room];
        match exchange::read_body(&mut io, &mut buf, &mut reader, dst, host, MAX_HEAD) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&chunk[..n]),
            Err(_) => return None,
        }
    }
    exchange::finish_body(reader, &buf);
    Some(out)
}

/// Reads `data` as a DER certificate's validity dates (what the expiry report does
/// with every server leaf): `(notBefore, notAfter)` in seconds since the epoch, or
/// `None`; never a panic.
pub fn certificate_validity(data: &[u8]) -> Option<(i64, i64)> {
    crate::tls::x509::validity(data).map(|v| (v.not_before, v.not_after))
}

#[cfg(test)]
mod tests {
    use super::{certificate_validity, exchange};

    fn run(control: u8, response: &[u8]) -> Option<Vec<u8>> {
        let mut data = vec![control];
        data.extend_from_slice(response);
        exchange(&data)
    }

    #[test]
    fn harness_reads_bodies_of_every_framing_at_every_read_size() {
        let cases: [(&[u8], &[u8]); 3] = [
            (b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello", b"hello"),
            (
                b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nhel\r\n2\r\nlo\r\n0\r\nx-t: 1\r\n\r\n",
                b"hello",
            ),
            (b"HTTP/1.1 200 OK\r\n\r\nhello", b"hello"),
        ];
        for control in [0u8, 4, 8, 252] {
            for (response, body) in cases {
                assert_eq!(run(control, response).as_deref(), Some(body), "{control}");
            }
        }
    }

    #[test]
    fn harness_fails_cleanly_on_garbage_and_truncation() {
        assert_eq!(
            run(0, b"HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\nhi"),
            None
        );
        assert_eq!(run(0, b"\x00\x01garbage\r\n\r\n"), None);
        assert_eq!(run(0, b""), None);
        assert_eq!(exchange(b""), None);
        assert_eq!(
            run(1, b"HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\n"),
            Some(vec![])
        );
    }

    #[test]
    fn certificate_harness_refuses_garbage() {
        assert_eq!(certificate_validity(b""), None);
        assert_eq!(certificate_validity(b"\x30\x84\xff\xff\xff\xff"), None);
    }

    /// The seed corpus of the fuzz target (`fuzz/seeds/`) runs here too, so every
    /// crash the fuzzer found stays a regression test.
    #[test]
    fn fuzz_seed_corpus_runs_without_panic() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds");
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).expect("fuzz/seeds exists") {
            let data = std::fs::read(entry.unwrap().path()).unwrap();
            let _ = exchange(&data);
            seen += 1;
        }
        assert!(seen > 0, "no seeds in {}", dir.display());
    }
}
