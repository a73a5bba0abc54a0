//! The exchange, state by state, over an in-memory server ([`Scripted`]): what each
//! state writes, what it reads, and how it fails. A [`Scenario`] is a request as
//! the client makes it, fast-forwarded to the state under test (as ureq-proto's own
//! test scenarios do).

use std::io::ErrorKind;

use http::header::{CONTENT_LENGTH, EXPECT, TRANSFER_ENCODING};
use http::{Method, StatusCode};

use super::scripted::Scripted;
use super::*;
use crate::config::DEFAULT_MAX_REQUEST_HEAD;
use crate::error::Framing;

/// `host:port` of every scenario, as errors name it.
const HOST: &str = "h.example:80";

/// Response head limit of the scenarios.
const MAX_HEAD: usize = 4 * 1024;

const OK_HELLO: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello";

/// The request body of a scenario.
enum Body {
    None,
    /// A byte slice, sent with a Content-Length ([`ReqBody::Bytes`]).
    Bytes(Vec<u8>),
    /// A reader, streamed chunked unless the request has a Content-Length
    /// ([`ReqBody::Reader`]).
    Reader(Vec<u8>),
}

/// A request as the client makes it (framing headers included), to be driven to a
/// state of the exchange.
struct Scenario {
    request: http::Request<()>,
    body: Body,
}

impl Scenario {
    /// `method http://h.example/a` with this body.
    fn new(method: Method, body: Body) -> Scenario {
        let mut request = http::Request::new(());
        *request.method_mut() = method;
        *request.uri_mut() = "http://h.example/a".parse().unwrap();
        Scenario { request, body }
    }

    fn get() -> Scenario {
        Scenario::new(Method::GET, Body::None)
    }

    fn post(body: &[u8]) -> Scenario {
        Scenario::new(Method::POST, Body::Bytes(body.to_vec()))
    }

    fn streamed(body: &[u8]) -> Scenario {
        Scenario::new(Method::POST, Body::Reader(body.to_vec()))
    }

    fn header(mut self, name: http::HeaderName, value: &str) -> Scenario {
        self.request
            .headers_mut()
            .insert(name, value.parse().unwrap());
        self
    }

    /// With `Expect: 100-continue`.
    fn expect_100(self) -> Scenario {
        self.header(EXPECT, "100-continue")
    }

    /// Prepare: the call with its framing headers, as `Client` makes it.
    fn call(&self) -> Call<Prepare> {
        let headers = self.request.headers();
        let framed =
            headers.contains_key(CONTENT_LENGTH) || headers.contains_key(TRANSFER_ENCODING);
        let mut call = Call::new(self.request.clone()).unwrap();
        match &self.body {
            Body::Bytes(b) if !framed => call.header(CONTENT_LENGTH, b.len()).unwrap(),
            Body::Reader(_) if !framed => call.header(TRANSFER_ENCODING, "chunked").unwrap(),
            _ => {}
        }
        call
    }

    /// Runs `f` with the scenario's body, as the exchange takes it.
    fn with_body<T>(&self, f: impl FnOnce(&mut ReqBody) -> T) -> T {
        let mut reader: &[u8] = match &self.body {
            Body::Reader(b) => b,
            _ => &[],
        };
        f(&mut match &self.body {
            Body::None => ReqBody::None,
            Body::Bytes(b) => ReqBody::Bytes(b),
            Body::Reader(_) => ReqBody::Reader(&mut reader),
        })
    }

    /// SendRequest (through Await100 and SendBody): sends the request to `io`.
    fn send(&self, io: &mut Scripted, buf: &mut RecvBuf) -> Result<Sent> {
        let max = DEFAULT_MAX_REQUEST_HEAD;
        self.with_body(|body| send_request(io, buf, self.call(), body, HOST, None, max))
    }

    /// [`send_and_receive`]: the request sent, the response head read (and kept raw).
    fn exchange(&self, io: &mut Scripted, buf: &mut RecvBuf) -> Result<Answer> {
        let rules = HeadRules {
            max_request: DEFAULT_MAX_REQUEST_HEAD,
            max: MAX_HEAD,
            keep_raw: true,
        };
        self.with_body(|body| send_and_receive(io, buf, self.call(), body, HOST, None, rules))
    }

