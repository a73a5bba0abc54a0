//! Resumable, verified, atomic downloads to a file ([`Client::download`]): a firmware
//! image over a link that breaks, on a device that may lose power half-way.
//!
//! ```text
//! run ─► Part::open: PATH.part + PATH.part.meta (URL, validator, length, durable)
//!         │   sidecar matches the URL (and there is a validator or a digest)?
//!         │     yes: keep the bytes up to the durable length (cut the rest),
//!         │          hash them (with a digest)                   no: truncate
//!         ▼
//!        attempt ── GET [Range: bytes=N-, If-Range: validator] ──►
//!          200  ─► start over: truncate, new sidecar, stream from 0
//!          206  ─► Content-Range starts at N, same validator and length? append
//!                  : else start over (never append to the wrong place)
//!          416  ─► the part is complete (Content-Range: */N) and the 416's
//!                  validator, if any, is the part's? done : start over
//!          else ─► Error::Status (5xx, 408, 429 retried)
//!         │ every MiB: fsync the part, record that durable length in the sidecar
//!         │ cut (Truncated, Io, Timeout, Connect): pause, retry from the new N
//!         │ given up: fsync the part, record its length (the next run resumes there)
//!         ▼
//!        finish: SHA-256 check (mismatch: delete part and sidecar), fsync,
//!                rename PATH.part -> PATH, remove sidecar, fsync the directory
//! ```
//!
//! Built on the crate's public request API (`get`, `header`, `timeout`, `call`, the
//! body reader); the download keeps its own clock, since its deadline spans many
//! requests.

mod part;

use std::fmt;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use ring::digest::{Context, SHA256, SHA256_OUTPUT_LEN};

use crate::client::Client;
use crate::error::{Error, Result};
use crate::netloc;
use crate::response::Response;
use part::{file_error, Part, Validator, DURABLE_STEP};

/// Attempts in a row that may fail before a download gives up (see
/// [`Download::attempts`]): with the default pauses (1, 2, 4, 8 s) a link that is
/// down for about 15 s is waited out; an attempt that added bytes starts a new count.
pub const DEFAULT_DOWNLOAD_ATTEMPTS: u32 = 5;

/// The deadline of a whole download, every attempt and pause included (see
/// [`Download::deadline`]): one hour, a 100 MiB image at 30 KiB/s, a poor cellular
/// link. Each attempt runs until this deadline, not the client's per-request one.
pub const DEFAULT_DOWNLOAD_DEADLINE: Duration = Duration::from_secs(60 * 60);

/// The pause before the first retry (see [`Download::retry_pause`]); it doubles
/// after each attempt that added nothing, up to 30 s, and starts over after one
/// that added bytes. A second: a link that blinks is back, a server that is
/// restarting is not hammered.
pub const DEFAULT_RETRY_PAUSE: Duration = Duration::from_secs(1);

/// Longest pause between two attempts: a link back up is used within this.
const MAX_RETRY_PAUSE: Duration = Duration::from_secs(30);

/// The one buffer of a download, whatever the file's size: a TLS record's payload
/// (16 KiB), so one read takes a whole record and one write one page-cache run.
const DOWNLOAD_BUFFER: usize = 16 * 1024;

/// The progress callback of a download.
type ProgressFn<'a> = Box<dyn FnMut(u64, Option<u64>) + 'a>;

