//! Signals: a daemon has handlers (SIGTERM, SIGHUP, SIGCHLD), and on a socket with
//! SO_RCVTIMEO/SO_SNDTIMEO the kernel never restarts an interrupted recv/send, even
//! with SA_RESTART (signal(7)). A request must ride through signals delivered to its
//! thread while it waits.
//!
//! Each test installs the SIGUSR1 handler (once per process, without SA_RESTART;
//! SIGUSR1 only, sent only to the tests' own threads), starts the request on a thread, waits for the event that says the thread is inside the wait under test
//! (the server got the request, or the connection was accepted, and the thread is
//! asleep in the kernel), and signals that thread several times, each time waiting
//! for the handler to have run; then the server answers and the request must
//! succeed.

// sigaction, pthread_kill and gettid: the signals under test.
#![allow(unsafe_code)]

use crate::support;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Mutex, Once};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use support::raw::{self, Blackhole, RawServer};
use support::{client_trusting, pki_and_https, Pki, Reply, Server, TlsOptions, SERVER_NAMES};
use tinyhttps::Client;

/// Signals sent to the waiting thread in each test.
const ROUNDS: usize = 5;
/// Longest wait for any event: only reached when something is broken.
const EVENT_LIMIT: Duration = Duration::from_secs(20);

/// Threads that may receive SIGUSR1 (a [`Worker`] each, 0 = free slot) and the
/// signals handled on each: every test counts only its own worker's, so the tests
/// run in parallel with each other and with the rest of the binary.
static HANDLED: [(AtomicI32, AtomicUsize); 8] =
    [const { (AtomicI32::new(0), AtomicUsize::new(0)) }; 8];

extern "C" fn on_signal(_: libc::c_int) {
    // SAFETY: gettid only reads the calling thread's id (async-signal-safe, like the
    // atomic loads and adds below).
    let tid = unsafe { libc::syscall(libc::SYS_gettid) } as libc::pid_t;
    if let Some((_, handled)) = HANDLED
        .iter()
        .find(|(t, _)| t.load(Ordering::SeqCst) == tid)
    {
        handled.fetch_add(1, Ordering::SeqCst);
    }
}

/// Installs the SIGUSR1 handler once, deliberately without SA_RESTART.
fn install_handler() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        // SAFETY: a zeroed sigaction is valid; the handler only does an atomic add,
        // which is async-signal-safe.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            action.sa_flags = 0;
            libc::sigemptyset(&mut action.sa_mask);
            let rc = libc::sigaction(libc::SIGUSR1, &action, std::ptr::null_mut());
            assert_eq!(rc, 0, "sigaction: {}", std::io::Error::last_os_error());
        }
    });
}

/// The thread running the request, and its result once it has one.
struct Worker {
    pthread: libc::pthread_t,
    tid: libc::pid_t,
    /// Its slot in [`HANDLED`].
    slot: &'static (AtomicI32, AtomicUsize),
    result: Receiver<Result<String, tinyhttps::Error>>,
    handle: JoinHandle<()>,
}

fn spawn_worker(
    request: impl FnOnce() -> Result<String, tinyhttps::Error> + Send + 'static,
) -> Worker {
    let (ids_tx, ids_rx) = mpsc::channel();
    let (result_tx, result_rx) = mpsc::channel();
    let handle = thread::spawn(move || {
        // SAFETY: both calls only read the calling thread's identity.
        let ids = unsafe { (libc::pthread_self(), libc::syscall(libc::SYS_gettid)) };
        ids_tx.send(ids).unwrap();
        let _ = result_tx.send(request());
    });
    let (pthread, tid) = ids_rx.recv_timeout(EVENT_LIMIT).unwrap();
    let tid = tid as libc::pid_t;
    let slot = HANDLED
        .iter()
        .find(|(t, _)| {
            t.compare_exchange(0, tid, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
        })
        .expect("a free slot in HANDLED");
    slot.1.store(0, Ordering::SeqCst);
    Worker {
        pthread,
        tid,
        slot,
        result: result_rx,
        handle,
    }
}

/// Whether the thread is asleep in the kernel (state `S` in /proc).
fn asleep(tid: libc::pid_t) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")) else {
        return false;
    };
    // "tid (comm) S ...": the state follows the last ')'.
    stat.rfind(')')
        .and_then(|i| stat[i + 1..].trim_start().chars().next())
        == Some('S')
}

