//! `loadgen`: runs N requests on one tinyhttps [`Client`] and reports what they cost.
//!
//! ```text
//! loadgen [--cacert FILE] [-n N] [--warmup W] [--mode keepalive|fresh]
//!         [--no-tls-cache] [--tls-cache-size N] [--no-pool] [--no-resumption]
//!         [--cipher chacha|aes128|aes256|default] [--threads T] [--heap] [--json] URL...
//!
//! cargo run --release --example loadgen -- --cacert ca.pem -n 200 https://localhost:8443/1k
//! cargo run --release --example loadgen -- --mode fresh --json https://localhost:8443/1k
//! cargo build --release --target armv7-unknown-linux-gnueabihf --example loadgen
//! qemu-arm -L /usr/arm-linux-gnueabihf \
//!     target/armv7-unknown-linux-gnueabihf/release/examples/loadgen --cacert ca.pem URL
//! ```
//!
//! W warm-up requests (default 1), then N counted ones (default 100), GET, round robin
//! over the URLs (request `i` goes to `URL[i % count]`, warm-up and counted requests
//! each numbered from 0), all on one `Client`. Every body is read to its end with
//! `read` calls into one 16 KiB buffer per thread, allocated once (`ci/ureq-driver`
//! reads ureq's bodies the same way; `io::copy` into `io::sink` would clear an 8 KiB
//! stack buffer on every call, as neither body type implements `read_buf`). With
//! `--threads T` the T threads share the client and take the N counted requests from
//! one shared counter. Everything reported is measured over the N counted requests
//! only, except the peak RSS:
//!
//! - `requests`, `bytes` (body bytes), `wall_ms`;
//! - `cpu_ms_per_request`: the on-CPU time of the threads that ran the counted
//!   requests divided by N. Each such thread reads the first field of
//!   `/proc/thread-self/schedstat` (nanoseconds on CPU, this thread only) before and
//!   after its requests; the deltas are summed (`cpu_source: schedstat`). Where that
//!   file cannot be read, it falls back to the process' `utime + stime` from
//!   `/proc/self/stat` around the counted requests, in clock ticks taken as 100 per
//!   second (`cpu_source: stat`, 10 ms resolution). Under qemu-user the schedstat
//!   file is the host thread's, so the time includes qemu's translation: the proxy
//!   for a slow core (qemu answers `/proc/self/stat` itself with zero times);
//! - `peak_rss_kb`: `VmHWM` of `/proc/self/status` at the end, the whole run (under
//!   qemu-user: the qemu process, translation cache included);
//! - every [`Stats`](tinyhttps::Stats) counter of the client, as the difference
//!   between the snapshots after the warm-up and after the counted requests (signed:
//!   a gauge such as `idle_connections` may go down). The client's `requests` counter
//!   is printed as `client_requests` (redirect hops and retries count there) so as not
//!   to clash with `requests`, the number of requests loadgen made.
//!
//! Options:
//!
//! - `--mode fresh` (or `--no-pool`): a new connection for every request
//!   (`max_idle_per_host(0)`); `keepalive`, the default, pools connections;
//! - `--no-tls-cache`: `tls_cache_size(0)`, a TLS config built for every connection;
//! - `--tls-cache-size N`: `tls_cache_size(N)` (the last of these two options wins);
//! - `--no-resumption`: `session_cache_size(0)`, every handshake full;
//! - `--cipher`: offer only ChaCha20-Poly1305, AES-128-GCM or AES-256-GCM (`default`:
//!   the library's order);
//! - `--cacert FILE`: trust only the roots in FILE (default: webpki-roots);
//! - `--heap`: after the counted requests, measures the heap one idle pooled
//!   connection holds, as `tests/memory.rs` does: two more requests to the first URL
//!   (one idle connection, config and session store warm), live heap bytes; then a
//!   request held open while a second one is made (so a second connection opens), both
//!   bodies read, both connections idle in the pool; `heap_per_idle_conn` is the live
//!   bytes then minus before. `heap_live_bytes` is what was allocated and not freed
//!   from the start of the run (client, pool, buffers) to the end. A counting global
//!   allocator measures it, switched on only by `--heap` (one relaxed atomic load per
//!   allocation otherwise). Needs `--mode keepalive`;
//! - `--json`: one JSON object on one line instead of the table.
//!
//! For instruction counts on armv7, run twice under qemu-user with the insncount
//! plugin and take (I(N2) - I(N1)) / (N2 - N1): no marks needed.
//!
//! Exit status: 0 when every request succeeded with a 2xx status and its body was
//! read to the end; 1 at the first failure (one `error: ...` line on stderr; a
//! non-2xx status counts as a failure); 2 for bad arguments.

