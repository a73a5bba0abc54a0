//! The framing rules as a table (heads x requests -> framing and close), and the
//! chunked decoder byte by byte. `head.rs` checks the same rules against
//! ureq-proto's own.

use http::Method;
use ureq_proto::Error as ProtoError;

use super::*;
use crate::head;

/// What a head gives, in short.
#[derive(Debug, PartialEq, Eq)]
enum Got {
    /// No body bytes.
    NoBody,
    Length(u64),
    Chunked,
    Close,
    /// Refused with this error.
    Error(ProtoError),
    /// An informational answer, skipped.
    Skipped,
}

/// The framing and the close of `head` for `sent`.
fn got(head: &str, sent: Sent) -> (Got, bool) {
    match head::parse(head.as_bytes(), sent) {
        Ok((_, None)) => (Got::Skipped, false),
        Ok((_, Some((_, reader)))) => {
            let got = match reader.mode {
                _ if !reader.has_body() => Got::NoBody,
                Mode::Length(n) => Got::Length(n),
                Mode::Chunked(_) => Got::Chunked,
                Mode::Close => Got::Close,
                Mode::None => Got::NoBody,
            };
            (got, reader.must_close())
        }
        Err(e) => (Got::Error(e), false),
    }
}

/// A request without a body, by method.
const fn plain(head: bool, connect: bool) -> Sent {
    Sent {
        head,
        connect,
        close: false,
    }
}

const GET: Sent = plain(false, false);
const POST: Sent = plain(false, false);
const HEAD: Sent = plain(true, false);
const CONNECT: Sent = plain(false, true);

