//! One server-side connection of the test server or the proxy: plain TCP or rustls
//! over TCP, with a receive buffer and the reads the HTTP parser needs. Every
//! blocking read polls (socket read timeout) so the connection notices when its
//! server stops.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rustls::ServerConnection;

use super::message::{chunk_size, find, head_end, invalid};

/// How long a blocking read waits before looking at the stop flag again.
pub(crate) const POLL: Duration = Duration::from_millis(100);
/// Longest head (and chunk-size line) accepted.
const MAX_HEAD: usize = 64 * 1024;
/// How long a write may block (a peer that does not read).
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a closing connection keeps reading what the peer still sends, so the
/// close is a FIN and not a reset.
const LINGER: Duration = Duration::from_secs(1);

pub(crate) struct Wire<'a> {
    sock: TcpStream,
    tls: Option<Box<ServerConnection>>,
    buf: Vec<u8>,
    stop: &'a AtomicBool,
    /// Plaintext bytes put into `buf` so far, and how many of the first of them
    /// came as TLS 1.3 early data.
    received: usize,
    early_received: usize,
}

/// The error a connection ends with when the server stops.
pub(crate) fn stopping() -> io::Error {
    io::Error::new(io::ErrorKind::Interrupted, "test server stopping")
}

/// A read that ran out of its poll interval (or was interrupted).
pub(crate) fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

/// Errors that just mean "the peer went away".
pub(crate) fn is_disconnect(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::UnexpectedEof
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
    )
}

/// Polls `sock`'s reads every [`POLL`], bounds its writes, sends segments at once.
pub(crate) fn configure(sock: &TcpStream) -> io::Result<()> {
    sock.set_read_timeout(Some(POLL))?;
    sock.set_write_timeout(Some(WRITE_TIMEOUT))?;
    sock.set_nodelay(true)
}

