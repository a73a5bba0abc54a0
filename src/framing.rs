//! How a response body is framed ([`Fields::framing`]) and read ([`BodyReader`]):
//! by its `Content-Length`, chunked, or up to the connection's close; and whether
//! the connection must close after it.
//!
//! The rules are ureq-proto 0.7's, kept exactly (a test in `head.rs` compares the
//! two), so that taking the response side off it changed no behaviour (but a
//! chunk size is a `u64`, not a `usize`: a chunk over 4 GiB is read on armv7 too):
//! - no body for a HEAD request, a 1xx, 204 or 304 answer, or a 2xx answer to CONNECT;
//! - else `Transfer-Encoding` with the token `chunked` (any field, comma lists, any
//!   case) in an HTTP/1.1 answer: chunked, any `Content-Length` ignored;
//! - else `Content-Length` (every value of every field the same number, else an
//!   error); else up to the close.
//!
//! The connection closes after the answer when the request said so (`Connection:
//! close`, HTTP/1.0, or an upload the server refused before its body), the answer
//! says `Connection: close`, is HTTP/1.0 without `keep-alive`, is 101, is a 2xx to
//! CONNECT, or its body runs up to the close.

use http::{HeaderMap, Method, Version};
use ureq_proto::Error as ProtoError;

use crate::error::Framing;

/// The longest chunk-size line (size and extensions, before its CRLF) accepted, in
/// bytes: ureq-proto's limit, kept so that the same bodies are refused. A size of
/// 16 hex digits fits with room for a short extension.
const MAX_SIZE_LINE: usize = 20;

/// What the request decides about its response's framing.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Sent {
    /// A HEAD request: the answer has no body, whatever its head says.
    pub head: bool,
    /// A CONNECT request: a 2xx answer opens a tunnel (no body, no more HTTP).
    pub connect: bool,
    /// The connection closes after this exchange whatever the answer says: the
    /// request said `Connection: close` or was HTTP/1.0, or the server answered an
    /// `Expect: 100-continue` upload with something other than 100.
    pub close: bool,
}

impl Sent {
    /// For a request with this method, version and header fields.
    pub fn new(method: &Method, version: Version, headers: &HeaderMap) -> Sent {
        let close = version == Version::HTTP_10
            || headers
                .get_all(http::header::CONNECTION)
                .iter()
                .any(|v| has_token(v.as_bytes(), b"close"));
        Sent {
            head: method == Method::HEAD,
            connect: method == Method::CONNECT,
            close,
        }
    }
}

/// Whether a field value, as a comma list, holds `token` (any case). A value that
/// is not all visible ASCII (or tab) counts as holding nothing, as in ureq-proto.
fn has_token(value: &[u8], token: &[u8]) -> bool {
    let visible = |b: &u8| (0x20..0x7f).contains(b) || *b == b'\t';
    value.iter().all(visible)
        && value
            .split(|&b| b == b',')
            .any(|element| trim_ows(element).eq_ignore_ascii_case(token))
}

/// `bytes` without spaces and tabs at either end.
fn trim_ows(mut bytes: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = bytes {
        bytes = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = bytes {
        bytes = rest;
    }
    bytes
}

/// One `Content-Length` list element: digits (leading zeros allowed) between
/// optional spaces, fitting a `u64`.
fn length_value(element: &[u8]) -> Option<u64> {
    let digits = trim_ows(element);
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &b| {
        let digit = b.checked_sub(b'0').filter(|d| *d <= 9)?;
        n.checked_mul(10)?.checked_add(u64::from(digit))
    })
}

/// Why the `Content-Length` fields are refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LengthError {
    /// A value is not a number.
    Bad,
    /// Two values differ.
    Conflict,
}

/// What the framing fields of a response head say, gathered field by field.
#[derive(Debug, Default)]
pub(crate) struct Fields {
    length: Option<u64>,
    /// The first fault in the `Content-Length` fields, reported after all fields.
    length_error: Option<LengthError>,
    chunked: bool,
    /// A `Transfer-Encoding` field came, whatever its codings.
    coding: bool,
    close: bool,
    keep_alive: bool,
}

impl Fields {
    /// A `Content-Length` field's value.
    pub fn content_length(&mut self, value: &[u8]) {
        if self.length_error.is_some() {
            return;
        }
        for element in value.split(|&b| b == b',') {
            let error = match length_value(element) {
                None => Some(LengthError::Bad),
                Some(n) if self.length.is_some_and(|prev| prev != n) => Some(LengthError::Conflict),
                Some(n) => {
                    self.length = Some(n);
                    None
                }
            };
            if error.is_some() {
                self.length_error = error;
                return;
            }
        }
    }

