//! Transports: a TCP stream, plain or wrapped in TLS, with the time limits of the
//! request applied to every socket operation. The HTTP code above sees only
//! `Read + Write`.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, HandshakeKind};

use crate::deadline::{Deadline, ShortWait};
use crate::error::{Error, Phase, Result};
use crate::exchange::Transport;
use crate::netloc::Netloc;
use crate::resolve::Resolver;
use crate::stats::Counters;

/// Most plaintext or TLS bytes rustls may hold queued for sending. We flush after every
/// write, so this only bounds a misbehaving case; it is also the memory ceiling of the
/// send side of an idle connection.
const TLS_SEND_BUFFER_LIMIT: usize = 16 * 1024 + 512;

enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream>),
}

struct TlsStream {
    tls: ClientConnection,
    tcp: TcpStream,
}

/// One connection to a server: the stream, the time limits of the request it is
/// serving, and the counters it adds its bytes to.
pub(crate) struct Io {
    stream: Stream,
    /// `host:port`, for errors and logs.
    host: Arc<str>,
    deadline: Deadline,
    /// The socket timeouts last set, to skip `setsockopt` when they do not change.
    read_set: Option<Duration>,
    write_set: Option<Duration>,
    /// A shorter wait for the reads that follow ([`Transport::set_read_cap`]), and
    /// whether it was the binding limit when the socket was armed.
    read_cap: Option<ShortWait>,
    capped: bool,
    counters: Arc<Counters>,
}

/// How the TLS handshake of a new connection went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Handshake {
    Full,
    Resumed,
}

impl Io {
    /// Resolves `dial` and connects to it (TCP_NODELAY). `target` is the server the
    /// connection is for (the same, or the origin behind a proxy): errors name it.
    pub fn connect_tcp(
        dial: &Netloc,
        target: &Netloc,
        resolver: &Resolver,
        deadline: Deadline,
        counters: &Arc<Counters>,
    ) -> Result<Io> {
        let dial_host = dial.authority();
        let addrs = resolver.resolve(dial, &deadline, &dial_host)?;
        let tcp = connect_any(&addrs, &deadline, &dial_host)?;
        Counters::add(&counters.connections_opened, 1);
        debug!("connected to {dial_host} ({})", addrs[0]);
        Ok(Io {
            stream: Stream::Plain(tcp),
            host: target.authority().into(),
            deadline,
            read_set: None,
            write_set: None,
            read_cap: None,
            capped: false,
            counters: counters.clone(),
        })
    }

    /// Runs TLS over this (so far plain) stream, verifying the certificate for
    /// `target`'s host, under the handshake time limit.
    pub fn start_tls(
        mut self,
        config: Arc<ClientConfig>,
        target: &Netloc,
    ) -> Result<(Io, Handshake)> {
        let name =
            ServerName::try_from(target.host.to_string()).map_err(|_| Error::InvalidUrl {
                url: target.to_string().into(),
                reason: "host is not a valid TLS server name",
            })?;
        let mut conn =
            ClientConnection::new(config, name).map_err(|e| Error::tls(&self.host, e))?;
        conn.set_buffer_limit(Some(TLS_SEND_BUFFER_LIMIT));
        let Stream::Plain(tcp) = self.stream else {
            return Err(Error::config("TLS started twice on one connection"));
        };
        self.stream = Stream::Tls(Box::new(TlsStream { tls: conn, tcp }));
        let kind = self
            .handshake()
            .map_err(|e| Error::from_io(e, &self.host))?;
        let counter = match kind {
            Handshake::Full => &self.counters.handshakes_full,
            Handshake::Resumed => &self.counters.handshakes_resumed,
        };
        Counters::add(counter, 1);
        Ok((self, kind))
    }

    /// Drives the TLS handshake to its end under the handshake time limit.
    fn handshake(&mut self) -> io::Result<Handshake> {
        loop {
            self.flush_tls(Phase::Handshake)?;
            let Stream::Tls(t) = &mut self.stream else {
                unreachable!("handshake on a TLS stream only");
            };
            if !t.tls.is_handshaking() {
                break;
            }
            self.receive_tls(Phase::Handshake)?;
        }
        let Stream::Tls(t) = &self.stream else {
            unreachable!("handshake on a TLS stream only");
        };
        let kind = match t.tls.handshake_kind() {
            Some(HandshakeKind::Resumed) => Handshake::Resumed,
            _ => Handshake::Full,
        };
        debug!(
            "TLS handshake with {} {:?}: {:?}, {:?}",
            self.host,
            kind,
            t.tls.protocol_version(),
            t.tls.negotiated_cipher_suite().map(|s| s.suite())
        );
        Ok(kind)
    }

