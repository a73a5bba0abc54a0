//! Transports: a TCP stream, plain or wrapped in TLS, with the time limits of the
//! request applied to every socket operation. The HTTP code above sees only
//! `Read + Write`.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, HandshakeKind};

use crate::connect::{self, SocketOptions};
use crate::deadline::{Budget, Deadline, LowSpeed, ShortWait};
use crate::error::{Error, Phase, Result};
use crate::exchange::Transport;
use crate::netloc::Netloc;
use crate::resolve::Resolver;
use crate::stats::Counters;
use crate::timings::Timings;
use crate::tls::Identity;

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
    /// Where the bytes read from `tcp` stand in the record framing.
    framing: Framing,
}

/// Where the bytes received so far stand in TLS's record framing: a 5-byte header
/// whose last two bytes are the body's length, then the body. rustls keeps a
/// partial record to itself and says nothing of it; this tells whether it holds
/// one (a pooled connection that does must not carry another request). It skips
/// record bodies whole, so it costs a few instructions per record.
#[derive(Debug, Default)]
struct Framing {
    /// Bytes of the next record's header seen so far (0 to 4).
    header_seen: u8,
    /// The high byte of the record's length, once seen.
    length_high: u8,
    /// Bytes of the current record's body still to come.
    body_left: usize,
}

/// Shortest socket timeout kept for a wait with a longer limit (see
/// `TimedStream::arm`): a wait ending early costs a wake-up, so only timeouts of
/// a second or more are kept (one wake-up per second at most while waiting).
const MIN_KEPT_TIMEOUT: Duration = Duration::from_secs(1);

/// Bytes in a TLS record header (RFC 8446 §5.1): type, version, length.
const TLS_RECORD_HEADER: u8 = 5;

impl Framing {
    // `n` is at most `body_left`; `header_seen` goes back to 0 at 5.
    #[allow(clippy::arithmetic_side_effects)]
    fn advance(&mut self, mut bytes: &[u8]) {
        while let [first, rest @ ..] = bytes {
            if self.body_left > 0 {
                let n = self.body_left.min(bytes.len());
                self.body_left -= n;
                bytes = bytes.get(n..).unwrap_or_default();
                continue;
            }
            bytes = rest;
            self.header_seen += 1;
            if self.header_seen == TLS_RECORD_HEADER - 1 {
                self.length_high = *first;
            } else if self.header_seen == TLS_RECORD_HEADER {
                self.body_left = usize::from(u16::from_be_bytes([self.length_high, *first]));
                self.header_seen = 0;
            }
        }
    }

    /// Whether the bytes so far end exactly at the end of a record.
    fn at_boundary(&self) -> bool {
        self.header_seen == 0 && self.body_left == 0
    }
}

/// The socket as rustls reads it, with the framing followed on the way.
struct Framed<'a> {
    tcp: &'a mut TcpStream,
    framing: &'a mut Framing,
}

impl Read for Framed<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.tcp.read(buf)?;
        self.framing.advance(buf.get(..n).unwrap_or_default());
        Ok(n)
    }
}

/// A TCP stream to a server, plain or wrapped in TLS, under the time limits of the
/// request it serves (each socket wait armed with what is left of its phase's
/// budget), adding its bytes to the client's counters.
pub(crate) struct TimedStream {
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
    /// Whether the socket's timeout is shorter than the limit of the wait.
    shortened: bool,
    /// Which limit the socket's timeout was last armed with: the one that elapsed if
    /// the socket times out.
    armed: Phase,
    counters: Arc<Counters>,
    /// The client identity a TLS connection shows, when it comes from files: its
    /// TLS errors say when a changed file was refused.
    identity: Option<Arc<Identity>>,
    /// The request came on a pooled connection: its reads wait under
    /// [`Phase::FirstByte`] until a byte arrives.
    reused: bool,
    /// The low-speed abort of the current request, if set, and the bytes moved.
    low_speed: Option<LowSpeed>,
    moved: u64,
    /// When this connection was made, and when the current request's first
    /// response byte came (offsets from the request's start).
    timings: Timings,
    /// Bytes came after the first byte of the current response, in another read:
    /// the head's time then needs a clock reading of its own.
    read_after_first_byte: bool,
}

