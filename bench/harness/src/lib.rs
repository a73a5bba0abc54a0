//! What tinyhttps' `examples/loadgen.rs` and `bench/ureq-driver` (`ureq-loadgen`, the
//! same load made with ureq 3) share, so that the two tools measure the same way: the
//! options they both take and their help lines, `main`'s exit statuses, the warm-up,
//! reading bodies, `--heap` (the counting global allocator and the measurement),
//! `--latency` (the wall time of each request), CPU time, peak RSS, and the keys of the report both print. What depends on the client
//! stays in each program: building it, the request call and reading a response
//! ([`Get`]), tinyhttps' `Stats` counters, loadgen's threads.
//!
//! A std-only library crate, `loadgen-harness`: a path dev-dependency of tinyhttps (for
//! the `loadgen` example) and a path dependency of ureq-driver, which is a workspace of
//! its own, outside tinyhttps' dependency graph. Both programs use it as
//!
//! ```text
//! use loadgen_harness as harness;
//!
//! #[global_allocator]
//! static ALLOCATOR: harness::CountingAllocator = harness::CountingAllocator;
//! ```
//!
//! What the counted requests call on every request or allocation is `#[inline]` (or
//! generic), so that it compiles into each program as it did when this was a module of
//! both.
//!
//! Everything here is used by both programs: what only one of them needs stays in it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::error::Error as StdError;
use std::fmt::{Display, Write as _};
use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering};
use std::time::{Duration, Instant};

/// Clock ticks per second of `/proc/self/stat` (`getconf CLK_TCK`, 100 on Linux).
const CLOCK_TICKS_PER_SEC: u64 = 100;
/// Bytes of the buffer bodies are read into (one per request thread).
pub const BODY_BUFFER: usize = 16 * 1024;

/// What sets a program's command line apart from the other's.
pub struct Tool {
    /// The program's name, for its usage line.
    pub name: &'static str,
    /// The help lines of the options only this program takes, each ending in a
    /// newline: listed after `--no-pool`.
    pub own_options: &'static str,
    /// Whether the errors of `-n` and `--warmup` spell out their upper bound, "from 1
    /// to 18446744073709551615" (ureq-loadgen's wording), instead of "of 1 or more"
    /// (loadgen's).
    pub count_errors_name_u64_max: bool,
}

impl Tool {
    fn usage(&self) -> String {
        format!(
            "\
usage: {} [options] URL...

options:
  --cacert FILE       trust only the root certificates in this PEM file
                      (default: the Mozilla roots compiled in)
  -n N                counted requests (default 100)
  --warmup W          requests made before counting starts (default 1)
  --mode MODE         keepalive (default): pool connections;
                      fresh: a new connection for every request
  --no-pool           same as --mode fresh
{}  --heap              then measure the heap held per idle pooled connection
                      (heap_per_idle_conn; needs --mode keepalive)
  --latency           also time each counted request on its own (wall_ms_median)
  --json              print one JSON line instead of a table
  -h, --help          print this help

Requests go round robin over the URLs; each body is read to its end.
exit status: 0 all requests succeeded (2xx), 1 a request failed, 2 bad arguments
",
            self.name, self.own_options
        )
    }
}

