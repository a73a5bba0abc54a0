//! What the test server and the test proxy share: a listener on 127.0.0.1 (any free
//! port), a thread per accepted connection, a stop flag that every read polls, and a
//! stop (drop) that never hangs: it shuts every tracked socket down and joins every
//! thread. A panic on one of them (an assertion in a handler) makes the drop panic
//! too, unless the test is already panicking, so that it is not lost.

use std::collections::HashMap;
use std::io;
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::lock;
use super::wire::is_disconnect;

/// A running service; stops when dropped.
pub(crate) struct Service {
    addr: SocketAddr,
    core: Arc<Core>,
    accept: Option<JoinHandle<()>>,
}

/// The part of a [`Service`] that its threads share.
pub(crate) struct Core {
    /// "test server", "test proxy": for messages.
    name: &'static str,
    pub(crate) stop: AtomicBool,
    connections: AtomicUsize,
    panics: AtomicUsize,
    next_socket: AtomicUsize,
    /// Clones of the open sockets, to shut them down at stop.
    open: Mutex<HashMap<usize, TcpStream>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

/// Removes a socket from [`Core::open`] when dropped.
pub(crate) struct Tracked<'a> {
    core: &'a Core,
    key: usize,
}

impl Drop for Tracked<'_> {
    fn drop(&mut self) {
        lock(&self.core.open).remove(&self.key);
    }
}

impl Core {
    pub(crate) fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Counts a panic, reported when the service stops.
    pub(crate) fn panicked(&self) {
        self.panics.fetch_add(1, Ordering::SeqCst);
    }

    /// Registers a clone of `sock` to be shut down at stop, until the guard drops.
    pub(crate) fn track(&self, sock: &TcpStream) -> io::Result<Tracked<'_>> {
        let key = self.next_socket.fetch_add(1, Ordering::SeqCst);
        lock(&self.open).insert(key, sock.try_clone()?);
        // Registered after the stop's sweep: nobody else will shut it down.
        if self.stopped() {
            let _ = sock.shutdown(Shutdown::Both);
        }
        Ok(Tracked { core: self, key })
    }

    /// Sleeps in small slices; false if the service stopped meanwhile.
    pub(crate) fn sleep(&self, duration: Duration) -> bool {
        let deadline = Instant::now() + duration;
        loop {
            if self.stopped() {
                return false;
            }
            let now = Instant::now();
            if now >= deadline {
                return true;
            }
            thread::sleep((deadline - now).min(Duration::from_millis(10)));
        }
    }
}

type Serve = dyn Fn(&Core, TcpStream, usize) -> io::Result<()> + Send + Sync;

impl Service {
    /// Listens on 127.0.0.1, any free port, and serves each accepted connection on a
    /// thread of its own with `serve(core, socket, index from 0)`, which tracks the
    /// socket ([`Core::track`]) to have it shut down at stop. What a connection fails
    /// with is printed, unless the peer went away or the service stops.
    pub(crate) fn start(
        name: &'static str,
        serve: impl Fn(&Core, TcpStream, usize) -> io::Result<()> + Send + Sync + 'static,
    ) -> Service {
        let any = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        Service::start_on(any, name, serve).expect("bind 127.0.0.1:0")
    }

    /// Like [`start`](Self::start), listening on `addr`.
    pub(crate) fn start_on(
        addr: SocketAddr,
        name: &'static str,
        serve: impl Fn(&Core, TcpStream, usize) -> io::Result<()> + Send + Sync + 'static,
    ) -> io::Result<Service> {
        let listener = TcpListener::bind(addr)?;
        let addr = listener.local_addr()?;
        let core = Arc::new(Core {
            name,
            stop: AtomicBool::new(false),
            connections: AtomicUsize::new(0),
            panics: AtomicUsize::new(0),
            next_socket: AtomicUsize::new(0),
            open: Mutex::new(HashMap::new()),
            threads: Mutex::new(Vec::new()),
        });
        let for_thread = core.clone();
        let serve: Arc<Serve> = Arc::new(serve);
        let accept = thread::Builder::new()
            .name(format!("{name} {}", addr.port()))
            .spawn(move || accept_loop(&listener, &for_thread, &serve))?;
        Ok(Service {
            addr,
            core,
            accept: Some(accept),
        })
    }

    /// The listening address (127.0.0.1, some port).
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Connections accepted so far.
    pub(crate) fn connections(&self) -> usize {
        self.core.connections.load(Ordering::SeqCst)
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let core = &self.core;
        core.stop.store(true, Ordering::SeqCst);
        // Wake the accept thread; it sees the flag and ends.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(accept) = self.accept.take() {
            if accept.join().is_err() {
                core.panicked();
            }
        }
        for sock in lock(&core.open).values() {
            let _ = sock.shutdown(Shutdown::Both);
        }
        loop {
            let threads = std::mem::take(&mut *lock(&core.threads));
            if threads.is_empty() {
                break;
            }
            for handle in threads {
                if handle.join().is_err() {
                    core.panicked();
                }
            }
        }
        let panics = core.panics.load(Ordering::SeqCst);
        if panics > 0 && !thread::panicking() {
            panic!(
                "{}: {panics} thread panic(s), see messages above",
                core.name
            );
        }
    }
}

fn accept_loop(listener: &TcpListener, core: &Arc<Core>, serve: &Arc<Serve>) {
    loop {
        let accepted = listener.accept();
        if core.stopped() {
            return;
        }
        let sock = match accepted {
            Ok((sock, _)) => sock,
            Err(e) => {
                eprintln!("{}: accept failed: {e}", core.name);
                thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        let id = core.connections.fetch_add(1, Ordering::SeqCst);
        let (shared, serve) = (core.clone(), serve.clone());
        let spawned = thread::Builder::new()
            .name(format!("{} conn {id}", core.name))
            .spawn(move || {
                if let Err(e) = serve(&shared, sock, id) {
                    if !shared.stopped() && !is_disconnect(&e) {
                        eprintln!("{}: connection {id}: {e}", shared.name);
                    }
                }
            });
        match spawned {
            Ok(handle) => lock(&core.threads).push(handle),
            Err(e) => eprintln!("{}: cannot spawn a connection thread: {e}", core.name),
        }
    }
}
