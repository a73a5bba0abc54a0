//! The one place that drives ureq-proto's client state machine. No socket code here:
//! everything is generic over [`Transport`], so tests run it over memory.
//!
//! One function per protocol state: [`send_request`] (SendRequest, Await100, SendBody),
//! [`recv_response`] (RecvResponse) and [`read_body`] (RecvBody); [`finish_body`] is
//! Cleanup. [`send_and_receive`] runs the first two for a request, reading an early
//! answer when the upload fails.

use std::io::{self, Read, Seek, SeekFrom, Write};
use std::time::Duration;

use http::Response;
use ureq_proto::client::state::{Await100, Prepare, RecvBody, RecvResponse, SendBody};
use ureq_proto::client::{
    Await100Result, Call, RecvBodyResult, RecvResponseResult, SendRequestResult,
};
use ureq_proto::BodyMode;

use crate::deadline::ShortWait;
use crate::error::{Error, Framing, Result};

/// Bytes of request head (and small body) assembled before the first write. Every
/// ordinary REST request fits, so it leaves in one `write` and one TLS record.
pub(crate) const SEND_BUFFER: usize = 4 * 1024;

/// Bytes read from a streamed request body per write: one TLS record's worth.
const UPLOAD_CHUNK: usize = 16 * 1024;

/// Initial size of a connection's receive buffer: a typical response head and the
/// first part of its body. It grows only for an unusually large head.
pub(crate) const RECV_BUFFER: usize = 8 * 1024;

/// Default limit on the response head (status line + headers), in bytes.
pub const DEFAULT_MAX_RESPONSE_HEAD: usize = 64 * 1024;

/// How many 1xx responses may precede the real one before we call it a flood; counted
/// while awaiting `100 Continue` and again after the request.
const MAX_INFORMATIONAL: usize = 16;

/// How long to wait for `100 Continue` before sending the body anyway (RFC 9110 lets
/// a client stop waiting; servers that ignore `Expect` never answer it). In all:
/// 1xx responses or a dribbled status line do not extend it.
pub(crate) const CONTINUE_WAIT: Duration = Duration::from_secs(1);

/// How long to look for an answer after a write of the request failed. A server that
/// answers an upload early (413, 401) and closes sent that answer before the reset
/// that failed the write, so it is already in the socket buffer: this only covers the
/// rest of a head split over segments already in flight. A server that is simply gone
/// costs no more than this.
const EARLY_ANSWER_WAIT: Duration = Duration::from_millis(250);

/// A connection as the exchange needs it.
pub(crate) trait Transport: Read + Write {
    /// Shortens the waits of the reads that follow ([`ShortWait`]); `None` lifts it.
    /// A read that runs out of it fails with a plain `WouldBlock` (no inner error).
    fn set_read_cap(&mut self, cap: Option<ShortWait>);
}

/// Whether a read error is the end of a [`ShortWait`] rather than a failure.
fn wait_spent(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::WouldBlock && e.get_ref().is_none()
}

/// The response head exactly as received, kept in the head's extensions when the
/// request asked for it ([`HeadRules::keep_raw`]).
#[derive(Clone)]
pub(crate) struct RawHead(pub Box<[u8]>);

/// The response head of a request and what follows it.
pub(crate) struct Answer {
    pub head: Response<()>,
    pub next: RecvResponseResult,
    /// False when the server answered before the whole request body went out: it
    /// still expects the rest, or has closed, so the connection closes after this
    /// response whatever the response says.
    pub reusable: bool,
}

