//! `fetch`: a small curl-like command line on top of tinyhttps.
//!
//! ```text
//! cargo run --example fetch -- https://example.com/
//! cargo run --example fetch -- --cacert ca.pem https://localhost:8443/
//! cargo run --example fetch -- --pinnedpubkey 'sha256//BASE64;sha256//BACKUP' https://api.example.com/
//! cargo run --example fetch -- -i -L -o page.html https://example.com/old-page
//! cargo run --example fetch -- -n 3 --pause 0.5 --stats https://example.com/
//! cargo run --example fetch -- -H 'Content-Type: application/json' -d '{"on":true}' https://api.example.com/v1/led
//! cargo run --example fetch -- -X PUT --data-binary @fw.bin https://api.example.com/v1/blob
//! cargo run --example fetch -- --resolve api.example.com:443:[::1] https://api.example.com/
//! cargo run --example fetch -- -o fw.bin -C - --retry 10 --sha256 9f86d0...0a08 https://updates.example.com/fw.bin
//! ```
//!
//! The body goes to stdout (or `-o FILE`) as it arrives; nothing is buffered whole.
//! With `-n N` every URL is fetched N times on one client, so the later requests
//! reuse the pooled connection or resume the TLS session; `--stats` shows it.
//! With `-o FILE` and `-C -`, `--retry` or `--sha256`, the transfer is a
//! [`Client::download`]: through `FILE.part`, resumable, verified, atomic.
//! A transfer to `-o FILE` draws a progress bar on stderr when it is a terminal.
//!
//! Exit status: 0 when every transfer completed, whatever the HTTP status; 1 when
//! one failed (one `error: ...` line on stderr; later transfers are not made);
//! 2 for bad arguments.

use std::error::Error as StdError;
use std::fmt;
use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Read, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use tinyhttps::http::header::CONTENT_LENGTH;
use tinyhttps::{
    Client, Method, Response, RetryPolicy, TlsSettings, DEFAULT_DOWNLOAD_DEADLINE,
    DEFAULT_MAX_REDIRECTS, DEFAULT_TIMEOUT_CONNECT, DEFAULT_TIMEOUT_HANDSHAKE,
    DEFAULT_TIMEOUT_OVERALL, DEFAULT_TIMEOUT_READ, DEFAULT_TIMEOUT_WRITE,
};

/// The help text, with the client's default time limits.
fn usage() -> String {
    format!(
        "\
usage: fetch [options] URL...

options:
  --cacert FILE            trust only the root certificates in this PEM file
                           (default: the Mozilla roots compiled in)
  --pinnedpubkey 'sha256//BASE64[;sha256//BASE64...]'
                           also require the server's public key to be one of
                           these (SHA-256 of its SubjectPublicKeyInfo, as curl);
                           the chain and name are still verified
  --max-time SECS          overall time limit of each request (e.g. 2.5)
  --connect-timeout SECS   time limit of DNS resolution plus TCP connect
  -X, --request METHOD     request method (default GET, or POST with a body)
  -H, --header 'Name: value'
                           add a request header (repeatable)
  -d, --data DATA          send DATA as the body, as is (repeatable: joined by '&');
                           implies POST and, unless -H sets one,
                           Content-Type: application/x-www-form-urlencoded
  --data-binary @FILE      stream FILE as the body ('@-': stdin, chunked)
  -L, --location           follow redirects (up to {DEFAULT_MAX_REDIRECTS})
  -n N                     fetch each URL N times on one client (default 1)
  --pause SECS             sleep this long between those N fetches
  --resolve HOST:PORT:ADDR connect to ADDR for HOST:PORT (ADDR may be [IPv6];
                           several: ADDR,ADDR, tried as Happy Eyeballs does)
  --retry N                send again up to N times on a transient failure or a
                           429/503 (idempotent requests; backoff, Retry-After);
                           with -C - or --sha256: up to N times in a row after a
                           cut transfer, resuming where the file ends (pauses of
                           1 s, doubling up to 30 s; a retry that got bytes
                           starts the count over)
  --speed-limit BYTES      fail a transfer slower than BYTES/s for --speed-time
  --speed-time SECS        (default 30 with --speed-limit)
  --interface NAME         connect through this network interface (eth0, wwan0)
  -o, --output FILE        write the body to FILE instead of stdout (a progress
                           bar on stderr when it is a terminal)
  -C, --continue-at -      with -o FILE: resume from FILE.part left by an earlier
                           run (only '-' is accepted: where the part ends)
  --sha256 HEX             with -o FILE: check the file's SHA-256 (64 hex
                           digits); on a mismatch the file is deleted
  -i, --include            write the response head (status line and headers) as
                           the server sent it, before the body
  --stats                  print the client's counters as JSON on stderr at the end
  -h, --help               print this help

time limits (defaults): connect {} (DNS and every address), TLS handshake {},
write {} and read {} (each wait on the socket), overall {} (--max-time)

downloads: with -o FILE, -C -, --retry or --sha256 make the transfer a resumable
download of one URL (GET, no -i or -n): the body goes to FILE.part, beside it
FILE.part.meta (URL and ETag); a resume asks for the rest with Range and
If-Range, and starts over if the server sends the whole file or a changed one.
At the end FILE.part is checked (--sha256), synced and renamed to FILE, so FILE
is either missing or complete. Any status but 200/206 fails the transfer.
--max-time bounds the whole download, all retries included (default {}).

exit status: 0 all transfers completed (any HTTP status), 1 a transfer failed,
2 bad arguments
",
        secs(DEFAULT_TIMEOUT_CONNECT),
        secs(DEFAULT_TIMEOUT_HANDSHAKE),
        secs(DEFAULT_TIMEOUT_WRITE),
        secs(DEFAULT_TIMEOUT_READ),
        secs(DEFAULT_TIMEOUT_OVERALL),
        secs(DEFAULT_DOWNLOAD_DEADLINE),
    )
}