/// A program's `main`: on `Help` the usage on stdout, exit status 0; on a parse error
/// `error: ...` and the usage on stderr, 2; else `run`'s text on stdout, 0 (also when
/// stdout is a closed pipe), or its error as one `error: ...` line on stderr, 1.
pub fn main<A>(
    tool: &Tool,
    parsed: Result<Command<A>, String>,
    run: impl FnOnce(&A) -> Result<String, String>,
) -> ExitCode {
    let args = match parsed {
        Ok(Command::Run(args)) => args,
        Ok(Command::Help) => {
            let _ = io::stdout().write_all(tool.usage().as_bytes());
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            let _ = write!(io::stderr(), "error: {message}\n\n{}", tool.usage());
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(text) => {
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

/// What the command line asks for.
pub enum Command<A> {
    /// `-h` or `--help`: print the usage.
    Help,
    /// Run with these options.
    Run(A),
}

/// `--mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `keepalive` (the default): pool connections.
    KeepAlive,
    /// `fresh` (or `--no-pool`): a new connection for every request.
    Fresh,
}

impl Mode {
    /// As `--mode` spells it.
    pub fn name(self) -> &'static str {
        match self {
            Mode::KeepAlive => "keepalive",
            Mode::Fresh => "fresh",
        }
    }
}

/// The options both programs take.
#[derive(Debug)]
pub struct Args {
    /// `--cacert FILE`: trust only the roots in FILE (None: the client's default).
    pub cacert: Option<PathBuf>,
    /// `-n N`: the counted requests.
    pub requests: u64,
    /// `--warmup W`: the requests made before counting starts.
    pub warmup: u64,
    /// `--mode`, `--no-pool`.
    pub mode: Mode,
    /// `--heap`: measure the heap per idle pooled connection after the counted requests.
    pub heap: bool,
    /// `--latency`: time each counted request on its own ([`Latencies`]).
    pub latency: bool,
    /// `--json`: one JSON line instead of the table.
    pub json: bool,
    /// The URLs, in the order given (at least one).
    pub urls: Vec<String>,
}

impl Args {
    /// The URL of request `i`, round robin (warm-up and counted requests are each
    /// numbered from 0).
    #[inline]
    pub fn url(&self, i: u64) -> &str {
        &self.urls[(i % self.urls.len() as u64) as usize]
    }
}

/// One option of the command line, as a program's own option handler sees it:
/// `--name value`, `--name=value`, `-n 50` or `-n50`.
pub struct Opt<'a> {
    name: &'a str,
    /// The argument as given, for error messages.
    arg: &'a str,
    /// The value given in the argument itself (`--name=value`, `-n50`).
    inline: Option<String>,
    /// The arguments after this one, where a value not given inline is.
    rest: &'a mut dyn Iterator<Item = String>,
    count_errors_name_u64_max: bool,
}

impl<'a> Opt<'a> {
    /// `arg` (which starts with `-`) split into its name and inline value.
    fn new(tool: &Tool, arg: &'a str, rest: &'a mut dyn Iterator<Item = String>) -> Self {
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) if arg.starts_with("--") => (name, Some(value.to_string())),
            _ if !arg.starts_with("--") && arg.len() > 2 && arg.is_char_boundary(2) => {
                (&arg[..2], Some(arg[2..].to_string()))
            }
            _ => (arg, None),
        };
        Opt {
            name,
            arg,
            inline,
            rest,
            count_errors_name_u64_max: tool.count_errors_name_u64_max,
        }
    }

    /// The option's name: `--name`, `-n`.
    pub fn name(&self) -> &'a str {
        self.name
    }

    /// The option's value: inline, else the next argument.
    pub fn value(&mut self) -> Result<String, String> {
        match self.inline.take() {
            Some(v) => Ok(v),
            None => self
                .rest
                .next()
                .ok_or_else(|| format!("option {} needs a value", self.name)),
        }
    }

    /// Checks that the option, a flag, was given no value.
    pub fn flag(&self) -> Result<(), String> {
        match &self.inline {
            Some(_) => Err(format!(
                "option {} takes no value (in {:?})",
                self.name, self.arg
            )),
            None => Ok(()),
        }
    }

    /// The option's value, a whole number from `min` to `max`.
    pub fn count(&mut self, min: u64, max: u64) -> Result<u64, String> {
        let text = self.value()?;
        match text.trim().parse::<u64>() {
            Ok(n) if (min..=max).contains(&n) => Ok(n),
            _ if max == u64::MAX && !self.count_errors_name_u64_max => Err(format!(
                "{}: {text:?} is not a whole number of {min} or more",
                self.name
            )),
            _ => Err(format!(
                "{}: {text:?} is not a whole number from {min} to {max}",
                self.name
            )),
        }
    }
}