    /// A `Transfer-Encoding` field's value.
    pub fn transfer_encoding(&mut self, value: &[u8]) {
        self.coding = true;
        self.chunked |= has_token(value, b"chunked");
    }

    /// Both `Transfer-Encoding` and `Content-Length` came: a smuggling pattern, see
    /// [`crate::response::reuse_allowed`].
    pub fn framed_twice(&self) -> bool {
        self.coding && self.length.is_some()
    }

    /// A `Connection` field's value.
    pub fn connection(&mut self, value: &[u8]) {
        self.close |= has_token(value, b"close");
        self.keep_alive |= has_token(value, b"keep-alive");
    }

    /// The error in the `Content-Length` fields, if any: a head with one is refused
    /// whatever its status (1xx included, 100 aside).
    pub fn check(&self) -> Result<(), ProtoError> {
        match self.length_error {
            None => Ok(()),
            Some(LengthError::Bad) => Err(ProtoError::BadContentLengthHeader),
            Some(LengthError::Conflict) => Err(ProtoError::TooManyContentLengthHeaders),
        }
    }

    /// The body's framing for a final answer with this version and status code to
    /// the request `sent`, and whether the connection must close after it.
    pub fn framing(
        &self,
        version: Version,
        code: u16,
        sent: Sent,
    ) -> Result<BodyReader, ProtoError> {
        self.check()?;
        let http10 = version == Version::HTTP_10;
        let tunnel = sent.connect && (200..300).contains(&code);
        let allowed =
            !(sent.head || tunnel || (100..200).contains(&code) || code == 204 || code == 304);
        let defined = if self.chunked && !http10 {
            Some(Mode::Chunked(Chunk::Size))
        } else {
            self.length.map(Mode::Length)
        };
        let mode = match defined {
            _ if !allowed => Mode::None,
            Some(mode) => mode,
            None => Mode::Close,
        };
        let must_close = sent.close
            || self.close
            || (http10 && !self.keep_alive)
            || code == 101
            || tunnel
            || matches!(mode, Mode::Close);
        Ok(BodyReader { mode, must_close })
    }
}

/// How the body ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// No body.
    None,
    /// This many bytes still to come.
    Length(u64),
    /// Chunked, at this point of the framing.
    Chunked(Chunk),
    /// Up to the connection's close.
    Close,
}

/// Where a chunked body's reader is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    /// At a chunk-size line.
    Size,
    /// In a chunk's data, this many bytes still to come.
    Data(u64),
    /// At the CRLF after a chunk's data.
    DataEnd,
    /// After the last chunk: trailer fields up to an empty line.
    Trailers,
    /// After the empty line: the body is complete.
    Done,
}

/// Reads a response body out of received bytes, and knows whether the connection
/// can carry another request after it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BodyReader {
    mode: Mode,
    must_close: bool,
}

impl BodyReader {
    /// Whether there are body bytes to read (a `Content-Length: 0` has none).
    pub fn has_body(&self) -> bool {
        !matches!(self.mode, Mode::None | Mode::Length(0))
    }

    /// Whether the connection must close after this response.
    pub fn must_close(&self) -> bool {
        self.must_close
    }

    /// Whether the body runs up to the connection's close.
    pub fn is_close_delimited(&self) -> bool {
        self.mode == Mode::Close
    }

    /// Whether the body is chunked.
    pub fn is_chunked(&self) -> bool {
        matches!(self.mode, Mode::Chunked(_))
    }

    /// The bytes still to come of a body framed by its `Content-Length`.
    pub fn length_left(&self) -> Option<u64> {
        match self.mode {
            Mode::Length(left) => Some(left),
            _ => None,
        }
    }

    /// Whether the whole body has been read (never, for one up to the close).
    pub fn is_ended(&self) -> bool {
        match self.mode {
            Mode::None | Mode::Length(0) | Mode::Chunked(Chunk::Done) => true,
            Mode::Length(_) | Mode::Chunked(_) | Mode::Close => false,
        }
    }

    /// How the body is framed, for [`Error::Truncated`](crate::Error::Truncated).
    pub fn framing(&self) -> Framing {
        match self.mode {
            Mode::Chunked(_) => Framing::Chunked,
            Mode::Close => Framing::CloseDelimited,
            Mode::None | Mode::Length(_) => Framing::ContentLength,
        }
    }