/// A resumable, SHA-256-verified, atomic download of one URL to one file, made by
/// [`Client::download`] and started by [`run`](Self::run).
///
/// ```no_run
/// # fn main() -> Result<(), tinyhttps::Error> {
/// use std::time::Duration;
///
/// let client = tinyhttps::Client::new();
/// let report = client
///     .download("https://updates.example.com/fw/2.4.1.bin")
///     .to_file("/data/fw.bin")
///     .sha256("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08")
///     .attempts(10)
///     .deadline(Duration::from_secs(2 * 60 * 60))
///     .progress(|done, total| eprint!("\r{done} of {total:?} bytes"))
///     .run()?;
/// println!("{} bytes, {} resumes, {:?}", report.bytes, report.resumes, report.elapsed);
/// # Ok(()) }
/// ```
///
/// What it does:
/// - Writes to `PATH.part`, beside it a small sidecar `PATH.part.meta` with the URL
///   (its password left out) and the validator (a strong `ETag`, else
///   `Last-Modified`). A later run — in a new process after a reboot too — with
///   the same URL resumes with `Range: bytes=N-` and `If-Range: <validator>`.
/// - Appends only a `206` whose `Content-Range` starts at N, with the same
///   validator and length. A `200` (the server ignored `Range`, or the file
///   changed) starts over from zero, truncating: a full body is never appended to
///   a partial file. A `206` starting elsewhere starts over. A `416` with a
///   complete `.part` finishes it, unless its `ETag` or `Last-Modified` names
///   another version than the part's (`If-Range` has no effect on a `416`): then
///   it starts over.
/// - `fsync`s the `.part` each time it reaches a multiple of 1 MiB and records
///   that durable length in the sidecar (two small `fsync`s per MiB); a later
///   run keeps only those bytes, since after a power loss some file systems
///   (UBIFS, JFFS2, ext4 `data=writeback`) leave garbage at a file's tail. A run
///   that gives up syncs and records all it wrote. Attempts within one run resume
///   from what was written, synced or not.
/// - Retries after a cut body ([`Error::Truncated`]), connection errors
///   ([`Error::Io`], [`Error::Connect`], [`Error::Resolve`]), time-outs and 5xx,
///   408 and 429, resuming where the file ends (see [`attempts`](Self::attempts)).
/// - With [`sha256`](Self::sha256), hashes the whole file as it streams (what the
///   `.part` already held first); on a mismatch deletes `.part` and sidecar and
///   fails with [`Error::Digest`].
/// - Then `fsync`s the file, renames it to `PATH` and `fsync`s the directory:
///   `PATH` is either absent, the old file, or the whole new one.
/// - Uses one 16 KiB buffer, whatever the file's size.
///
/// Without a validator from the server and without a digest, a partial file cannot
/// be told from a replaced one: it is not resumed (each attempt starts from zero).
/// The URL must be the same to resume: one whose query changes (a freshly signed
/// URL) starts from zero. One download per `PATH` at a time: the files are not
/// locked.
#[must_use = "a download starts only with run()"]
pub struct Download<'a> {
    client: Client,
    url: String,
    path: Option<PathBuf>,
    sha256: Option<String>,
    headers: Vec<(String, String)>,
    attempts: u32,
    retry_pause: Duration,
    deadline: Duration,
    resume: bool,
    progress: Option<ProgressFn<'a>>,
}

/// What a finished [`Download`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DownloadReport {
    /// Size of the file, now at `PATH`.
    pub bytes: u64,
    /// Bytes the `.part` held from an earlier run and kept (0: started from zero).
    pub resumed_from: u64,
    /// Body bytes received and written by this run (more than `bytes -
    /// resumed_from` when the download started over).
    pub received: u64,
    /// Requests the server answered with the `206` of a resume.
    pub resumes: u32,
    /// Times the partial file was thrown away: a `200` to a `Range` request (the
    /// server ignored it or the file changed), a `206` that did not fit.
    pub restarts: u32,
    /// Requests sent.
    pub attempts: u32,
    /// Time from `run` to the file in place.
    pub elapsed: Duration,
}

impl fmt::Debug for Download<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Header values may hold credentials: names only.
        f.debug_struct("Download")
            .field("url", &netloc::redact_str(&self.url))
            .field("path", &self.path)
            .field("sha256", &self.sha256)
            .field(
                "headers",
                &self.headers.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .field("attempts", &self.attempts)
            .field("retry_pause", &self.retry_pause)
            .field("deadline", &self.deadline)
            .field("resume", &self.resume)
            .finish_non_exhaustive()
    }
}