    /// Reads TLS records from the socket and processes them. `Ok(0)` at TCP EOF.
    fn receive_tls(&mut self, phase: Phase) -> io::Result<usize> {
        self.arm(phase, true)?;
        let Stream::Tls(t) = &mut self.stream else {
            unreachable!("TLS stream only");
        };
        let n = match t.tls.read_tls(&mut t.tcp) {
            Ok(n) => n,
            Err(e) => return Err(self.socket_error(e, phase)),
        };
        Counters::add(&self.counters.bytes_received, n as u64);
        if let Err(e) = t.tls.process_new_packets() {
            // Let the server know why, if the socket takes it; the error is what counts.
            let _ = t.tls.write_tls(&mut t.tcp);
            return Err(Error::tls(&self.host, e).into_io());
        }
        if n == 0 && phase == Phase::Handshake {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "server closed the connection during the TLS handshake",
            ));
        }
        Ok(n)
    }

    /// Sends every TLS record rustls has queued.
    fn flush_tls(&mut self, phase: Phase) -> io::Result<()> {
        loop {
            let Stream::Tls(t) = &mut self.stream else {
                return Ok(());
            };
            if !t.tls.wants_write() {
                return Ok(());
            }
            self.arm(phase, false)?;
            let Stream::Tls(t) = &mut self.stream else {
                unreachable!("checked above");
            };
            match t.tls.write_tls(&mut t.tcp) {
                Ok(n) => Counters::add(&self.counters.bytes_sent, n as u64),
                Err(e) => return Err(self.socket_error(e, phase)),
            }
        }
    }

    /// Sets the socket's read or write timeout for the next operation of `phase`.
    fn arm(&mut self, phase: Phase, read: bool) -> io::Result<()> {
        let (mut limit, _) = self
            .deadline
            .limit(phase)
            .map_err(|phase| self.timeout(phase))?;
        self.capped = false;
        if let Some(cap) = self.read_cap.filter(|_| read) {
            let Some(cap) = cap.next() else {
                // The short wait is spent: fail as a capped read that timed out.
                self.capped = true;
                return Err(io::ErrorKind::WouldBlock.into());
            };
            if cap < limit {
                limit = cap;
                self.capped = true;
            }
        }
        let current = if read { self.read_set } else { self.write_set };
        if current != Some(limit) {
            if read {
                self.tcp().set_read_timeout(Some(limit))?;
                self.read_set = Some(limit);
            } else {
                self.tcp().set_write_timeout(Some(limit))?;
                self.write_set = Some(limit);
            }
        }
        Ok(())
    }

    fn timeout(&self, phase: Phase) -> io::Error {
        Error::Timeout {
            phase,
            host: (*self.host).into(),
        }
        .into_io()
    }

    /// A socket error of `phase`: a timeout becomes [`Error::Timeout`] naming the
    /// limit that elapsed (the phase's own or the overall deadline).
    fn socket_error(&self, e: io::Error, phase: Phase) -> io::Error {
        if matches!(
            e.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
        ) {
            if self.capped {
                return io::ErrorKind::WouldBlock.into();
            }
            let phase = match self.deadline.limit(phase) {
                Ok((_, which)) if !self.deadline.expired() => which,
                _ => Phase::Overall,
            };
            return self.timeout(phase);
        }
        e
    }

    fn tcp(&self) -> &TcpStream {
        match &self.stream {
            Stream::Plain(tcp) => tcp,
            Stream::Tls(t) => &t.tcp,
        }
    }

    /// `host:port` of the server.
    pub fn host(&self) -> &Arc<str> {
        &self.host
    }

    /// Starts the time limits of a new request on this connection.
    pub fn set_deadline(&mut self, deadline: Deadline) {
        self.deadline = deadline;
    }

    /// Whether a pooled connection can carry another request: the server has not
    /// closed it and sent nothing unasked. Never blocks.
    pub fn is_reusable(&mut self) -> bool {
        if self.tcp().set_nonblocking(true).is_err() {
            return false;
        }
        let alive = match &mut self.stream {
            Stream::Plain(tcp) => {
                matches!(tcp.peek(&mut [0u8; 1]), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
            }
            Stream::Tls(t) => match t.tls.read_tls(&mut t.tcp) {
                Err(e) => e.kind() == io::ErrorKind::WouldBlock,
                Ok(0) => false,
                // A late session ticket is fine; plaintext or a close is not.
                Ok(_) => t.tls.process_new_packets().is_ok_and(|state| {
                    state.plaintext_bytes_to_read() == 0 && !state.peer_has_closed()
                }),
            },
        };
        alive && self.tcp().set_nonblocking(false).is_ok()
    }

    /// Closes the connection, telling a TLS server with `close_notify` (best effort,
    /// never blocking).
    pub fn close(mut self) {
        if let Stream::Tls(t) = &mut self.stream {
            t.tls.send_close_notify();
            if t.tcp.set_nonblocking(true).is_ok() {
                let _ = t.tls.write_tls(&mut t.tcp);
            }
        }
    }
}