/// How a request's TLS 1.3 early data went ([`TimedStream::finish_tls_early`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EarlyData {
    /// Not sent early (too large for the server's limit): sent after the handshake.
    NotSent,
    /// Sent early and taken by the server's TLS.
    Accepted,
    /// Sent early, refused by the server's TLS: sent again after the handshake.
    Rejected,
}

/// How a request got its connection, from
/// [`Response::connection`](crate::Response::connection): from the pool, or new,
/// and then how its TLS handshake went.
///
/// ```no_run
/// # fn main() -> Result<(), tinyhttps::Error> {
/// use tinyhttps::ConnectionKind;
/// let client = tinyhttps::Client::new();
/// let resp = client.get("https://device-api.example.com/v1/status").call()?;
/// match resp.connection() {
///     ConnectionKind::Reused => {}                   // no connect, no handshake
///     ConnectionKind::NewTlsResumed => {}            // a cheap handshake
///     other => println!("paid for a {other:?} connection"),
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectionKind {
    /// An idle pooled connection: no connect, no handshake.
    Reused,
    /// A new plain TCP connection.
    New,
    /// A new TLS connection with a full handshake.
    NewTlsFull,
    /// A new TLS connection that resumed an earlier session.
    NewTlsResumed,
}

impl TimedStream {
    /// Resolves `dial` and connects to it (TCP_NODELAY, the socket `options`), DNS
    /// and every address within one connect budget (Happy Eyeballs: see
    /// `connect.rs`). `target` is the server the connection is for (the same, or
    /// the origin behind a proxy): errors name it.
    pub fn connect_tcp(
        dial: &Netloc,
        target: &Netloc,
        resolver: &Resolver,
        options: &SocketOptions,
        deadline: Deadline,
        counters: &Arc<Counters>,
    ) -> Result<TimedStream> {
        let dial_host = dial.authority();
        let started = deadline.elapsed();
        let mut budget = deadline.budget(Phase::Connect);
        let addrs = resolver.resolve(dial, &mut budget, &dial_host)?;
        let resolved = deadline.elapsed();
        let (tcp, addr) = connect::connect(&addrs, &mut budget, &dial_host, options)?;
        let timings = Timings::connected(started, resolved, deadline.elapsed());
        Counters::add(&counters.connections_opened, 1);
        debug!("connected to {dial_host} ({addr})");
        Ok(TimedStream {
            stream: Stream::Plain(tcp),
            host: target.authority().into(),
            deadline,
            read_set: None,
            write_set: None,
            read_cap: None,
            capped: false,
            shortened: false,
            armed: Phase::Connect,
            counters: counters.clone(),
            identity: None,
            reused: false,
            low_speed: None,
            moved: 0,
            timings,
            read_after_first_byte: false,
        })
    }

    /// Starts TLS over this (so far plain) stream, to verify the certificate for
    /// `target`'s host: the TLS session made, its ClientHello queued, nothing sent
    /// yet. [`finish_tls`](Self::finish_tls) runs the handshake, or
    /// [`finish_tls_early`](Self::finish_tls_early) with a request as early data.
    /// `identity`: the client identity files of the config's policy, if any.
    pub fn begin_tls(
        mut self,
        config: Arc<ClientConfig>,
        target: &Netloc,
        identity: Option<Arc<Identity>>,
    ) -> Result<TimedStream> {
        self.identity = identity;
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
        self.stream = Stream::Tls(Box::new(TlsStream {
            tls: conn,
            tcp,
            framing: Framing::default(),
        }));
        Ok(self)
    }

    /// Runs the handshake of a [`begin_tls`](Self::begin_tls) stream, the whole of
    /// it within the handshake limit, and counts it; says whether it was full or
    /// resumed.
    pub fn finish_tls(&mut self) -> Result<ConnectionKind> {
        let kind = self
            .handshake()
            .map_err(|e| Error::from_io(e, &self.host))?;
        self.timings.set_secured(self.deadline.elapsed());
        let counter = match kind {
            ConnectionKind::NewTlsResumed => &self.counters.handshakes_resumed,
            _ => &self.counters.handshakes_full,
        };
        Counters::add(counter, 1);
        Ok(kind)
    }