/// Heads, the requests they answer, and what they give: framing, and whether the
/// connection must close after them.
const CASES: &[(&str, Sent, Got, bool)] = &[
    // Content-Length: every value of every field the same number.
    (
        "HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n",
        GET,
        Got::Length(5),
        false,
    ),
    (
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\ncontent-length: 005\r\n\r\n",
        GET,
        Got::Length(5),
        false,
    ),
    (
        "HTTP/1.1 200 OK\r\ncontent-length: 5 , 5\r\n\r\n",
        GET,
        Got::Length(5),
        false,
    ),
    (
        "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n",
        GET,
        Got::NoBody,
        false,
    ),
    (
        "HTTP/1.1 200 OK\r\ncontent-length: 5\r\ncontent-length: 6\r\n\r\n",
        GET,
        Got::Error(ProtoError::TooManyContentLengthHeaders),
        false,
    ),
    (
        "HTTP/1.1 200 OK\r\ncontent-length: 5,6\r\n\r\n",
        GET,
        Got::Error(ProtoError::TooManyContentLengthHeaders),
        false,
    ),
    (
        "HTTP/1.1 200 OK\r\ncontent-length: 5,\r\n\r\n",
        GET,
        Got::Error(ProtoError::BadContentLengthHeader),
        false,
    ),
    (
        "HTTP/1.1 200 OK\r\ncontent-length: -5\r\n\r\n",
        GET,
        Got::Error(ProtoError::BadContentLengthHeader),
        false,
    ),
    (
        "HTTP/1.1 200 OK\r\ncontent-length: 18446744073709551616\r\n\r\n",
        GET,
        Got::Error(ProtoError::BadContentLengthHeader),
        false,
    ),
    // A bad length is refused even where no body is read.
    (
        "HTTP/1.1 204 No Content\r\ncontent-length: x\r\n\r\n",
        GET,
        Got::Error(ProtoError::BadContentLengthHeader),
        false,
    ),
    (
        "HTTP/1.1 200 OK\r\ncontent-length: x\r\n\r\n",
        HEAD,
        Got::Error(ProtoError::BadContentLengthHeader),
        false,
    ),
    // Transfer-Encoding: the token chunked anywhere, in HTTP/1.1 only.
    (
        "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n",
        GET,
        Got::Chunked,
        false,
    ),
    (
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n",
        GET,
        Got::Chunked,
        false,
    ),
    (
        "HTTP/1.1 200 OK\r\ntransfer-encoding: gzip\r\ntransfer-encoding: chunked\r\n\r\n",
        GET,
        Got::Chunked,
        false,
    ),
    (
        "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-length: 5\r\n\r\n",
        GET,
        Got::Chunked,
        false,
    ),
    (
        "HTTP/1.1 200 OK\r\ntransfer-encoding: gzip\r\ncontent-length: 5\r\n\r\n",
        GET,
        Got::Length(5),
        false,
    ),
    (
        "HTTP/1.1 200 OK\r\ntransfer-encoding: xchunked\r\n\r\n",
        GET,
        Got::Close,
        true,
    ),
    (
        "HTTP/1.0 200 OK\r\ntransfer-encoding: chunked\r\ncontent-length: 5\r\n\r\n",
        GET,
        Got::Length(5),
        true,
    ),
    // Neither: up to the close, which the connection then needs.
    ("HTTP/1.1 200 OK\r\n\r\n", GET, Got::Close, true),
    ("HTTP/1.0 200 OK\r\n\r\n", GET, Got::Close, true),
    // Connection.
    (
        "HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 1\r\n\r\n",
        GET,
        Got::Length(1),
        true,
    ),
    (
        "HTTP/1.1 200 OK\r\nconnection: x, Close\r\ncontent-length: 1\r\n\r\n",
        GET,
        Got::Length(1),
        true,
    ),
    (
        "HTTP/1.1 200 OK\r\nconnection: closed\r\ncontent-length: 1\r\n\r\n",
        GET,
        Got::Length(1),
        false,
    ),
    (
        "HTTP/1.0 200 OK\r\ncontent-length: 1\r\n\r\n",
        GET,
        Got::Length(1),
        true,
    ),
    (
        "HTTP/1.0 200 OK\r\nconnection: keep-alive\r\ncontent-length: 1\r\n\r\n",
        GET,
        Got::Length(1),
        false,
    ),
    (
        "HTTP/1.0 200 OK\r\nconnection: Keep-Alive, close\r\ncontent-length: 1\r\n\r\n",
        GET,
        Got::Length(1),
        true,
    ),
    // No body: HEAD, 1xx, 204, 304, 2xx to CONNECT.
    (
        "HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n",
        HEAD,
        Got::NoBody,
        false,
    ),
    (
        "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n",
        HEAD,
        Got::NoBody,
        false,
    ),
    ("HTTP/1.1 200 OK\r\n\r\n", HEAD, Got::NoBody, false),
    (
        "HTTP/1.1 204 No Content\r\ncontent-length: 5\r\n\r\n",
        GET,
        Got::NoBody,
        false,
    ),
    (
        "HTTP/1.1 304 Not Modified\r\ntransfer-encoding: chunked\r\n\r\n",
        GET,
        Got::NoBody,
        false,
    ),
    ("HTTP/1.1 304 Not Modified\r\n\r\n", GET, Got::NoBody, false),
    (
        "HTTP/1.1 200 Connection established\r\n\r\n",
        CONNECT,
        Got::NoBody,
        true,
    ),
    (
        "HTTP/1.1 200 Connection established\r\ncontent-length: 5\r\n\r\n",
        CONNECT,
        Got::NoBody,
        true,
    ),
    (
        "HTTP/1.1 407 Proxy Authentication Required\r\ncontent-length: 5\r\n\r\n",
        CONNECT,
        Got::Length(5),
        false,
    ),
    (
        "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\n\r\n",
        GET,
        Got::NoBody,
        true,
    ),
    // Informational answers are skipped; a 100 with fields is refused.
    ("HTTP/1.1 100 Continue\r\n\r\n", POST, Got::Skipped, false),
    (
        "HTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\n",
        GET,
        Got::Skipped,
        false,
    ),
    (
        "HTTP/1.1 100 Continue\r\nx: y\r\n\r\n",
        POST,
        Got::Error(ProtoError::HeadersWith100),
        false,
    ),
];

#[test]
fn framing_and_close_follow_the_head_and_the_request() {
    for (head, sent, expected, close) in CASES {
        let (got, closes) = got(head, *sent);
        assert_eq!((&got, closes), (expected, *close), "{sent:?} {head}");
    }
}

#[test]
fn a_request_that_says_close_closes_whatever_the_answer() {
    let mut headers = HeaderMap::new();
    headers.insert("connection", "Keep-Alive, CLOSE".parse().unwrap());
    let said = Sent::new(&Method::GET, Version::HTTP_11, &headers);
    let http10 = Sent::new(&Method::GET, Version::HTTP_10, &HeaderMap::new());
    let head = "HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\n";
    assert_eq!(got(head, said), (Got::Length(1), true));
    assert_eq!(got(head, http10), (Got::Length(1), true));
    assert_eq!(got(head, GET), (Got::Length(1), false));
}

/// Decodes `input` as a chunked body handed over in `parts` (split at these
/// offsets), reading into `room` bytes at a time, as `read_body` does: unused
/// bytes are kept and more appended. Returns the data, whether the body ended,
/// and the bytes left after it.
fn decode(
    input: &[u8],
    splits: &[usize],
    room: usize,
) -> Result<(Vec<u8>, bool, Vec<u8>), ProtoError> {
    let mut at = Chunk::Size;
    let (mut pending, mut out) = (Vec::new(), Vec::new());
    let mut dst = vec![0u8; room];
    let mut edges = splits.to_vec();
    edges.push(input.len());
    let mut from = 0;
    for edge in edges {
        pending.extend_from_slice(&input[from..edge]);
        from = edge;
        loop {
            let (used, n) = dechunk(&mut at, &pending, &mut dst)?;
            pending.drain(..used);
            out.extend_from_slice(&dst[..n]);
            if used == 0 && n == 0 {
                break;
            }
        }
    }
    Ok((out, at == Chunk::Done, pending))
}