impl Download<'static> {
    pub(crate) fn new(client: Client, url: &str) -> Self {
        Download {
            client,
            url: url.to_string(),
            path: None,
            sha256: None,
            headers: Vec::new(),
            attempts: DEFAULT_DOWNLOAD_ATTEMPTS,
            retry_pause: DEFAULT_RETRY_PAUSE,
            deadline: DEFAULT_DOWNLOAD_DEADLINE,
            resume: true,
            progress: None,
        }
    }
}

impl<'a> Download<'a> {
    /// Where the file goes (required). `PATH.part` and `PATH.part.meta` are made
    /// beside it, in the same directory, so that the final rename is atomic.
    pub fn to_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.path = Some(path.into());
        self
    }

    /// The expected SHA-256 of the whole file, 64 hex digits (either case). Checked
    /// before the file is put in place; a mismatch is [`Error::Digest`]. Other
    /// text makes [`run`](Self::run) fail with [`Error::InvalidRequest`].
    pub fn sha256(mut self, hex: &str) -> Self {
        self.sha256 = Some(hex.to_string());
        self
    }

    /// Adds a request header to every attempt (`Authorization`, a device token);
    /// not `Range` or `If-Range`, which the download sets.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// How many attempts in a row may fail before the download gives up with the
    /// last one's error (default [`DEFAULT_DOWNLOAD_ATTEMPTS`]; at least 1: 1 never
    /// retries). An attempt that added bytes to the file before it failed starts a
    /// new count, so a link that breaks every few hundred KiB still brings a large
    /// image home, within the [`deadline`](Self::deadline).
    pub fn attempts(mut self, attempts: u32) -> Self {
        self.attempts = attempts;
        self
    }

    /// The pause before the first retry (default [`DEFAULT_RETRY_PAUSE`]); it
    /// doubles after each attempt that added nothing, up to 30 s.
    pub fn retry_pause(mut self, pause: Duration) -> Self {
        self.retry_pause = pause;
        self
    }

    /// The deadline of the whole download, attempts and pauses included (default
    /// [`DEFAULT_DOWNLOAD_DEADLINE`]; above zero). It replaces the client's
    /// overall per-request deadline
    /// ([`ClientBuilder::timeout`](crate::ClientBuilder::timeout), 300 s by
    /// default, too short for a large image on a slow link): each attempt may run
    /// until this deadline. The client's connect, handshake, read and write limits
    /// still apply to each attempt, so a stalled connection is noticed and retried.
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }

    /// Whether to resume from a `PATH.part` left by an earlier run (default true).
    /// false discards it and starts from zero; attempts within this run still
    /// resume from what this run wrote.
    pub fn resume(mut self, resume: bool) -> Self {
        self.resume = resume;
        self
    }

    /// Calls `progress(bytes in the file, total if known)` after each write (every
    /// 16 KiB at most), once at the start (with what a resumed `.part` holds), and
    /// with 0 when the download starts over.
    pub fn progress<'b>(self, progress: impl FnMut(u64, Option<u64>) + 'b) -> Download<'b> {
        Download {
            client: self.client,
            url: self.url,
            path: self.path,
            sha256: self.sha256,
            headers: self.headers,
            attempts: self.attempts,
            retry_pause: self.retry_pause,
            deadline: self.deadline,
            resume: self.resume,
            progress: Some(Box::new(progress)),
        }
    }

    /// Downloads the file, blocking until it is in place or the download gives up.
    ///
    /// # Errors
    /// - [`Error::InvalidRequest`]: no [`to_file`](Self::to_file), a bad
    ///   [`sha256`](Self::sha256), `attempts(0)`, a zero deadline, a bad header.
    /// - [`Error::Status`]: the server answered 404, 401, ... (5xx, 408 and 429
    ///   after the last attempt).
    /// - [`Error::Digest`]: the file is not the one expected (deleted).
    /// - [`Error::File`]: a local file operation failed, naming the path; what was
    ///   written stays in `PATH.part` for a later run (disk full: free space and
    ///   run again).
    /// - The last attempt's error ([`Error::Truncated`], [`Error::Timeout`], ...)
    ///   when the attempts in a row or the deadline are spent; any other error of
    ///   a request (certificate, protocol) at once.
    pub fn run(self) -> Result<DownloadReport> {
        let started = Instant::now();
        let (plan, mut progress) = self.plan()?;
        let mut report = DownloadReport {
            bytes: 0,
            resumed_from: 0,
            received: 0,
            resumes: 0,
            restarts: 0,
            attempts: 0,
            elapsed: Duration::ZERO,
        };
        let mut part = Part::open(
            &plan.path,
            &plan.shown_url,
            plan.resume,
            plan.sha256.is_some(),
        )?;
        let mut buf = vec![0u8; DOWNLOAD_BUFFER];
        let mut hasher = plan.sha256.map(|_| Context::new(&SHA256));
        if let Some(ctx) = &mut hasher {
            part.hash_prefix(ctx, &mut buf)?;
        }
        report.resumed_from = part.len;
        if part.len > 0 {
            debug!(
                "resuming download of {} from byte {}",
                plan.shown_url, part.len
            );
        }
        let mut job = Job {
            plan: &plan,
            part: &mut part,
            buf: &mut buf,
            hasher: &mut hasher,
            progress: &mut progress,
            report: &mut report,
        };
        job.tell();
        if let Err(e) = job.run_attempts(started) {
            part.keep();
            return Err(e);
        }
        let bytes = part.len;
        if let (Some(ctx), Some(expected)) = (hasher, plan.sha256) {
            let actual = ctx.finish();
            if actual.as_ref() != expected {
                part.discard();
                return Err(Error::Digest {
                    expected: hex(&expected).into(),
                    actual: hex(actual.as_ref()).into(),
                });
            }
        }
        part.commit(&plan.path)?;
        report.bytes = bytes;
        report.elapsed = started.elapsed();
        debug!(
            "downloaded {} to {} ({bytes} bytes, {} requests)",
            plan.shown_url,
            plan.path.display(),
            report.attempts
        );
        Ok(report)
    }

    /// Checks the settings.
    fn plan(self) -> Result<(Plan, Option<ProgressFn<'a>>)> {
        let Some(path) = self.path else {
            return Err(Error::invalid_request(
                "download has no destination: call to_file(path)",
            ));
        };
        let sha256 = match &self.sha256 {
            None => None,
            Some(hex) => Some(parse_sha256(hex).ok_or_else(|| {
                Error::invalid_request(format_args!(
                    "sha256 must be 64 hex digits, got {:?}",
                    hex.chars().take(80).collect::<String>()
                ))
            })?),
        };
        if self.attempts == 0 {
            return Err(Error::invalid_request(
                "download attempts must be 1 or more",
            ));
        }
        if self.deadline.is_zero() {
            return Err(Error::invalid_request(
                "download deadline must be above zero",
            ));
        }
        let shown_url = netloc::redact_str(&self.url);
        let plan = Plan {
            client: self.client,
            url: self.url,
            shown_url,
            path,
            sha256,
            headers: self.headers,
            attempts: self.attempts,
            retry_pause: self.retry_pause,
            deadline: self.deadline,
            resume: self.resume,
        };
        Ok((plan, self.progress))
    }
}

