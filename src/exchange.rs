//! The one place that drives ureq-proto's client state machine (for the request)
//! and reads the response. No socket code here:
//! everything is generic over [`Transport`], so tests run it over memory.
//!
//! One function per protocol state: [`send_request`] (SendRequest, Await100, SendBody),
//! [`recv_response`] (RecvResponse) and [`read_body`] (RecvBody); [`finish_body`] and
//! [`finish_bodyless`] are Cleanup. [`send_and_receive`] runs the first two for a
//! request, reading an early answer when the upload fails.
//!
//! ureq-proto writes the request; the response is read by this crate ([`head`],
//! [`crate::framing`]): after the request, ureq-proto's call is dropped, and what
//! it knew that the response's framing needs travels on as [`Sent`].

use std::cell::Cell;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::time::Duration;

use ureq_proto::client::state::{Await100, Prepare, SendBody, SendRequest};
use ureq_proto::client::{Await100Result, Call, SendRequestResult};

use crate::deadline::ShortWait;
use crate::error::{Error, Result};
pub(crate) use crate::framing::{BodyReader, Sent};
use crate::head::{self, Head};

#[cfg(any(test, fuzzing))]
pub(crate) mod scripted;

/// Bytes of request head (and small body) assembled in the thread's send buffer
/// ([`SendBuffer`]) before the first write. Every ordinary REST request fits, so it
/// leaves in one `write` and one TLS record; a larger head (a JWT, a presigned URL)
/// is assembled in a heap buffer of its own, up to the client's request head limit.
pub(crate) const SEND_BUFFER: usize = 4 * 1024;

thread_local! {
    /// The send buffer of the requests this thread makes, kept between requests.
    static SPARE_SEND_BUFFER: Cell<Option<Box<[u8; SEND_BUFFER]>>> = const { Cell::new(None) };
}

/// [`SEND_BUFFER`] bytes to assemble a request in: the thread's buffer, taken for
/// the time of one request and put back when dropped. It is allocated (zeroed) once
/// per thread, not cleared per request as a stack array would be: on a pooled
/// request that clearing was the largest single cost outside crypto. Only the
/// bytes a request writes into it are sent. A request made while another holds it
/// (from inside a body reader, say) gets one of its own.
pub(crate) struct SendBuffer(Option<Box<[u8; SEND_BUFFER]>>);

impl SendBuffer {
    pub fn take() -> SendBuffer {
        // `None` only after the thread's storage is gone (at thread exit).
        let spare = SPARE_SEND_BUFFER.try_with(Cell::take).ok().flatten();
        SendBuffer(Some(spare.unwrap_or_else(|| Box::new([0; SEND_BUFFER]))))
    }

    fn bytes(&mut self) -> &mut [u8; SEND_BUFFER] {
        self.0.get_or_insert_with(|| Box::new([0; SEND_BUFFER]))
    }
}

impl Drop for SendBuffer {
    fn drop(&mut self) {
        let buffer = self.0.take();
        // At thread exit the storage may be gone: the buffer is then just freed.
        let _ = SPARE_SEND_BUFFER.try_with(|spare| spare.set(buffer));
    }
}

/// The last chunk of a chunked body: it must fit the output in one piece, or
/// ureq-proto drops it (and the server waits for the body's end forever).
const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

/// Bytes read from a streamed request body per write: one TLS record's worth.
const UPLOAD_CHUNK: usize = 16 * 1024;

/// Initial size of a connection's receive buffer: a typical response head and the
/// first part of its body. It grows only for an unusually large head.
pub(crate) const RECV_BUFFER: usize = 8 * 1024;

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

