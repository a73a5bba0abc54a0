//! `loadgen`: runs N requests on one tinyhttps [`Client`] and reports what they cost.
//!
//! ```text
//! loadgen [--cacert FILE] [-n N] [--warmup W] [--mode keepalive|fresh]
//!         [--no-tls-cache] [--tls-cache-size N] [--no-pool] [--no-resumption]
//!         [--early-data] [--cipher chacha|aes128|aes256|default] [--threads T] [--heap]
//!         [--latency] [--json] URL...
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
//! `read` calls into one 16 KiB buffer per thread, allocated once (`bench/ureq-driver`
//! reads ureq's bodies the same way; `io::copy` into `io::sink` would clear an 8 KiB
//! stack buffer on every call, as neither body type implements `read_buf`). With
//! `--threads T` the T threads share the client and take the N counted requests from
//! one shared counter. Everything reported is measured over the N counted requests
//! only, except the peak RSS:
//!
//! - `requests`, `bytes` (body bytes), `wall_ms`; with `--latency`, `wall_ms_median`:
//!   each counted request timed on its own, the median;
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
//! - `--early-data`: `early_data(true)`: with `--mode fresh`, each GET after the
//!   first handshake rides in its resumed connection's first flight as TLS 1.3
//!   early data when the server's tickets allow it (`early_data_*` counters);
//! - `--cipher`: offer only ChaCha20-Poly1305, AES-128-GCM or AES-256-GCM (`default`:
//!   the library's order);
//! - `--cacert FILE`: trust only the roots in FILE (default: webpki-roots);
//! - `--heap`: after the counted requests, measures the heap one idle pooled
//!   connection holds, as `tests/it/memory.rs` does: two more requests to the first URL
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

use std::fmt::Write as _;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use tinyhttps::{Cipher, Client, Response, Stats, TlsSettings};

// What loadgen shares with bench/ureq-driver (ureq-loadgen): the options both take, body
// reading, `--heap`, CPU time and peak RSS, the report's shared keys. A path
// dev-dependency: bench/harness.
use loadgen_harness as harness;

use harness::{Command, Mode, BODY_BUFFER};