/// The request body to send.
pub(crate) enum ReqBody<'a> {
    None,
    /// Sent with a `Content-Length`; replayable.
    Bytes(&'a [u8]),
    /// Streamed: with the caller's `Content-Length` if given, else chunked.
    Reader(&'a mut dyn Read),
    /// Streamed like `Reader`, and replayable: seeks back to where it started.
    Seekable(&'a mut dyn SeekRead, u64),
}

/// A body source that can be read again from a position.
pub(crate) trait SeekRead: Read + Seek {}

impl<T: Read + Seek> SeekRead for T {}

impl ReqBody<'_> {
    /// Whether the body can be sent again (a retry, a 307/308 redirect).
    pub fn is_replayable(&self) -> bool {
        !matches!(self, ReqBody::Reader(_))
    }

    /// Gets a replayable body ready to be sent again from its start.
    pub fn rewind(&mut self) -> Result<()> {
        if let ReqBody::Seekable(source, start) = self {
            source.seek(SeekFrom::Start(*start)).map_err(|e| {
                Error::invalid_request(format_args!("rewinding the request body failed: {e}"))
            })?;
        }
        Ok(())
    }
}

/// Received bytes not yet consumed by the parser.
pub(crate) struct RecvBuf {
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Whether any byte has been received since the request was sent.
    pub received: bool,
}

impl RecvBuf {
    pub fn new() -> RecvBuf {
        RecvBuf {
            buf: Vec::new(),
            start: 0,
            end: 0,
            received: false,
        }
    }

    pub fn data(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Reads more bytes, making room first (compact, then grow up to `max`).
    /// `Ok(None)` when the buffer already holds `max` unconsumed bytes.
    fn fill(&mut self, io: &mut impl Read, max: usize) -> io::Result<Option<usize>> {
        if self.end == self.buf.len() {
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            } else if self.buf.len() < max {
                let size = (self.buf.len() * 2).clamp(RECV_BUFFER, max);
                self.buf.resize(size, 0);
            } else {
                return Ok(None);
            }
        }
        let n = io.read(&mut self.buf[self.end..])?;
        self.end += n;
        self.received |= n > 0;
        Ok(Some(n))
    }

    /// Gives back memory grown for a large response head before the connection idles.
    pub fn shrink(&mut self) {
        if self.buf.len() > RECV_BUFFER && self.is_empty() {
            self.buf = vec![0; RECV_BUFFER];
        }
    }
}

fn protocol(host: &str, e: ureq_proto::Error) -> Error {
    Error::protocol(host, e)
}

fn invalid(e: ureq_proto::Error) -> Error {
    Error::invalid_request(e)
}

/// Sends the request and reads the response head ([`send_request`], then
/// [`recv_response`]), keeping the head's bytes if the rules say so ([`RawHead`]).
///
/// When sending a request body fails (the server answered early, 413 or 401, and
/// closed or stopped reading), the answer it may already have sent is read within
/// [`EARLY_ANSWER_WAIT`] and returned, not reusable; without one, the write error
/// stands.
pub(crate) fn send_and_receive(
    io: &mut impl Transport,
    buf: &mut RecvBuf,
    call: Call<Prepare>,
    body: &mut ReqBody,
    host: &str,
    absolute_target: Option<&str>,
    rules: HeadRules,
) -> Result<Answer> {
    let call = match send_request(io, buf, call, body, host, absolute_target) {
        Ok(call) => call,
        Err(e @ (Error::Io { .. } | Error::Timeout { .. })) if !matches!(body, ReqBody::None) => {
            return match early_answer(io, buf, host, rules) {
                Some((head, next)) => {
                    debug!(
                        "{host} answered {} before the request body was sent ({e})",
                        head.status()
                    );
                    Ok(Answer {
                        head,
                        next,
                        reusable: false,
                    })
                }
                None => Err(e),
            };
        }
        Err(e) => return Err(e),
    };
    let (head, next) = recv_head(io, buf, call, host, rules)?;
    Ok(Answer {
        head,
        next,
        reusable: true,
    })
}

/// How a response head is read: its size limit, and whether its bytes are kept.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HeadRules {
    /// Largest head accepted, in bytes ([`Error::HeadersTooLarge`] above).
    pub max: usize,
    /// Keep the head's bytes ([`RawHead`]); a copy, so only when asked.
    pub keep_raw: bool,
}

/// The answer a server sent before the request body was complete, if it is there
/// within [`EARLY_ANSWER_WAIT`].
fn early_answer(
    io: &mut impl Transport,
    buf: &mut RecvBuf,
    host: &str,
    rules: HeadRules,
) -> Option<(Response<()>, RecvResponseResult)> {
    let call = stand_in_call()?;
    io.set_read_cap(Some(ShortWait::start(EARLY_ANSWER_WAIT, EARLY_ANSWER_WAIT)));
    let answer = recv_head(io, buf, call, host, rules);
    io.set_read_cap(None);
    answer.ok()
}

/// A call ready to read a response, standing in for one whose body was cut short:
/// ureq-proto cannot leave SendBody before the body's end. The response's framing
/// depends on the request only through its method, and a request with a body is
/// not a HEAD, so a bodiless GET reads it the same way.
fn stand_in_call() -> Option<Call<RecvResponse>> {
    let mut call = Call::new(http::Request::new(())).ok()?.proceed();
    // Its request line, "GET / HTTP/1.1": written to scratch, never sent.
    let mut scratch = [0u8; 32];
    call.write(&mut scratch).ok()?;
    match call.proceed() {
        Ok(Some(SendRequestResult::RecvResponse(call))) => Some(call),
        _ => None,
    }
}