// `unsafe impl GlobalAlloc` for `--heap`: it only forwards to `System` and counts.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::error::Error as StdError;
use std::fmt::Write as _;
use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicIsize, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use tinyhttps::{Cipher, Client, Response, Stats, TlsSettings};

const USAGE: &str = "\
usage: loadgen [options] URL...

options:
  --cacert FILE       trust only the root certificates in this PEM file
                      (default: the Mozilla roots compiled in)
  -n N                counted requests (default 100)
  --warmup W          requests made before counting starts (default 1)
  --mode MODE         keepalive (default): pool connections;
                      fresh: a new connection for every request
  --no-pool           same as --mode fresh
  --no-tls-cache      build a TLS config for every connection (tls_cache_size 0)
  --tls-cache-size N  TLS configs cached, one per netloc (tls_cache_size N)
  --no-resumption     no TLS session resumption (session_cache_size 0)
  --cipher C          chacha, aes128, aes256 or default (the library's order)
  --threads T         threads sharing the client (default 1)
  --heap              then measure the heap held per idle pooled connection
                      (heap_per_idle_conn; needs --mode keepalive)
  --json              print one JSON line instead of a table
  -h, --help          print this help

Requests go round robin over the URLs; each body is read to its end.
exit status: 0 all requests succeeded (2xx), 1 a request failed, 2 bad arguments
";

/// Clock ticks per second of `/proc/self/stat` (`getconf CLK_TCK`, 100 on Linux).
const CLOCK_TICKS_PER_SEC: u64 = 100;
/// Most threads accepted by `--threads`.
const MAX_THREADS: u64 = 1024;
/// Bytes of the buffer each thread reads bodies into.
const BODY_BUFFER: usize = 16 * 1024;

/// The global allocator: `System`, counting live bytes while `--heap` has switched
/// counting on.
struct CountingAllocator;

static COUNTING: AtomicBool = AtomicBool::new(false);
static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);

fn count(delta: isize) {
    if COUNTING.load(Ordering::Relaxed) {
        LIVE_BYTES.fetch_add(delta, Ordering::Relaxed);
    }
}

/// Bytes allocated and not freed since counting was switched on.
fn live_bytes() -> isize {
    LIVE_BYTES.load(Ordering::SeqCst)
}