impl Transport for Io {
    fn set_read_cap(&mut self, cap: Option<ShortWait>) {
        self.read_cap = cap;
        self.capped = false;
    }
}

impl Read for Io {
    /// Reads plaintext. `Ok(0)` is a clean end (TCP FIN for plain, `close_notify` for
    /// TLS); a TLS stream cut without `close_notify` gives `UnexpectedEof`.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            match &mut self.stream {
                Stream::Plain(_) => {
                    self.arm(Phase::Read, true)?;
                    let Stream::Plain(tcp) = &mut self.stream else {
                        unreachable!("matched above");
                    };
                    return match tcp.read(buf) {
                        Ok(n) => {
                            Counters::add(&self.counters.bytes_received, n as u64);
                            Ok(n)
                        }
                        Err(e) => Err(self.socket_error(e, Phase::Read)),
                    };
                }
                Stream::Tls(t) => match t.tls.reader().read(buf) {
                    Ok(n) => return Ok(n),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => return Err(e),
                },
            }
            self.receive_tls(Phase::Read)?;
            // Answers to what was read (a key update) go out now. A server that
            // stopped reading and closed (an early answer to an upload) makes this
            // fail with the unsent body still queued: what it sent stays readable,
            // and the next write reports the failure.
            match self.flush_tls(Phase::Write) {
                Err(e) if !is_peer_gone(&e) => return Err(e),
                _ => {}
            }
        }
    }
}

impl Write for Io {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.stream {
            Stream::Plain(_) => {
                self.arm(Phase::Write, false)?;
                let Stream::Plain(tcp) = &mut self.stream else {
                    unreachable!("matched above");
                };
                match tcp.write(buf) {
                    Ok(n) => {
                        Counters::add(&self.counters.bytes_sent, n as u64);
                        Ok(n)
                    }
                    Err(e) => Err(self.socket_error(e, Phase::Write)),
                }
            }
            Stream::Tls(t) => {
                let n = t.tls.writer().write(buf)?;
                self.flush_tls(Phase::Write)?;
                Ok(n)
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.flush_tls(Phase::Write)
    }
}

/// Whether a write failed because the server closed the connection.
fn is_peer_gone(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
    )
}

/// Connects to the first address that answers, within the connect limit.
fn connect_any(addrs: &[SocketAddr], deadline: &Deadline, host: &str) -> Result<TcpStream> {
    let mut last = None;
    for addr in addrs {
        let (limit, phase) = deadline.limit_for(Phase::Connect, host)?;
        match TcpStream::connect_timeout(addr, limit) {
            Ok(tcp) => {
                tcp.set_nodelay(true).map_err(|e| Error::Connect {
                    host: host.into(),
                    source: e,
                })?;
                return Ok(tcp);
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
                ) =>
            {
                last = Some(Error::Timeout {
                    phase,
                    host: host.into(),
                });
            }
            Err(e) => {
                debug!("connect to {host} via {addr} failed: {e}");
                last = Some(Error::Connect {
                    host: host.into(),
                    source: e,
                });
            }
        }
    }
    Err(last.unwrap_or_else(|| Error::Connect {
        host: host.into(),
        source: io::Error::new(io::ErrorKind::NotFound, "no address to connect to"),
    }))
}