/// Sends the request head and body. The head and a body that fits [`SEND_BUFFER`]
/// leave in one write.
pub(crate) fn send_request(
    io: &mut impl Transport,
    buf: &mut RecvBuf,
    call: Call<Prepare>,
    body: &mut ReqBody,
    host: &str,
    absolute_target: Option<&str>,
) -> Result<Call<RecvResponse>> {
    let mut call = call.proceed();
    let mut out = [0u8; SEND_BUFFER];
    let mut len = call.write(&mut out).map_err(invalid)?;
    if let Some(target) = absolute_target {
        len = set_request_target(&mut out, len, target)?;
    }
    while !call.can_proceed() {
        // The head is larger than the buffer: send what is there and go on.
        write_all(io, &out[..len], host)?;
        len = call.write(&mut out).map_err(invalid)?;
    }
    let next = call
        .proceed()
        .map_err(invalid)?
        .ok_or_else(|| Error::invalid_request("request head incomplete"))?;
    match next {
        SendRequestResult::RecvResponse(call) => {
            write_all(io, &out[..len], host)?;
            Ok(call)
        }
        SendRequestResult::SendBody(call) => send_body(io, call, body, &mut out, len, host),
        SendRequestResult::Await100(call) => {
            write_all(io, &out[..len], host)?;
            match await_100(io, buf, call, host)? {
                Await100Result::SendBody(call) => send_body(io, call, body, &mut out, 0, host),
                Await100Result::RecvResponse(call) => Ok(call),
            }
        }
    }
}

/// Replaces the request-target of the request line at the start of `out[..len]`
/// (ureq-proto writes origin-form, `/path`) with `target`: the absolute form a proxy
/// needs for plain http. Returns the new length.
fn set_request_target(out: &mut [u8], len: usize, target: &str) -> Result<usize> {
    let too_long = || Error::invalid_request("URL too long for a proxied request");
    let line_end = out[..len]
        .iter()
        .position(|&b| b == b'\n')
        .ok_or_else(too_long)?;
    let start = out[..line_end]
        .iter()
        .position(|&b| b == b' ')
        .ok_or_else(too_long)?
        + 1;
    let end = start
        + out[start..line_end]
            .iter()
            .position(|&b| b == b' ')
            .ok_or_else(too_long)?;
    let new_len = len - (end - start) + target.len();
    if new_len > out.len() {
        return Err(too_long());
    }
    out.copy_within(end..len, start + target.len());
    out[start..start + target.len()].copy_from_slice(target.as_bytes());
    Ok(new_len)
}

/// Waits up to [`CONTINUE_WAIT`] in all for the server's `100 Continue` (or its
/// refusal), skipping up to [`MAX_INFORMATIONAL`] other 1xx responses.
fn await_100(
    io: &mut impl Transport,
    buf: &mut RecvBuf,
    mut call: Call<Await100>,
    host: &str,
) -> Result<Await100Result> {
    io.set_read_cap(Some(ShortWait::start(CONTINUE_WAIT, CONTINUE_WAIT)));
    let waited = wait_for_100(io, buf, &mut call, host);
    io.set_read_cap(None);
    waited?;
    call.proceed().map_err(|e| protocol(host, e))
}

/// Reads until the server has said whether to send the body, or the wait is over.
fn wait_for_100(
    io: &mut impl Transport,
    buf: &mut RecvBuf,
    call: &mut Call<Await100>,
    host: &str,
) -> Result<()> {
    let mut informational = 0;
    while call.can_keep_await_100() {
        if !buf.is_empty() {
            let used = call
                .try_read_100(buf.data())
                .map_err(|e| protocol(host, e))?;
            buf.consume(used);
            if used > 0 && call.can_keep_await_100() {
                // A 1xx other than 100, skipped.
                informational += 1;
                if informational > MAX_INFORMATIONAL {
                    return Err(too_many_informational(host));
                }
            }
            if used > 0 || !call.can_keep_await_100() {
                continue;
            }
        }
        match buf.fill(io, RECV_BUFFER) {
            // Closed, or more than a status line without an answer: stop waiting.
            Ok(Some(0) | None) => break,
            Ok(Some(_)) => {}
            Err(e) if wait_spent(&e) => break,
            Err(e) => return Err(Error::from_io(e, host)),
        }
    }
    Ok(())
}

fn too_many_informational(host: &str) -> Error {
    Error::protocol(
        host,
        format!("too many 1xx responses (more than {MAX_INFORMATIONAL})"),
    )
}