impl<'a> Wire<'a> {
    pub(crate) fn new(
        sock: TcpStream,
        tls: Option<ServerConnection>,
        stop: &'a AtomicBool,
    ) -> io::Result<Wire<'a>> {
        configure(&sock)?;
        let tls = tls.map(|mut conn| {
            conn.set_buffer_limit(None);
            Box::new(conn)
        });
        Ok(Wire {
            sock,
            tls,
            buf: Vec::new(),
            stop,
            received: 0,
            early_received: 0,
        })
    }

    pub(crate) fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Runs the TLS handshake to its end (no-op for plain TCP).
    pub(crate) fn handshake(&mut self) -> io::Result<()> {
        let Some(conn) = self.tls.as_mut() else {
            return Ok(());
        };
        while conn.is_handshaking() {
            match conn.complete_io(&mut self.sock) {
                Ok((0, 0)) if conn.is_handshaking() => {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
                Ok(_) => {}
                Err(e) if is_timeout(&e) => {
                    if self.stop.load(Ordering::SeqCst) {
                        return Err(stopping());
                    }
                }
                Err(e) => return Err(e),
            }
        }
        while conn.wants_write() {
            conn.write_tls(&mut self.sock)?;
        }
        // Early data comes before anything sent after the handshake.
        if let Some(mut early) = conn.early_data() {
            early.read_to_end(&mut self.buf)?;
            self.early_received = self.buf.len();
            self.received = self.buf.len();
        }
        Ok(())
    }

    /// Plaintext bytes read out of the buffer so far (by heads, bodies, relays).
    pub(crate) fn consumed(&self) -> usize {
        self.received - self.buf.len()
    }

    /// How many of the first plaintext bytes of the connection came as TLS 1.3
    /// early data.
    pub(crate) fn early_received(&self) -> usize {
        self.early_received
    }

    /// The TLS session, if this is a TLS connection.
    pub(crate) fn tls(&self) -> Option<&ServerConnection> {
        self.tls.as_deref()
    }

    /// Whether received bytes wait to be read.
    pub(crate) fn has_buffered(&self) -> bool {
        !self.buf.is_empty()
    }

    /// The socket and the bytes received but not read (a plain connection that
    /// becomes a tunnel).
    pub(crate) fn into_parts(self) -> (TcpStream, Vec<u8>) {
        (self.sock, self.buf)
    }

    /// One read into the buffer, waiting at most one poll interval. Some(0) = clean
    /// end of stream (TCP FIN for plain, close_notify for TLS; a TLS end without
    /// close_notify is Err(UnexpectedEof)), None = nothing arrived in time.
    pub(crate) fn try_fill(&mut self) -> io::Result<Option<usize>> {
        let mut chunk = [0u8; 16 * 1024];
        let res = match self.tls.as_deref_mut() {
            None => self.sock.read(&mut chunk),
            Some(conn) => read_plaintext(conn, &mut self.sock, &mut chunk),
        };
        match res {
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                self.received += n;
                Ok(Some(n))
            }
            Err(e) if is_timeout(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Reads more bytes into the buffer, waiting until some arrive. Ok(0) = end of
    /// stream.
    fn fill(&mut self) -> io::Result<usize> {
        loop {
            if let Some(n) = self.try_fill()? {
                return Ok(n);
            }
            if self.stopped() {
                return Err(stopping());
            }
        }
    }

    /// The next head, through its blank line. None if the peer closed (or the
    /// server stopped) before sending anything more.
    pub(crate) fn read_head(&mut self) -> io::Result<Option<Vec<u8>>> {
        loop {
            // RFC 9112 2.2: ignore empty lines before a request line.
            while self.buf.starts_with(b"\r\n") {
                self.buf.drain(..2);
            }
            if let Some(end) = head_end(&self.buf) {
                return Ok(Some(self.buf.drain(..end).collect()));
            }
            if self.buf.len() > MAX_HEAD {
                return Err(invalid("head too large".into()));
            }
            let idle = self.buf.is_empty();
            match self.fill() {
                Ok(0) if idle => return Ok(None),
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(_) => {}
                Err(e) if idle && (is_disconnect(&e) || self.stopped()) => return Ok(None),
                Err(e) => return Err(e),
            }
        }
    }

    /// Exactly `n` bytes.
    pub(crate) fn read_exact(&mut self, n: usize) -> io::Result<Vec<u8>> {
        while self.buf.len() < n {
            if self.fill()? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
        Ok(self.buf.drain(..n).collect())
    }

    /// One line, without its CRLF.
    fn read_line(&mut self) -> io::Result<Vec<u8>> {
        loop {
            if let Some(end) = find(&self.buf, b"\r\n") {
                let mut line: Vec<u8> = self.buf.drain(..end + 2).collect();
                line.truncate(end);
                return Ok(line);
            }
            if self.buf.len() > MAX_HEAD {
                return Err(invalid("line too long".into()));
            }
            if self.fill()? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
    }

    /// A chunked body: returns its data (trailers dropped), and hands every byte as
    /// received (size lines, data, trailers) to `relay`, a chunk at a time.
    pub(crate) fn read_chunked(
        &mut self,
        mut relay: impl FnMut(&[u8]) -> io::Result<()>,
    ) -> io::Result<Vec<u8>> {
        let mut body = Vec::new();
        let mut line_out = |line: &[u8]| relay(&[line, b"\r\n"].concat());
        loop {
            let line = self.read_line()?;
            line_out(&line)?;
            let size = usize::try_from(chunk_size(&line)?).map_err(io::Error::other)?;
            if size == 0 {
                loop {
                    let trailer = self.read_line()?;
                    line_out(&trailer)?;
                    if trailer.is_empty() {
                        return Ok(body);
                    }
                }
            }
            let data = self.read_exact(size)?;
            if !self.read_line()?.is_empty() {
                return Err(invalid("chunk not followed by CRLF".into()));
            }
            line_out(&data)?;
            body.extend_from_slice(&data);
        }
    }

    /// Copies exactly `n` bytes to `to`, as they arrive.
    pub(crate) fn relay_exact(&mut self, n: u64, to: &mut impl Write) -> io::Result<()> {
        let mut left = n;
        while left > 0 {
            if self.buf.is_empty() && self.fill()? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            let take = self
                .buf
                .len()
                .min(usize::try_from(left).unwrap_or(usize::MAX));
            to.write_all(&self.buf[..take])?;
            self.buf.drain(..take);
            left -= take as u64;
        }
        Ok(())
    }

    /// Copies everything to `to` until the end of stream.
    pub(crate) fn relay_to_end(&mut self, to: &mut impl Write) -> io::Result<()> {
        loop {
            to.write_all(&self.buf)?;
            self.buf.clear();
            if self.fill()? == 0 {
                return Ok(());
            }
        }
    }

    /// Writes `bytes` in one write and flushes the TLS records.
    pub(crate) fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        match self.tls.as_deref_mut() {
            None => self.sock.write_all(bytes)?,
            Some(conn) => {
                conn.writer().write_all(bytes)?;
                while conn.wants_write() {
                    conn.write_tls(&mut self.sock)?;
                }
            }
        }
        self.sock.flush()
    }

    /// TLS: queues and sends close_notify. Plain: nothing.
    pub(crate) fn close_notify(&mut self) -> io::Result<()> {
        if let Some(conn) = self.tls.as_deref_mut() {
            conn.send_close_notify();
            while conn.wants_write() {
                conn.write_tls(&mut self.sock)?;
            }
        }
        Ok(())
    }

    /// Pulls in what has already arrived, without waiting, and returns how many
    /// bytes are received but not yet read as part of a request.
    pub(crate) fn buffered_now(&mut self) -> io::Result<usize> {
        self.sock.set_nonblocking(true)?;
        let result = loop {
            match self.try_fill() {
                Ok(Some(n)) if n > 0 => {}
                Ok(_) => break Ok(()),
                Err(e) => break Err(e),
            }
        };
        self.sock.set_nonblocking(false)?;
        result.map(|()| self.buf.len())
    }

    /// Closes our sending side (FIN), then reads what the peer still sends, for at
    /// most [`LINGER`], so the socket closes without a reset that could destroy a
    /// reply still in flight. Returns that (plaintext), with what was buffered.
    pub(crate) fn finish(&mut self) -> Vec<u8> {
        let _ = self.sock.shutdown(Shutdown::Write);
        let deadline = Instant::now() + LINGER;
        while Instant::now() < deadline && !self.stopped() {
            match self.try_fill() {
                Ok(Some(0)) | Err(_) => break,
                Ok(_) => {}
            }
        }
        std::mem::take(&mut self.buf)
    }
}

/// Sends (and flushes) each write: what the proxy relays to a client or upstream.
impl Write for Wire<'_> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.send(bytes).map(|()| bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Reads plaintext from a TLS connection, pulling TLS records as needed.
/// A socket read timeout comes back as WouldBlock/TimedOut.
fn read_plaintext(
    conn: &mut ServerConnection,
    sock: &mut TcpStream,
    out: &mut [u8],
) -> io::Result<usize> {
    loop {
        match conn.reader().read(out) {
            Ok(n) => return Ok(n),
            // No plaintext buffered yet, connection still open.
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
        while conn.wants_write() {
            conn.write_tls(sock)?;
        }
        conn.read_tls(sock)?;
        if let Err(e) = conn.process_new_packets() {
            // Best effort to tell the peer with an alert.
            let _ = conn.write_tls(sock);
            return Err(io::Error::new(io::ErrorKind::InvalidData, e));
        }
    }
}
