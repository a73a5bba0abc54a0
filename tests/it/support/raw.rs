//! A bare TCP server for the cases the scripted [`Server`](super::Server) cannot
//! express: the test needs the exact moment the server closed or sent something
//! (to wait for that event instead of sleeping), or a server that does not read.
//!
//! [`RawServer::start`] hands each accepted connection, on a thread of its own, to
//! the test's closure with its index; the closure does what it likes with the
//! socket (see [`read_message`](super::read_message), [`respond`]) and reports
//! events over its own channels. Its reads wait at most [`READ_LIMIT`]: dropping
//! the server joins the threads, so the closures must end.

use std::io::{self, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::Duration;

use rustls::{ServerConfig, ServerConnection};

use super::service::Service;

/// Longest wait of a raw server's reads: far beyond any test's needs, so that a
/// client that never comes cannot hang the test.
pub const READ_LIMIT: Duration = Duration::from_secs(20);

/// A running raw server; stops when dropped.
pub struct RawServer {
    service: Service,
}

impl RawServer {
    /// Listens on 127.0.0.1 (any port) and serves each connection with
    /// `serve(index from 0, socket)`.
    pub fn start(serve: impl Fn(usize, TcpStream) + Send + Sync + 'static) -> RawServer {
        let any = SocketAddr::from(([127, 0, 0, 1], 0));
        RawServer::start_on(any, serve).expect("bind 127.0.0.1:0")
    }

    /// Like [`start`](Self::start), listening on `addr` (e.g. 127.0.0.3 and a port
    /// another listener has on 127.0.0.2).
    pub fn start_on(
        addr: SocketAddr,
        serve: impl Fn(usize, TcpStream) + Send + Sync + 'static,
    ) -> io::Result<RawServer> {
        let service = Service::start_on(addr, "raw test server", move |_, sock, index| {
            sock.set_read_timeout(Some(READ_LIMIT))?;
            serve(index, sock);
            Ok(())
        })?;
        Ok(RawServer { service })
    }

    /// The listening port.
    pub fn port(&self) -> u16 {
        self.service.addr().port()
    }

    /// `http://127.0.0.1:{port}{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port())
    }
}

/// Writes a `200 OK` with this body and a Content-Length (`sock` may be a
/// [`rustls::Stream`]).
pub fn respond(sock: &mut impl Write, body: &[u8]) -> io::Result<()> {
    let mut out = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n", body.len()).into_bytes();
    out.extend_from_slice(body);
    sock.write_all(&out)?;
    sock.flush()
}

/// Runs the server side of a TLS handshake on `sock`; None if it fails.
pub fn tls_handshake(sock: &mut TcpStream, config: &Arc<ServerConfig>) -> Option<ServerConnection> {
    let mut tls = ServerConnection::new(config.clone()).ok()?;
    while tls.is_handshaking() {
        match tls.complete_io(sock) {
            Ok((0, 0)) | Err(_) => return None,
            Ok(_) => {}
        }
    }
    Some(tls)
}

/// How long a connect to a listener of ours may take before we call its SYN
/// dropped: a loopback connect that the kernel accepts completes at once.
const SYN_DROPPED_AFTER: Duration = Duration::from_millis(500);

/// A listener whose accept queue is full, so the kernel drops SYNs to it and a
/// connect to it waits for its time limit (a blackholed address, on loopback).
pub struct Blackhole {
    listener: TcpListener,
    queued: Vec<TcpStream>,
}

impl Blackhole {
    /// Listens on `addr` (port 0: any) with its accept queue full.
    pub fn bind(addr: SocketAddr) -> io::Result<Blackhole> {
        let listener = TcpListener::bind(addr)?;
        listen_backlog_zero(&listener)?;
        let addr = listener.local_addr()?;
        // Linux queues one connection past a backlog of 0: fill the queue with
        // connections never accepted until a connect is not answered.
        let mut queued = Vec::new();
        while queued.len() < 16 {
            match TcpStream::connect_timeout(&addr, SYN_DROPPED_AFTER) {
                Ok(sock) => queued.push(sock),
                Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                    return Ok(Blackhole { listener, queued })
                }
                Err(e) => return Err(e),
            }
        }
        Err(io::Error::other("the accept queue never filled"))
    }

    /// The listening port.
    pub fn port(&self) -> u16 {
        self.listener.local_addr().unwrap().port()
    }

    /// Opens the hole: closes and accepts the connections that filled the queue,
    /// so the next SYN retransmission of a waiting connect gets through, and
    /// returns the listener to accept it.
    pub fn open(self) -> TcpListener {
        let Blackhole { listener, queued } = self;
        let filled = queued.len();
        drop(queued);
        for _ in 0..filled {
            let _ = listener.accept();
        }
        listener
    }
}

/// listen(fd, 0) on a bound listener: Linux lets a listening socket change its backlog.
#[allow(unsafe_code)]
fn listen_backlog_zero(listener: &TcpListener) -> io::Result<()> {
    // SAFETY: listen() on a socket we own; it only changes the backlog.
    if unsafe { libc::listen(listener.as_raw_fd(), 0) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
