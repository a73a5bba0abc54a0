//! Heap held by an idle pooled TLS connection, by many netlocs and by a download,
//! measured with a counting allocator.
//!
//! Each test counts what its own thread allocates minus what it frees (a
//! [`Meter`]); the client does all its work on the test thread, the test server on
//! its own threads, so that count is the client's heap.

use crate::support;

use support::alloc::Meter;
use support::{pki_and_https, Pki, Reply, Server, TlsOptions};
use tinyhttps::{Client, TlsSettings};

/// The budget of one idle pooled TLS connection (rustls' buffers plus ours).
const IDLE_CONNECTION_BUDGET: isize = 64 * 1024;

#[test]
fn idle_pooled_tls_connection_after_a_20k_response_stays_within_budget() {
    let meter = Meter::new();
    let _counting = meter.count_this_thread();
    let body = vec![b'x'; 20 * 1024];
    let (pki, server) = pki_and_https(move |_| Reply::ok(&body));
    let client = Client::builder()
        .tls(TlsSettings::new().root_pem(pki.ca_pem.as_bytes()))
        .build()
        .unwrap();
    let url = server.url("/20k");
    let fetch = |client: &Client| client.get(&url).call().unwrap().into_vec().unwrap().len();
    // One idle connection, config and session store warm.
    assert_eq!(fetch(&client), 20 * 1024);
    assert_eq!(fetch(&client), 20 * 1024);
    let one_idle = meter.live();
    // A second connection, opened while the first is busy; then both go idle.
    let busy = client.get(&url).call().unwrap();
    let second = client.get(&url).call().unwrap();
    assert_eq!(second.into_vec().unwrap().len(), 20 * 1024);
    assert_eq!(busy.into_vec().unwrap().len(), 20 * 1024);
    assert_eq!(client.stats().idle_connections, 2);
    let per_connection = meter.live() - one_idle;
    println!("heap held by one idle pooled TLS connection after a 20 KiB response: {per_connection} bytes");
    assert!(
        per_connection > 1024,
        "the measurement must see the connection at all: {per_connection}"
    );
    assert!(
        per_connection <= IDLE_CONNECTION_BUDGET,
        "{per_connection} bytes > {IDLE_CONNECTION_BUDGET}"
    );
}

/// Distinct netlocs reached over TLS in the bounded-memory test: every one costs a full
/// handshake (~14 M instructions on armv7), so fewer under qemu, where it is slow.
const TLS_NETLOCS: usize = if cfg!(target_arch = "arm") { 150 } else { 1000 };

/// Distinct netlocs reached over plain http.
const PLAIN_NETLOCS: usize = 1000;

/// Allowed heap growth per netloc (or port) measured, on every target: a leak of
/// anything per netloc (a host name, a config, a session store) exceeds it. The
/// bound scales with the netlocs measured, so fewer TLS netlocs under qemu (slow
/// handshakes) do not let a larger leak pass; the old bound (48 KiB whatever the
/// count) let 655 bytes a netloc leak over the 75 measured on armv7. It is not zero
/// because the bounded caches hold a byte more per copy of a longer name (128 bytes
/// seen over TLS netlocs 75..150: `h99` -> `h100`).
///
/// Two things that are not leaks are kept out of the measurement. Idle TLS
/// connections (see [`settle_pool`]): the size of their rustls receive buffer
/// depends on how the last records arrived. And a hash table that doubles once, when
/// the tombstones of its evictions fill it (rustls' session store: ~9 KiB seen
/// between TLS netlocs 75 and 150 on armv7, gone with resumption off; when depends
/// on the process's random hash seed):
/// the second half of a run is measured in two windows, a leak grows both, a
/// one-time step only one, so the smaller growth must stay within the bound.
const MAX_GROWTH_PER_NETLOC: isize = 8;

/// One more step a bounded table may take inside the smaller window as well: 680 bytes
/// seen once over 37 TLS netlocs on armv7 (a clean-clone CI run), with the other
/// window holding the ~9 KiB doubling. A leak still shows: 64 bytes a netloc is
/// 2,368 bytes over armv7's 37 and 8,000 over the host's 250.
const ONE_STEP: isize = 1024;

/// The heap growth allowed over `netlocs` measured netlocs.
fn flat_bound(netlocs: usize) -> isize {
    MAX_GROWTH_PER_NETLOC * netlocs as isize + ONE_STEP
}

/// What the heap did over the two windows of the second half of a run.
struct Growth {
    windows: [isize; 2],
    /// Netlocs per window.
    netlocs: usize,
}