/// A default limit for the help text: "10 s".
fn secs(limit: Duration) -> String {
    format!("{} s", limit.as_secs_f64())
}

/// `--speed-time` when only `--speed-limit` is given: curl's default.
const SPEED_TIME: Duration = Duration::from_secs(30);

/// SECS values above this (about 31 years) are refused: they mean "no limit", which
/// the client does not offer, and would overflow the clock.
const MAX_SECS: f64 = 1e9;

/// The parsed command line.
#[derive(Debug)]
struct Args {
    cacert: Option<PathBuf>,
    /// `--pinnedpubkey`: `sha256//BASE64` each.
    pins: Vec<String>,
    max_time: Option<Duration>,
    connect_timeout: Option<Duration>,
    method: Method,
    /// In order; includes the default Content-Type added for a body.
    headers: Vec<(String, String)>,
    body: Option<BodySource>,
    follow_redirects: bool,
    repeat: u32,
    pause: Duration,
    resolve: Vec<Resolve>,
    links: Links,
    output: Option<PathBuf>,
    include_head: bool,
    stats: bool,
    urls: Vec<String>,
    /// `-C -`, `--retry`, `--sha256`: the transfer is a `Client::download`.
    download: Option<DownloadArgs>,
}

/// How a download (`-o FILE` with `-C -`, `--retry` or `--sha256`) runs.
#[derive(Debug)]
struct DownloadArgs {
    resume: bool,
    retries: u32,
    sha256: Option<String>,
}

/// What to do on a link that drops: `--retry`, `--speed-limit`, `--speed-time`,
/// `--interface`.
#[derive(Debug, Default)]
struct Links {
    retry: u32,
    speed_limit: Option<u64>,
    speed_time: Option<Duration>,
    interface: Option<String>,
}

impl Links {
    const OPTIONS: [&str; 4] = ["--retry", "--speed-limit", "--speed-time", "--interface"];

    fn set(&mut self, option: &str, value: String) -> Result<(), String> {
        match option {
            "--retry" => self.retry = parse_number(option, &value)?,
            "--speed-limit" => self.speed_limit = Some(parse_number(option, &value)?),
            "--speed-time" => self.speed_time = Some(parse_timeout(option, &value)?),
            _ => self.interface = Some(value),
        }
        Ok(())
    }
}

/// Where the request body comes from.
#[derive(Debug)]
enum BodySource {
    /// `-d DATA` (and `--data-binary DATA`): these bytes.
    Bytes(Vec<u8>),
    /// `--data-binary @FILE`: streamed, with a Content-Length for a regular file.
    File(PathBuf),
    /// `--data-binary @-`: stdin, streamed chunked.
    Stdin,
}

/// One `--resolve HOST:PORT:ADDR[,ADDR...]`.
#[derive(Debug)]
struct Resolve {
    host: String,
    port: u16,
    addrs: Vec<IpAddr>,
}