/// The checked settings of a download.
struct Plan {
    client: Client,
    url: String,
    /// The URL with its password as `***`: in the sidecar, logs and errors.
    shown_url: String,
    path: PathBuf,
    sha256: Option<[u8; SHA256_OUTPUT_LEN]>,
    headers: Vec<(String, String)>,
    attempts: u32,
    retry_pause: Duration,
    deadline: Duration,
    resume: bool,
}

/// One download under way: the plan and what it works on.
struct Job<'j, 'a> {
    plan: &'j Plan,
    part: &'j mut Part,
    buf: &'j mut [u8],
    hasher: &'j mut Option<Context>,
    progress: &'j mut Option<ProgressFn<'a>>,
    report: &'j mut DownloadReport,
}

/// How an attempt that did not fail ended.
enum Step {
    /// The part holds the whole file.
    Done,
    /// The server sent a range that ends before the file does: ask for the rest.
    More,
    /// What the server sent does not fit the part: throw it away, start from zero.
    Restart,
}

/// An attempt that failed, and whether another may follow.
struct Failure {
    error: Error,
    retry: bool,
}

impl From<Error> for Failure {
    fn from(error: Error) -> Failure {
        let retry = match &error {
            Error::Truncated { .. }
            | Error::Io { .. }
            | Error::Timeout { .. }
            | Error::Connect { .. }
            | Error::Resolve { .. } => true,
            Error::Status { status, .. } => *status >= 500 || *status == 408 || *status == 429,
            _ => false,
        };
        Failure { error, retry }
    }
}