    /// RecvResponse: the request sent to a server that answers `answer`.
    fn to_recv_response<'a>(&self, answer: &'a [u8]) -> (Scripted<'a>, RecvBuf, Sent) {
        let (mut io, mut buf) = (Scripted::new(answer), RecvBuf::new());
        let sent = self.send(&mut io, &mut buf).unwrap();
        (io, buf, sent)
    }

    /// RecvBody: the response head to `answer` read.
    fn to_recv_body<'a>(&self, answer: &'a [u8]) -> (Scripted<'a>, RecvBuf, BodyReader) {
        let (mut io, mut buf, sent) = self.to_recv_response(answer);
        let (_, next) = recv_response(&mut io, &mut buf, sent, HOST, MAX_HEAD).unwrap();
        assert!(next.has_body(), "no body to read");
        (io, buf, next)
    }
}

/// RecvBody to Cleanup: the whole body, read `each` bytes at most at a time, and
/// whether the connection can be reused after it.
fn read_to_end(
    io: &mut Scripted,
    buf: &mut RecvBuf,
    mut call: BodyReader,
    each: usize,
) -> Result<(Vec<u8>, bool)> {
    let mut body = Vec::new();
    let mut chunk = vec![0u8; each];
    loop {
        match read_body(io, buf, &mut call, &mut chunk, HOST, RECV_BUFFER)? {
            0 => return Ok((body, finish_body(call, buf))),
            n => body.extend_from_slice(&chunk[..n]),
        }
    }
}

/// The body of a request as written: what follows the head.
fn body_of(written: &[u8]) -> &[u8] {
    let end = written.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    &written[end..]
}

// ---------------------------------------------------------------------------------
// SendRequest: the head (and a small body) in one write.

#[test]
fn bodiless_request_leaves_in_one_write() {
    let (io, _, _) = Scenario::get().to_recv_response(b"");
    assert_eq!(io.writes().len(), 1);
    assert_eq!(io.written(), b"GET /a HTTP/1.1\r\nhost: h.example\r\n\r\n");
}

#[test]
fn small_body_leaves_with_the_head_in_one_write() {
    let (io, _, _) = Scenario::post(b"payload").to_recv_response(b"");
    assert_eq!(io.writes().len(), 1);
    let written = io.written();
    assert!(written.starts_with(b"POST /a HTTP/1.1\r\n"));
    assert!(written.windows(19).any(|w| w == b"content-length: 7\r\n"));
    assert_eq!(body_of(&written), b"payload");
}

#[test]
fn body_larger_than_the_send_buffer_follows_the_head_in_a_second_write() {
    let body: Vec<u8> = (0..3 * SEND_BUFFER).map(|i| i as u8).collect();
    let (io, _, _) = Scenario::post(&body).to_recv_response(b"");
    assert_eq!(io.writes().len(), 2);
    assert_eq!(
        io.writes()[0].len(),
        SEND_BUFFER,
        "head and the start of the body"
    );
    assert_eq!(body_of(&io.written()), body);
}

#[test]
fn body_with_a_caller_set_chunked_encoding_is_framed() {
    let scenario = Scenario::post(b"hello").header(TRANSFER_ENCODING, "chunked");
    let (io, _, _) = scenario.to_recv_response(b"");
    assert_eq!(body_of(&io.written()), b"5\r\nhello\r\n0\r\n\r\n");
}

#[test]
fn reader_body_is_streamed_chunked_without_a_length() {
    let body: Vec<u8> = (0..2 * UPLOAD_CHUNK + 10).map(|i| i as u8).collect();
    let (io, _, _) = Scenario::streamed(&body).to_recv_response(b"");
    let written = io.written();
    let (data, chunks) = dechunk(body_of(&written));
    assert_eq!(data, body);
    assert!(chunks > 2, "streamed in pieces: {chunks}");
    assert!(written.ends_with(b"\r\n0\r\n\r\n"));
}