/// What the command line asks for.
#[derive(Debug)]
enum Command {
    Help,
    Fetch(Box<Args>),
}

fn main() -> ExitCode {
    let argv: Result<Vec<String>, String> = std::env::args_os()
        .skip(1)
        .map(|a| {
            a.into_string()
                .map_err(|a| format!("argument {a:?} is not valid UTF-8"))
        })
        .collect();
    let args = match argv.and_then(parse_args) {
        Ok(Command::Help) => {
            let _ = io::stdout().write_all(usage().as_bytes());
            return ExitCode::SUCCESS;
        }
        Ok(Command::Fetch(args)) => args,
        Err(message) => {
            let _ = write!(io::stderr(), "error: {message}\n\n{}", usage());
            return ExitCode::from(2);
        }
    };

    let client = match build_client(&args) {
        Ok(client) => client,
        Err(e) => {
            report(&Failure::Request(e));
            return ExitCode::FAILURE;
        }
    };
    let result = match (&args.download, &args.output) {
        (Some(how), Some(path)) => download(&args, how, &client, path),
        _ => open_output(&args).and_then(|mut out| run(&args, &client, &mut out)),
    };
    if let Err(e) = &result {
        report(e);
    }
    if args.stats {
        let _ = writeln!(io::stderr(), "{}", client.stats().to_json());
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) => ExitCode::FAILURE,
    }
}

// One match arm per option, read straight down; the 80-line rule is for src/.
#[allow(clippy::too_many_lines)]
fn parse_args(argv: Vec<String>) -> Result<Command, String> {
    let mut cacert = None;
    let mut pins = Vec::new();
    let mut max_time = None;
    let mut connect_timeout = None;
    let mut method = None;
    let mut headers = Vec::new();
    let mut data: Vec<String> = Vec::new();
    let mut file_body = None;
    let mut follow_redirects = false;
    let mut repeat = 1;
    let mut pause = Duration::ZERO;
    let mut resolve = Vec::new();
    let mut links = Links::default();
    let mut output = None;
    let mut include_head = false;
    let mut stats = false;
    let mut urls = Vec::new();
    let mut resume = false;
    let mut sha256 = None;

    let mut argv = argv.into_iter();
    let mut options_ended = false;
    while let Some(arg) = argv.next() {
        if options_ended || arg == "-" || !arg.starts_with('-') {
            urls.push(arg);
            continue;
        }
        if arg == "--" {
            options_ended = true;
            continue;
        }
        let (name, inline) = split_option(&arg);
        // The option's value: after '=' (long) or attached (short), else the next argument.
        let value = |argv: &mut std::vec::IntoIter<String>| match &inline {
            Some(v) => Ok(v.clone()),
            None => argv
                .next()
                .ok_or_else(|| format!("option {name} needs a value")),
        };
        let flag = || match inline {
            Some(_) => Err(format!("option {name} takes no value (in {arg:?})")),
            None => Ok(true),
        };
        match name {
            "-h" | "--help" => return Ok(Command::Help),
            "--cacert" => cacert = Some(PathBuf::from(value(&mut argv)?)),
            "--pinnedpubkey" => pins = parse_pins(&value(&mut argv)?)?,
            "--max-time" => max_time = Some(parse_timeout(name, &value(&mut argv)?)?),
            "--connect-timeout" => connect_timeout = Some(parse_timeout(name, &value(&mut argv)?)?),
            "-X" | "--request" => method = Some(parse_method(&value(&mut argv)?)?),
            "-H" | "--header" => headers.push(parse_header(&value(&mut argv)?)?),
            "-d" | "--data" => data.push(value(&mut argv)?),
            "--data-binary" => data_binary(value(&mut argv)?, &mut data, &mut file_body)?,
            "-L" | "--location" => follow_redirects = flag()?,
            "-n" => repeat = parse_count(&value(&mut argv)?)?,
            "--pause" => pause = parse_secs(name, &value(&mut argv)?)?,
            "--resolve" => resolve.push(parse_resolve(&value(&mut argv)?)?),
            n if Links::OPTIONS.contains(&n) => links.set(n, value(&mut argv)?)?,
            "-o" | "--output" => output = Some(PathBuf::from(value(&mut argv)?)),
            "-i" | "--include" => include_head = flag()?,
            "--stats" => stats = flag()?,
            "-C" | "--continue-at" => match value(&mut argv)?.as_str() {
                "-" => resume = true,
                other => {
                    return Err(format!(
                        "{name}: only '-' (resume where the part ends) is accepted, not {other:?}"
                    ))
                }
            },
            "--sha256" => {
                let hex = value(&mut argv)?;
                if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(format!("--sha256: {hex:?} is not 64 hex digits"));
                }
                sha256 = Some(hex);
            }
            _ => return Err(format!("unknown option {arg:?}")),
        }
    }

    if urls.is_empty() {
        return Err("no URL given".into());
    }
    let (method, body) = method_and_body(method, &mut headers, data, file_body)?;
    // --retry is the request retry policy, or, for a download, its attempts in a row.
    let download = (resume || sha256.is_some()).then_some(DownloadArgs {
        resume,
        retries: links.retry,
        sha256,
    });
    if download.is_some() {
        let plain_get = method == Method::GET && body.is_none() && !include_head;
        check_download(output.is_some(), urls.len() == 1 && repeat == 1, plain_get)?;
    }
    Ok(Command::Fetch(Box::new(Args {
        cacert,
        pins,
        max_time,
        connect_timeout,
        method,
        headers,
        body,
        follow_redirects,
        repeat,
        pause,
        resolve,
        links,
        output,
        include_head,
        stats,
        urls,
        download,
    })))
}