impl Worker {
    /// Signals the worker [`ROUNDS`] times, each time once it is asleep in the kernel
    /// and waiting until the handler has run. Stops early if the request ended (then
    /// the result is left for [`finish`](Self::finish)). Returns the signals handled.
    fn signal_while_waiting(&self) -> usize {
        let mut delivered = 0;
        for _ in 0..ROUNDS {
            let ready = support::wait_until(EVENT_LIMIT, || {
                asleep(self.tid) || self.handle.is_finished()
            });
            if !ready || self.handle.is_finished() {
                break;
            }
            let handled = || self.slot.1.load(Ordering::SeqCst);
            let before = handled();
            // SAFETY: the thread is not joined yet (we hold its handle), so its
            // pthread_t is valid.
            let rc = unsafe { libc::pthread_kill(self.pthread, libc::SIGUSR1) };
            assert_eq!(rc, 0, "pthread_kill");
            assert!(
                support::wait_until(EVENT_LIMIT, || handled() > before),
                "signal handler did not run"
            );
            delivered += 1;
        }
        delivered
    }

    fn finish(self) -> Result<String, tinyhttps::Error> {
        let result = match self.result.recv_timeout(EVENT_LIMIT) {
            Ok(result) => result,
            Err(RecvTimeoutError::Timeout) => panic!("the request did not end"),
            Err(RecvTimeoutError::Disconnected) => panic!("the request thread panicked"),
        };
        self.handle.join().unwrap();
        // Free the slot (a test that failed before this keeps it: there are spares).
        self.slot.0.store(0, Ordering::SeqCst);
        result
    }
}

/// A handler that reports each request on `got` and answers only once `release`
/// says so.
fn delayed_answer(
    got: mpsc::Sender<()>,
    release: Receiver<()>,
) -> impl Fn(&support::Request) -> Reply + Send + Sync + 'static {
    let got = Mutex::new(got);
    let release = Mutex::new(release);
    move |_| {
        let _ = got.lock().unwrap().send(());
        let _ = release.lock().unwrap().recv_timeout(EVENT_LIMIT);
        Reply::ok(b"answered after the signals")
    }
}