/// A chunked body's data and how many chunks carried it.
fn dechunk(mut framed: &[u8]) -> (Vec<u8>, usize) {
    let (mut data, mut chunks) = (Vec::new(), 0);
    loop {
        let line_end = framed.windows(2).position(|w| w == b"\r\n").unwrap();
        let size = std::str::from_utf8(&framed[..line_end]).unwrap();
        let size = usize::from_str_radix(size, 16).unwrap();
        if size == 0 {
            return (data, chunks);
        }
        data.extend_from_slice(&framed[line_end + 2..line_end + 2 + size]);
        framed = &framed[line_end + 4 + size..];
        chunks += 1;
    }
}

#[test]
fn reader_body_with_a_length_is_streamed_as_is() {
    let scenario = Scenario::streamed(b"hello").header(CONTENT_LENGTH, "5");
    let (io, _, _) = scenario.to_recv_response(b"");
    assert_eq!(body_of(&io.written()), b"hello");
}

#[test]
fn reader_shorter_than_its_length_is_an_invalid_request() {
    let scenario = Scenario::streamed(b"hel").header(CONTENT_LENGTH, "5");
    let (mut io, mut buf) = (Scripted::new(b""), RecvBuf::new());
    let err = scenario.send(&mut io, &mut buf).unwrap_err();
    assert!(matches!(err, Error::InvalidRequest { .. }), "{err}");
    assert!(
        err.to_string().contains("ended before the Content-Length"),
        "{err}"
    );
}

#[test]
fn write_failure_is_an_io_error_naming_the_host() {
    let (mut io, mut buf) = (Scripted::new(b"").accepting(0), RecvBuf::new());
    let err = Scenario::get().send(&mut io, &mut buf).unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err}");
    assert!(err.to_string().contains(HOST), "{err}");
}

// ---------------------------------------------------------------------------------
// Await100: the head alone, then the body once the server says so.

#[test]
fn continue_100_lets_the_body_go_after_the_head() {
    let answer = [b"HTTP/1.1 100 Continue\r\n\r\n".as_slice(), OK_HELLO].concat();
    let scenario = Scenario::post(b"payload").expect_100();
    let (mut io, mut buf, call) = scenario.to_recv_response(&answer);
    assert_eq!(io.writes().len(), 2, "the head, then the body");
    assert_eq!(io.writes()[1], b"payload");
    let (head, _) = recv_response(&mut io, &mut buf, call, HOST, MAX_HEAD).unwrap();
    assert_eq!(head.status(), StatusCode::OK);
}

#[test]
fn final_answer_instead_of_100_means_the_body_is_never_sent() {
    let answer = b"HTTP/1.1 417 Expectation Failed\r\ncontent-length: 0\r\n\r\n";
    let scenario = Scenario::post(b"payload").expect_100();
    let (mut io, mut buf, call) = scenario.to_recv_response(answer);
    assert_eq!(io.writes().len(), 1);
    assert!(!io.written().ends_with(b"payload"));
    let (head, next) = recv_response(&mut io, &mut buf, call, HOST, MAX_HEAD).unwrap();
    assert_eq!(head.status(), StatusCode::EXPECTATION_FAILED);
    // ureq-proto closes: the server may still wait for the body it refused.
    assert!(!finish_bodyless(next, &buf));
}

#[test]
fn server_silent_about_100_gets_the_body_when_the_wait_is_spent() {
    // It ignores Expect and answers only once the body is there.
    let io = Scripted::new(OK_HELLO).silent_while_capped_from(0);
    let (mut io, mut buf) = (io, RecvBuf::new());
    let scenario = Scenario::post(b"payload").expect_100();
    let call = scenario.send(&mut io, &mut buf).unwrap();
    assert_eq!(io.writes()[1], b"payload");
    let (head, _) = recv_response(&mut io, &mut buf, call, HOST, MAX_HEAD).unwrap();
    assert_eq!(head.status(), StatusCode::OK);
}