const TOOL: harness::Tool = harness::Tool {
    name: "loadgen",
    own_options: "  --no-tls-cache      build a TLS config for every connection (tls_cache_size 0)
  --tls-cache-size N  TLS configs cached, one per netloc (tls_cache_size N)
  --no-resumption     no TLS session resumption (session_cache_size 0)
  --early-data        send GETs as TLS 1.3 early data when resuming (early_data true)
  --cipher C          chacha, aes128, aes256 or default (the library's order)
  --threads T         threads sharing the client (default 1)
",
    count_errors_name_u64_max: false,
};

/// Most threads accepted by `--threads`.
const MAX_THREADS: u64 = 1024;

/// Counts live heap bytes, once `--heap` has switched it on.
#[global_allocator]
static ALLOCATOR: harness::CountingAllocator = harness::CountingAllocator;

#[derive(Debug)]
struct Args {
    common: harness::Args,
    /// `tls_cache_size`; None: the library's default.
    tls_cache_size: Option<usize>,
    resumption: bool,
    early_data: bool,
    cipher: Option<Cipher>,
    threads: u64,
}

fn main() -> ExitCode {
    harness::main(&TOOL, parse_args(std::env::args().skip(1)), |args| {
        let report = run(args)?;
        Ok(if args.common.json {
            report.json()
        } else {
            report.table(args)
        })
    })
}

fn parse_args(argv: impl Iterator<Item = String>) -> Result<Command<Args>, String> {
    let mut tls_cache_size = None;
    let mut resumption = true;
    let mut early_data = false;
    let mut cipher = None;
    let mut threads = 1;
    let parsed = harness::parse_args(&TOOL, argv, |opt| {
        match opt.name() {
            "--threads" => threads = opt.count(1, MAX_THREADS)?,
            "--no-tls-cache" => {
                opt.flag()?;
                tls_cache_size = Some(0);
            }
            "--tls-cache-size" => {
                tls_cache_size = Some(opt.count(0, usize::MAX as u64)? as usize);
            }
            "--no-resumption" => {
                opt.flag()?;
                resumption = false;
            }
            "--early-data" => {
                opt.flag()?;
                early_data = true;
            }
            "--cipher" => {
                cipher = match opt.value()?.as_str() {
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
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    Ok(match parsed {
        Command::Help => Command::Help,
        Command::Run(common) => Command::Run(Args {
            common,
            tls_cache_size,
            resumption,
            early_data,
            cipher,
            threads,
        }),
    })
}

fn build_client(args: &Args) -> Result<Client, tinyhttps::Error> {
    let mut tls = TlsSettings::new();
    if let Some(path) = &args.common.cacert {
        // The first root source replaces the default webpki-roots.
        tls = tls.root_pem_file(path);
    }
    if !args.resumption {
        tls = tls.session_cache_size(0);
    }
    if let Some(cipher) = args.cipher {
        tls = tls.cipher_preference(&[cipher]);
    }
    let mut builder = Client::builder().tls(tls).early_data(args.early_data);
    if args.common.mode == Mode::Fresh {
        builder = builder.max_idle_per_host(0);
    }
    if let Some(n) = args.tls_cache_size {
        builder = builder.tls_cache_size(n);
    }
    builder.build()
}

/// The client as the harness drives it: a type of this crate's own, as the harness'
/// trait and tinyhttps' `Client` are both of other crates.
struct Driver(Client);

impl harness::Get for Driver {
    type Response = Response;
    type Error = tinyhttps::Error;

    fn call(&self, url: &str) -> Result<Response, tinyhttps::Error> {
        self.0.get(url).call()
    }

    fn finish(url: &str, response: Response, buffer: &mut [u8]) -> Result<u64, String> {
        let status = response.status();
        let mut body = response.into_reader();
        harness::read_body(url, status, status.is_success(), &mut body, buffer)
    }

    fn idle_connections(&self) -> Option<u64> {
        Some(self.0.stats().idle_connections)
    }
}

/// What the counted requests cost.
struct Report {
    common: harness::Report,
    /// Counter name (as printed) and its change over the counted requests.
    counters: Vec<(String, i128)>,
}

fn run(args: &Args) -> Result<Report, String> {
    if args.common.heap {
        harness::count_heap();
    }
    let client = Driver(build_client(args).map_err(|e| harness::error_line(&e))?);
    let mut buffer = vec![0; BODY_BUFFER];
    harness::warm_up(&client, &args.common, &mut buffer)?;

    let before = client.0.stats();
    let stat_before = harness::process_cpu_ticks();
    let next = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    let first_error: Mutex<Option<String>> = Mutex::new(None);
    let threads = args.threads.min(args.common.requests);
    let start = Instant::now();
    let outcomes: Vec<Result<Outcome, String>> = std::thread::scope(|scope| {
        let mut handles = Vec::new();
        let mut spawn_error = None;
        for t in 0..threads {
            let work = Work {
                client: &client,
                args: &args.common,
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
    let stat_after = harness::process_cpu_ticks();
    let after = client.0.stats();

    if let Some(e) = first_error.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    let mut bytes = 0;
    let mut thread_cpu_ns = Some(0u64);
    let mut latencies = harness::Latencies::new(&args.common);
    for outcome in outcomes {
        let outcome = outcome?;
        bytes += outcome.bytes;
        latencies.merge(outcome.latencies);
        thread_cpu_ns = thread_cpu_ns.zip(outcome.cpu_ns).map(|(a, b)| a + b);
    }
    let requests = args.common.requests;
    let done = next.load(Ordering::SeqCst).min(requests);
    if done != requests {
        return Err(format!("only {done} of {requests} requests ran"));
    }
    let counted = harness::Counted {
        bytes,
        wall,
        latencies,
        thread_cpu_ns,
        stat_ticks: (stat_before, stat_after),
    };
    Ok(Report {
        common: harness::report(&client, &args.common, counted, &mut buffer)?,
        counters: counter_deltas(&before, &after),
    })
}

/// One request thread's share of the shared state.
struct Work<'a> {
    client: &'a Driver,
    args: &'a harness::Args,
    next: &'a AtomicU64,
    stop: &'a AtomicBool,
    first_error: &'a Mutex<Option<String>>,
}

/// What one request thread did.
struct Outcome {
    bytes: u64,
    /// Nanoseconds this thread was on CPU for its requests (None: not measurable).
    cpu_ns: Option<u64>,
    /// Each request's time, with `--latency`.
    latencies: harness::Latencies,
}

impl Work<'_> {
    /// Takes request numbers from the shared counter until N are taken or one failed.
    fn run(self) -> Result<Outcome, String> {
        let mut buffer = vec![0; BODY_BUFFER];
        let mut latencies = harness::Latencies::new(self.args);
        let cpu = harness::ThreadCpu::start();
        let mut bytes = 0;
        while !self.stop.load(Ordering::Relaxed) {
            let i = self.next.fetch_add(1, Ordering::Relaxed);
            if i >= self.args.requests {
                break;
            }
            match latencies.request(self.client, self.args.url(i), &mut buffer) {
                Ok(n) => bytes += n,
                Err(e) => {
                    self.stop.store(true, Ordering::SeqCst);
                    let mut first = self.first_error.lock().unwrap_or_else(|p| p.into_inner());
                    first.get_or_insert(e);
                    break;
                }
            }
        }
        Ok(Outcome {
            bytes,
            cpu_ns: cpu.elapsed_ns(),
            latencies,
        })
    }
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
    fn json(&self) -> String {
        let mut counters = String::new();
        for (name, value) in &self.counters {
            let _ = write!(counters, ",\"{name}\":{value}");
        }
        self.common.json(&counters)
    }

    fn table(&self, args: &Args) -> String {
        let mut s = format!(
            "loadgen: {} requests after {} warm-up, {} URL(s), mode {}, {} thread(s){}{}{}\n",
            self.common.requests,
            args.common.warmup,
            args.common.urls.len(),
            args.common.mode.name(),
            args.threads.min(args.common.requests),
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
            if args.early_data { ", early data" } else { "" },
        );
        s.push_str(&self.common.rows(24));
        s.push_str("\nclient counters, change over the counted requests:");
        for (name, value) in &self.counters {
            let _ = write!(s, "\n  {name:<22}{value}");
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Command<Args>, String> {
        parse_args(harness::argv(args))
    }

    #[test]
    fn own_options_parse_and_bad_input_is_an_error() {
        let Ok(Command::Run(a)) = parse(&["-n50", "--mode=fresh", "--cipher", "chacha", "u"])
        else {
            panic!("should parse");
        };
        let (requests, mode, urls) = (a.common.requests, a.common.mode, a.common.urls.len());
        assert_eq!((requests, mode, urls), (50, Mode::Fresh, 1));
        assert_eq!(a.cipher, Some(Cipher::ChaCha20Poly1305));
        assert_eq!((a.tls_cache_size, a.common.heap), (None, false));
        let Ok(Command::Run(a)) = parse(&["--no-tls-cache", "--tls-cache-size=16", "--heap", "u"])
        else {
            panic!("should parse");
        };
        assert_eq!((a.tls_cache_size, a.common.heap), (Some(16), true));
        assert!(!a.early_data);
        let Ok(Command::Run(a)) = parse(&["--mode", "fresh", "--early-data", "u"]) else {
            panic!("should parse");
        };
        assert!(a.early_data);
        let Ok(Command::Run(a)) = parse(&["--tls-cache-size", "16", "--no-tls-cache", "u"]) else {
            panic!("should parse");
        };
        assert_eq!(a.tls_cache_size, Some(0));
        // The shared options' cases are the harness' (bench/harness).
        for bad in [
            &["-n", "0", "u"][..],
            &["--threads", "-1", "u"],
            &["--threads", "1025", "u"],
            &["--tls-cache-size", "-1", "u"],
            &["--no-resumption=1", "u"],
            &["--early-data=1", "u"],
            &["--cipher", "rc4", "u"],
            &["--heap", "--mode", "fresh", "u"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }
}