impl Job<'_, '_> {
    /// Attempts until the part is complete, the attempts in a row are spent, the
    /// deadline passes, or an error that a retry cannot mend.
    fn run_attempts(&mut self, started: Instant) -> Result<()> {
        let plan = self.plan;
        // A deadline too far to represent is none.
        let end = started.checked_add(plan.deadline);
        let remaining = || {
            end.map_or(Duration::MAX, |end| {
                end.saturating_duration_since(Instant::now())
            })
        };
        let mut failed_in_a_row = 0u32;
        let mut pause = plan.retry_pause;
        // Progress is bytes beyond the most the part has held in this run: an
        // attempt that starts over and is cut at the same place adds nothing.
        let mut high_water = self.part.len;
        loop {
            let left = remaining();
            let result = self.attempt(left);
            let added = self.part.len > high_water && self.part.resumable(plan.sha256.is_some());
            high_water = high_water.max(self.part.len);
            let failure = match result {
                Ok(Step::Done) => return Ok(()),
                Ok(Step::More) => continue,
                Ok(Step::Restart) => {
                    debug!(
                        "download of {}: the server's answer does not fit {} bytes \
                         held; starting from zero",
                        plan.shown_url, self.part.len
                    );
                    self.report.restarts = self.report.restarts.saturating_add(1);
                    self.part.truncate()?;
                    self.tell();
                    continue;
                }
                Err(failure) => failure,
            };
            failed_in_a_row = if added {
                1
            } else {
                failed_in_a_row.saturating_add(1)
            };
            if added {
                pause = plan.retry_pause;
            }
            let left = remaining();
            if !failure.retry || failed_in_a_row >= plan.attempts || left.is_zero() {
                debug!("download of {} failed: {}", plan.shown_url, failure.error);
                return Err(failure.error);
            }
            debug!(
                "download of {} at byte {}: {}; retrying in {pause:?}",
                plan.shown_url, self.part.len, failure.error
            );
            std::thread::sleep(pause.min(left));
            if remaining().is_zero() {
                return Err(failure.error);
            }
            pause = pause.saturating_mul(2).min(MAX_RETRY_PAUSE);
        }
    }