fn send_body(
    io: &mut impl Transport,
    mut call: Call<SendBody>,
    body: &mut ReqBody,
    out: &mut [u8],
    mut len: usize,
    host: &str,
) -> Result<Call<RecvResponse>> {
    match body {
        ReqBody::None => {}
        ReqBody::Bytes(data) => {
            // Head and as much body as fits go in one write; the rest directly from
            // the caller's slice (no copy) in one more write call.
            let fits = data.len().min(out.len() - len);
            let (used, n) = call
                .write(&data[..fits], &mut out[len..])
                .map_err(invalid)?;
            len += n;
            write_all(io, &out[..len], host)?;
            let rest = &data[used..];
            if !rest.is_empty() {
                call.consume_direct_write(rest.len()).map_err(invalid)?;
                write_all(io, rest, host)?;
            }
            len = 0;
        }
        ReqBody::Reader(reader) => {
            write_all(io, &out[..len], host)?;
            len = 0;
            stream_body(io, &mut call, &mut **reader, host)?;
        }
        ReqBody::Seekable(source, _) => {
            write_all(io, &out[..len], host)?;
            len = 0;
            stream_body(io, &mut call, &mut **source, host)?;
        }
    }
    // End of body: the chunked terminator, or nothing for a length-delimited body.
    let (_, n) = call.write(&[], &mut out[len..]).map_err(invalid)?;
    len += n;
    if len > 0 {
        write_all(io, &out[..len], host)?;
    }
    if !call.can_proceed() {
        return Err(Error::invalid_request(
            "request body ended before the Content-Length it declared",
        ));
    }
    io.flush().map_err(|e| Error::from_io(e, host))?;
    call.proceed()
        .ok_or_else(|| Error::invalid_request("request body incomplete"))
}

/// Streams a reader's bytes as the body, chunked or within its `Content-Length`.
fn stream_body(
    io: &mut impl Transport,
    call: &mut Call<SendBody>,
    reader: &mut dyn Read,
    host: &str,
) -> Result<()> {
    let chunked = call.is_chunked();
    let mut input = vec![0u8; UPLOAD_CHUNK];
    let mut framed = if chunked {
        vec![0u8; UPLOAD_CHUNK + 32]
    } else {
        Vec::new()
    };
    loop {
        let max = if chunked {
            call.calculate_max_input(framed.len()).min(input.len())
        } else {
            input.len()
        };
        let n = match reader.read(&mut input[..max]) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(Error::invalid_request(format_args!(
                    "reading the request body failed: {e}"
                )))
            }
        };
        if chunked {
            let (used, m) = call.write(&input[..n], &mut framed).map_err(invalid)?;
            debug_assert_eq!(used, n, "max input was computed for this output");
            write_all(io, &framed[..m], host)?;
        } else {
            call.consume_direct_write(n).map_err(invalid)?;
            write_all(io, &input[..n], host)?;
        }
    }
}

fn write_all(io: &mut impl Transport, data: &[u8], host: &str) -> Result<()> {
    io.write_all(data).map_err(|e| Error::from_io(e, host))
}

/// Reads until the response head is complete, skipping 1xx responses.
pub(crate) fn recv_response(
    io: &mut impl Transport,
    buf: &mut RecvBuf,
    call: Call<RecvResponse>,
    host: &str,
    max_head: usize,
) -> Result<(Response<()>, RecvResponseResult)> {
    let rules = HeadRules {
        max: max_head,
        keep_raw: false,
    };
    recv_head(io, buf, call, host, rules)
}

/// [`recv_response`], keeping the head's bytes if the rules say so.
fn recv_head(
    io: &mut impl Transport,
    buf: &mut RecvBuf,
    mut call: Call<RecvResponse>,
    host: &str,
    rules: HeadRules,
) -> Result<(Response<()>, RecvResponseResult)> {
    let max_head = rules.max;
    let mut informational = 0;
    loop {
        if !buf.is_empty() {
            let (used, mut response) = call
                .try_response(buf.data(), false)
                .map_err(|e| head_error(host, e, max_head))?;
            if let Some(response) = response.as_mut().filter(|_| rules.keep_raw) {
                let raw = buf.data().get(..used).unwrap_or_default();
                response.extensions_mut().insert(RawHead(raw.into()));
            }
            buf.consume(used);
            if let Some(response) = response {
                let next = call
                    .proceed()
                    .ok_or_else(|| Error::protocol(host, "response head incomplete"))?;
                return Ok((response, next));
            }
            if used > 0 {
                informational += 1;
                if informational > MAX_INFORMATIONAL {
                    return Err(too_many_informational(host));
                }
                continue;
            }
        }
        match buf.fill(io, max_head) {
            Ok(Some(0)) => {
                return Err(Error::Io {
                    host: host.into(),
                    source: io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "closed before the response head",
                    ),
                })
            }
            Ok(Some(_)) => {}
            Ok(None) => {
                return Err(Error::HeadersTooLarge {
                    host: host.into(),
                    limit: max_head,
                })
            }
            Err(e) => return Err(Error::from_io(e, host)),
        }
    }
}