    /// Reads body bytes from `src` into `dst`: `(bytes of src used, bytes written)`.
    /// Both 0 when `src` holds no complete framing line, or the body has ended
    /// (bytes after its end stay unused).
    pub fn read(&mut self, src: &[u8], dst: &mut [u8]) -> Result<(usize, usize), ProtoError> {
        match &mut self.mode {
            Mode::None => Ok((0, 0)),
            Mode::Length(left) => {
                let n = copy(src, dst, *left);
                *left = left.saturating_sub(n as u64);
                Ok((n, n))
            }
            Mode::Close => {
                let n = copy(src, dst, u64::MAX);
                Ok((n, n))
            }
            Mode::Chunked(at) => dechunk(at, src, dst),
        }
    }
}

/// Copies as many bytes as `src`, `dst` and `max` allow; returns how many.
fn copy(src: &[u8], dst: &mut [u8], max: u64) -> usize {
    let n = src
        .len()
        .min(dst.len())
        .min(usize::try_from(max).unwrap_or(usize::MAX));
    if let (Some(from), Some(to)) = (src.get(..n), dst.get_mut(..n)) {
        to.copy_from_slice(from);
    }
    n
}

/// Where the first CR in `bytes` is, if an LF follows it. A CR followed by
/// anything else, or last, finds nothing (as in ureq-proto: the reader then waits
/// for bytes that cannot help, and the line ends up too long or truncated).
fn line_end(bytes: &[u8]) -> Option<usize> {
    let cr = bytes.iter().position(|&b| b == b'\r')?;
    (bytes.get(cr.checked_add(1)?) == Some(&b'\n')).then_some(cr)
}

/// The size on a chunk-size line (without its CRLF): hex digits before any `;`
/// extension, spaces around them allowed.
fn chunk_size(line: &[u8]) -> Result<u64, ProtoError> {
    if line.len() > MAX_SIZE_LINE {
        return Err(ProtoError::ChunkExpectedCrLf);
    }
    let size = line.split(|&b| b == b';').next().unwrap_or_default();
    // The usual line: hex digits alone.
    if !size.is_empty() && size.len() <= 16 && size.iter().all(u8::is_ascii_hexdigit) {
        // At most 16 digits: no overflow.
        let digits = size.iter().filter_map(|&b| char::from(b).to_digit(16));
        return Ok(digits.fold(0u64, |n, d| n.wrapping_mul(16).wrapping_add(u64::from(d))));
    }
    let text = std::str::from_utf8(size).map_err(|_| ProtoError::ChunkLenNotAscii)?;
    u64::from_str_radix(text.trim(), 16).map_err(|_| ProtoError::ChunkLenNotANumber)
}

/// Reads a chunked body from `src` into `dst`, from where `at` says and moving it
/// on: `(bytes of src used, bytes written)`. Stops at the body's end, when a line
/// is incomplete, or when `dst` is full.
fn dechunk(at: &mut Chunk, src: &[u8], dst: &mut [u8]) -> Result<(usize, usize), ProtoError> {
    let (mut used, mut written) = (0usize, 0usize);
    loop {
        let rest = src.get(used..).unwrap_or_default();
        match *at {
            Chunk::Size => {
                if written >= dst.len() {
                    break;
                }
                let Some(end) = line_end(rest) else { break };
                let size = chunk_size(rest.get(..end).unwrap_or_default())?;
                used = used.saturating_add(end).saturating_add(2);
                *at = if size == 0 {
                    Chunk::Trailers
                } else {
                    Chunk::Data(size)
                };
            }
            Chunk::Data(left) => {
                let out = dst.get_mut(written..).unwrap_or_default();
                let n = copy(rest, out, left);
                if n == 0 {
                    break;
                }
                used = used.saturating_add(n);
                written = written.saturating_add(n);
                let left = left.saturating_sub(n as u64);
                *at = if left == 0 {
                    Chunk::DataEnd
                } else {
                    Chunk::Data(left)
                };
            }
            Chunk::DataEnd => match line_end(rest) {
                None => break,
                Some(0) => {
                    used = used.saturating_add(2);
                    *at = Chunk::Size;
                }
                Some(_) => return Err(ProtoError::ChunkExpectedCrLf),
            },
            Chunk::Trailers => {
                let Some(end) = line_end(rest) else { break };
                used = used.saturating_add(end).saturating_add(2);
                if end == 0 {
                    *at = Chunk::Done;
                }
            }
            Chunk::Done => break,
        }
    }
    Ok((used, written))
}

#[cfg(test)]
mod tests;