/// Checks what `-C -`, `--retry` and `--sha256` need: `-o FILE`, one URL fetched
/// once, and a plain GET.
fn check_download(has_output: bool, one_url_once: bool, plain_get: bool) -> Result<(), String> {
    let what = "-C -, --retry and --sha256";
    if !has_output {
        return Err(format!("{what} need -o FILE"));
    }
    if !one_url_once {
        return Err(format!("{what} download one URL, once (no -n)"));
    }
    if !plain_get {
        return Err(format!(
            "{what} download with GET: no -X, -d, --data-binary or -i"
        ));
    }
    Ok(())
}

/// Takes a `--data-binary` value: `@FILE`, or `@-` for stdin, names the body's
/// source; other text is sent as it is (joined with `-d`'s).
fn data_binary(
    value: String,
    data: &mut Vec<String>,
    file_body: &mut Option<BodySource>,
) -> Result<(), String> {
    match value.strip_prefix('@') {
        Some("-") => *file_body = Some(BodySource::Stdin),
        Some(path) if !path.is_empty() => *file_body = Some(BodySource::File(PathBuf::from(path))),
        Some(_) => return Err("--data-binary @ needs a file name".into()),
        None => data.push(value),
    }
    Ok(())
}

/// The body the options give (`-d` parts joined with `&`, or `--data-binary @FILE`,
/// not both), a form `Content-Type` for it unless one is set, and the method: the
/// one asked for, else POST with a body and GET without.
fn method_and_body(
    method: Option<Method>,
    headers: &mut Vec<(String, String)>,
    data: Vec<String>,
    file_body: Option<BodySource>,
) -> Result<(Method, Option<BodySource>), String> {
    let body = match (file_body, data.is_empty()) {
        (Some(_), false) => return Err("--data-binary @FILE cannot be combined with -d".into()),
        (Some(source), true) => Some(source),
        (None, false) => Some(BodySource::Bytes(data.join("&").into_bytes())),
        (None, true) => None,
    };
    if body.is_some()
        && !headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
    {
        headers.push((
            "Content-Type".into(),
            "application/x-www-form-urlencoded".into(),
        ));
    }
    let method = match (method, &body) {
        (Some(m), _) => m,
        (None, Some(_)) => Method::POST,
        (None, None) => Method::GET,
    };
    Ok((method, body))
}

/// Splits `--name=value` into ("--name", Some("value")) and `-Xvalue` into
/// ("-X", Some("value")); a bare option has no inline value.
fn split_option(arg: &str) -> (&str, Option<String>) {
    if arg.starts_with("--") {
        return match arg.split_once('=') {
            Some((name, value)) => (name, Some(value.to_string())),
            None => (arg, None),
        };
    }
    // "-" plus one character (which may be more than one byte).
    let end = arg.char_indices().nth(2).map_or(arg.len(), |(i, _)| i);
    let (name, rest) = arg.split_at(end);
    (name, (!rest.is_empty()).then(|| rest.to_string()))
}

