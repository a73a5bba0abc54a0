//! `ureq-loadgen`: the same load as tinyhttps' `examples/loadgen.rs`, made with ureq 3,
//! so that the two clients can be compared side by side (instructions per request
//! under qemu-user, CPU time, peak RSS).
//!
//! ```text
//! ureq-loadgen [--cacert FILE] [-n N] [--warmup W] [--mode keepalive|fresh] [--heap]
//!              [--json] URL...
//!
//! cargo build --release --target armv7-unknown-linux-gnueabihf   # in ci/ureq-driver
//! qemu-arm -L /usr/arm-linux-gnueabihf \
//!     target/armv7-unknown-linux-gnueabihf/release/ureq-loadgen --cacert ca.pem URL
//! ```
//!
//! The choices made, so that the comparison is fair:
//!
//! - ureq 3 with `default-features = false, features = ["rustls"]`: rustls with the
//!   ring provider and the webpki-roots root set (tinyhttps has the same three); no
//!   gzip, brotli, charset, cookies, json, multipart, native-tls, platform verifier,
//!   SOCKS.
//! - One `Agent` for the whole run, built from `Agent::config_builder()` with ureq's
//!   defaults left as they are (128 KiB input and output buffers, no timeouts but
//!   the 1 s `await_100`, 10 redirects, `http_status_as_error`, pool of 10 idle
//!   connections, 3 per host, 15 s idle age, proxy from the environment), except:
//!   - `--cacert FILE`: `TlsConfig::builder().root_certs(RootCerts::new_with_certs(..))`
//!     with every certificate of the PEM file, so only those roots are trusted
//!     (without it: ureq's default, webpki-roots);
//!   - `--mode fresh`: `max_idle_connections(0)` and `max_idle_connections_per_host(0)`:
//!     a connection handed back to the pool after its body was read is purged at once
//!     (`Pool::purge` drops every connection beyond the limits) and so closed, and
//!     every request opens a new TCP connection and does a new TLS handshake. The
//!     agent's rustls `ClientConfig` is built once and cached by ureq, so rustls'
//!     in-memory session cache is kept and handshakes after the first may resume, as
//!     tinyhttps' `max_idle_per_host(0)` does with its defaults.
//! - Each body is read to its end through `Body::into_reader()` (no size limit) with
//!   `read` calls into one 16 KiB buffer allocated once, exactly as loadgen reads
//!   tinyhttps' bodies (`io::copy` into `io::sink` would clear an 8 KiB stack buffer
//!   on every call, as neither body type implements `read_buf`).
//! - `--heap`, as loadgen's: after the counted requests, two more requests to the
//!   first URL (one idle pooled connection), live heap bytes; then a request held open
//!   while a second one is made (a second connection), both bodies read so both go
//!   back to the pool (3 per host by default); `heap_per_idle_conn` is the live bytes
//!   then minus before, `heap_live_bytes` what was allocated and not freed from the
//!   start of the run to the end. A counting global allocator measures it, switched on
//!   only by `--heap` (one relaxed atomic load per allocation otherwise).
//!
//! Measured as loadgen does, over the N counted requests only (except peak RSS):
//! `requests`, `bytes` (body bytes), `wall_ms`, `cpu_ms_per_request` (the first field of
//! `/proc/thread-self/schedstat` before and after, nanoseconds on CPU of this thread;
//! falling back to `utime + stime` of `/proc/self/stat` at 100 ticks per second),
//! `cpu_source`, and `peak_rss_kb` (`VmHWM` of `/proc/self/status` at the end).
//!
//! W warm-up requests (default 1), then N counted ones (default 100), GET, round robin
//! over the URLs (request `i` goes to `URL[i % count]`, warm-up and counted requests
//! each numbered from 0). Exit status: 0 when every request succeeded with a 2xx status
//! and its body was read to the end; 1 at the first failure (one `error: ...` line on
//! stderr); 2 for bad arguments.

use std::alloc::{GlobalAlloc, Layout, System};
use std::error::Error as StdError;
use std::fmt::Write as _;
use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering};
use std::time::Instant;

use ureq::http::Response;
use ureq::tls::{parse_pem, PemItem, RootCerts, TlsConfig};
use ureq::{Agent, Body};