    /// How many bytes of early data (0-RTT) rustls would send now: `Some` only
    /// between [`begin_tls`](Self::begin_tls) and the handshake, when resuming a
    /// TLS 1.3 session whose ticket allows early data, with the config's
    /// `enable_early_data` on.
    pub fn early_data_room(&mut self) -> Option<usize> {
        match &mut self.stream {
            Stream::Tls(t) if t.tls.is_handshaking() => {
                t.tls.early_data().map(|early| early.bytes_left())
            }
            _ => None,
        }
    }

    /// Runs the handshake of a [`begin_tls`](Self::begin_tls) stream with
    /// `request` (a whole HTTP request) in its first flight as early data if it
    /// fits what the server takes, and makes sure the server gets the request
    /// exactly once: written again after the handshake if the server refused the
    /// early data, or written only then if it did not fit. Counts the handshake
    /// and the `early_data_*` counters; says how the early data went.
    pub fn finish_tls_early(&mut self, request: &[u8]) -> Result<(ConnectionKind, EarlyData)> {
        let Stream::Tls(t) = &mut self.stream else {
            return Err(Error::config("early data on a connection without TLS"));
        };
        // The send buffer limit would cut the early data short behind the queued
        // ClientHello; the early data is bounded by what the server takes anyway.
        t.tls.set_buffer_limit(None);
        let written = match t.tls.early_data() {
            Some(mut early) if request.len() <= early.bytes_left() => {
                early.write(request).unwrap_or(0)
            }
            _ => 0,
        };
        t.tls.set_buffer_limit(Some(TLS_SEND_BUFFER_LIMIT));
        let kind = self.finish_tls()?;
        // The first byte of the answer, not of the handshake.
        self.timings.clear_first_byte();
        if self.holds_unread() {
            let deadline = &self.deadline;
            self.read_after_first_byte = self.timings.received(|| deadline.elapsed());
        }
        let accepted = match &self.stream {
            Stream::Tls(t) => t.tls.is_early_data_accepted(),
            Stream::Plain(_) => false,
        };
        let outcome = match (written, accepted) {
            (0, _) => EarlyData::NotSent,
            (_, true) => EarlyData::Accepted,
            (_, false) => EarlyData::Rejected,
        };
        if outcome != EarlyData::NotSent {
            Counters::add(&self.counters.early_data_sent, 1);
            let counter = match outcome {
                EarlyData::Accepted => &self.counters.early_data_accepted,
                _ => &self.counters.early_data_rejected,
            };
            Counters::add(counter, 1);
            debug!("early data to {}: {outcome:?}", self.host);
        }
        // What the server has not taken yet: all of it unless it took the early
        // data (then only a rest the early write left, never in practice).
        let rest = match outcome {
            EarlyData::Accepted => request.get(written..).unwrap_or_default(),
            _ => request,
        };
        if !rest.is_empty() {
            self.write_all(rest)
                .map_err(|e| Error::from_io(e, &self.host))?;
        }
        Ok((kind, outcome))
    }

    /// Drives the TLS handshake to its end: every read and write of it spends from
    /// one handshake budget, so a server dribbling bytes cannot stretch it.
    fn handshake(&mut self) -> io::Result<ConnectionKind> {
        let mut budget = self.deadline.budget(Phase::Handshake);
        loop {
            self.flush_tls(Some(&mut budget))?;
            let Stream::Tls(t) = &mut self.stream else {
                unreachable!("handshake on a TLS stream only");
            };
            if !t.tls.is_handshaking() {
                break;
            }
            self.receive_tls(&mut budget)?;
        }
        let Stream::Tls(t) = &self.stream else {
            unreachable!("handshake on a TLS stream only");
        };
        let (kind, how) = match t.tls.handshake_kind() {
            Some(HandshakeKind::Resumed) => (ConnectionKind::NewTlsResumed, "resumed"),
            _ => (ConnectionKind::NewTlsFull, "full"),
        };
        debug!(
            "TLS handshake with {} {how}: {:?}, {:?}",
            self.host,
            t.tls.protocol_version(),
            t.tls.negotiated_cipher_suite().map(|s| s.suite())
        );
        Ok(kind)
    }