/// Parses the command line (without the program name). Options and URLs may come in
/// any order, `--` ends the options. `own_option` is offered every option that is not
/// one of [`Args`]'; it returns whether it took it (else: "unknown option").
pub fn parse_args(
    tool: &Tool,
    mut argv: impl Iterator<Item = String>,
    mut own_option: impl FnMut(&mut Opt<'_>) -> Result<bool, String>,
) -> Result<Command<Args>, String> {
    let mut args = Args {
        cacert: None,
        requests: 100,
        warmup: 1,
        mode: Mode::KeepAlive,
        heap: false,
        latency: false,
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
        let mut opt = Opt::new(tool, &arg, &mut argv);
        match opt.name() {
            "-h" | "--help" => return Ok(Command::Help),
            "--cacert" => args.cacert = Some(PathBuf::from(opt.value()?)),
            "-n" => args.requests = opt.count(1, u64::MAX)?,
            "--warmup" => args.warmup = opt.count(0, u64::MAX)?,
            "--mode" => {
                args.mode = match opt.value()?.as_str() {
                    "keepalive" => Mode::KeepAlive,
                    "fresh" => Mode::Fresh,
                    other => return Err(format!("--mode: {other:?} is not keepalive or fresh")),
                }
            }
            "--no-pool" => {
                opt.flag()?;
                args.mode = Mode::Fresh;
            }
            "--heap" => {
                opt.flag()?;
                args.heap = true;
            }
            "--latency" => {
                opt.flag()?;
                args.latency = true;
            }
            "--json" => {
                opt.flag()?;
                args.json = true;
            }
            _ => {
                if !own_option(&mut opt)? {
                    return Err(format!("unknown option {arg:?}"));
                }
            }
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

/// The global allocator of both programs: `System`, counting live bytes once `--heap`
/// has switched counting on ([`count_heap`]); one relaxed atomic load per allocation
/// until then.
pub struct CountingAllocator;

static COUNTING: AtomicBool = AtomicBool::new(false);
static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);

#[inline]
fn count(delta: isize) {
    if COUNTING.load(Ordering::Relaxed) {
        LIVE_BYTES.fetch_add(delta, Ordering::Relaxed);
    }
}

/// Switches the [`CountingAllocator`]'s counting on.
pub fn count_heap() {
    COUNTING.store(true, Ordering::SeqCst);
}

/// Bytes allocated and not freed since counting was switched on.
fn live_bytes() -> isize {
    LIVE_BYTES.load(Ordering::SeqCst)
}

// SAFETY: every method forwards to the system allocator unchanged and only counts.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for CountingAllocator {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if !p.is_null() {
            count(layout.size() as isize);
        }
        p
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc_zeroed(layout);
        if !p.is_null() {
            count(layout.size() as isize);
        }
        p
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        count(-(layout.size() as isize));
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = System.realloc(ptr, layout, new_size);
        if !p.is_null() {
            count(new_size as isize - layout.size() as isize);
        }
        p
    }
}

/// A client as the harness drives it: a GET in two halves, so that `--heap` can hold
/// one response open while it makes another.
pub trait Get {
    /// A response whose head has arrived and whose body is still to be read.
    type Response;
    /// What [`Get::call`] fails with.
    type Error: StdError;

    /// The request call: a GET of `url`, up to its response head.
    fn call(&self, url: &str) -> Result<Self::Response, Self::Error>;

    /// Reads the body to its end through `buffer` and checks the status, with
    /// [`read_body`]; the number of body bytes.
    fn finish(url: &str, response: Self::Response, buffer: &mut [u8]) -> Result<u64, String>;

    /// Connections idle in the pool now, if the client tells: `--heap` then checks
    /// that its second connection went idle too.
    fn idle_connections(&self) -> Option<u64> {
        None
    }
}

/// A GET, up to its response head.
fn start_request<C: Get>(client: &C, url: &str) -> Result<C::Response, String> {
    client
        .call(url)
        .map_err(|e| format!("GET {url}: {}", error_line(&e)))
}

/// A GET whose body is read to its end through `buffer`; the number of body bytes.
pub fn one_request<C: Get>(client: &C, url: &str, buffer: &mut [u8]) -> Result<u64, String> {
    let response = start_request(client, url)?;
    C::finish(url, response, buffer)
}