const USAGE: &str = "\
usage: ureq-loadgen [options] URL...

options:
  --cacert FILE       trust only the root certificates in this PEM file
                      (default: the Mozilla roots compiled in)
  -n N                counted requests (default 100)
  --warmup W          requests made before counting starts (default 1)
  --mode MODE         keepalive (default): pool connections;
                      fresh: a new connection for every request
  --no-pool           same as --mode fresh
  --heap              then measure the heap held per idle pooled connection
                      (heap_per_idle_conn; needs --mode keepalive)
  --json              print one JSON line instead of a table
  -h, --help          print this help

Requests go round robin over the URLs; each body is read to its end.
exit status: 0 all requests succeeded (2xx), 1 a request failed, 2 bad arguments
";

/// Clock ticks per second of `/proc/self/stat` (`getconf CLK_TCK`, 100 on Linux).
const CLOCK_TICKS_PER_SEC: u64 = 100;
/// Bytes of the buffer bodies are read into.
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
            "-n" => args.requests = parse_count(name, &value()?, 1)?,
            "--warmup" => args.warmup = parse_count(name, &value()?, 0)?,
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

fn parse_count(option: &str, text: &str, min: u64) -> Result<u64, String> {
    match text.trim().parse::<u64>() {
        Ok(n) if n >= min => Ok(n),
        _ => Err(format!(
            "{option}: {text:?} is not a whole number from {min} to {}",
            u64::MAX
        )),
    }
}

/// The agent: ureq's defaults, plus the roots of `--cacert` and the pool limits of
/// `--mode fresh`.
fn build_agent(args: &Args) -> Result<Agent, String> {
    let mut config = Agent::config_builder();
    if let Some(path) = &args.cacert {
        let pem = std::fs::read(path)
            .map_err(|e| format!("reading {}: {}", path.display(), error_line(&e)))?;
        let mut roots = Vec::new();
        for item in parse_pem(&pem) {
            match item {
                Ok(PemItem::Certificate(cert)) => roots.push(cert),
                Ok(_) => {}
                Err(e) => return Err(format!("{}: {}", path.display(), error_line(&e))),
            }
        }
        if roots.is_empty() {
            return Err(format!("{}: no certificate in the file", path.display()));
        }
        let tls = TlsConfig::builder()
            .root_certs(RootCerts::new_with_certs(&roots))
            .build();
        config = config.tls_config(tls);
    }
    if args.mode == Mode::Fresh {
        config = config
            .max_idle_connections(0)
            .max_idle_connections_per_host(0);
    }
    Ok(config.build().new_agent())
}

/// What the counted requests cost.
struct Report {
    requests: u64,
    bytes: u64,
    wall_ms: f64,
    cpu_ms: f64,
    cpu_source: &'static str,
    peak_rss_kb: Option<u64>,
    /// `--heap`: bytes one more idle pooled connection holds, and the live bytes at
    /// the end.
    heap: Option<(isize, isize)>,
}

fn run(args: &Args) -> Result<Report, String> {
    if args.heap {
        COUNTING.store(true, Ordering::SeqCst);
    }
    let agent = build_agent(args)?;
    let mut buffer = vec![0; BODY_BUFFER];
    let url_at = |i: u64| &args.urls[(i % args.urls.len() as u64) as usize];
    for i in 0..args.warmup {
        one_request(&agent, url_at(i), &mut buffer)?;
    }

    let stat_before = process_cpu_ticks();
    let cpu_before = thread_cpu_ns();
    let start = Instant::now();
    let mut bytes = 0;
    for i in 0..args.requests {
        bytes += one_request(&agent, url_at(i), &mut buffer)?;
    }
    let wall = start.elapsed();
    let cpu_after = thread_cpu_ns();
    let stat_after = process_cpu_ticks();

    let (cpu_ms, cpu_source) = match (cpu_before, cpu_after, stat_before, stat_after) {
        (Some(a), Some(b), _, _) => (b.saturating_sub(a) as f64 / 1e6, "schedstat"),
        (_, _, Some(a), Some(b)) => (
            b.saturating_sub(a) as f64 * 1000.0 / CLOCK_TICKS_PER_SEC as f64,
            "stat",
        ),
        _ => (0.0, "none"),
    };
    let heap = if args.heap {
        let per_connection = heap_per_idle_connection(&agent, &args.urls[0], &mut buffer)?;
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
        heap,
    })
}