    /// Reads TLS records from the socket and processes them, within `budget`.
    /// `Ok(0)` at TCP EOF. A signal's interruption is retried (the kernel does not
    /// restart a recv on a socket with a timeout), on the same budget.
    fn receive_tls(&mut self, budget: &mut Budget) -> io::Result<usize> {
        let n = loop {
            self.arm(budget, true)?;
            let Stream::Tls(t) = &mut self.stream else {
                unreachable!("TLS stream only");
            };
            let mut framed = Framed {
                tcp: &mut t.tcp,
                framing: &mut t.framing,
            };
            match t.tls.read_tls(&mut framed) {
                Ok(n) => break n,
                // A signal, or the end of a low-speed window: wait again.
                Err(e) => match self.socket_error(e) {
                    e if e.kind() == io::ErrorKind::Interrupted => {}
                    e => return Err(e),
                },
            }
        };
        self.received(n);
        let Stream::Tls(t) = &mut self.stream else {
            unreachable!("TLS stream only");
        };
        if let Err(e) = t.tls.process_new_packets() {
            // Let the server know why, if the socket takes it; the error is what counts.
            let _ = t.tls.write_tls(&mut t.tcp);
            let e = Error::tls(&self.host, e);
            let e = match &self.identity {
                Some(identity) => identity.explain(e),
                None => e,
            };
            return Err(e.into_io());
        }
        if n == 0 && t.tls.is_handshaking() {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "server closed the connection during the TLS handshake",
            ));
        }
        Ok(n)
    }

    /// Sends every TLS record rustls has queued: within the `handshake` budget when
    /// given, else with the write limit for each wait. Interruptions are retried.
    fn flush_tls(&mut self, mut handshake: Option<&mut Budget>) -> io::Result<()> {
        let mut wait = self.deadline.budget(Phase::Write);
        loop {
            let Stream::Tls(t) = &mut self.stream else {
                return Ok(());
            };
            if !t.tls.wants_write() {
                return Ok(());
            }
            match handshake.as_deref_mut() {
                Some(budget) => self.arm(budget, false)?,
                None => self.arm(&mut wait, false)?,
            }
            let Stream::Tls(t) = &mut self.stream else {
                unreachable!("checked above");
            };
            match t.tls.write_tls(&mut t.tcp) {
                Ok(n) => {
                    self.sent(n);
                    // Progress: the next wait has the whole write limit again.
                    wait = self.deadline.budget(Phase::Write);
                }
                // A signal, or the end of a low-speed window: wait again.
                Err(e) => match self.socket_error(e) {
                    e if e.kind() == io::ErrorKind::Interrupted => {}
                    e => return Err(e),
                },
            }
        }
    }

    /// Sends what rustls has queued as far as the socket takes it now, never
    /// waiting; what does not fit stays queued ahead of anything written later. A
    /// server gone is not an error here (the next write reports it). No system
    /// call when nothing is queued, as after almost every read.
    fn flush_tls_now(&mut self) -> io::Result<()> {
        let Stream::Tls(t) = &mut self.stream else {
            return Ok(());
        };
        if !t.tls.wants_write() {
            return Ok(());
        }
        t.tcp.set_nonblocking(true)?;
        let sent = loop {
            if !t.tls.wants_write() {
                break Ok(());
            }
            match t.tls.write_tls(&mut t.tcp) {
                Ok(0) => break Ok(()),
                Ok(n) => {
                    // `t` borrows the stream: `self.sent(n)` cannot be called here.
                    Counters::add(&self.counters.bytes_sent, n as u64);
                    self.moved = self.moved.saturating_add(n as u64);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock || is_peer_gone(&e) => break Ok(()),
                Err(e) => break Err(e),
            }
        };
        t.tcp.set_nonblocking(false)?;
        sent
    }

    /// Sets the socket's read or write timeout for the next wait within `budget`.
    fn arm(&mut self, budget: &mut Budget, read: bool) -> io::Result<()> {
        let (mut limit, mut which) = budget
            .limit()
            .map_err(|which| self.deadline.timeout(which, &self.host).into_io())?;
        if let Some(low_speed) = &mut self.low_speed {
            let window_left = low_speed
                .check(self.moved)
                .map_err(|()| self.deadline.timeout(Phase::LowSpeed, &self.host).into_io())?;
            if window_left < limit {
                (limit, which) = (window_left, Phase::LowSpeed);
            }
        }
        self.armed = which;
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
        // A shorter timeout already set serves as well: a wait it ends early is
        // armed again (see `socket_error`). So a reused connection's first-byte
        // limit and the read limit after it do not cost two `setsockopt` per request.
        self.shortened = current.is_some_and(|c| c < limit && c >= MIN_KEPT_TIMEOUT);
        if current != Some(limit) && !self.shortened {
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

    /// A socket error: a timeout becomes [`Error::Timeout`] naming the limit the
    /// socket was armed with (the phase's own or the overall deadline).
    fn socket_error(&self, e: io::Error) -> io::Error {
        if matches!(
            e.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
        ) {
            if self.capped {
                return io::ErrorKind::WouldBlock.into();
            }
            if self.armed == Phase::LowSpeed || self.shortened {
                // The low-speed window ended, or a shortened wait: the next `arm`
                // fails the transfer if a limit is spent, else waits again; the
                // callers retry this.
                return io::ErrorKind::Interrupted.into();
            }
            return self.deadline.timeout(self.armed, &self.host).into_io();
        }
        e
    }

    fn tcp(&self) -> &TcpStream {
        match &self.stream {
            Stream::Plain(tcp) => tcp,
            Stream::Tls(t) => &t.tcp,
        }
    }

    /// The leaf certificate the server presented (TLS only).
    pub fn server_leaf(&self) -> Option<&rustls::pki_types::CertificateDer<'static>> {
        match &self.stream {
            Stream::Plain(_) => None,
            Stream::Tls(t) => t.tls.peer_certificates()?.first(),
        }
    }

    /// `host:port` of the server.
    pub fn host(&self) -> &Arc<str> {
        &self.host
    }

    /// Starts the time limits of a new request on this connection; `reused`: the
    /// connection came from the pool (see [`Phase::FirstByte`]).
    pub fn start_request(&mut self, deadline: Deadline, reused: bool) {
        self.deadline = deadline;
        self.reused = reused;
        self.low_speed = deadline.low_speed();
        self.moved = 0;
        if reused {
            self.timings = Timings::default();
        }
        self.timings.clear_first_byte();
    }

    /// This request's timings so far, with `head` (the response head is complete)
    /// set now: when the read that brought the first byte also completed the head
    /// (the usual case), its clock reading serves for both.
    pub fn timings(&self) -> Timings {
        let deadline = &self.deadline;
        self.timings
            .with_head_after(self.read_after_first_byte, || deadline.elapsed())
    }

    /// The phase of the next read's wait: [`Phase::FirstByte`] on a reused
    /// connection before any byte of the answer came, else [`Phase::Read`].
    fn read_phase(&self) -> Phase {
        if self.reused && !self.timings.has_first_byte() {
            Phase::FirstByte
        } else {
            Phase::Read
        }
    }

    /// Counts `n` bytes read from the socket.
    fn sent(&mut self, n: usize) {
        Counters::add(&self.counters.bytes_sent, n as u64);
        self.moved = self.moved.saturating_add(n as u64);
    }

    fn received(&mut self, n: usize) {
        Counters::add(&self.counters.bytes_received, n as u64);
        self.moved = self.moved.saturating_add(n as u64);
        if n > 0 {
            let deadline = &self.deadline;
            self.read_after_first_byte = self.timings.received(|| deadline.elapsed());
        }
    }

    /// Whether rustls holds anything this side has not read: plaintext, a
    /// `close_notify`, or part of a record. Such a connection must not go back to
    /// the pool: the next request would read it as its answer. No system call.
    pub fn holds_unread(&self) -> bool {
        match &self.stream {
            Stream::Plain(_) => false,
            // After the handshake `wants_read` is false only with plaintext to read
            // or a close_notify received; complete records are always processed
            // right after they are read.
            Stream::Tls(t) => !t.tls.wants_read() || !t.framing.at_boundary(),
        }
    }

    /// Whether a pooled connection can carry another request: the server has not
    /// closed it, sent nothing unasked, and rustls holds nothing unread. Never blocks.
    pub fn is_reusable(&mut self) -> bool {
        if self.tcp().set_nonblocking(true).is_err() {
            return false;
        }
        let alive = match &mut self.stream {
            Stream::Plain(tcp) => {
                matches!(tcp.peek(&mut [0u8; 1]), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
            }
            Stream::Tls(t) => {
                let mut framed = Framed {
                    tcp: &mut t.tcp,
                    framing: &mut t.framing,
                };
                match t.tls.read_tls(&mut framed) {
                    Err(e) => e.kind() == io::ErrorKind::WouldBlock,
                    Ok(0) => false,
                    // A late session ticket is fine; plaintext or a close is not
                    // (checked below with the rest of rustls' state).
                    Ok(_) => t.tls.process_new_packets().is_ok(),
                }
            }
        };
        alive && !self.holds_unread() && self.tcp().set_nonblocking(false).is_ok()
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

impl Transport for TimedStream {
    fn set_read_cap(&mut self, cap: Option<ShortWait>) {
        self.read_cap = cap;
        self.capped = false;
    }
}

impl Read for TimedStream {
    /// Reads plaintext. `Ok(0)` is a clean end (TCP FIN for plain, `close_notify` for
    /// TLS); a TLS stream cut without `close_notify` gives `UnexpectedEof`. Each wait
    /// for the socket has the read limit; an interruption by a signal is retried
    /// within what is left of it.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            match &mut self.stream {
                Stream::Plain(_) => {
                    let mut budget = self.deadline.budget(self.read_phase());
                    loop {
                        self.arm(&mut budget, true)?;
                        let Stream::Plain(tcp) = &mut self.stream else {
                            unreachable!("matched above");
                        };
                        match tcp.read(buf) {
                            Ok(n) => {
                                self.received(n);
                                return Ok(n);
                            }
                            // A signal, or the end of a low-speed window: wait again.
                            Err(e) => match self.socket_error(e) {
                                e if e.kind() == io::ErrorKind::Interrupted => {}
                                e => return Err(e),
                            },
                        }
                    }
                }
                Stream::Tls(t) => match t.tls.reader().read(buf) {
                    Ok(n) => return Ok(n),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => return Err(e),
                },
            }
            let mut budget = self.deadline.budget(self.read_phase());
            self.receive_tls(&mut budget)?;
            // Answers to what was read (a key update) go out now, without waiting:
            // a server that stopped reading, closed or not (an early answer to an
            // upload), leaves the unsent body queued, and what it sent stays
            // readable within the read's own limit; the next write sends the rest
            // or reports the failure.
            self.flush_tls_now()?;
        }
    }
}

impl Write for TimedStream {
    /// Writes plaintext. Each wait for the socket has the write limit; an
    /// interruption by a signal is retried within what is left of it, never by
    /// handing the same bytes to rustls twice.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.stream {
            Stream::Plain(_) => {
                let mut budget = self.deadline.budget(Phase::Write);
                loop {
                    self.arm(&mut budget, false)?;
                    let Stream::Plain(tcp) = &mut self.stream else {
                        unreachable!("matched above");
                    };
                    match tcp.write(buf) {
                        Ok(n) => {
                            self.sent(n);
                            return Ok(n);
                        }
                        // A signal, or the end of a low-speed window: wait again.
                        Err(e) => match self.socket_error(e) {
                            e if e.kind() == io::ErrorKind::Interrupted => {}
                            e => return Err(e),
                        },
                    }
                }
            }
            Stream::Tls(t) => {
                let n = t.tls.writer().write(buf)?;
                self.flush_tls(None)?;
                Ok(n)
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.flush_tls(None)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn record(len: u16) -> Vec<u8> {
        let mut r = vec![0x17, 0x03, 0x03];
        r.extend_from_slice(&len.to_be_bytes());
        r.resize(5 + usize::from(len), 0xab);
        r
    }

    #[test]
    fn framing_follows_records_split_anywhere() {
        let stream = [record(300), record(0), record(17), record(16_000)].concat();
        let ends: Vec<usize> = [305, 310, 332, stream.len()].to_vec();
        for cut in 0..=stream.len() {
            let mut f = Framing::default();
            f.advance(&stream[..cut]);
            assert_eq!(
                f.at_boundary(),
                cut == 0 || ends.contains(&cut),
                "cut {cut}"
            );
            f.advance(&stream[cut..]);
            assert!(f.at_boundary(), "whole stream, split at {cut}");
        }
    }
}