    /// One request: from where the part ends, or from zero.
    fn attempt(&mut self, left: Duration) -> Result<Step, Failure> {
        let plan = self.plan;
        let resuming = self.part.len > 0 && self.part.resumable(plan.sha256.is_some());
        let mut request = plan.client.get(&plan.url).timeout(left);
        for (name, value) in &plan.headers {
            request = request.header(name, value);
        }
        #[cfg(feature = "gzip")]
        if !plan
            .headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("accept-encoding"))
        {
            // The file as stored, whatever the feature: resumable by byte ranges,
            // and not capped by the body limit as a decoded gzip body is.
            request = request.header("Accept-Encoding", "identity");
        }
        if resuming {
            request = request.header("Range", &format!("bytes={}-", self.part.len));
            if let Some(validator) = &self.part.validator {
                request = request.header("If-Range", validator.value());
            }
        }
        self.report.attempts = self.report.attempts.saturating_add(1);
        let response = request.call()?;
        match response.status().as_u16() {
            200 => self.full(response, resuming),
            206 if resuming => self.partial(response),
            416 if resuming => Ok(self.unsatisfiable(&response)),
            206 => Err(Error::protocol(
                &host_of(&response),
                "206 Partial Content to a request without Range",
            )
            .into()),
            status => Err(Error::Status {
                url: plan.shown_url.as_str().into(),
                status,
            }
            .into()),
        }
    }

    /// A `200`: the whole file, from zero, whatever the part held.
    fn full(&mut self, response: Response, resuming: bool) -> Result<Step, Failure> {
        if resuming {
            debug!(
                "download of {}: 200 to a Range request (ignored, or the file changed): \
                 starting from zero",
                self.plan.shown_url
            );
            self.report.restarts = self.report.restarts.saturating_add(1);
        }
        let total = response
            .header("content-length")
            .and_then(|v| v.parse::<u64>().ok());
        let validator = Validator::of(&response);
        self.part.start_over(validator, total)?;
        if let Some(ctx) = self.hasher {
            *ctx = Context::new(&SHA256);
        }
        self.tell();
        self.stream(response, None)?;
        Ok(Step::Done)
    }

    /// A `206` to a resume: appended only if it starts where the part ends and is
    /// of the same file.
    fn partial(&mut self, response: Response) -> Result<Step, Failure> {
        let part = &mut *self.part;
        let range = response
            .header("content-range")
            .and_then(ContentRange::parse);
        let Some(ContentRange::Bytes { start, end, total }) = range else {
            return Ok(Step::Restart);
        };
        let same_file = part.validator.as_ref().is_none_or(|v| v.agrees(&response))
            && match (total, part.total) {
                (Some(new), Some(old)) => new == old,
                _ => true,
            };
        if start != part.len || !same_file {
            return Ok(Step::Restart);
        }
        if part.total.is_none() && total.is_some() {
            part.total = total;
        }
        self.report.resumes = self.report.resumes.saturating_add(1);
        let before = part.len;
        let host = host_of(&response);
        self.stream(response, Some(end.saturating_add(1)))?;
        let part = &*self.part;
        match part.total {
            Some(total) if part.len < total => {
                if part.len == before {
                    // Asking again would get the same: no progress, no end.
                    return Err(Error::protocol(&host, "206 Partial Content with no body").into());
                }
                Ok(Step::More)
            }
            _ => Ok(Step::Done),
        }
    }

    /// A `416` to a resume: the part may already be whole. `If-Range` has no
    /// effect on a `416`, so a validator it names must be the part's: a file
    /// replaced by one of the same length is not taken for the part.
    fn unsatisfiable(&mut self, response: &Response) -> Step {
        let total = match response
            .header("content-range")
            .and_then(ContentRange::parse)
        {
            Some(ContentRange::Unsatisfied { total }) => Some(total),
            _ => self.part.total,
        };
        let same_file = self
            .part
            .validator
            .as_ref()
            .is_none_or(|v| v.agrees(response));
        if same_file && total == Some(self.part.len) {
            Step::Done
        } else {
            Step::Restart
        }
    }

    /// Streams the body to the end of the part (through the hasher), up to `limit`
    /// bytes in the part when given; syncs the part at each multiple of
    /// [`DURABLE_STEP`] (reads stop there).
    #[allow(clippy::indexing_slicing)] // `n` is what our own `Body` read into `buf`.
    fn stream(&mut self, response: Response, limit: Option<u64>) -> Result<(), Failure> {
        let host = host_of(&response);
        let part = &mut *self.part;
        part.file
            .seek(SeekFrom::Start(part.len))
            .map_err(|e| file_error(&part.path, e))?;
        let mut body = response.into_reader();
        loop {
            // 1..=DURABLE_STEP: never an empty read, which would look like the end.
            let to_step = DURABLE_STEP.saturating_sub(part.len % DURABLE_STEP);
            let want = usize::try_from(to_step).map_or(self.buf.len(), |n| n.min(self.buf.len()));
            let n = match body.read(&mut self.buf[..want]) {
                Ok(0) => return Ok(()),
                Ok(n) => n,
                Err(e) => return Err(Error::from(e).into()),
            };
            let chunk = &self.buf[..n];
            let len = part.len.saturating_add(n as u64);
            if limit.is_some_and(|limit| len > limit) {
                return Err(
                    Error::protocol(&host, "206 body longer than its Content-Range").into(),
                );
            }
            part.file
                .write_all(chunk)
                .map_err(|e| file_error(&part.path, e))?;
            part.len = len;
            if len % DURABLE_STEP == 0 {
                part.make_durable()?;
            }
            self.report.received = self.report.received.saturating_add(n as u64);
            if let Some(ctx) = self.hasher {
                ctx.update(chunk);
            }
            if let Some(progress) = self.progress {
                progress(part.len, part.total);
            }
        }
    }

    /// Tells the progress callback where the part stands.
    fn tell(&mut self) {
        if let Some(progress) = self.progress {
            progress(self.part.len, self.part.total);
        }
    }
}