#[test]
fn other_1xx_while_awaiting_100_are_skipped() {
    let processing = b"HTTP/1.1 102 Processing\r\n\r\n".repeat(MAX_INFORMATIONAL);
    let answer = [&processing[..], b"HTTP/1.1 100 Continue\r\n\r\n", OK_HELLO].concat();
    let scenario = Scenario::post(b"payload").expect_100();
    let (io, _, _) = scenario.to_recv_response(&answer);
    assert_eq!(io.writes()[1], b"payload");
}

#[test]
fn too_many_1xx_while_awaiting_100_are_a_protocol_error() {
    let answer = b"HTTP/1.1 102 Processing\r\n\r\n".repeat(MAX_INFORMATIONAL + 1);
    let (mut io, mut buf) = (Scripted::new(&answer), RecvBuf::new());
    let scenario = Scenario::post(b"payload").expect_100();
    let err = scenario.send(&mut io, &mut buf).unwrap_err();
    assert!(matches!(err, Error::Protocol { .. }), "{err}");
    assert!(err.to_string().contains("too many 1xx"), "{err}");
    assert_eq!(io.writes().len(), 1, "the body never went out");
}

// ---------------------------------------------------------------------------------
// SendBody, answered early: the server answers (413) and stops reading mid-upload.

#[test]
fn early_answer_during_the_upload_is_the_response_and_not_reusable() {
    let answer = b"HTTP/1.1 413 Payload Too Large\r\ncontent-length: 0\r\n\r\n";
    let body = vec![b'x'; 4 * SEND_BUFFER];
    let mut io = Scripted::new(answer).accepting(SEND_BUFFER + 10);
    let answer = Scenario::post(&body)
        .exchange(&mut io, &mut RecvBuf::new())
        .unwrap();
    assert_eq!(answer.head.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        !answer.reusable,
        "the server still expects the rest of the body"
    );
}

#[test]
fn failed_upload_without_an_answer_keeps_the_write_error() {
    let body = vec![b'x'; 4 * SEND_BUFFER];
    let mut io = Scripted::new(b"").accepting(SEND_BUFFER);
    let err = Scenario::post(&body)
        .exchange(&mut io, &mut RecvBuf::new())
        .err()
        .unwrap();
    assert!(
        matches!(&err, Error::Io { source, .. } if source.kind() == ErrorKind::ConnectionReset),
        "{err}"
    );
}

// ---------------------------------------------------------------------------------
// RecvResponse: the head, after any 1xx.

#[test]
fn head_is_read_whole_even_a_byte_at_a_time() {
    let (_, mut buf, call) = Scenario::get().to_recv_response(b"");
    let mut io = Scripted::new(OK_HELLO).in_reads_of(1);
    let (head, next) = recv_response(&mut io, &mut buf, call, HOST, MAX_HEAD).unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(head.headers()["content-length"], "5");
    assert!(next.has_body());
}

#[test]
fn informational_responses_before_the_head_are_skipped() {
    let answer = [
        &b"HTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\n".repeat(2)[..],
        OK_HELLO,
    ]
    .concat();
    let (mut io, mut buf, call) = Scenario::get().to_recv_response(&answer);
    let (head, _) = recv_response(&mut io, &mut buf, call, HOST, MAX_HEAD).unwrap();
    assert_eq!(head.status(), StatusCode::OK);
}

#[test]
fn too_many_informational_responses_are_a_protocol_error() {
    let answer = b"HTTP/1.1 103 Early Hints\r\n\r\n".repeat(MAX_INFORMATIONAL + 1);
    let (mut io, mut buf, call) = Scenario::get().to_recv_response(&answer);
    let err = recv_response(&mut io, &mut buf, call, HOST, MAX_HEAD)
        .err()
        .unwrap();
    assert!(err.to_string().contains("too many 1xx"), "{err}");
}