fn head_error(host: &str, e: ureq_proto::Error, max_head: usize) -> Error {
    match e {
        ureq_proto::Error::HttpParseTooManyHeaders => Error::HeadersTooLarge {
            host: host.into(),
            limit: max_head,
        },
        e => protocol(host, e),
    }
}

/// Reads body bytes into `dst`. `Ok(0)` only at the body's proper end; a body cut
/// short is [`Error::Truncated`].
pub(crate) fn read_body(
    io: &mut impl Transport,
    buf: &mut RecvBuf,
    call: &mut Call<RecvBody>,
    dst: &mut [u8],
    host: &str,
    max_line: usize,
) -> Result<usize> {
    if dst.is_empty() {
        return Ok(0);
    }
    let close_delimited = call.body_mode() == BodyMode::CloseDelimited;
    let truncated = |call: &Call<RecvBody>| Error::Truncated {
        host: host.into(),
        framing: match call.body_mode() {
            BodyMode::Chunked => Framing::Chunked,
            BodyMode::CloseDelimited => Framing::CloseDelimited,
            BodyMode::LengthDelimited(_) | BodyMode::NoBody => Framing::ContentLength,
        },
    };
    loop {
        if !buf.is_empty() {
            let (used, n) = call.read(buf.data(), dst).map_err(|e| protocol(host, e))?;
            buf.consume(used);
            if n > 0 {
                return Ok(n);
            }
            if used > 0 {
                continue;
            }
        }
        if !close_delimited && call.can_proceed() {
            return Ok(0);
        }
        match buf.fill(io, max_line) {
            Ok(Some(0)) if close_delimited => return Ok(0),
            Ok(Some(0)) => return Err(truncated(call)),
            Ok(Some(_)) => {}
            Ok(None) => return Err(Error::protocol(host, "chunk header line too long")),
            // A TLS stream that ended without close_notify.
            Err(e)
                if e.kind() == io::ErrorKind::UnexpectedEof
                    && !e.get_ref().is_some_and(|inner| inner.is::<Error>()) =>
            {
                return Err(truncated(call))
            }
            Err(e) => return Err(Error::from_io(e, host)),
        }
    }
}

/// Whether the connection can carry another request after this response: the server
/// did not ask to close, the framing allows it, and nothing unasked-for follows.
pub(crate) fn finish_body(call: Call<RecvBody>, buf: &RecvBuf) -> bool {
    let close_delimited = call.body_mode() == BodyMode::CloseDelimited;
    let must_close = match call.proceed() {
        Some(RecvBodyResult::Cleanup(c)) => c.must_close_connection(),
        Some(RecvBodyResult::Redirect(c)) => c.must_close_connection(),
        None => true,
    };
    !must_close && !close_delimited && buf.is_empty()
}

/// Like [`finish_body`], for a response without a body.
pub(crate) fn finish_bodyless(next: RecvResponseResult, buf: &RecvBuf) -> bool {
    let must_close = match next {
        RecvResponseResult::Cleanup(c) => c.must_close_connection(),
        RecvResponseResult::Redirect(c) => c.must_close_connection(),
        RecvResponseResult::RecvBody(_) => true,
    };
    !must_close && buf.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_target_is_rewritten_to_absolute_form() {
        let mut out = [0u8; 64];
        let head = b"GET /a?b HTTP/1.1\r\nhost: x\r\n\r\n";
        out[..head.len()].copy_from_slice(head);
        let n = set_request_target(&mut out, head.len(), "http://x:81/a?b").unwrap();
        assert_eq!(
            &out[..n],
            b"GET http://x:81/a?b HTTP/1.1\r\nhost: x\r\n\r\n"
        );
        let mut small = [0u8; 40];
        small[..head.len()].copy_from_slice(head);
        assert!(set_request_target(&mut small, head.len(), &"y".repeat(30)).is_err());
    }
}
