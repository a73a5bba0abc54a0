//! One server-side connection: plain TCP or rustls over TCP, with a receive
//! buffer and the small reads the HTTP parser needs. Every blocking read
//! polls (socket read timeout) so the connection notices when the server stops.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rustls::ServerConnection;

/// How long a blocking read waits before looking at the stop flag again.
pub(crate) const POLL: Duration = Duration::from_millis(100);
/// Longest request head (and chunk-size line) accepted.
pub(crate) const MAX_HEAD: usize = 64 * 1024;
/// How long a closing connection keeps reading (and discarding) what the
/// client still sends, so the close is a FIN and not a reset.
const LINGER: Duration = Duration::from_secs(1);

pub(crate) struct Wire<'a> {
    sock: TcpStream,
    tls: Option<Box<ServerConnection>>,
    buf: Vec<u8>,
    stop: &'a AtomicBool,
}

/// The error a connection ends with when the server stops.
pub(crate) fn stopping() -> io::Error {
    io::Error::new(io::ErrorKind::Interrupted, "test server stopping")
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

/// Errors that just mean "the client went away".
pub(crate) fn is_disconnect(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::UnexpectedEof
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
    )
}

impl<'a> Wire<'a> {
    pub(crate) fn new(
        sock: TcpStream,
        tls: Option<ServerConnection>,
        stop: &'a AtomicBool,
    ) -> io::Result<Wire<'a>> {
        sock.set_read_timeout(Some(POLL))?;
        sock.set_write_timeout(Some(Duration::from_secs(30)))?;
        sock.set_nodelay(true)?;
        let tls = tls.map(|mut conn| {
            conn.set_buffer_limit(None);
            Box::new(conn)
        });
        Ok(Wire {
            sock,
            tls,
            buf: Vec::new(),
            stop,
        })
    }

    fn stopped(&self) -> bool {
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
        Ok(())
    }

    /// The TLS session, if this is a TLS connection.
    pub(crate) fn tls(&self) -> Option<&ServerConnection> {
        self.tls.as_deref()
    }

    /// Reads more bytes into the buffer. Ok(0) = clean end of stream
    /// (TCP FIN for plain, close_notify for TLS); a TLS end without
    /// close_notify is Err(UnexpectedEof).
    fn fill(&mut self) -> io::Result<usize> {
        let mut chunk = [0u8; 16 * 1024];
        loop {
            let res = match self.tls.as_deref_mut() {
                None => self.sock.read(&mut chunk),
                Some(conn) => read_plaintext(conn, &mut self.sock, &mut chunk),
            };
            match res {
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    return Ok(n);
                }
                Err(e) if is_timeout(&e) => {
                    if self.stopped() {
                        return Err(stopping());
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The next request head, through its blank line. None if the client
    /// closed (or the server stopped) before sending anything more.
    pub(crate) fn read_head(&mut self) -> io::Result<Option<Vec<u8>>> {
        loop {
            // RFC 9112 2.2: ignore empty lines before a request line.
            while self.buf.starts_with(b"\r\n") {
                self.buf.drain(..2);
            }
            if let Some(end) = find(&self.buf, b"\r\n\r\n") {
                return Ok(Some(self.buf.drain(..end + 4).collect()));
            }
            if self.buf.len() > MAX_HEAD {
                return Err(super::message::invalid("request head too large".into()));
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
    pub(crate) fn read_line(&mut self) -> io::Result<Vec<u8>> {
        loop {
            if let Some(end) = find(&self.buf, b"\r\n") {
                let mut line: Vec<u8> = self.buf.drain(..end + 2).collect();
                line.truncate(end);
                return Ok(line);
            }
            if self.buf.len() > MAX_HEAD {
                return Err(super::message::invalid("line too long".into()));
            }
            if self.fill()? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
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

    /// Closes our sending side (FIN), then reads and discards what the
    /// client still sends, for at most [`LINGER`], so the socket closes
    /// without a reset that could destroy a reply still in flight.
    pub(crate) fn finish(&mut self) {
        let _ = self.sock.shutdown(Shutdown::Write);
        let deadline = Instant::now() + LINGER;
        let mut scratch = [0u8; 4096];
        while Instant::now() < deadline && !self.stopped() {
            match self.sock.read(&mut scratch) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if is_timeout(&e) => {}
                Err(_) => break,
            }
        }
    }

    /// Pulls in what has already arrived, without waiting, and returns how many
    /// bytes are received but not yet read as part of a request.
    pub(crate) fn buffered_now(&mut self) -> io::Result<usize> {
        self.sock.set_nonblocking(true)?;
        let mut chunk = [0u8; 16 * 1024];
        let result = loop {
            let res = match self.tls.as_deref_mut() {
                None => self.sock.read(&mut chunk),
                Some(conn) => read_plaintext(conn, &mut self.sock, &mut chunk),
            };
            match res {
                Ok(0) => break Ok(()),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break Ok(()),
                Err(e) => break Err(e),
            }
        };
        self.sock.set_nonblocking(false)?;
        result.map(|()| self.buf.len())
    }

    /// Like [`finish`](Self::finish), but keeps what the client still sends
    /// (plaintext), with what was already buffered, instead of discarding it.
    pub(crate) fn finish_collecting(&mut self) -> Vec<u8> {
        let _ = self.sock.shutdown(Shutdown::Write);
        let deadline = Instant::now() + LINGER;
        let mut chunk = [0u8; 4096];
        while Instant::now() < deadline && !self.stopped() {
            let res = match self.tls.as_deref_mut() {
                None => self.sock.read(&mut chunk),
                Some(conn) => read_plaintext(conn, &mut self.sock, &mut chunk),
            };
            match res {
                Ok(0) => break,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if is_timeout(&e) => {}
                Err(_) => break,
            }
        }
        std::mem::take(&mut self.buf)
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

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