impl Growth {
    fn assert_flat(&self, what: &str) {
        println!(
            "heap growth over two windows of {} {what}: {:?} bytes",
            self.netlocs, self.windows
        );
        let least = self.windows[0].min(self.windows[1]);
        assert!(
            least <= flat_bound(self.netlocs),
            "{what}: {:?} bytes over two windows of {}",
            self.windows,
            self.netlocs
        );
    }
}

/// Runs `step` for `0..count` on this thread, counted by a new [`Meter`]: the first
/// half fills every cache and pool to its bound (collections grow in steps while they
/// fill), the second half is measured in two windows of a quarter each, each between
/// two `settle` calls.
fn heap_growth(count: usize, step: impl Fn(usize), settle: impl Fn()) -> Growth {
    let meter = Meter::new();
    let _counting = meter.count_this_thread();
    let netlocs = count / 4;
    let warm_up = count - 2 * netlocs;
    for i in 0..warm_up {
        step(i);
    }
    let mut windows = [0; 2];
    let mut from = warm_up;
    settle();
    for growth in &mut windows {
        let start = meter.live();
        for i in from..from + netlocs {
            step(i);
        }
        settle();
        *growth = meter.live() - start;
        from += netlocs;
    }
    Growth { windows, netlocs }
}

/// Fills the whole pool with plain connections to `DEFAULT_MAX_IDLE` netlocs of
/// `server` (resolved by `plain_netloc`), evicting every idle TLS connection: the
/// same pool, byte for byte, at every measurement.
fn settle_pool(client: &Client, server: &Server) {
    for j in 0..tinyhttps::DEFAULT_MAX_IDLE {
        let url = server.url_with_host(&plain_netloc(j), "/");
        assert_eq!(client.get(&url).call().unwrap().into_vec().unwrap(), b"x");
    }
    assert_eq!(
        client.stats().idle_connections,
        tinyhttps::DEFAULT_MAX_IDLE as u64
    );
}

/// The host names [`settle_pool`] uses.
fn plain_netloc(j: usize) -> String {
    format!("p{j}.test")
}

#[test]
fn heap_stays_flat_over_many_distinct_plain_netlocs() {
    let server = Server::http(|_| Reply::ok(b"x"));
    let port = server.port();
    let mut builder = Client::builder();
    for i in 0..PLAIN_NETLOCS {
        builder = builder.resolve(&format!("h{i}.test"), port, "127.0.0.1".parse().unwrap());
    }
    let client = builder.build().unwrap();
    let fetch = |i| {
        let url = format!("http://h{i}.test:{port}/");
        assert_eq!(client.get(&url).call().unwrap().into_vec().unwrap(), b"x");
    };
    // Idle plain connections hold the same bytes whatever the timing.
    heap_growth(PLAIN_NETLOCS, fetch, || {}).assert_flat("plain netlocs");
    let s = client.stats();
    assert_eq!(s.connections_opened, PLAIN_NETLOCS as u64);
    assert_eq!(s.idle_connections, tinyhttps::DEFAULT_MAX_IDLE as u64);
}

#[test]
fn heap_stays_flat_over_many_distinct_tls_netlocs() {
    let pki = Pki::new("tinyhttps test CA");
    let server = Server::https(TlsOptions::new(pki.server(&["*.dev.test"])), |_| {
        Reply::ok(b"x")
    });
    let port = server.port();
    let plain = Server::http(|_| Reply::ok(b"x"));
    let mut builder = Client::builder().tls(TlsSettings::new().root_pem(pki.ca_pem.as_bytes()));
    for j in 0..tinyhttps::DEFAULT_MAX_IDLE {
        builder = builder.resolve(&plain_netloc(j), plain.port(), "127.0.0.1".parse().unwrap());
    }
    for i in 0..TLS_NETLOCS {
        builder = builder.resolve(
            &format!("h{i}.dev.test"),
            port,
            "127.0.0.1".parse().unwrap(),
        );
    }
    let client = builder.build().unwrap();
    let fetch = |i| {
        let url = format!("https://h{i}.dev.test:{port}/");
        assert_eq!(client.get(&url).call().unwrap().into_vec().unwrap(), b"x");
    };
    heap_growth(TLS_NETLOCS, fetch, || settle_pool(&client, &plain)).assert_flat("TLS netlocs");
    let s = client.stats();
    assert_eq!(s.tls_config_builds, TLS_NETLOCS as u64);
    assert_eq!(
        s.tls_config_evictions,
        (TLS_NETLOCS - tinyhttps::DEFAULT_TLS_CACHE_SIZE) as u64
    );
    assert_eq!(s.root_store_parses, 1);
}