/// The wall-clock time of each counted request, when `--latency` asks for it: the
/// round-trip measurement of bench/bench.sh, where each request waits on a delayed link
/// and the median request is the figure. Without `--latency` no clock is read per
/// request, so the instruction counts of the other scenarios stay as they were.
pub struct Latencies {
    /// Whether to time the requests (`--latency`).
    on: bool,
    /// The time of each request made through [`Latencies::request`].
    times: Vec<Duration>,
}

impl Latencies {
    /// Times requests if `args` asks for it (`--latency`).
    pub fn new(args: &Args) -> Self {
        Latencies {
            on: args.latency,
            times: Vec::new(),
        }
    }

    /// [`one_request`], timed from the call to the end of the body if `--latency` was
    /// given.
    #[inline]
    pub fn request<C: Get>(
        &mut self,
        client: &C,
        url: &str,
        buffer: &mut [u8],
    ) -> Result<u64, String> {
        if !self.on {
            return one_request(client, url, buffer);
        }
        let start = Instant::now();
        let bytes = one_request(client, url, buffer)?;
        self.times.push(start.elapsed());
        Ok(bytes)
    }

    /// Adds the times of `other` (another thread's requests).
    pub fn merge(&mut self, other: Latencies) {
        self.times.extend(other.times);
    }

    /// The median request's time in milliseconds (the mean of the two middle ones for
    /// an even count); None without `--latency` or without requests.
    fn median_ms(mut self) -> Option<f64> {
        self.times.sort_unstable();
        let n = self.times.len();
        let ms = |i: usize| self.times[i].as_secs_f64() * 1000.0;
        match n {
            0 => None,
            _ if n % 2 == 1 => Some(ms(n / 2)),
            _ => Some((ms(n / 2 - 1) + ms(n / 2)) / 2.0),
        }
    }
}

/// The `--warmup` requests.
pub fn warm_up<C: Get>(client: &C, args: &Args, buffer: &mut [u8]) -> Result<(), String> {
    for i in 0..args.warmup {
        one_request(client, args.url(i), buffer)?;
    }
    Ok(())
}

/// The live heap bytes one more idle pooled connection to `url` adds (`--heap`): two
/// requests (one idle connection, TLS config and session store warm), live bytes; a
/// request held open while a second one is made (a second connection), both bodies
/// read so both go back to the pool; live bytes then minus before.
fn heap_per_idle_connection<C: Get>(
    client: &C,
    url: &str,
    buffer: &mut [u8],
) -> Result<isize, String> {
    // One idle connection, TLS config and session store warm.
    one_request(client, url, buffer)?;
    one_request(client, url, buffer)?;
    let idle_before = client.idle_connections();
    let one_idle = live_bytes();
    // A second connection, opened while the first is busy; then both go idle.
    let busy = start_request(client, url)?;
    let second = start_request(client, url)?;
    C::finish(url, second, buffer)?;
    C::finish(url, busy, buffer)?;
    let two_idle = live_bytes();
    let idle_after = client.idle_connections();
    match (idle_before, idle_after) {
        (Some(before), Some(after)) if after != before + 1 => Err(format!(
            "--heap: {after} idle connections after opening a second one, expected {}",
            before + 1
        )),
        _ => Ok(two_idle - one_idle),
    }
}