#[test]
fn head_above_the_limit_is_refused_with_the_limit() {
    let big = format!("HTTP/1.1 200 OK\r\nx-big: {}\r\n\r\n", "v".repeat(MAX_HEAD));
    for answer in [big.as_bytes(), &big.as_bytes()[..MAX_HEAD + 10]] {
        let (mut io, mut buf, call) = Scenario::get().to_recv_response(answer);
        let err = recv_response(&mut io, &mut buf, call, HOST, MAX_HEAD)
            .err()
            .unwrap();
        assert!(
            matches!(
                err,
                Error::HeadersTooLarge {
                    limit: MAX_HEAD,
                    ..
                }
            ),
            "{err}"
        );
    }
}

#[test]
fn head_cut_short_is_an_unexpected_eof() {
    let (mut io, mut buf, call) = Scenario::get().to_recv_response(b"HTTP/1.1 200 OK\r\ncont");
    let err = recv_response(&mut io, &mut buf, call, HOST, MAX_HEAD)
        .err()
        .unwrap();
    let Error::Io { source, .. } = &err else {
        panic!("{err}");
    };
    assert_eq!(source.kind(), ErrorKind::UnexpectedEof);
    assert!(err.to_string().contains(HOST), "{err}");
}

#[test]
fn status_line_that_is_not_http_is_a_protocol_error() {
    let (mut io, mut buf, call) = Scenario::get().to_recv_response(b"SSH-2.0-OpenSSH\r\n\r\n");
    let err = recv_response(&mut io, &mut buf, call, HOST, MAX_HEAD)
        .err()
        .unwrap();
    assert!(matches!(err, Error::Protocol { .. }), "{err}");
}

#[test]
fn raw_head_is_kept_when_the_rules_ask() {
    let answer = b"HTTP/1.1 200 Fine Thanks\r\nX-Case: 1\r\ncontent-length: 0\r\n\r\n";
    let mut io = Scripted::new(answer);
    let answer_got = Scenario::get()
        .exchange(&mut io, &mut RecvBuf::new())
        .unwrap();
    assert_eq!(answer_got.head.raw(), Some(&answer[..]));
    assert!(answer_got.reusable);
}

// ---------------------------------------------------------------------------------
// RecvBody: every framing, whole or cut short.

#[test]
fn content_length_body_is_read_whole_at_every_read_size() {
    for each in [1, 3, 5, 100] {
        let (mut io, mut buf, call) = Scenario::get().to_recv_body(OK_HELLO);
        let (body, reusable) = read_to_end(&mut io, &mut buf, call, each).unwrap();
        assert_eq!(body, b"hello", "{each}");
        assert!(reusable);
    }
}

#[test]
fn chunked_body_with_extensions_and_trailers_is_reassembled() {
    let answer = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n\
        3;ext=1\r\nhel\r\n2\r\nlo\r\n0\r\nx-trailer: t\r\n\r\n";
    let (mut io, mut buf, call) = Scenario::get().to_recv_body(answer);
    let (body, reusable) = read_to_end(&mut io, &mut buf, call, 64).unwrap();
    assert_eq!(body, b"hello");
    assert!(reusable);
}

#[test]
fn close_delimited_body_ends_at_the_close_and_closes() {
    let (mut io, mut buf, call) = Scenario::get().to_recv_body(b"HTTP/1.1 200 OK\r\n\r\nhello");
    let (body, reusable) = read_to_end(&mut io, &mut buf, call, 64).unwrap();
    assert_eq!(body, b"hello");
    assert!(!reusable);
}

#[test]
fn body_cut_short_is_truncated_naming_its_framing() {
    let cases: [(&[u8], Framing); 2] = [
        (
            b"HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\nhello",
            Framing::ContentLength,
        ),
        (
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhel",
            Framing::Chunked,
        ),
    ];
    for (answer, expected) in cases {
        let (mut io, mut buf, call) = Scenario::get().to_recv_body(answer);
        let err = read_to_end(&mut io, &mut buf, call, 64).unwrap_err();
        let Error::Truncated { framing, .. } = &err else {
            panic!("{err}");
        };
        assert_eq!(*framing, expected);
    }
}