// SAFETY: every method forwards to the system allocator unchanged and only counts.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if !p.is_null() {
            count(layout.size() as isize);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc_zeroed(layout);
        if !p.is_null() {
            count(layout.size() as isize);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        count(-(layout.size() as isize));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = System.realloc(ptr, layout, new_size);
        if !p.is_null() {
            count(new_size as isize - layout.size() as isize);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    KeepAlive,
    Fresh,
}

#[derive(Debug)]
struct Args {
    cacert: Option<PathBuf>,
    requests: u64,
    warmup: u64,
    mode: Mode,
    /// `tls_cache_size`; None: the library's default.
    tls_cache_size: Option<usize>,
    resumption: bool,
    cipher: Option<Cipher>,
    threads: u64,
    heap: bool,
    json: bool,
    urls: Vec<String>,
}

enum Command {
    Help,
    Run(Args),
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(Command::Run(args)) => args,
        Ok(Command::Help) => {
            let _ = io::stdout().write_all(USAGE.as_bytes());
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            let _ = write!(io::stderr(), "error: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(report) => {
            let text = if args.json {
                report.json()
            } else {
                report.table(&args)
            };
            let mut out = io::stdout().lock();
            match writeln!(out, "{text}").and_then(|()| out.flush()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
                Err(e) => {
                    let _ = writeln!(io::stderr(), "error: writing output: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Err(message) => {
            let _ = writeln!(io::stderr(), "error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn parse_args(mut argv: impl Iterator<Item = String>) -> Result<Command, String> {
    let mut args = Args {
        cacert: None,
        requests: 100,
        warmup: 1,
        mode: Mode::KeepAlive,
        tls_cache_size: None,
        resumption: true,
        cipher: None,
        threads: 1,
        heap: false,
        json: false,
        urls: Vec::new(),
    };
    let mut options_ended = false;
    while let Some(arg) = argv.next() {
        if options_ended || !arg.starts_with('-') || arg == "-" {
            args.urls.push(arg);
            continue;
        }
        if arg == "--" {
            options_ended = true;
            continue;
        }
        // `--name=value` or `--name value`; `-n50` or `-n 50`.
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) if arg.starts_with("--") => (name, Some(value.to_string())),
            _ if !arg.starts_with("--") && arg.len() > 2 && arg.is_char_boundary(2) => {
                (&arg[..2], Some(arg[2..].to_string()))
            }
            _ => (arg.as_str(), None),
        };
        let mut value = || match &inline {
            Some(v) => Ok(v.clone()),
            None => argv
                .next()
                .ok_or_else(|| format!("option {name} needs a value")),
        };
        let flag = || match &inline {
            Some(_) => Err(format!("option {name} takes no value (in {arg:?})")),
            None => Ok(()),
        };
        match name {
            "-h" | "--help" => return Ok(Command::Help),
            "--cacert" => args.cacert = Some(PathBuf::from(value()?)),
            "-n" => args.requests = parse_count(name, &value()?, 1, u64::MAX)?,
            "--warmup" => args.warmup = parse_count(name, &value()?, 0, u64::MAX)?,
            "--threads" => args.threads = parse_count(name, &value()?, 1, MAX_THREADS)?,
            "--mode" => {
                args.mode = match value()?.as_str() {
                    "keepalive" => Mode::KeepAlive,
                    "fresh" => Mode::Fresh,
                    other => return Err(format!("--mode: {other:?} is not keepalive or fresh")),
                }
            }
            "--no-pool" => {
                flag()?;
                args.mode = Mode::Fresh;
            }
            "--no-tls-cache" => {
                flag()?;
                args.tls_cache_size = Some(0);
            }
            "--tls-cache-size" => {
                let n = parse_count(name, &value()?, 0, usize::MAX as u64)?;
                args.tls_cache_size = Some(n as usize);
            }
            "--no-resumption" => {
                flag()?;
                args.resumption = false;
            }
            "--cipher" => {
                args.cipher = match value()?.as_str() {
                    "chacha" => Some(Cipher::ChaCha20Poly1305),
                    "aes128" => Some(Cipher::Aes128Gcm),
                    "aes256" => Some(Cipher::Aes256Gcm),
                    "default" => None,
                    other => {
                        return Err(format!(
                            "--cipher: {other:?} is not chacha, aes128, aes256 or default"
                        ))
                    }
                }
            }
            "--heap" => {
                flag()?;
                args.heap = true;
            }
            "--json" => {
                flag()?;
                args.json = true;
            }
            _ => return Err(format!("unknown option {arg:?}")),
        }
    }
    if args.urls.is_empty() {
        return Err("no URL given".into());
    }
    if args.heap && args.mode == Mode::Fresh {
        return Err("--heap measures pooled connections: it needs --mode keepalive".into());
    }
    Ok(Command::Run(args))
}

fn parse_count(option: &str, text: &str, min: u64, max: u64) -> Result<u64, String> {
    match text.trim().parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ if max == u64::MAX => Err(format!(
            "{option}: {text:?} is not a whole number of {min} or more"
        )),
        _ => Err(format!(
            "{option}: {text:?} is not a whole number from {min} to {max}"
        )),
    }
}

fn build_client(args: &Args) -> Result<Client, tinyhttps::Error> {
    let mut tls = TlsSettings::new();
    if let Some(path) = &args.cacert {
        // The first root source replaces the default webpki-roots.
        tls = tls.root_pem_file(path);
    }
    if !args.resumption {
        tls = tls.session_cache_size(0);
    }
    if let Some(cipher) = args.cipher {
        tls = tls.cipher_preference(&[cipher]);
    }
    let mut builder = Client::builder().tls(tls);
    if args.mode == Mode::Fresh {
        builder = builder.max_idle_per_host(0);
    }
    if let Some(n) = args.tls_cache_size {
        builder = builder.tls_cache_size(n);
    }
    builder.build()
}

/// What the counted requests cost.
struct Report {
    requests: u64,
    bytes: u64,
    wall_ms: f64,
    cpu_ms: f64,
    cpu_source: &'static str,
    peak_rss_kb: Option<u64>,
    /// Counter name (as printed) and its change over the counted requests.
    counters: Vec<(String, i128)>,
    /// `--heap`: bytes one more idle pooled connection holds, and the live bytes at
    /// the end.
    heap: Option<(isize, isize)>,
}

fn run(args: &Args) -> Result<Report, String> {
    if args.heap {
        COUNTING.store(true, Ordering::SeqCst);
    }
    let client = build_client(args).map_err(|e| error_line(&e))?;
    let mut buffer = vec![0; BODY_BUFFER];
    for i in 0..args.warmup {
        let url = &args.urls[(i % args.urls.len() as u64) as usize];
        one_request(&client, url, &mut buffer)?;
    }

    let before = client.stats();
    let stat_before = process_cpu_ticks();
    let next = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    let first_error: Mutex<Option<String>> = Mutex::new(None);
    let threads = args.threads.min(args.requests);
    let start = Instant::now();
    let outcomes: Vec<Result<Outcome, String>> = std::thread::scope(|scope| {
        let mut handles = Vec::new();
        let mut spawn_error = None;
        for t in 0..threads {
            let work = Work {
                client: &client,
                urls: &args.urls,
                total: args.requests,
                next: &next,
                stop: &stop,
                first_error: &first_error,
            };
            let spawned = std::thread::Builder::new()
                .name(format!("loadgen-{t}"))
                .spawn_scoped(scope, move || work.run());
            match spawned {
                Ok(handle) => handles.push(handle),
                Err(e) => {
                    stop.store(true, Ordering::SeqCst);
                    spawn_error = Some(format!("cannot start thread {t}: {e}"));
                    break;
                }
            }
        }
        let mut outcomes: Vec<_> = handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("a request thread panicked".to_string()))
            })
            .collect();
        if let Some(e) = spawn_error {
            outcomes.push(Err(e));
        }
        outcomes
    });
    let wall = start.elapsed();
    let stat_after = process_cpu_ticks();
    let after = client.stats();

    if let Some(e) = first_error.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    let mut bytes = 0;
    let mut cpu_ns = Some(0u64);
    for outcome in outcomes {
        let outcome = outcome?;
        bytes += outcome.bytes;
        cpu_ns = cpu_ns.zip(outcome.cpu_ns).map(|(a, b)| a + b);
    }
    let done = next.load(Ordering::SeqCst).min(args.requests);
    if done != args.requests {
        return Err(format!("only {done} of {} requests ran", args.requests));
    }
    let (cpu_ms, cpu_source) = match (cpu_ns, stat_before, stat_after) {
        (Some(ns), _, _) => (ns as f64 / 1e6, "schedstat"),
        (None, Some(a), Some(b)) => (
            b.saturating_sub(a) as f64 * 1000.0 / CLOCK_TICKS_PER_SEC as f64,
            "stat",
        ),
        _ => (0.0, "none"),
    };
    let heap = if args.heap {
        let per_connection = heap_per_idle_connection(&client, &args.urls[0], &mut buffer)?;
        Some((per_connection, live_bytes()))
    } else {
        None
    };
    Ok(Report {
        requests: args.requests,
        bytes,
        wall_ms: wall.as_secs_f64() * 1000.0,
        cpu_ms,
        cpu_source,
        peak_rss_kb: peak_rss_kb(),
        counters: counter_deltas(&before, &after),
        heap,
    })
}

/// The live heap bytes one more idle pooled connection to `url` adds (see `--heap`).
fn heap_per_idle_connection(
    client: &Client,
    url: &str,
    buffer: &mut [u8],
) -> Result<isize, String> {
    // One idle connection, TLS config and session store warm.
    one_request(client, url, buffer)?;
    one_request(client, url, buffer)?;
    let idle_before = client.stats().idle_connections;
    let one_idle = live_bytes();
    // A second connection, opened while the first is busy; then both go idle.
    let busy = start_request(client, url)?;
    let second = start_request(client, url)?;
    finish_request(url, second, buffer)?;
    finish_request(url, busy, buffer)?;
    let two_idle = live_bytes();
    let idle_after = client.stats().idle_connections;
    if idle_after != idle_before + 1 {
        return Err(format!(
            "--heap: {idle_after} idle connections after opening a second one, \
             expected {}",
            idle_before + 1
        ));
    }
    Ok(two_idle - one_idle)
}

/// One request thread's share of the shared state.
struct Work<'a> {
    client: &'a Client,
    urls: &'a [String],
    total: u64,
    next: &'a AtomicU64,
    stop: &'a AtomicBool,
    first_error: &'a Mutex<Option<String>>,
}