/// The response head of a request and what follows it.
pub(crate) struct Answer {
    pub head: Head,
    /// The body's reader (also for a response without body bytes: it says whether
    /// the connection can be reused).
    pub next: BodyReader,
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

// `start <= end <= buf.len()`: `consume` keeps `start` within `end`, `fill` adds to
// `end` what `read` put into `buf[end..]` (our own transports keep `Read`'s contract).
#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
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
        // `n` is what the head or body reader used of `data()`: never more, but do
        // not rely on it.
        self.start = self.start.saturating_add(n).min(self.end);
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Reads more bytes, making room first (compact, then grow up to `max`, or to
    /// [`RECV_BUFFER`] if `max` is smaller: the buffer never starts smaller than that).
    /// `Ok(None)` when the buffer is that large and all of it unconsumed.
    fn fill(&mut self, io: &mut impl Read, max: usize) -> io::Result<Option<usize>> {
        let max = max.max(RECV_BUFFER);
        if self.end == self.buf.len() {
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            } else if self.buf.len() < max {
                let size = self.buf.len().saturating_mul(2).clamp(RECV_BUFFER, max);
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
/// [`recv_response`]), keeping the head's bytes if the rules say so ([`Head::raw`]).
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
    let sent = send_request(
        io,
        buf,
        call,
        body,
        host,
        absolute_target,
        rules.max_request,
    );
    let sent = match sent {
        Ok(sent) => sent,
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
    let (head, next) = recv_head(io, buf, sent, host, rules)?;
    Ok(Answer {
        head,
        next,
        reusable: true,
    })
}

/// The limits on both heads, and whether the response head's bytes are kept.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HeadRules {
    /// Largest request head sent, in bytes (see [`send_request`]).
    pub max_request: usize,
    /// Largest head accepted, in bytes ([`Error::HeadersTooLarge`] above).
    pub max: usize,
    /// Show the head's bytes ([`Head::raw`]).
    pub keep_raw: bool,
}

/// The answer a server sent before the request body was complete, if it is there
/// within [`EARLY_ANSWER_WAIT`].
fn early_answer(
    io: &mut impl Transport,
    buf: &mut RecvBuf,
    host: &str,
    rules: HeadRules,
) -> Option<(Head, BodyReader)> {
    // The response's framing depends on the request's method (a request with a
    // body is neither HEAD nor CONNECT), and the connection is not reused anyway.
    let sent = Sent::default();
    io.set_read_cap(Some(ShortWait::start(EARLY_ANSWER_WAIT, EARLY_ANSWER_WAIT)));
    let answer = recv_head(io, buf, sent, host, rules);
    io.set_read_cap(None);
    answer.ok()
}

/// Sends the request head and body. A head that fits [`SEND_BUFFER`] is assembled
/// in the thread's [`SendBuffer`], a larger one in a heap buffer of its own, up to `max_head` bytes (else
/// [`Error::InvalidRequest`] naming both sizes, before anything is sent). The head and
/// as much body as fits the rest of that buffer leave in one write. Returns what the
/// response's framing needs to know of the request.
#[allow(clippy::indexing_slicing)] // `len` is what `RequestHead::write` wrote into `out`.
pub(crate) fn send_request(
    io: &mut impl Transport,
    buf: &mut RecvBuf,
    call: Call<Prepare>,
    body: &mut ReqBody,
    host: &str,
    absolute_target: Option<&str>,
    max_head: usize,
) -> Result<Sent> {
    // The request's own headers: a `Connection: close` must be set on the request
    // (as a caller does), not added with `Call::header`, which these do not show.
    // This crate adds Host, User-Agent, Accept-Encoding and the framing headers
    // that way, never Connection.
    let mut sent = Sent::new(call.method(), call.version(), call.headers());
    let mut call = call.proceed();
    let mut send_buffer = SendBuffer::take();
    let stack = send_buffer.bytes();
    let mut heap = Vec::new();
    let head = RequestHead {
        absolute_target,
        max: max_head,
        host,
    };
    let len = head.write(&mut call, stack, &mut heap)?;
    let out: &mut [u8] = if heap.is_empty() { stack } else { &mut heap };
    let next = call
        .proceed()
        .map_err(invalid)?
        .ok_or_else(|| Error::invalid_request("request head incomplete"))?;
    match next {
        SendRequestResult::RecvResponse(_) => write_all(io, &out[..len], host)?,
        SendRequestResult::SendBody(call) => send_body(io, call, body, out, len, host)?,
        SendRequestResult::Await100(call) => {
            write_all(io, &out[..len], host)?;
            match await_100(io, buf, call, host)? {
                Await100Result::SendBody(call) => send_body(io, call, body, out, 0, host)?,
                // The server answered before the body (not 100): it may still
                // expect the body, so the connection closes after the answer.
                Await100Result::RecvResponse(_) => sent.close = true,
            }
        }
    }
    Ok(sent)
}

/// How to write one request head.
struct RequestHead<'a> {
    /// The absolute-form request-target, for a plain http request through a proxy.
    absolute_target: Option<&'a str>,
    /// The limit on the head's size, in bytes; at least [`SEND_BUFFER`] (a head that
    /// fits the stack buffer is never refused).
    max: usize,
    /// `host:port`, for errors.
    host: &'a str,
}

impl RequestHead<'_> {
    /// Writes the whole head into `stack`, or, when it does not fit, into `heap` (then
    /// left non-empty), growing it up to the limit. Returns the head's length.
    // `len` counts what ureq-proto wrote into `out` (never past its end), `start <=
    // end <= len` (found in `out[..len]`), and `out` is grown to `new_len` first.
    #[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
    fn write(
        &self,
        call: &mut Call<SendRequest>,
        stack: &mut [u8; SEND_BUFFER],
        heap: &mut Vec<u8>,
    ) -> Result<usize> {
        let mut len = 0;
        loop {
            let out: &mut [u8] = if heap.is_empty() { stack } else { heap };
            // ureq-proto writes whole lines: as many as fit, an error if none does.
            match call.write(&mut out[len..]) {
                Ok(n) => len += n,
                Err(ureq_proto::Error::OutputOverflow) => {}
                Err(e) => return Err(invalid(e)),
            }
            if call.can_proceed() {
                break;
            }
            if out.len() >= self.max {
                let rest = self.size_of_rest(call, std::mem::take(heap))?;
                let size = len
                    .saturating_add(rest)
                    .saturating_add(self.absolute_growth(call));
                return Err(self.too_large(size));
            }
            let size = out.len().saturating_mul(2).min(self.max);
            grow(stack, heap, len, size);
        }
        let Some(target) = self.absolute_target else {
            return Ok(len);
        };
        let out: &[u8] = if heap.is_empty() { stack } else { heap };
        let (start, end) = request_target(&out[..len])
            .ok_or_else(|| Error::invalid_request("request line without a target"))?;
        let new_len = len - (end - start) + target.len();
        if new_len > self.max {
            return Err(self.too_large(new_len));
        }
        if new_len > out.len() {
            let size = out.len().saturating_mul(2).clamp(new_len, self.max);
            grow(stack, heap, len, size);
        }
        let out: &mut [u8] = if heap.is_empty() { stack } else { heap };
        out.copy_within(end..len, start + target.len());
        out[start..start + target.len()].copy_from_slice(target.as_bytes());
        Ok(new_len)
    }

    /// How many bytes the absolute-form target adds to the origin form ureq-proto
    /// writes (the path and query, with a `/` before a bare query).
    fn absolute_growth(&self, call: &Call<SendRequest>) -> usize {
        let Some(target) = self.absolute_target else {
            return 0;
        };
        let origin = call.uri().path_and_query().map_or("/", |p| p.as_str());
        let written = origin
            .len()
            .saturating_add(usize::from(origin.starts_with('?')));
        target.len().saturating_sub(written)
    }

    /// The size of the rest of a head too large to send, to say how large it is:
    /// written into `scratch` (grown when one line does not fit) and thrown away.
    fn size_of_rest(&self, call: &mut Call<SendRequest>, mut scratch: Vec<u8>) -> Result<usize> {
        scratch.resize(scratch.len().max(SEND_BUFFER), 0);
        let mut size = 0usize;
        while !call.can_proceed() {
            match call.write(&mut scratch) {
                Ok(n) => size = size.saturating_add(n),
                Err(ureq_proto::Error::OutputOverflow) => {
                    scratch.resize(scratch.len().saturating_mul(2), 0)
                }
                Err(e) => return Err(invalid(e)),
            }
        }
        Ok(size)
    }

    fn too_large(&self, size: usize) -> Error {
        Error::invalid_request(format_args!(
            "request head is {size} bytes, above the limit of {} \
             (ClientBuilder::max_request_head_size), for {}",
            self.max, self.host
        ))
    }
}

/// Moves a head of `len` bytes from `stack` to `heap` if it is not there yet, and
/// makes `heap` `size` bytes long.
#[allow(clippy::indexing_slicing)] // `len` is a head written into `stack`: within it.
fn grow(stack: &[u8], heap: &mut Vec<u8>, len: usize, size: usize) {
    if heap.is_empty() {
        heap.reserve_exact(size);
        heap.extend_from_slice(&stack[..len]);
    }
    heap.resize(size, 0);
}

/// Where the request-target is in a head that starts with the request line
/// (`GET /path HTTP/1.1`): the span between the line's first two spaces.
fn request_target(head: &[u8]) -> Option<(usize, usize)> {
    let line_end = head.iter().position(|&b| b == b'\n')?;
    let line = head.get(..line_end)?;
    let start = line.iter().position(|&b| b == b' ')?.checked_add(1)?;
    let end = start.checked_add(line.get(start..)?.iter().position(|&b| b == b' ')?)?;
    Some((start, end))
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
    let mut informational = 0usize;
    while call.can_keep_await_100() {
        if !buf.is_empty() {
            let used = call
                .try_read_100(buf.data())
                .map_err(|e| protocol(host, e))?;
            buf.consume(used);
            if used > 0 && call.can_keep_await_100() {
                // A 1xx other than 100, skipped.
                informational = informational.saturating_add(1);
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

// `len` counts what ureq-proto wrote into `out` (never past its end), `used` what it
// took of its input; `max` and `fits` are at most what is left of both.
#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
fn send_body(
    io: &mut impl Transport,
    mut call: Call<SendBody>,
    body: &mut ReqBody,
    out: &mut [u8],
    mut len: usize,
    host: &str,
) -> Result<()> {
    match body {
        ReqBody::None => {}
        ReqBody::Bytes(data) if call.is_chunked() => {
            // Chunked by the caller's `Transfer-Encoding`: every byte goes through
            // `out` to be framed, which is written out whenever it is full.
            let mut rest: &[u8] = data;
            while !rest.is_empty() {
                // Never an empty input: that would end the body.
                let max = call.calculate_max_input(out.len() - len).min(rest.len());
                let (used, n) = match max {
                    0 => (0, 0),
                    _ => call.write(&rest[..max], &mut out[len..]).map_err(invalid)?,
                };
                if used == 0 && len == 0 {
                    return Err(Error::invalid_request(
                        "chunked request body made no progress",
                    ));
                }
                len += n;
                rest = &rest[used..];
                if !rest.is_empty() {
                    // `out` is full.
                    write_all(io, &out[..len], host)?;
                    len = 0;
                }
            }
        }
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
    if call.is_chunked() && out.len() - len < LAST_CHUNK.len() {
        write_all(io, &out[..len], host)?;
        len = 0;
    }
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
        .map(drop)
        .ok_or_else(|| Error::invalid_request("request body incomplete"))
}

/// Streams a reader's bytes as the body, chunked or within its `Content-Length`.
// `max` is at most `input.len()` (set just above), `m` what ureq-proto wrote into
// `framed`; the count the caller's reader returns is checked.
#[allow(clippy::indexing_slicing)]
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
        // The caller's reader: trust its count only within the room it was given.
        let read = input.get(..n).filter(|_| n <= max).ok_or_else(|| {
            Error::invalid_request(format_args!(
                "the request body's reader said it read {n} bytes into a {max}-byte buffer"
            ))
        })?;
        if chunked {
            let (used, m) = call.write(read, &mut framed).map_err(invalid)?;
            debug_assert_eq!(used, n, "max input was computed for this output");
            write_all(io, &framed[..m], host)?;
        } else {
            call.consume_direct_write(n).map_err(invalid)?;
            write_all(io, read, host)?;
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
    sent: Sent,
    host: &str,
    max_head: usize,
) -> Result<(Head, BodyReader)> {
    let rules = HeadRules {
        // Not used: nothing is sent.
        max_request: SEND_BUFFER,
        max: max_head,
        keep_raw: false,
    };
    recv_head(io, buf, sent, host, rules)
}

/// [`recv_response`], keeping the head's bytes if the rules say so.
pub(crate) fn recv_head(
    io: &mut impl Transport,
    buf: &mut RecvBuf,
    sent: Sent,
    host: &str,
    rules: HeadRules,
) -> Result<(Head, BodyReader)> {
    let max_head = rules.max;
    let mut informational = 0usize;
    loop {
        if !buf.is_empty() {
            let (used, mut response) =
                head::parse(buf.data(), sent).map_err(|e| head_error(host, e, max_head))?;
            // The buffer may hold more than the limit (it never starts below
            // RECV_BUFFER): the limit is checked on the head itself.
            let incomplete = used == 0 && response.is_none();
            if used > max_head || (incomplete && buf.data().len() >= max_head) {
                return Err(Error::HeadersTooLarge {
                    host: host.into(),
                    limit: max_head,
                });
            }
            if let Some((response, _)) = response.as_mut().filter(|_| rules.keep_raw) {
                response.keep_raw();
            }
            buf.consume(used);
            if let Some(response) = response {
                return Ok(response);
            }
            if used > 0 {
                informational = informational.saturating_add(1);
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
    reader: &mut BodyReader,
    dst: &mut [u8],
    host: &str,
    max_line: usize,
) -> Result<usize> {
    if dst.is_empty() {
        return Ok(0);
    }
    let close_delimited = reader.is_close_delimited();
    let truncated = |reader: &BodyReader| Error::Truncated {
        host: host.into(),
        framing: reader.framing(),
    };
    loop {
        if !buf.is_empty() {
            let (used, n) = reader
                .read(buf.data(), dst)
                .map_err(|e| protocol(host, e))?;
            buf.consume(used);
            if n > 0 {
                return Ok(n);
            }
            if used > 0 {
                continue;
            }
        }
        if reader.is_ended() {
            return Ok(0);
        }
        match buf.fill(io, max_line) {
            Ok(Some(0)) if close_delimited => return Ok(0),
            Ok(Some(0)) => return Err(truncated(reader)),
            Ok(Some(_)) => {}
            Ok(None) => return Err(Error::protocol(host, "chunk header line too long")),
            // A TLS stream that ended without close_notify.
            Err(e)
                if e.kind() == io::ErrorKind::UnexpectedEof
                    && !e.get_ref().is_some_and(|inner| inner.is::<Error>()) =>
            {
                return Err(truncated(reader))
            }
            Err(e) => return Err(Error::from_io(e, host)),
        }
    }
}

/// Whether the connection can carry another request after this response: the body
/// was read to its end, neither side asked to close, the framing allows it, and
/// nothing unasked-for follows.
pub(crate) fn finish_body(reader: BodyReader, buf: &RecvBuf) -> bool {
    reader.is_ended() && !reader.must_close() && buf.is_empty()
}

/// Like [`finish_body`], for a response without a body.
pub(crate) fn finish_bodyless(reader: BodyReader, buf: &RecvBuf) -> bool {
    !reader.has_body() && !reader.must_close() && buf.is_empty()
}

#[cfg(test)]
mod tests;