#[test]
fn chunked_body_cut_anywhere_before_its_end_is_truncated() {
    let head = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n".as_slice();
    let body = b"3;e=1\r\nhel\r\n2\r\nlo\r\n0\r\nx-t: 1\r\n\r\n";
    for cut in 0..body.len() {
        let answer = [head, &body[..cut]].concat();
        let (mut io, mut buf, reader) = Scenario::get().to_recv_body(&answer);
        let err = read_to_end(&mut io, &mut buf, reader, 2).unwrap_err();
        assert!(
            matches!(
                err,
                Error::Truncated {
                    framing: Framing::Chunked,
                    ..
                }
            ),
            "cut at {cut}: {err}"
        );
    }
    let answer = [head, body].concat();
    let (mut io, mut buf, reader) = Scenario::get().to_recv_body(&answer);
    assert_eq!(
        read_to_end(&mut io, &mut buf, reader, 2).unwrap(),
        (b"hello".to_vec(), true)
    );
}

#[test]
fn a_request_that_said_close_is_not_reused_after_its_answer() {
    let scenario = Scenario::get().header(http::header::CONNECTION, "close");
    let (mut io, mut buf, reader) = scenario.to_recv_body(OK_HELLO);
    let (body, reusable) = read_to_end(&mut io, &mut buf, reader, 64).unwrap();
    assert_eq!(body, b"hello");
    assert!(!reusable);
}

#[test]
fn bad_chunk_size_is_a_protocol_error() {
    let answer = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n";
    let (mut io, mut buf, call) = Scenario::get().to_recv_body(answer);
    let err = read_to_end(&mut io, &mut buf, call, 64).unwrap_err();
    assert!(matches!(err, Error::Protocol { .. }), "{err}");
}

#[test]
fn endless_chunk_size_line_is_a_protocol_error() {
    let mut answer = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n".to_vec();
    answer.extend(std::iter::repeat_n(b'0', 2 * RECV_BUFFER));
    let (mut io, mut buf, call) = Scenario::get().to_recv_body(&answer);
    let err = read_to_end(&mut io, &mut buf, call, 64).unwrap_err();
    assert!(matches!(err, Error::Protocol { .. }), "{err}");
}

#[test]
fn reading_into_an_empty_buffer_reads_nothing() {
    let (mut io, mut buf, mut call) = Scenario::get().to_recv_body(OK_HELLO);
    assert_eq!(
        read_body(&mut io, &mut buf, &mut call, &mut [], HOST, RECV_BUFFER).unwrap(),
        0
    );
    let (body, _) = read_to_end(&mut io, &mut buf, call, 64).unwrap();
    assert_eq!(body, b"hello");
}

// ---------------------------------------------------------------------------------
// Cleanup: whether the connection can carry the next request.

#[test]
fn connection_close_or_unasked_bytes_keep_the_connection_out_of_the_pool() {
    let cases: [(&[u8], bool); 3] = [
        (OK_HELLO, true),
        (
            b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 5\r\n\r\nhello",
            false,
        ),
        (
            b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhelloHTTP/1.1 200 OK\r\n",
            false,
        ),
    ];
    for (answer, expected) in cases {
        let (mut io, mut buf, call) = Scenario::get().to_recv_body(answer);
        let (_, reusable) = read_to_end(&mut io, &mut buf, call, 64).unwrap();
        assert_eq!(reusable, expected, "{}", String::from_utf8_lossy(answer));
    }
}

#[test]
fn bodiless_responses_are_reusable_unless_told_to_close() {
    let cases: [(Method, &[u8], bool); 3] = [
        (Method::GET, b"HTTP/1.1 204 No Content\r\n\r\n", true),
        (
            Method::HEAD,
            b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n",
            true,
        ),
        (
            Method::GET,
            b"HTTP/1.1 304 Not Modified\r\nconnection: close\r\n\r\n",
            false,
        ),
    ];
    for (method, answer, expected) in cases {
        let scenario = Scenario::new(method, Body::None);
        let (mut io, mut buf, call) = scenario.to_recv_response(answer);
        let (_, next) = recv_response(&mut io, &mut buf, call, HOST, MAX_HEAD).unwrap();
        assert!(!next.has_body());
        assert_eq!(finish_bodyless(next, &buf), expected);
    }
}