/// What one request thread did.
struct Outcome {
    bytes: u64,
    /// Nanoseconds this thread was on CPU for its requests (None: not measurable).
    cpu_ns: Option<u64>,
}

impl Work<'_> {
    /// Takes request numbers from the shared counter until N are taken or one failed.
    fn run(self) -> Result<Outcome, String> {
        let mut buffer = vec![0; BODY_BUFFER];
        let cpu_start = thread_cpu_ns();
        let mut bytes = 0;
        while !self.stop.load(Ordering::Relaxed) {
            let i = self.next.fetch_add(1, Ordering::Relaxed);
            if i >= self.total {
                break;
            }
            let url = &self.urls[(i % self.urls.len() as u64) as usize];
            match one_request(self.client, url, &mut buffer) {
                Ok(n) => bytes += n,
                Err(e) => {
                    self.stop.store(true, Ordering::SeqCst);
                    let mut first = self.first_error.lock().unwrap_or_else(|p| p.into_inner());
                    first.get_or_insert(e);
                    break;
                }
            }
        }
        let cpu_end = thread_cpu_ns();
        Ok(Outcome {
            bytes,
            cpu_ns: cpu_start
                .zip(cpu_end)
                .map(|(start, end)| end.saturating_sub(start)),
        })
    }
}

