//! A bare TCP server for the cases the scripted [`Server`](super::Server) cannot
//! express: the test needs the exact moment the server closed or sent something
//! (to wait for that event instead of sleeping), or a server that does not read.
//!
//! [`RawServer::start`] accepts up to `connections` connections, one after the
//! other, and hands each to the test's closure with its index; the closure does
//! what it likes with the socket (see [`read_head`], [`respond`]) and reports
//! events over its own channels. Dropping the server waits for the thread: the
//! closure must end (they read with a timeout, see [`READ_LIMIT`]).

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use rustls::{ServerConfig, ServerConnection};

/// Longest wait of a raw server for a connection or a request: far beyond any
/// test's needs, so that a client that never comes cannot hang the test.
pub const READ_LIMIT: Duration = Duration::from_secs(20);

/// A running raw server; its thread is joined on drop.
pub struct RawServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl RawServer {
    /// Listens on 127.0.0.1 (any port) and serves `connections` connections, one at
    /// a time, with `serve(index, socket)`.
    pub fn start(
        connections: usize,
        serve: impl Fn(usize, TcpStream) + Send + 'static,
    ) -> RawServer {
        let any = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        RawServer::start_on(any, connections, serve).expect("bind 127.0.0.1:0")
    }

    /// Like [`start`](Self::start), listening on `addr` (e.g. 127.0.0.3 and a port
    /// another listener has on 127.0.0.2).
    pub fn start_on(
        addr: SocketAddr,
        connections: usize,
        serve: impl Fn(usize, TcpStream) + Send + 'static,
    ) -> io::Result<RawServer> {
        let listener = TcpListener::bind(addr)?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = thread::spawn(move || {
            for index in 0..connections {
                let Some(sock) = accept(&listener, &flag) else {
                    return;
                };
                sock.set_read_timeout(Some(READ_LIMIT))
                    .expect("read timeout");
                serve(index, sock);
            }
        });
        Ok(RawServer {
            addr,
            stop,
            thread: Some(thread),
        })
    }

    /// The listening port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `http://127.0.0.1:{port}{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port())
    }
}

impl Drop for RawServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() && !thread::panicking() {
                panic!("raw test server thread panicked");
            }
        }
    }
}

/// The next connection, or None once the server is stopping or after [`READ_LIMIT`].
fn accept(listener: &TcpListener, stop: &AtomicBool) -> Option<TcpStream> {
    listener
        .set_nonblocking(true)
        .expect("non-blocking listener");
    let deadline = Instant::now() + READ_LIMIT;
    while !stop.load(Ordering::SeqCst) && Instant::now() < deadline {
        match listener.accept() {
            Ok((sock, _)) => {
                sock.set_nonblocking(false).expect("blocking socket");
                return Some(sock);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                thread::sleep(Duration::from_millis(5));
            }
            Err(e) => panic!("raw test server: accept failed: {e}"),
        }
    }
    None
}

/// Reads one request head (through the blank line) and, if it has a
/// `content-length`, that many body bytes. None if the client closed first.
/// `sock` may be a [`rustls::Stream`] for TLS.
pub fn read_request(sock: &mut impl Read) -> Option<Vec<u8>> {
    let mut data = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    let head_end = loop {
        if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
        match sock.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => data.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&data[..head_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while data.len() < head_end + length {
        match sock.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => data.extend_from_slice(&chunk[..n]),
        }
    }
    Some(data)
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