// ---------------------------------------------------------------------------------
// The request head: assembled on the stack, or on the heap up to its limit.

/// A GET of `path` on `http://h.example` with an `x-big` header of `len` bytes.
fn call_with(path: &str, len: usize) -> Call<SendRequest> {
    let mut request = http::Request::new(());
    *request.uri_mut() = format!("http://h.example{path}").parse().unwrap();
    let value = "v".repeat(len).parse().unwrap();
    request.headers_mut().insert("x-big", value);
    Call::new(request).unwrap().proceed()
}

/// The head ureq-proto writes for `call_with(path, len)`, in origin form.
fn reference(path: &str, len: usize) -> Vec<u8> {
    let mut out = vec![0u8; len + 1024];
    let n = call_with(path, len).write(&mut out).unwrap();
    out.truncate(n);
    out
}

fn head<'a>(absolute_target: Option<&'a str>, max: usize) -> RequestHead<'a> {
    RequestHead {
        absolute_target,
        max,
        host: HOST,
    }
}

#[test]
fn head_that_fits_the_stack_buffer_allocates_nothing() {
    let expected = reference("/a", 10);
    let len = 10 + SEND_BUFFER - expected.len();
    let expected = reference("/a", len);
    assert_eq!(expected.len(), SEND_BUFFER);
    let (mut stack, mut heap) = ([0u8; SEND_BUFFER], Vec::new());
    let mut call = call_with("/a", len);
    let n = head(None, SEND_BUFFER).write(&mut call, &mut stack, &mut heap);
    assert_eq!(&stack[..n.unwrap()], expected);
    assert_eq!(heap.capacity(), 0, "no heap buffer");
}

#[test]
fn larger_head_is_assembled_whole_on_the_heap() {
    for len in [5000, 16_000, 40_000] {
        let expected = reference("/a", len);
        let (mut stack, mut heap) = ([0u8; SEND_BUFFER], Vec::new());
        let mut call = call_with("/a", len);
        let n = head(None, 64 * 1024).write(&mut call, &mut stack, &mut heap);
        assert_eq!(&heap[..n.unwrap()], expected, "{len}");
        assert!(heap.len() <= 64 * 1024);
        assert!(call.can_proceed());
    }
}

#[test]
fn absolute_form_replaces_the_target_and_may_move_the_head_to_the_heap() {
    let target = "http://h.example/a?b";
    for len in [10, 4040, 6000] {
        let origin = reference("/a?b", len);
        let mut expected = b"GET http://h.example/a?b".to_vec();
        expected.extend_from_slice(&origin[b"GET /a?b".len()..]);
        let (mut stack, mut heap) = ([0u8; SEND_BUFFER], Vec::new());
        let mut call = call_with("/a?b", len);
        let n = head(Some(target), 64 * 1024).write(&mut call, &mut stack, &mut heap);
        let out: &[u8] = if heap.is_empty() { &stack } else { &heap };
        assert_eq!(&out[..n.unwrap()], expected, "{len}");
    }
}

#[test]
fn head_above_the_limit_is_refused_with_its_exact_size() {
    let cases = [
        (None, 5000, 4096),
        (None, 70_000, 64 * 1024),
        (Some("http://h.example/a"), 70_000, 64 * 1024),
        // Fits in origin form; the absolute form tips it over.
        (
            Some("http://h.example/a"),
            5000,
            reference("/a", 5000).len() + 1,
        ),
    ];
    for (target, len, max) in cases {
        let growth = target.map_or(0, |t| t.len() - "/a".len());
        let size = reference("/a", len).len() + growth;
        let (mut stack, mut heap) = ([0u8; SEND_BUFFER], Vec::new());
        let mut call = call_with("/a", len);
        let err = head(target, max)
            .write(&mut call, &mut stack, &mut heap)
            .unwrap_err()
            .to_string();
        let expected = format!("request head is {size} bytes, above the limit of {max}");
        assert!(err.contains(&expected), "{err}");
        assert!(err.contains(HOST), "{err}");
    }
}