/// A GET whose body is read to its end through `buffer`; the number of body bytes.
fn one_request(client: &Client, url: &str, buffer: &mut [u8]) -> Result<u64, String> {
    let response = start_request(client, url)?;
    finish_request(url, response, buffer)
}

/// A GET, up to its response head.
fn start_request(client: &Client, url: &str) -> Result<Response, String> {
    client
        .get(url)
        .call()
        .map_err(|e| format!("GET {url}: {}", error_line(&e)))
}

/// Reads the body to its end through `buffer`, then checks the status; the number
/// of body bytes.
fn finish_request(url: &str, response: Response, buffer: &mut [u8]) -> Result<u64, String> {
    let status = response.status();
    let mut body = response.into_reader();
    let n = read_to_end(&mut body, buffer)
        .map_err(|e| format!("GET {url}: reading the body: {}", error_line(&e)))?;
    if !status.is_success() {
        return Err(format!("GET {url}: HTTP status {status}"));
    }
    Ok(n)
}

/// Reads `body` to its end into `buffer`, over and over; the number of bytes.
fn read_to_end(body: &mut impl Read, buffer: &mut [u8]) -> io::Result<u64> {
    let mut total = 0;
    loop {
        match body.read(buffer) {
            Ok(0) => return Ok(total),
            Ok(n) => total += n as u64,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// The error's message followed by `: source` for each level of its source chain
/// whose text the line does not already contain.
fn error_line(error: &dyn StdError) -> String {
    let mut line = error.to_string();
    let mut next = error.source();
    while let Some(source) = next {
        let text = source.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        next = source.source();
    }
    line
}

/// Nanoseconds the calling thread has been on CPU: the first field of
/// `/proc/thread-self/schedstat`.
fn thread_cpu_ns() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

/// The process' user + system CPU time in clock ticks: fields 14 and 15 of
/// `/proc/self/stat`, counted after the `)` that ends the command name.
fn process_cpu_ticks() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/stat").ok()?;
    let (_, rest) = text.rsplit_once(')')?;
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// `VmHWM` of `/proc/self/status`, in KiB.
fn peak_rss_kb() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = text.lines().find(|l| l.starts_with("VmHWM:"))?;
    line["VmHWM:".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Field-by-field `after - before`; names that clash with the report's own keys get
/// a `client_` prefix.
fn counter_deltas(before: &Stats, after: &Stats) -> Vec<(String, i128)> {
    const OWN_KEYS: [&str; 6] = [
        "requests",
        "bytes",
        "wall_ms",
        "cpu_ms_per_request",
        "peak_rss_kb",
        "cpu_source",
    ];
    before
        .fields()
        .iter()
        .zip(after.fields().iter())
        .map(|((name, b), (_, a))| {
            let key = if OWN_KEYS.contains(name) {
                format!("client_{name}")
            } else {
                name.to_string()
            };
            (key, i128::from(*a) - i128::from(*b))
        })
        .collect()
}

impl Report {
    fn cpu_ms_per_request(&self) -> f64 {
        self.cpu_ms / self.requests as f64
    }

    fn json(&self) -> String {
        let mut s = format!(
            "{{\"requests\":{},\"bytes\":{},\"wall_ms\":{:.3},\"cpu_ms_per_request\":{:.4},\
             \"peak_rss_kb\":{},\"cpu_source\":\"{}\"",
            self.requests,
            self.bytes,
            self.wall_ms,
            self.cpu_ms_per_request(),
            self.peak_rss_kb
                .map_or("null".to_string(), |k| k.to_string()),
            self.cpu_source,
        );
        for (name, value) in &self.counters {
            let _ = write!(s, ",\"{name}\":{value}");
        }
        if let Some((per_connection, live)) = self.heap {
            let _ = write!(
                s,
                ",\"heap_per_idle_conn\":{per_connection},\"heap_live_bytes\":{live}"
            );
        }
        s.push('}');
        s
    }

    fn table(&self, args: &Args) -> String {
        let mode = match args.mode {
            Mode::KeepAlive => "keepalive",
            Mode::Fresh => "fresh",
        };
        let mut s = format!(
            "loadgen: {} requests after {} warm-up, {} URL(s), mode {mode}, {} thread(s){}{}\n",
            self.requests,
            args.warmup,
            args.urls.len(),
            args.threads.min(args.requests),
            match args.tls_cache_size {
                None => String::new(),
                Some(0) => ", no TLS cache".to_string(),
                Some(n) => format!(", TLS cache {n}"),
            },
            if args.resumption {
                ""
            } else {
                ", no resumption"
            },
        );
        let rss = self
            .peak_rss_kb
            .map_or("unknown".to_string(), |k| k.to_string());
        let _ = writeln!(s, "{:<24}{}", "requests", self.requests);
        let _ = writeln!(s, "{:<24}{}", "bytes", self.bytes);
        let _ = writeln!(s, "{:<24}{:.3}", "wall_ms", self.wall_ms);
        let _ = writeln!(
            s,
            "{:<24}{:.4}  ({})",
            "cpu_ms_per_request",
            self.cpu_ms_per_request(),
            self.cpu_source
        );
        let _ = writeln!(s, "{:<24}{rss}", "peak_rss_kb");
        if let Some((per_connection, live)) = self.heap {
            let _ = writeln!(s, "{:<24}{per_connection}", "heap_per_idle_conn");
            let _ = writeln!(s, "{:<24}{live}", "heap_live_bytes");
        }
        s.push_str("client counters, change over the counted requests:");
        for (name, value) in &self.counters {
            let _ = write!(s, "\n  {name:<22}{value}");
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Command, String> {
        parse_args(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn options_parse_and_bad_input_is_an_error() {
        let Ok(Command::Run(a)) = parse(&["-n50", "--mode=fresh", "--cipher", "chacha", "u"])
        else {
            panic!("should parse");
        };
        assert_eq!((a.requests, a.mode, a.urls.len()), (50, Mode::Fresh, 1));
        assert_eq!(a.cipher, Some(Cipher::ChaCha20Poly1305));
        assert_eq!((a.tls_cache_size, a.heap), (None, false));
        let Ok(Command::Run(a)) = parse(&["--no-tls-cache", "--tls-cache-size=16", "--heap", "u"])
        else {
            panic!("should parse");
        };
        assert_eq!((a.tls_cache_size, a.heap), (Some(16), true));
        let Ok(Command::Run(a)) = parse(&["--tls-cache-size", "16", "--no-tls-cache", "u"]) else {
            panic!("should parse");
        };
        assert_eq!(a.tls_cache_size, Some(0));
        for bad in [
            &["-n", "0", "u"][..],
            &["-n"],
            &["--mode", "x", "u"],
            &["--json=1", "u"],
            &["--threads", "-1", "u"],
            &[],
            &["-é", "u"],
            &["--tls-cache-size", "-1", "u"],
            &["--heap=1", "u"],
            &["--heap", "--mode", "fresh", "u"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }
}