/// Seconds, fractional allowed ("0.5"), zero included.
fn parse_secs(option: &str, text: &str) -> Result<Duration, String> {
    let secs: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("{option}: {text:?} is not a number of seconds"))?;
    if !(0.0..=MAX_SECS).contains(&secs) {
        return Err(format!(
            "{option}: {text:?} is out of range (0 to {MAX_SECS} seconds)"
        ));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Seconds, more than zero (a zero time limit would fail every request).
fn parse_timeout(option: &str, text: &str) -> Result<Duration, String> {
    match parse_secs(option, text)? {
        d if d.is_zero() => Err(format!("{option}: the time limit must be more than 0")),
        d => Ok(d),
    }
}

fn parse_count(text: &str) -> Result<u32, String> {
    match text.trim().parse::<u32>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("-n: {text:?} is not a count of 1 or more")),
    }
}

/// A whole number of 0 or more.
fn parse_number<T: std::str::FromStr>(option: &str, text: &str) -> Result<T, String> {
    text.trim()
        .parse()
        .map_err(|_| format!("{option}: {text:?} is not a whole number"))
}

fn parse_method(text: &str) -> Result<Method, String> {
    Method::from_bytes(text.as_bytes()).map_err(|_| format!("-X: {text:?} is not a valid method"))
}

/// `Name: value`, checked here so that a typo is a usage error, not a failed request.
fn parse_header(text: &str) -> Result<(String, String), String> {
    let Some((name, value)) = text.split_once(':') else {
        return Err(format!("-H: {text:?} is not 'Name: value'"));
    };
    let (name, value) = (name.trim(), value.trim());
    if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
        return Err(format!("-H: {name:?} is not a valid header name"));
    }
    if http::HeaderValue::from_str(value).is_err() {
        return Err(format!(
            "-H: the value of {name} is not a valid header value"
        ));
    }
    Ok((name.to_string(), value.to_string()))
}

/// curl's `sha256//BASE64[;sha256//BASE64...]` (the base64 is checked when the
/// client is built). curl also takes a key file here; fetch does not.
fn parse_pins(text: &str) -> Result<Vec<String>, String> {
    text.split(';')
        .map(|pin| {
            let pin = pin.trim();
            if pin.starts_with("sha256//") {
                Ok(pin.to_string())
            } else {
                Err(format!(
                    "--pinnedpubkey: {pin:?} is not sha256//BASE64 (key files are not supported)"
                ))
            }
        })
        .collect()
}