#[test]
fn chunked_body_is_decoded_whatever_the_split_and_the_room() {
    let input: &[u8] =
        b"A\r\n0123456789\r\na;ext=1;y\r\nabcdefghij\r\n1 ; e\r\n!\r\n0\r\nx-t: 1\r\ny: 2\r\n\r\n";
    let expected = b"0123456789abcdefghij!";
    for room in [1, 2, 7, 64] {
        for split in 0..=input.len() {
            let got = decode(input, &[split], room).unwrap();
            assert_eq!(
                got,
                (expected.to_vec(), true, Vec::new()),
                "split {split} room {room}"
            );
        }
    }
    // Every byte on its own.
    let every: Vec<usize> = (1..input.len()).collect();
    assert_eq!(decode(input, &every, 3).unwrap().0, expected);
}

#[test]
fn chunk_sizes_are_hex_in_either_case() {
    let mut input = b"1f\r\n".to_vec();
    input.extend_from_slice(&[b'x'; 31]);
    input.extend_from_slice(b"\r\n1F\r\n");
    input.extend_from_slice(&[b'y'; 31]);
    input.extend_from_slice(b"\r\n00\r\n\r\n");
    let (data, ended, _) = decode(&input, &[], 100).unwrap();
    assert_eq!(data.len(), 62);
    assert!(ended);
    assert_eq!(chunk_size(b"ffffffffffffffff"), Ok(u64::MAX));
    assert_eq!(chunk_size(b"0000000000000000001"), Ok(1));
    // As ureq-proto reads them: spaces around the number, a plus sign.
    assert_eq!(chunk_size(b" 5 "), Ok(5));
    assert_eq!(chunk_size(b"+5"), Ok(5));
}

#[test]
fn bad_chunk_framing_is_refused() {
    let cases: &[(&[u8], ProtoError)] = &[
        // Larger than a u64.
        (b"10000000000000000\r\n", ProtoError::ChunkLenNotANumber),
        (b"zz\r\n", ProtoError::ChunkLenNotANumber),
        (b"\r\n", ProtoError::ChunkLenNotANumber),
        (b"-1\r\n", ProtoError::ChunkLenNotANumber),
        (b"5\xff\r\n", ProtoError::ChunkLenNotAscii),
        // A size line longer than 20 bytes, extensions included.
        (
            b"5;a-long-extension=12\r\nhello\r\n",
            ProtoError::ChunkExpectedCrLf,
        ),
        // Data not followed by CRLF.
        (b"5\r\nhelloX\r\n0\r\n\r\n", ProtoError::ChunkExpectedCrLf),
        // A bare LF ends no line: the next CRLF does, and the "size" is not one.
        (b"5\nhello\r\n0\r\n\r\n", ProtoError::ChunkLenNotANumber),
    ];
    for (input, expected) in cases {
        let err = decode(input, &[], 64).unwrap_err();
        assert_eq!(&err, expected, "{}", String::from_utf8_lossy(input));
    }
}

#[test]
fn an_incomplete_chunked_body_waits_and_does_not_end() {
    for input in [
        &b"5\r\nhel"[..],
        b"5\r\nhello",
        b"5\r\nhello\r",
        b"5\r\nhello\r\n0\r\n",
        b"5\r\nhello\r\n0\r\nx-t: 1\r\n",
        b"5\nhello",
    ] {
        let (_, ended, _) = decode(input, &[], 64).unwrap();
        assert!(!ended, "{}", String::from_utf8_lossy(input));
    }
}

#[test]
fn bytes_after_a_body_stay_unread() {
    let (data, ended, rest) = decode(b"2\r\nok\r\n0\r\n\r\nHTTP/1.1", &[], 64).unwrap();
    assert_eq!(
        (data, ended, rest),
        (b"ok".to_vec(), true, b"HTTP/1.1".to_vec())
    );
    let mut reader = BodyReader {
        mode: Mode::Length(2),
        must_close: false,
    };
    let mut dst = [0u8; 8];
    assert_eq!(reader.read(b"okHTTP", &mut dst), Ok((2, 2)));
    assert!(reader.is_ended());
    assert_eq!(reader.read(b"HTTP", &mut dst), Ok((0, 0)));
}
