//! `ureq-loadgen`: the same load as tinyhttps' `examples/loadgen.rs`, made with ureq 3,
//! so that the two clients can be compared side by side (instructions per request
//! under qemu-user, CPU time, peak RSS).
//!
//! ```text
//! ureq-loadgen [--cacert FILE] [-n N] [--warmup W] [--mode keepalive|fresh] [--heap]
//!              [--latency] [--json] URL...
//!
//! cargo build --release --target armv7-unknown-linux-gnueabihf   # in bench/ureq-driver
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
//! `requests`, `bytes` (body bytes), `wall_ms` (with `--latency` also `wall_ms_median`,
//! each request timed on its own), `cpu_ms_per_request` (the first field of
//! `/proc/thread-self/schedstat` before and after, nanoseconds on CPU of this thread;
//! falling back to `utime + stime` of `/proc/self/stat` at 100 ticks per second),
//! `cpu_source`, and `peak_rss_kb` (`VmHWM` of `/proc/self/status` at the end).
//!
//! W warm-up requests (default 1), then N counted ones (default 100), GET, round robin
//! over the URLs (request `i` goes to `URL[i % count]`, warm-up and counted requests
//! each numbered from 0). Exit status: 0 when every request succeeded with a 2xx status
//! and its body was read to the end; 1 at the first failure (one `error: ...` line on
//! stderr); 2 for bad arguments.

use std::process::ExitCode;
use std::time::Instant;

use ureq::http::Response;
use ureq::tls::{parse_pem, PemItem, RootCerts, TlsConfig};
use ureq::{Agent, Body};

// What ureq-loadgen shares with tinyhttps' examples/loadgen.rs: the options both take,
// body reading, `--heap`, CPU time and peak RSS, the report's keys. A path dependency:
// bench/harness.
use loadgen_harness as harness;

use harness::{Args, Command, Mode, BODY_BUFFER};

const TOOL: harness::Tool = harness::Tool {
    name: "ureq-loadgen",
    own_options: "",
    // `-n: "0" is not a whole number from 1 to 18446744073709551615`, as it always was.
    count_errors_name_u64_max: true,
};

/// Counts live heap bytes, once `--heap` has switched it on.
#[global_allocator]
static ALLOCATOR: harness::CountingAllocator = harness::CountingAllocator;

fn main() -> ExitCode {
    harness::main(&TOOL, parse_args(std::env::args().skip(1)), |args| {
        let report = run(args)?;
        Ok(if args.json {
            report.json(",\"client\":\"ureq\"")
        } else {
            table(&report, args)
        })
    })
}

/// Only the options loadgen shares.
fn parse_args(argv: impl Iterator<Item = String>) -> Result<Command<Args>, String> {
    harness::parse_args(&TOOL, argv, |_| Ok(false))
}

/// The agent: ureq's defaults, plus the roots of `--cacert` and the pool limits of
/// `--mode fresh`.
fn build_agent(args: &Args) -> Result<Agent, String> {
    let mut config = Agent::config_builder();
    if let Some(path) = &args.cacert {
        let pem = std::fs::read(path)
            .map_err(|e| format!("reading {}: {}", path.display(), harness::error_line(&e)))?;
        let mut roots = Vec::new();
        for item in parse_pem(&pem) {
            match item {
                Ok(PemItem::Certificate(cert)) => roots.push(cert),
                Ok(_) => {}
                Err(e) => return Err(format!("{}: {}", path.display(), harness::error_line(&e))),
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

/// The agent as the harness drives it: a type of this crate's own, as the harness'
/// trait and ureq's `Agent` are both of other crates.
struct Driver(Agent);

impl harness::Get for Driver {
    type Response = Response<Body>;
    type Error = ureq::Error;

    fn call(&self, url: &str) -> Result<Response<Body>, ureq::Error> {
        self.0.get(url).call()
    }

    fn finish(url: &str, response: Response<Body>, buffer: &mut [u8]) -> Result<u64, String> {
        let status = response.status();
        let mut body = response.into_body().into_reader();
        harness::read_body(url, status, status.is_success(), &mut body, buffer)
    }
}

fn run(args: &Args) -> Result<harness::Report, String> {
    if args.heap {
        harness::count_heap();
    }
    let agent = Driver(build_agent(args)?);
    let mut buffer = vec![0; BODY_BUFFER];
    harness::warm_up(&agent, args, &mut buffer)?;

    let stat_before = harness::process_cpu_ticks();
    let cpu = harness::ThreadCpu::start();
    let mut latencies = harness::Latencies::new(args);
    let start = Instant::now();
    let mut bytes = 0;
    for i in 0..args.requests {
        bytes += latencies.request(&agent, args.url(i), &mut buffer)?;
    }
    let wall = start.elapsed();
    let thread_cpu_ns = cpu.elapsed_ns();
    let stat_after = harness::process_cpu_ticks();

    let counted = harness::Counted {
        bytes,
        wall,
        latencies,
        thread_cpu_ns,
        stat_ticks: (stat_before, stat_after),
    };
    harness::report(&agent, args, counted, &mut buffer)
}

fn table(report: &harness::Report, args: &Args) -> String {
    format!(
        "ureq-loadgen: {} requests after {} warm-up, {} URL(s), mode {}\n{}",
        report.requests,
        args.warmup,
        args.urls.len(),
        args.mode.name(),
        report.rows(22),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Command<Args>, String> {
        parse_args(harness::argv(args))
    }

    #[test]
    fn only_the_shared_options_parse() {
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
        // The shared options' cases are the harness' (bench/harness); none
        // of loadgen's own options is one of ureq-loadgen's.
        for bad in [
            &["-n", "0", "u"][..],
            &["--threads", "2", "u"],
            &["--no-tls-cache", "u"],
            &["--tls-cache-size", "16", "u"],
            &["--no-resumption", "u"],
            &["--cipher", "aes256", "u"],
            &["--heap", "--mode", "fresh", "u"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            parse(&["-n", "0", "u"]).err().unwrap(),
            "-n: \"0\" is not a whole number from 1 to 18446744073709551615"
        );
    }
}