/// `HOST:PORT:ADDR[,ADDR...]`; an IPv6 ADDR may be written in brackets.
fn parse_resolve(text: &str) -> Result<Resolve, String> {
    let bad = || format!("--resolve: {text:?} is not HOST:PORT:ADDR");
    let mut parts = text.splitn(3, ':');
    let (Some(host), Some(port), Some(addrs)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad());
    };
    let port: u16 = port.parse().map_err(|_| bad())?;
    if host.is_empty() || port == 0 {
        return Err(bad());
    }
    let addrs = addrs
        .split(',')
        .map(|a| {
            let bare = a
                .strip_prefix('[')
                .and_then(|a| a.strip_suffix(']'))
                .unwrap_or(a);
            bare.parse::<IpAddr>()
                .map_err(|_| format!("--resolve: {a:?} is not an IP address"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Resolve {
        host: host.to_string(),
        port,
        addrs,
    })
}

fn build_client(args: &Args) -> Result<Client, tinyhttps::Error> {
    let redirects = if args.follow_redirects {
        DEFAULT_MAX_REDIRECTS
    } else {
        0
    };
    let mut builder = Client::builder().redirects(redirects);
    if args.cacert.is_some() || !args.pins.is_empty() {
        let mut tls = TlsSettings::new();
        if let Some(path) = &args.cacert {
            // The first root source replaces the default webpki-roots.
            tls = tls.root_pem_file(path);
        }
        if !args.pins.is_empty() {
            tls = tls.pin_sha256(&args.pins);
        }
        builder = builder.tls(tls);
    }
    // `timeout` caps every phase limit, so it goes before `timeout_connect`.
    if let Some(limit) = args.max_time {
        builder = builder.timeout(limit);
    }
    if let Some(limit) = args.connect_timeout {
        builder = builder.timeout_connect(limit);
    }
    for r in &args.resolve {
        builder = builder.resolve_all(&r.host, r.port, &r.addrs);
    }
    let links = &args.links;
    if links.retry > 0 {
        builder = builder.retry(RetryPolicy::new(links.retry.saturating_add(1)));
    }
    if let Some(bytes) = links.speed_limit {
        builder = builder.low_speed_limit(bytes, links.speed_time.unwrap_or(SPEED_TIME));
    }
    if let Some(name) = &links.interface {
        builder = builder.interface(name);
    }
    builder.build()
}

/// Stdout or the `-o` file, buffered (flushed after each transfer).
fn open_output(args: &Args) -> Result<Box<dyn Write>, Failure> {
    match &args.output {
        None => Ok(Box::new(BufWriter::new(io::stdout().lock()))),
        Some(path) => match File::create(path) {
            Ok(file) => Ok(Box::new(BufWriter::new(file))),
            Err(e) => Err(Failure::local(
                format!("cannot create {}", path.display()),
                e,
            )),
        },
    }
}

/// Every URL, `-n` times each, in order; stops at the first failure.
fn run(args: &Args, client: &Client, out: &mut dyn Write) -> Result<(), Failure> {
    for url in &args.urls {
        for i in 0..args.repeat {
            if i > 0 && !args.pause.is_zero() {
                std::thread::sleep(args.pause);
            }
            transfer(args, client, url, out)?;
        }
    }
    Ok(())
}

/// One request: sends it, writes the head (with `-i`) and streams the body out.
fn transfer(args: &Args, client: &Client, url: &str, out: &mut dyn Write) -> Result<(), Failure> {
    let response = send(args, client, url)?;
    let written = if args.include_head {
        write_head(&response, out)
    } else {
        Ok(())
    };
    written.map_err(|e| Failure::local("writing output", e))?;
    // To a file, with stderr on a terminal: a progress bar, as curl draws.
    let bar = args
        .output
        .as_ref()
        .and_then(|_| ProgressBar::on_terminal());
    let Some(mut bar) = bar else {
        let mut body = response.into_reader();
        io::copy(&mut body, out).map_err(copy_error)?;
        return out.flush().map_err(|e| Failure::local("writing output", e));
    };
    let total = response
        .header("content-length")
        .and_then(|v| v.parse::<u64>().ok());
    let mut body = response.into_reader();
    let mut buf = [0u8; COPY_BUFFER];
    let mut done = 0u64;
    let copied = loop {
        let n = match body.read(&mut buf) {
            Ok(0) => break Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => break Err(copy_error(e)),
        };
        if let Err(e) = out.write_all(&buf[..n]) {
            break Err(Failure::local("writing output", e));
        }
        done += n as u64;
        bar.show(done, total);
    };
    bar.finish();
    copied?;
    out.flush().map_err(|e| Failure::local("writing output", e))
}

/// The buffer of a copy with a progress bar: a TLS record's payload.
const COPY_BUFFER: usize = 16 * 1024;

/// `-o FILE` with `-C -`, `--retry` or `--sha256`: a resumable, verified download.
fn download(args: &Args, how: &DownloadArgs, client: &Client, path: &Path) -> Result<(), Failure> {
    let url = &args.urls[0];
    let mut download = client
        .download(url)
        .to_file(path)
        .resume(how.resume)
        .attempts(how.retries.saturating_add(1));
    if let Some(hex) = &how.sha256 {
        download = download.sha256(hex);
    }
    if let Some(limit) = args.max_time {
        download = download.deadline(limit);
    }
    for (name, value) in &args.headers {
        download = download.header(name, value);
    }
    let result = match ProgressBar::on_terminal() {
        Some(mut bar) => {
            let result = download.progress(|done, total| bar.show(done, total)).run();
            bar.finish();
            result
        }
        None => download.run(),
    };
    result.map(drop).map_err(Failure::Request)
}

/// A progress bar on stderr, like curl's: only when stderr is a terminal, redrawn
/// at most every [`BAR_INTERVAL`] (and at the end).
struct ProgressBar {
    last: Option<Instant>,
    drawn: Option<(u64, Option<u64>)>,
}

/// Least time between two redraws: smooth to the eye, cheap on a slow console.
const BAR_INTERVAL: Duration = Duration::from_millis(100);

/// Columns of the bar itself (the `#` and `-` between brackets).
const BAR_WIDTH: u64 = 30;

impl ProgressBar {
    fn on_terminal() -> Option<ProgressBar> {
        io::stderr().is_terminal().then_some(ProgressBar {
            last: None,
            drawn: None,
        })
    }

    fn show(&mut self, done: u64, total: Option<u64>) {
        let now = Instant::now();
        let complete = total == Some(done);
        if !complete && self.last.is_some_and(|last| now - last < BAR_INTERVAL) {
            return;
        }
        self.last = Some(now);
        self.drawn = Some((done, total));
        let _ = write!(io::stderr(), "\r{}\x1b[K", bar_line(done, total));
    }

    /// Ends the bar's line, if one was drawn.
    fn finish(&mut self) {
        if self.drawn.is_some() {
            let _ = writeln!(io::stderr());
        }
    }
}

/// `" 45.2% [#############-----------------]  12.3 MiB of 27.2 MiB"`, or the
/// bytes alone without a total.
fn bar_line(done: u64, total: Option<u64>) -> String {
    let mib = |bytes: u64| bytes as f64 / (1024.0 * 1024.0);
    match total {
        Some(total) if total > 0 => {
            let shown = done.min(total);
            let filled = shown.saturating_mul(BAR_WIDTH) / total;
            let bar: String = (0..BAR_WIDTH)
                .map(|i| if i < filled { '#' } else { '-' })
                .collect();
            format!(
                "{:5.1}% [{bar}] {:7.1} MiB of {:.1} MiB",
                shown as f64 * 100.0 / total as f64,
                mib(done),
                mib(total)
            )
        }
        _ => format!("{:.1} MiB", mib(done)),
    }
}

fn send(args: &Args, client: &Client, url: &str) -> Result<Response, Failure> {
    let mut request = client.request(args.method.clone(), url);
    if args.include_head {
        request = request.keep_raw_head();
    }
    for (name, value) in &args.headers {
        request = request.header(name, value);
    }
    let sent = match &args.body {
        None => request.call(),
        Some(BodySource::Bytes(bytes)) => request.send_bytes(bytes),
        Some(BodySource::Stdin) => request.send_reader(io::stdin().lock()),
        Some(BodySource::File(path)) => {
            let opened = File::open(path).and_then(|f| f.metadata().map(|m| (f, m)));
            let (file, meta) =
                opened.map_err(|e| Failure::local(format!("cannot read {}", path.display()), e))?;
            let has_length = args
                .headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case("content-length"));
            // A pipe or device has no length to announce: it goes chunked.
            if meta.is_file() && !has_length {
                request = request.header(CONTENT_LENGTH, meta.len());
            }
            request.send_reader(file)
        }
    };
    sent.map_err(Failure::Request)
}

/// The head as the server sent it: status line with its reason phrase, header names
/// in their case, CRLF line ends, the blank line.
fn write_head(response: &Response, out: &mut dyn Write) -> io::Result<()> {
    if let Some(raw) = response.raw_head() {
        return out.write_all(raw);
    }
    // Not kept (never, as `send` asks for it): rebuilt from the parsed head.
    let status = response.status();
    let reason = status.canonical_reason().unwrap_or("");
    writeln!(out, "{:?} {} {reason}", response.version(), status.as_u16())?;
    for (name, value) in response.headers() {
        // Values are bytes, not always text: written as they came.
        out.write_all(name.as_str().as_bytes())?;
        out.write_all(b": ")?;
        out.write_all(value.as_bytes())?;
        out.write_all(b"\n")?;
    }
    out.write_all(b"\n")
}

/// Why `fetch` failed.
#[derive(Debug)]
enum Failure {
    /// The request or its response failed.
    Request(tinyhttps::Error),
    /// A local file or stream failed: what was being done, and the error.
    Local { what: String, source: io::Error },
}

impl Failure {
    fn local(what: impl Into<String>, source: io::Error) -> Failure {
        Failure::Local {
            what: what.into(),
            source,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Request(e) => e.fmt(f),
            Failure::Local { what, source } => write!(f, "{what}: {source}"),
        }
    }
}

impl StdError for Failure {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        // Display already shows the first level; the chain goes on below it.
        match self {
            Failure::Request(e) => e.source(),
            Failure::Local { source, .. } => source.source(),
        }
    }
}