/// Reads `body` to its end through `buffer`, then fails unless the response's
/// `status` was a success (`success`: 2xx); the number of body bytes.
pub fn read_body(
    url: &str,
    status: impl Display,
    success: bool,
    body: &mut impl Read,
    buffer: &mut [u8],
) -> Result<u64, String> {
    let n = read_to_end(body, buffer)
        .map_err(|e| format!("GET {url}: reading the body: {}", error_line(&e)))?;
    if !success {
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
pub fn error_line(error: &dyn StdError) -> String {
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

/// The calling thread's time on CPU from [`ThreadCpu::start`] on.
pub struct ThreadCpu(Option<u64>);

impl ThreadCpu {
    /// Starts measuring the calling thread.
    pub fn start() -> Self {
        ThreadCpu(thread_cpu_ns())
    }

    /// Nanoseconds on CPU since `start` (None: not measurable).
    pub fn elapsed_ns(&self) -> Option<u64> {
        let end = thread_cpu_ns();
        self.0
            .zip(end)
            .map(|(start, end)| end.saturating_sub(start))
    }
}

/// Nanoseconds the calling thread has been on CPU: the first field of
/// `/proc/thread-self/schedstat`.
fn thread_cpu_ns() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

/// The process' user + system CPU time in clock ticks: fields 14 and 15 of
/// `/proc/self/stat`, counted after the `)` that ends the command name.
pub fn process_cpu_ticks() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/stat").ok()?;
    let (_, rest) = text.rsplit_once(')')?;
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// Milliseconds on CPU of the counted requests and where they come from
/// (`cpu_source`): `thread_ns`, the schedstat time of the threads that ran them, when
/// measurable; else the process' `/proc/self/stat` ticks before and after them.
fn cpu_ms(
    thread_ns: Option<u64>,
    stat_before: Option<u64>,
    stat_after: Option<u64>,
) -> (f64, &'static str) {
    match (thread_ns, stat_before, stat_after) {
        (Some(ns), _, _) => (ns as f64 / 1e6, "schedstat"),
        (None, Some(a), Some(b)) => (
            b.saturating_sub(a) as f64 * 1000.0 / CLOCK_TICKS_PER_SEC as f64,
            "stat",
        ),
        _ => (0.0, "none"),
    }
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

/// What was measured around the counted requests.
pub struct Counted {
    /// Body bytes.
    pub bytes: u64,
    /// Wall-clock time they took.
    pub wall: Duration,
    /// Each one's time, with `--latency`.
    pub latencies: Latencies,
    /// On-CPU nanoseconds of the threads that made them (None: not measurable).
    pub thread_cpu_ns: Option<u64>,
    /// The process' CPU ticks ([`process_cpu_ticks`]) before and after them.
    pub stat_ticks: (Option<u64>, Option<u64>),
}

/// The report of the counted requests: with `--heap`, first measures the heap one more
/// idle pooled connection to the first URL holds; then reads the peak RSS.
pub fn report<C: Get>(
    client: &C,
    args: &Args,
    counted: Counted,
    buffer: &mut [u8],
) -> Result<Report, String> {
    let (stat_before, stat_after) = counted.stat_ticks;
    let (cpu_ms, cpu_source) = cpu_ms(counted.thread_cpu_ns, stat_before, stat_after);
    let heap = if args.heap {
        let per_connection = heap_per_idle_connection(client, &args.urls[0], buffer)?;
        Some((per_connection, live_bytes()))
    } else {
        None
    };
    Ok(Report {
        requests: args.requests,
        bytes: counted.bytes,
        wall_ms: counted.wall.as_secs_f64() * 1000.0,
        wall_ms_median: counted.latencies.median_ms(),
        cpu_ms,
        cpu_source,
        peak_rss_kb: peak_rss_kb(),
        heap,
    })
}

/// What the counted requests cost: the part of the report both programs print.
pub struct Report {
    /// `requests`: the counted requests (`-n`).
    pub requests: u64,
    /// `bytes`: their body bytes.
    pub bytes: u64,
    /// `wall_ms`: the wall-clock time they took.
    pub wall_ms: f64,
    /// `wall_ms_median`, with `--latency`: the median request's wall-clock time.
    pub wall_ms_median: Option<f64>,
    /// Milliseconds on CPU they took, all together (`cpu_ms_per_request` once divided).
    pub cpu_ms: f64,
    /// `cpu_source`: where `cpu_ms` comes from: `schedstat`, `stat` or `none`.
    pub cpu_source: &'static str,
    /// `peak_rss_kb`: `VmHWM` at the end of the run (None: unknown).
    pub peak_rss_kb: Option<u64>,
    /// `--heap`: bytes one more idle pooled connection holds, and the live bytes at
    /// the end.
    pub heap: Option<(isize, isize)>,
}

impl Report {
    fn cpu_ms_per_request(&self) -> f64 {
        self.cpu_ms / self.requests as f64
    }

    /// The JSON object, on one line: the shared keys (`wall_ms_median` after `wall_ms`
    /// with `--latency`), then `more` (the program's own, each as `,"key":value`), then
    /// those of `--heap`.
    pub fn json(&self, more: &str) -> String {
        let median = self
            .wall_ms_median
            .map_or(String::new(), |m| format!(",\"wall_ms_median\":{m:.3}"));
        let mut s = format!(
            "{{\"requests\":{},\"bytes\":{},\"wall_ms\":{:.3}{median},\"cpu_ms_per_request\":{:.4},\
             \"peak_rss_kb\":{},\"cpu_source\":\"{}\"{more}",
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

    /// The table's rows, names padded to `width`: one line each, no newline after the
    /// last.
    pub fn rows(&self, width: usize) -> String {
        let rss = self
            .peak_rss_kb
            .map_or("unknown".to_string(), |k| k.to_string());
        let mut s = format!("{:<width$}{}", "requests", self.requests);
        let _ = write!(s, "\n{:<width$}{}", "bytes", self.bytes);
        let _ = write!(s, "\n{:<width$}{:.3}", "wall_ms", self.wall_ms);
        if let Some(median) = self.wall_ms_median {
            let _ = write!(s, "\n{:<width$}{median:.3}", "wall_ms_median");
        }
        let _ = write!(
            s,
            "\n{:<width$}{:.4}  ({})",
            "cpu_ms_per_request",
            self.cpu_ms_per_request(),
            self.cpu_source
        );
        let _ = write!(s, "\n{:<width$}{rss}", "peak_rss_kb");
        if let Some((per_connection, live)) = self.heap {
            let _ = write!(s, "\n{:<width$}{per_connection}", "heap_per_idle_conn");
            let _ = write!(s, "\n{:<width$}{live}", "heap_live_bytes");
        }
        s
    }
}

/// `args` as the command line (without the program name), for the programs' tests.
pub fn argv<'a>(args: &'a [&'a str]) -> impl Iterator<Item = String> + 'a {
    args.iter().map(|s| s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOOL: Tool = Tool {
        name: "t",
        own_options: "  --own               an option of the program's own\n",
        count_errors_name_u64_max: false,
    };

    /// Parses `args` with TOOL (or with `count_errors_name_u64_max`), taking `--own` as
    /// the program's own flag; the parsed options and how often `--own` was given.
    fn parse(args: &[&str], name_u64_max: bool) -> Result<(Command<Args>, u32), String> {
        let tool = Tool {
            count_errors_name_u64_max: name_u64_max,
            ..TOOL
        };
        let mut own = 0;
        let command = parse_args(&tool, argv(args), |opt| {
            if opt.name() != "--own" {
                return Ok(false);
            }
            opt.flag()?;
            own += 1;
            Ok(true)
        })?;
        Ok((command, own))
    }

    #[test]
    fn shared_options_parse_and_bad_input_is_an_error() {
        let Ok((Command::Run(a), 0)) =
            parse(&["-n50", "--mode=fresh", "--warmup", "0", "u"], false)
        else {
            panic!("should parse");
        };
        assert_eq!(
            (a.requests, a.warmup, a.mode, a.urls.len()),
            (50, 0, Mode::Fresh, 1)
        );
        assert_eq!((a.heap, a.json, a.cacert), (false, false, None));
        let Ok((Command::Run(a), 2)) = parse(
            &["--own", "--heap", "u", "--json", "--own", "--", "--v"],
            false,
        ) else {
            panic!("should parse");
        };
        assert_eq!((a.heap, a.json, a.mode), (true, true, Mode::KeepAlive));
        assert_eq!(a.urls, ["u", "--v"]);
        assert_eq!((a.url(0), a.url(1), a.url(2)), ("u", "--v", "u"));
        assert!(matches!(parse(&["-hx"], false), Ok((Command::Help, 0))));
        for bad in [
            &["-n", "0", "u"][..],
            &["-n"],
            &["--mode", "x", "u"],
            &["--json=1", "u"],
            &["--own=1", "u"],
            &["--threads", "2", "u"],
            &[],
            &["-é", "u"],
            &["--heap=1", "u"],
            &["--latency=1", "u"],
            &["--heap", "--mode", "fresh", "u"],
            &["--no-pool", "--heap", "u"],
        ] {
            assert!(parse(bad, false).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn count_errors_name_the_upper_bound_where_the_tool_says_so() {
        let error = |args: &[&str], name_u64_max| parse(args, name_u64_max).err().unwrap();
        assert_eq!(
            error(&["-n", "0", "u"], false),
            "-n: \"0\" is not a whole number of 1 or more"
        );
        assert_eq!(
            error(&["--warmup=x", "u"], true),
            "--warmup: \"x\" is not a whole number from 0 to 18446744073709551615"
        );
        assert_eq!(error(&["u", "-n"], true), "option -n needs a value");
    }

    #[test]
    fn usage_lists_the_tool_s_own_options_after_no_pool() {
        let usage = TOOL.usage();
        assert!(usage.starts_with("usage: t [options] URL...\n"));
        assert!(usage.contains("same as --mode fresh\n  --own   "));
        assert!(usage.ends_with("2 bad arguments\n"));
    }

    #[test]
    fn report_keys_in_order() {
        let mut report = Report {
            requests: 4,
            bytes: 4096,
            wall_ms: 1.0,
            wall_ms_median: None,
            cpu_ms: 2.0,
            cpu_source: "stat",
            peak_rss_kb: None,
            heap: None,
        };
        assert_eq!(
            report.json(",\"k\":1"),
            "{\"requests\":4,\"bytes\":4096,\"wall_ms\":1.000,\"cpu_ms_per_request\":0.5000,\
             \"peak_rss_kb\":null,\"cpu_source\":\"stat\",\"k\":1}"
        );
        report.heap = Some((10, 20));
        assert!(report
            .json("")
            .ends_with(",\"heap_per_idle_conn\":10,\"heap_live_bytes\":20}"));
        assert_eq!(report.rows(20).lines().count(), 7);
        assert!(report.rows(20).starts_with("requests            4\n"));
        assert!(!report.rows(20).ends_with('\n'));
        report.wall_ms_median = Some(0.25);
        assert!(report.json("").starts_with(
            "{\"requests\":4,\"bytes\":4096,\"wall_ms\":1.000,\"wall_ms_median\":0.250,"
        ));
        assert!(report.rows(20).contains("\nwall_ms_median      0.250\n"));
    }

    #[test]
    fn latencies_median_only_with_latency() {
        let (Ok((Command::Run(on), _)), Ok((Command::Run(off), _))) =
            (parse(&["--latency", "u"], false), parse(&["u"], false))
        else {
            panic!("should parse");
        };
        let median = |args: &Args, ms: &[u64]| {
            let mut l = Latencies::new(args);
            if l.on {
                l.times.extend(ms.iter().map(|&m| Duration::from_millis(m)));
            }
            l.median_ms()
        };
        assert_eq!(median(&off, &[1, 2, 3]), None);
        assert_eq!(median(&on, &[]), None);
        assert_eq!(median(&on, &[30, 10, 20]), Some(20.0));
        assert_eq!(median(&on, &[40, 10, 30, 20]), Some(25.0));
        let mut a = Latencies::new(&on);
        a.times.push(Duration::from_millis(5));
        let mut b = Latencies::new(&on);
        b.times
            .extend([Duration::from_millis(1), Duration::from_millis(9)]);
        a.merge(b);
        assert_eq!(a.median_ms(), Some(5.0));
    }

    #[test]
    fn cpu_time_falls_back_to_stat_ticks() {
        assert_eq!(
            cpu_ms(Some(3_000_000), Some(1), Some(2)),
            (3.0, "schedstat")
        );
        assert_eq!(cpu_ms(None, Some(1), Some(3)), (20.0, "stat"));
        assert_eq!(cpu_ms(None, None, Some(3)), (0.0, "none"));
    }

    #[test]
    fn error_line_adds_only_new_sources() {
        #[derive(Debug)]
        struct E(&'static str, Option<Box<E>>);
        impl Display for E {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.0)
            }
        }
        impl StdError for E {
            fn source(&self) -> Option<&(dyn StdError + 'static)> {
                self.1.as_deref().map(|e| e as _)
            }
        }
        let inner = E("refused", None);
        let middle = E("connect: refused", Some(Box::new(inner)));
        let outer = E("GET", Some(Box::new(middle)));
        assert_eq!(error_line(&outer), "GET: connect: refused");
    }
}