/// Distinct ports of one host a server could send the client to (by redirects).
const PORTS: u16 = 1000;

/// A resolver that knows no name: requests fail before any socket is opened, after
/// the TLS config (and the session store of its port) has been made.
struct NoNames;

impl tinyhttps::Resolve for NoNames {
    fn resolve(&self, _host: &str, _port: u16) -> std::io::Result<Vec<std::net::SocketAddr>> {
        Err(std::io::ErrorKind::NotFound.into())
    }
}

#[test]
fn heap_stays_flat_over_many_ports_of_one_host() {
    let client = Client::builder().resolver(NoNames).build().unwrap();
    let try_port = |i: usize| {
        let url = format!("https://h.test:{}/", i + 1);
        let err = client.get(&url).call().unwrap_err();
        assert!(matches!(err, tinyhttps::Error::Resolve { .. }), "{err}");
    };
    heap_growth(usize::from(PORTS), try_port, || {}).assert_flat("ports of one host");
    // Every port got its config built, so its session store was made.
    assert_eq!(client.stats().tls_config_builds, u64::from(PORTS));
}

/// Size of the download whose heap is measured: anything kept per byte or per
/// buffer would show (20 MiB), and it is quick enough under qemu.
const DOWNLOAD_LEN: usize = 20 * 1024 * 1024;

/// Most heap a download may hold at its peak above what the client held before,
/// whatever the file's size: the 16 KiB buffer, a new TLS connection with its
/// handshake (certificate parsing), the response head, paths and the sidecar.
/// Measured (x86_64): a 74.7 KB peak, the same for 20 and for 100 MiB.
const DOWNLOAD_HEAP_BUDGET: isize = 128 * 1024;

#[test]
fn download_holds_fixed_heap_whatever_the_file_size() {
    let meter = Meter::new();
    let _counting = meter.count_this_thread();
    let body: std::sync::Arc<Vec<u8>> = (0..DOWNLOAD_LEN)
        .map(|i| (i % 251) as u8)
        .collect::<Vec<_>>()
        .into();
    let served = body.clone();
    let (pki, server) = pki_and_https(move |req| {
        // Cut once half-way (a resume, hashing the part first), then the rest.
        let from = req
            .header("range")
            .and_then(|r| r.strip_prefix("bytes="))
            .and_then(|r| r.strip_suffix('-'))
            .and_then(|n| n.parse::<usize>().ok());
        let len = served.len();
        match from {
            None => {
                let mut out =
                    format!("HTTP/1.1 200 OK\r\nETag: \"1\"\r\nContent-Length: {len}\r\n\r\n")
                        .into_bytes();
                out.extend_from_slice(&served[..len / 2]);
                Reply::steps(vec![support::Step::Send(out), support::Step::Close], false)
            }
            Some(n) => {
                let mut out = format!(
                    "HTTP/1.1 206 Partial Content\r\nETag: \"1\"\r\n\
                     Content-Range: bytes {n}-{}/{len}\r\nContent-Length: {}\r\n\r\n",
                    len - 1,
                    len - n
                )
                .into_bytes();
                out.extend_from_slice(&served[n..]);
                Reply::raw(&out)
            }
        }
    });
    let client = Client::builder()
        .tls(TlsSettings::new().root_pem(pki.ca_pem.as_bytes()))
        .build()
        .unwrap();
    let digest = ring::digest::digest(&ring::digest::SHA256, &body);
    let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    let dir = support::temp_dir("memory-download");
    let dest = dir.join("fw.bin");
    // Warm: the trust store parsed and a connection pooled, as on a device that
    // made requests before.
    client.warm_up(&server.url("/")).unwrap();
    let before = meter.live();
    meter.reset_peak();
    let report = client
        .download(&server.url("/fw.bin"))
        .to_file(&dest)
        .sha256(&hex)
        .retry_pause(std::time::Duration::ZERO)
        .run()
        .unwrap();
    let held = meter.peak() - before;
    let after = meter.live() - before;
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(report.bytes, DOWNLOAD_LEN as u64);
    assert_eq!(report.resumes, 1);
    println!(
        "heap during a {} MiB download (one resume, SHA-256): peak {held} bytes above \
         the client's; {after} bytes still held after it",
        DOWNLOAD_LEN >> 20
    );
    assert!(
        held <= DOWNLOAD_HEAP_BUDGET,
        "{held} bytes > {DOWNLOAD_HEAP_BUDGET}"
    );
}