#[test]
fn head_above_the_limit_is_refused_before_anything_is_sent() {
    let scenario = Scenario::get().header(
        http::HeaderName::from_static("x-big"),
        &"v".repeat(DEFAULT_MAX_REQUEST_HEAD),
    );
    let (mut io, mut buf) = (Scripted::new(b""), RecvBuf::new());
    let err = scenario.send(&mut io, &mut buf).unwrap_err();
    assert!(matches!(err, Error::InvalidRequest { .. }), "{err}");
    assert!(io.writes().is_empty());
}

#[test]
fn request_target_is_found_between_the_first_two_spaces() {
    let head = b"GET /a?b HTTP/1.1\r\nhost: x\r\n\r\n";
    assert_eq!(request_target(head), Some((4, 8)));
    assert_eq!(request_target(b"GET /a HTTP/1.1"), None, "no line end");
    assert_eq!(request_target(b"GET\r\n"), None);
}

/// A request body reader that says it read more than the room it was given.
struct Overclaiming;

impl Read for Overclaiming {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        Ok(buf.len() + 1)
    }
}

#[test]
fn reader_claiming_more_than_its_buffer_is_an_error_not_a_panic() {
    for (name, value) in [
        ("transfer-encoding", "chunked"),
        ("content-length", "100000"),
    ] {
        let mut request = http::Request::new(());
        *request.method_mut() = http::Method::POST;
        *request.uri_mut() = "http://h.example/up".parse().unwrap();
        request.headers_mut().insert(name, value.parse().unwrap());
        let call = Call::new(request).unwrap();
        let mut reader = Overclaiming;
        let err = send_request(
            &mut crate::early::Memory::default(),
            &mut RecvBuf::new(),
            call,
            &mut ReqBody::Reader(&mut reader),
            "h.example:80",
            None,
            SEND_BUFFER,
        )
        .err()
        .unwrap_or_else(|| panic!("{name}: no error"));
        let text = err.to_string();
        assert!(
            matches!(err, Error::InvalidRequest { .. }),
            "{name}: {text}"
        );
        assert!(text.contains("bytes into a"), "{name}: {text}");
    }
}

/// The thread's send buffer is reused, not cleared: a request after a longer one
/// sends exactly its own bytes, in one write, and none of the earlier request's.
#[test]
fn a_reused_send_buffer_sends_only_the_new_request() {
    let long = Scenario::post(&[b'x'; 2000]).header(http::header::AUTHORIZATION, "Bearer secret");
    let (mut io, mut buf) = (Scripted::new(OK_HELLO), RecvBuf::new());
    long.send(&mut io, &mut buf).unwrap();
    let short = Scenario::get();
    let (mut io, mut buf) = (Scripted::new(OK_HELLO), RecvBuf::new());
    short.send(&mut io, &mut buf).unwrap();
    assert_eq!(io.writes().len(), 1);
    assert_eq!(
        String::from_utf8(io.written()).unwrap(),
        "GET /a HTTP/1.1\r\nhost: h.example\r\n\r\n"
    );
}

/// A request made while the thread's send buffer is taken (from inside a body
/// reader, say) gets one of its own, and the thread's buffer is kept for the next
/// request: the same memory, not a new one.
#[test]
fn a_request_while_the_send_buffer_is_taken_gets_its_own() {
    let mut held = SendBuffer::take();
    let kept = held.bytes().as_ptr();
    let mut nested = SendBuffer::take();
    assert_ne!(nested.bytes().as_ptr(), kept, "a buffer of its own");
    drop(nested);
    let (mut io, mut buf) = (Scripted::new(OK_HELLO), RecvBuf::new());
    Scenario::post(b"body").send(&mut io, &mut buf).unwrap();
    assert_eq!(
        String::from_utf8(io.written()).unwrap(),
        "POST /a HTTP/1.1\r\ncontent-length: 4\r\nhost: h.example\r\n\r\nbody"
    );
    // The nested buffer went back to the thread; the held one replaces it.
    drop(held);
    let mut again = SendBuffer::take();
    assert_eq!(again.bytes().as_ptr(), kept, "the thread's buffer was kept");
}