/// An error of `io::copy(body, out)`: reading the body fails with the tinyhttps
/// error inside an `io::Error`; anything else came from writing the output.
fn copy_error(e: io::Error) -> Failure {
    let from_body = e
        .get_ref()
        .is_some_and(|inner| inner.is::<tinyhttps::Error>());
    if !from_body {
        return Failure::local("writing output", e);
    }
    match e
        .into_inner()
        .map(|inner| inner.downcast::<tinyhttps::Error>())
    {
        Some(Ok(error)) => Failure::Request(*error),
        Some(Err(other)) => Failure::local("reading the response", io::Error::other(other)),
        None => Failure::local("reading the response", io::Error::other("unknown error")),
    }
}

/// Writes `error: ...` with the source chain on one line; a broken stdout pipe
/// (`fetch ... | head`) is not worth a message.
fn report(failure: &Failure) {
    if let Failure::Local { source, .. } = failure {
        if source.kind() == io::ErrorKind::BrokenPipe {
            return;
        }
    }
    let _ = writeln!(io::stderr(), "error: {}", error_line(failure));
}

/// The error's message followed by `: source` for each level of its source chain
/// whose text the message does not already contain.
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::thread::JoinHandle;

    /// A one-shot server on 127.0.0.1: reads one request head, writes `response`,
    /// closes. Returns its URL.
    fn serve_once(response: &'static [u8]) -> (String, JoinHandle<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let thread = std::thread::spawn(move || {
            let (mut sock, _) = listener.accept().unwrap();
            sock.set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && sock.read(&mut byte).unwrap() == 1 {
                head.push(byte[0]);
            }
            sock.write_all(response).unwrap();
        });
        (url, thread)
    }

    #[test]
    fn pinnedpubkey_takes_curls_list_of_sha256_pins() {
        let pin = "sha256//47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
        let list = format!("{pin};sha256//AAAA");
        let Ok(Command::Fetch(args)) =
            parse_args(vec!["--pinnedpubkey".into(), list, "https://h/".into()])
        else {
            panic!("a fetch");
        };
        assert_eq!(args.pins, [pin, "sha256//AAAA"]);
        let err =
            parse_args(vec!["--pinnedpubkey=key.pem".into(), "https://h/".into()]).unwrap_err();
        assert!(err.contains("key.pem"), "{err}");
        // A malformed pin fails the client's build, naming it.
        let Ok(Command::Fetch(args)) = parse_args(vec![
            "--pinnedpubkey".into(),
            "sha256//AAAA".into(),
            "https://h/".into(),
        ]) else {
            panic!("a fetch");
        };
        let err = build_client(&args).unwrap_err().to_string();
        assert!(err.contains("sha256//AAAA"), "{err}");
    }

    #[test]
    fn include_shows_the_head_as_the_server_sent_it() {
        let (url, server) = serve_once(
            b"HTTP/1.1 200 Everything Fine\r\nX-Custom-Header: a\r\nContent-Length: 2\r\n\
              Connection: close\r\n\r\nhi",
        );
        let Ok(Command::Fetch(args)) = parse_args(vec!["-i".into(), url.clone()]) else {
            panic!("-i URL is a fetch");
        };
        let client = build_client(&args).unwrap();
        let mut out = Vec::new();
        let result = transfer(&args, &client, &url, &mut out);
        server.join().unwrap();
        result.unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.starts_with("HTTP/1.1 200 Everything Fine\r\n"),
            "{text}"
        );
        assert!(text.contains("\r\nX-Custom-Header: a\r\n"), "{text}");
        assert!(text.ends_with("\r\n\r\nhi"), "{text}");
    }

    #[test]
    fn download_options_need_one_get_to_a_file() {
        let parse = |args: &[&str]| parse_args(args.iter().map(|a| a.to_string()).collect());
        let Ok(Command::Fetch(args)) = parse(&["-o", "fw.bin", "-C", "-", "--retry", "3", "u"])
        else {
            panic!("a download");
        };
        let how = args.download.expect("download options");
        assert!(how.resume);
        assert_eq!((how.retries, how.sha256), (3, None));
        for bad in [
            &["-C", "-", "u"][..],
            &["-o", "f", "-C", "100", "u"],
            &["-o", "f", "-C", "-", "--retry", "2", "u", "v"],
            &["-o", "f", "--sha256", "abc", "u"],
            &["-o", "f", "-C", "-", "--retry", "1", "-d", "x", "u"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn progress_bar_shows_share_and_sizes() {
        let line = bar_line(3 * 1024 * 1024, Some(12 * 1024 * 1024));
        assert_eq!(
            line,
            " 25.0% [#######-----------------------]     3.0 MiB of 12.0 MiB"
        );
        assert_eq!(bar_line(1024 * 1024, None), "1.0 MiB");
        assert!(bar_line(5, Some(5)).starts_with("100.0% [######"));
    }
}