#[test]
fn signals_while_waiting_for_a_response_do_not_fail_the_request() {
    install_handler();
    let (got_tx, got_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel();
    let server = Server::http(delayed_answer(got_tx, release_rx));
    let url = server.url("/");
    let worker = spawn_worker(move || Client::new().get(&url).call()?.into_string());
    got_rx
        .recv_timeout(EVENT_LIMIT)
        .expect("server got the request");
    let delivered = worker.signal_while_waiting();
    release_tx.send(()).unwrap();
    let result = worker.finish();
    assert_eq!(result.unwrap(), "answered after the signals");
    assert_eq!(delivered, ROUNDS);
}

#[test]
fn signals_while_waiting_for_a_tls_response_do_not_fail_the_request() {
    install_handler();
    let (got_tx, got_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel();
    let (pki, server) = pki_and_https(delayed_answer(got_tx, release_rx));
    let client = client_trusting(&pki);
    let url = server.url("/");
    let worker = spawn_worker(move || client.get(&url).call()?.into_string());
    got_rx
        .recv_timeout(EVENT_LIMIT)
        .expect("server got the request");
    let delivered = worker.signal_while_waiting();
    release_tx.send(()).unwrap();
    let result = worker.finish();
    assert_eq!(result.unwrap(), "answered after the signals");
    assert_eq!(delivered, ROUNDS);
}

/// Larger than what loopback socket buffers hold on both sides, so the upload's
/// write blocks until the server reads.
const UPLOAD: usize = 16 * 1024 * 1024;

/// Uploads [`UPLOAD`] bytes to a server that reads nothing until the test has
/// signalled the blocked writer several times; the upload must succeed.
fn upload_through_signals(tls: bool) {
    install_handler();
    let pki = Pki::new("tinyhttps test CA");
    let config = TlsOptions::new(pki.server(SERVER_NAMES)).server_config();
    let (accepted_tx, accepted_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let release_rx = Mutex::new(release_rx);
    let (seen_tx, seen_rx) = mpsc::channel();
    let server = RawServer::start(move |_, mut sock| {
        let mut tls_conn = None;
        if tls {
            tls_conn = raw::tls_handshake(&mut sock, &config);
        }
        accepted_tx.send(()).unwrap();
        // Read nothing until the test has signalled the blocked writer.
        let _ = release_rx.lock().unwrap().recv_timeout(EVENT_LIMIT);
        let (body, _) = match &mut tls_conn {
            Some(conn) => {
                let mut stream = rustls::Stream::new(conn, &mut sock);
                let (_, body) = support::read_message(&mut stream).unwrap_or_default();
                (body, raw::respond(&mut stream, b"got it"))
            }
            None => {
                let (_, body) = support::read_message(&mut sock).unwrap_or_default();
                (body, raw::respond(&mut sock, b"got it"))
            }
        };
        seen_tx.send(body).unwrap();
    });
    let scheme = if tls { "https" } else { "http" };
    let url = format!("{scheme}://127.0.0.1:{}/upload", server.port());
    let client = Client::builder().tls(support::trust(&pki)).build().unwrap();
    let worker = spawn_worker(move || {
        let body: Vec<u8> = (0..UPLOAD).map(|i| (i % 251) as u8).collect();
        client.post(&url).send_bytes(&body)?.into_string()
    });
    accepted_rx
        .recv_timeout(EVENT_LIMIT)
        .expect("connection accepted");
    let delivered = worker.signal_while_waiting();
    release_tx.send(()).unwrap();
    let result = worker.finish();
    let body = seen_rx.recv_timeout(EVENT_LIMIT).unwrap();
    assert_eq!(result.unwrap(), "got it");
    assert_eq!(delivered, ROUNDS);
    // The body arrived whole and in order: nothing was sent twice or lost.
    assert_eq!(body.len(), UPLOAD);
    assert!(body.iter().enumerate().all(|(i, b)| *b == (i % 251) as u8));
}

#[test]
fn signals_while_a_write_waits_for_the_server_do_not_fail_the_request() {
    upload_through_signals(false);
}

#[test]
fn signals_while_a_tls_write_waits_for_the_server_do_not_fail_the_request() {
    upload_through_signals(true);
}

/// A guard more than a fix: std's `connect_timeout` polls for completion and
/// retries the poll when a signal interrupts it, so an interrupted connect waits
/// for completion instead of starting over or failing.
#[test]
fn signals_while_a_connect_waits_do_not_fail_the_request() {
    install_handler();
    let hole = Blackhole::bind(SocketAddr::from(([127, 0, 0, 1], 0))).unwrap();
    let url = format!("http://127.0.0.1:{}/", hole.port());
    let worker = spawn_worker(move || Client::new().get(&url).call()?.into_string());
    // Asleep in the kernel: the connect's SYN was dropped, it waits for an answer.
    let delivered = worker.signal_while_waiting();
    // Let the next SYN retransmission through and serve the request.
    let listener = hole.open();
    let (mut sock, _) = listener.accept().unwrap();
    sock.set_read_timeout(Some(raw::READ_LIMIT)).unwrap();
    assert!(support::read_message(&mut sock).is_ok());
    raw::respond(&mut sock, b"connected after the signals").unwrap();
    let result = worker.finish();
    assert_eq!(result.unwrap(), "connected after the signals");
    assert_eq!(delivered, ROUNDS);
}