/// The live heap bytes one more idle pooled connection to `url` adds (see `--heap`).
fn heap_per_idle_connection(agent: &Agent, url: &str, buffer: &mut [u8]) -> Result<isize, String> {
    // One idle connection, TLS config and session store warm.
    one_request(agent, url, buffer)?;
    one_request(agent, url, buffer)?;
    let one_idle = live_bytes();
    // A second connection, opened while the first is busy; then both go idle.
    let busy = start_request(agent, url)?;
    let second = start_request(agent, url)?;
    finish_request(url, second, buffer)?;
    finish_request(url, busy, buffer)?;
    Ok(live_bytes() - one_idle)
}

/// A GET whose body is read to its end through `buffer`; the number of body bytes.
fn one_request(agent: &Agent, url: &str, buffer: &mut [u8]) -> Result<u64, String> {
    let response = start_request(agent, url)?;
    finish_request(url, response, buffer)
}

/// A GET, up to its response head.
fn start_request(agent: &Agent, url: &str) -> Result<Response<Body>, String> {
    agent
        .get(url)
        .call()
        .map_err(|e| format!("GET {url}: {}", error_line(&e)))
}

/// Reads the body to its end through `buffer`, then checks the status; the number
/// of body bytes.
fn finish_request(url: &str, response: Response<Body>, buffer: &mut [u8]) -> Result<u64, String> {
    let status = response.status();
    let mut body = response.into_body().into_reader();
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

impl Report {
    fn cpu_ms_per_request(&self) -> f64 {
        self.cpu_ms / self.requests as f64
    }

    fn json(&self) -> String {
        let mut s = format!(
            "{{\"requests\":{},\"bytes\":{},\"wall_ms\":{:.3},\"cpu_ms_per_request\":{:.4},\
             \"peak_rss_kb\":{},\"cpu_source\":\"{}\",\"client\":\"ureq\"",
            self.requests,
            self.bytes,
            self.wall_ms,
            self.cpu_ms_per_request(),
            self.peak_rss_kb
                .map_or("null".to_string(), |k| k.to_string()),
            self.cpu_source,
        );
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
            "ureq-loadgen: {} requests after {} warm-up, {} URL(s), mode {mode}\n",
            self.requests,
            args.warmup,
            args.urls.len(),
        );
        let rss = self
            .peak_rss_kb
            .map_or("unknown".to_string(), |k| k.to_string());
        let _ = writeln!(s, "{:<22}{}", "requests", self.requests);
        let _ = writeln!(s, "{:<22}{}", "bytes", self.bytes);
        let _ = writeln!(s, "{:<22}{:.3}", "wall_ms", self.wall_ms);
        let _ = writeln!(
            s,
            "{:<22}{:.4}  ({})",
            "cpu_ms_per_request",
            self.cpu_ms_per_request(),
            self.cpu_source
        );
        let _ = write!(s, "{:<22}{rss}", "peak_rss_kb");
        if let Some((per_connection, live)) = self.heap {
            let _ = write!(s, "\n{:<22}{per_connection}", "heap_per_idle_conn");
            let _ = write!(s, "\n{:<22}{live}", "heap_live_bytes");
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
        let Ok(Command::Run(a)) = parse(&["-n50", "--mode=fresh", "--warmup", "0", "u"]) else {
            panic!("should parse");
        };
        assert_eq!(
            (a.requests, a.warmup, a.mode, a.urls.len()),
            (50, 0, Mode::Fresh, 1)
        );
        assert!(!a.heap);
        let Ok(Command::Run(a)) = parse(&["--heap", "u"]) else {
            panic!("should parse");
        };
        assert!(a.heap);
        for bad in [
            &["-n", "0", "u"][..],
            &["-n"],
            &["--mode", "x", "u"],
            &["--json=1", "u"],
            &["--threads", "2", "u"],
            &[],
            &["-é", "u"],
            &["--heap=1", "u"],
            &["--heap", "--mode", "fresh", "u"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }
}