/// A `Content-Range` header of a 206 or a 416 (RFC 9110 §14.4).
#[derive(Debug, PartialEq, Eq)]
enum ContentRange {
    /// `bytes START-END/TOTAL` (TOTAL `*`: unknown).
    Bytes {
        start: u64,
        end: u64,
        total: Option<u64>,
    },
    /// `bytes */TOTAL`.
    Unsatisfied { total: u64 },
}

impl ContentRange {
    fn parse(value: &str) -> Option<ContentRange> {
        let rest = value.trim().strip_prefix("bytes ")?.trim_start();
        let (range, total) = rest.split_once('/')?;
        let total = match total.trim() {
            "*" => None,
            t => Some(parse_decimal(t)?),
        };
        if range.trim() == "*" {
            return total.map(|total| ContentRange::Unsatisfied { total });
        }
        let (start, end) = range.split_once('-')?;
        let (start, end) = (parse_decimal(start.trim())?, parse_decimal(end.trim())?);
        if end < start || total.is_some_and(|total| end >= total) {
            return None;
        }
        Some(ContentRange::Bytes { start, end, total })
    }
}

/// A decimal number of digits only (no sign, no spaces).
fn parse_decimal(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// 64 hex digits as a SHA-256 digest.
#[allow(clippy::arithmetic_side_effects)] // Two hex digits (each < 16): at most 255.
fn parse_sha256(hex: &str) -> Option<[u8; SHA256_OUTPUT_LEN]> {
    let hex = hex.trim().as_bytes();
    if hex.len() != 2 * SHA256_OUTPUT_LEN {
        return None;
    }
    let mut out = [0u8; SHA256_OUTPUT_LEN];
    let digit = |c: u8| (c as char).to_digit(16);
    for (byte, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
        let &[high, low] = pair else { return None };
        *byte = u8::try_from(digit(high)? * 16 + digit(low)?).ok()?;
    }
    Some(out)
}

/// Lower-case hex.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `host:port` of the URL that answered, for errors.
fn host_of(response: &Response) -> String {
    response
        .url()
        .authority()
        .map(|a| netloc::host_port(a.as_str()).to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_range_forms() {
        assert_eq!(
            ContentRange::parse("bytes 700-999/1000"),
            Some(ContentRange::Bytes {
                start: 700,
                end: 999,
                total: Some(1000)
            })
        );
        assert_eq!(
            ContentRange::parse("bytes 0-9/*"),
            Some(ContentRange::Bytes {
                start: 0,
                end: 9,
                total: None
            })
        );
        assert_eq!(
            ContentRange::parse("bytes */1000"),
            Some(ContentRange::Unsatisfied { total: 1000 })
        );
        for bad in [
            "bytes 9-0/10",
            "bytes 0-10/10",
            "bytes -1-5/10",
            "bytes +1-5/10",
            "items 0-1/2",
            "bytes 0-1",
            "bytes */*",
            "bytes 99999999999999999999-1/2",
        ] {
            assert_eq!(ContentRange::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn sha256_hex_parses_either_case_and_only_64_digits() {
        let lower = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
        let parsed = parse_sha256(lower).unwrap();
        assert_eq!(hex(&parsed), lower);
        assert_eq!(parse_sha256(&lower.to_uppercase()), Some(parsed));
        assert_eq!(parse_sha256(&lower[1..]), None);
        assert_eq!(parse_sha256(&format!("{}g", &lower[1..])), None);
        assert_eq!(parse_sha256("ä".repeat(32).as_str()), None);
    }
}
