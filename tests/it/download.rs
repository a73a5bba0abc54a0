//! `Client::download`: resumable, verified, atomic downloads against a test server
//! that breaks links, ignores `Range`, replaces the file, and a child process that
//! is killed half-way or runs out of file size.
//!
//! Every case serves over TLS, where a cut without close_notify is what a broken
//! link looks like; the server's record of requests says what the client asked.

#![allow(unsafe_code)] // the child of the file size case: setrlimit and signal (libc)

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::support;
use support::ranged::answer;
use support::{pki_and_https, Pki, Reply, Request, Server};
use tinyhttps::{Client, Download, Error, TlsSettings};

/// Where every response is cut: "a link that breaks after ~700 KB".
const CUT: usize = 700_000;

/// The served file: a few cuts long.
const FILE_LEN: usize = 2_500_000;

/// The crate syncs the part each time it reaches a multiple of this (1 MiB) and
/// records that length in the sidecar; a new process keeps no byte beyond it.
const DURABLE_STEP: usize = 1024 * 1024;

/// The tag of the served file; the replaced file's is [`NEW_ETAG`].
const ETAG: &str = "\"v1\"";
const NEW_ETAG: &str = "\"v2\"";

/// Env of the child cases: the URL to download, the CA file, the destination,
/// the expected SHA-256, and (file size case) the file size limit in bytes.
const CHILD_URL: &str = "TINYHTTPS_TEST_DOWNLOAD_URL";
const CHILD_CA: &str = "TINYHTTPS_TEST_DOWNLOAD_CA";
const CHILD_DEST: &str = "TINYHTTPS_TEST_DOWNLOAD_DEST";
const CHILD_SHA256: &str = "TINYHTTPS_TEST_DOWNLOAD_SHA256";
const CHILD_FSIZE: &str = "TINYHTTPS_TEST_DOWNLOAD_FSIZE";

/// The full name of [`child_download`] in the test binary.
const CHILD_TEST: &str = "download::child_download";

/// Bytes that differ at every offset and between seeds, so that a splice or a
/// shifted append shows.
fn file_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn sha256_hex(bytes: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// A temporary directory, removed when dropped; `dest` is the download's target.
struct Dir(PathBuf);

impl Dir {
    fn new(tag: &str) -> Dir {
        Dir(support::temp_dir(tag))
    }

    fn dest(&self) -> PathBuf {
        self.0.join("fw.bin")
    }

    fn part(&self) -> PathBuf {
        self.0.join("fw.bin.part")
    }

    fn sidecar(&self) -> PathBuf {
        self.0.join("fw.bin.part.meta")
    }

    /// Only the finished file is left: no part, no sidecar.
    fn assert_only_the_file(&self, expected: &[u8]) {
        let got = std::fs::read(self.dest()).expect("the file is in place");
        assert!(
            got == expected,
            "file differs: {} bytes, expected {}",
            got.len(),
            expected.len()
        );
        assert!(!self.part().exists(), "part left behind");
        assert!(!self.sidecar().exists(), "sidecar left behind");
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A download of the server's `/fw.bin` to `dir`, retrying without pauses.
fn download(client: &Client, server: &Server, dir: &Dir) -> Download<'static> {
    client
        .download(&server.url("/fw.bin"))
        .to_file(dir.dest())
        .retry_pause(Duration::ZERO)
}

/// The `Range` header of each request the server saw, in order.
fn ranges(server: &Server) -> Vec<Option<String>> {
    server
        .requests()
        .iter()
        .map(|r| r.header("range").map(str::to_string))
        .collect()
}

fn range(from: usize) -> Option<String> {
    Some(format!("bytes={from}-"))
}

/// Serves `body` (tagged [`ETAG`]) cutting every response after [`CUT`] body
/// bytes without close_notify, with a `Content-Length` or close-delimited.
fn cut_every_response(close_delimited: bool) {
    let body = Arc::new(file_bytes(FILE_LEN, 1));
    let served = body.clone();
    let (pki, server) = pki_and_https(move |req| {
        let a = answer(req, &served, ETAG);
        let rest = served.len() - a.start;
        match (close_delimited, rest <= CUT) {
            (false, _) => a.cut(&served, CUT),
            (true, false) => a.cut_close_delimited(&served, CUT),
            (true, true) => a.close_delimited(&served),
        }
    });
    let dir = Dir::new("download-cut");
    let client = support::client_trusting(&pki);
    // Two attempts in a row may fail: each cut attempt added bytes, so the count
    // starts over each time.
    let report = download(&client, &server, &dir)
        .attempts(2)
        .sha256(&sha256_hex(&body))
        .run()
        .expect("the download completes over a link that breaks");
    dir.assert_only_the_file(&body);
    assert_eq!(
        ranges(&server),
        vec![None, range(CUT), range(2 * CUT), range(3 * CUT)]
    );
    for req in &server.requests()[1..] {
        assert_eq!(req.header("if-range"), Some(ETAG), "{:?}", req.headers);
    }
    assert_eq!(report.bytes, FILE_LEN as u64);
    assert_eq!(
        (report.attempts, report.resumes, report.restarts),
        (4, 3, 0)
    );
    assert_eq!(report.received, FILE_LEN as u64);
}

#[test]
fn every_response_cut_without_close_notify_is_resumed_to_the_whole_file() {
    cut_every_response(false);
}

#[test]
fn close_delimited_responses_cut_without_close_notify_are_resumed() {
    cut_every_response(true);
}

#[test]
fn server_ignoring_range_once_restarts_from_zero_and_never_appends_a_full_body() {
    let body = Arc::new(file_bytes(FILE_LEN, 2));
    let served = body.clone();
    let count = AtomicUsize::new(0);
    let (pki, server) = pki_and_https(move |req| {
        let a = match count.fetch_add(1, Ordering::SeqCst) {
            // The second request: Range ignored, the whole file from zero.
            1 => answer(&without_header(req, "range"), &served, ETAG),
            _ => answer(req, &served, ETAG),
        };
        a.cut(&served, CUT)
    });
    let dir = Dir::new("download-ignored-range");
    let client = support::client_trusting(&pki);
    let report = download(&client, &server, &dir)
        .run()
        .expect("the download completes");
    dir.assert_only_the_file(&body);
    // After the 200, the part holds the file's first CUT bytes again: the third
    // request resumes from there, not from 2 * CUT.
    assert_eq!(
        ranges(&server),
        vec![None, range(CUT), range(CUT), range(2 * CUT), range(3 * CUT)]
    );
    assert_eq!((report.resumes, report.restarts), (3, 1));
}

#[test]
fn file_replaced_mid_download_is_fetched_anew_not_spliced() {
    let old = Arc::new(file_bytes(FILE_LEN, 3));
    let new = Arc::new(file_bytes(FILE_LEN + 12_345, 4));
    let (served_old, served_new) = (old.clone(), new.clone());
    let count = AtomicUsize::new(0);
    let (pki, server) = pki_and_https(move |req| {
        if count.fetch_add(1, Ordering::SeqCst) == 0 {
            return answer(req, &served_old, ETAG).cut(&served_old, CUT);
        }
        // Replaced: If-Range names the old tag, so the server answers 200.
        answer(req, &served_new, NEW_ETAG).reply(&served_new)
    });
    let dir = Dir::new("download-replaced");
    let client = support::client_trusting(&pki);
    let report = download(&client, &server, &dir)
        .sha256(&sha256_hex(&new))
        .run()
        .expect("the new file downloads");
    dir.assert_only_the_file(&new);
    let requests = server.requests();
    assert_eq!(ranges(&server), vec![None, range(CUT)]);
    assert_eq!(requests[1].header("if-range"), Some(ETAG));
    assert_eq!((report.resumes, report.restarts), (0, 1));
}

#[test]
fn a_206_of_another_file_version_is_not_appended() {
    // A server that honours Range but ignores If-Range: its 206 carries the new
    // file's tag, and the client must not splice it onto the old file's start.
    let old = Arc::new(file_bytes(FILE_LEN, 5));
    let new = Arc::new(file_bytes(FILE_LEN, 6));
    let (served_old, served_new) = (old.clone(), new.clone());
    let count = AtomicUsize::new(0);
    let (pki, server) = pki_and_https(move |req| {
        if count.fetch_add(1, Ordering::SeqCst) == 0 {
            return answer(req, &served_old, ETAG).cut(&served_old, CUT);
        }
        answer(&without_header(req, "if-range"), &served_new, NEW_ETAG).reply(&served_new)
    });
    let dir = Dir::new("download-other-version");
    let client = support::client_trusting(&pki);
    let report = download(&client, &server, &dir).run().expect("downloads");
    dir.assert_only_the_file(&new);
    assert_eq!(ranges(&server), vec![None, range(CUT), None]);
    assert_eq!(report.restarts, 1);
}

#[test]
fn a_206_starting_elsewhere_is_not_appended() {
    let body = Arc::new(file_bytes(FILE_LEN, 7));
    let served = body.clone();
    let count = AtomicUsize::new(0);
    let (pki, server) = pki_and_https(move |req| {
        let a = answer(req, &served, ETAG);
        match (count.fetch_add(1, Ordering::SeqCst), a.status) {
            (0, _) => a.cut(&served, CUT),
            (_, 206) => {
                // A broken server: the file from byte 0, labelled as such.
                let len = served.len();
                let mut wrong = a.clone();
                wrong.start = 0;
                wrong.headers.retain(|(n, _)| n != "Content-Range");
                wrong
                    .headers
                    .push(("Content-Range".into(), format!("bytes 0-{}/{len}", len - 1)));
                wrong.reply(&served)
            }
            _ => a.reply(&served),
        }
    });
    let dir = Dir::new("download-elsewhere");
    let client = support::client_trusting(&pki);
    let report = download(&client, &server, &dir).run().expect("downloads");
    dir.assert_only_the_file(&body);
    assert_eq!(ranges(&server), vec![None, range(CUT), None]);
    assert_eq!(report.restarts, 1);
}

/// `req` without the header `name`: what a server that ignores it acts on.
fn without_header(req: &Request, name: &str) -> Request {
    Request {
        headers: req
            .headers
            .iter()
            .filter(|(n, _)| n != name)
            .cloned()
            .collect(),
        ..req.clone()
    }
}

#[test]
fn a_complete_part_answered_416_is_verified_and_put_in_place() {
    let body = Arc::new(file_bytes(300_000, 8));
    let served = body.clone();
    let (pki, server) = pki_and_https(move |req| {
        let a = answer(req, &served, ETAG);
        if a.status == 200 {
            // The whole body, but a length one byte longer: cut at the very end.
            let mut out = a.head_with(Some(served.len() + 1));
            out.extend_from_slice(&served);
            return Reply::steps(vec![support::Step::Send(out), support::Step::Close], false);
        }
        a.reply(&served)
    });
    let dir = Dir::new("download-416");
    let client = support::client_trusting(&pki);
    let first = download(&client, &server, &dir).attempts(1).run();
    assert!(matches!(first, Err(Error::Truncated { .. })), "{first:?}");
    assert_eq!(std::fs::metadata(dir.part()).unwrap().len(), 300_000);
    let report = download(&client, &server, &dir)
        .sha256(&sha256_hex(&body))
        .run()
        .expect("the complete part is finished");
    dir.assert_only_the_file(&body);
    assert_eq!(ranges(&server), vec![None, range(300_000)]);
    assert_eq!((report.resumed_from, report.received), (300_000, 0));
}

#[test]
fn a_416_naming_another_version_restarts_instead_of_committing() {
    // If-Range has no effect on a 416: a file replaced by one of the same length
    // answers "complete" to the old part, with the new tag.
    const LEN: usize = 300_000;
    let old = Arc::new(file_bytes(LEN, 16));
    let new = Arc::new(file_bytes(LEN, 17));
    let (served_old, served_new) = (old.clone(), new.clone());
    let count = AtomicUsize::new(0);
    let (pki, server) = pki_and_https(move |req| {
        if count.fetch_add(1, Ordering::SeqCst) == 0 {
            // The whole old file, but a length one byte longer: cut at the very end.
            let a = answer(req, &served_old, ETAG);
            let mut out = a.head_with(Some(LEN + 1));
            out.extend_from_slice(&served_old);
            return Reply::steps(vec![support::Step::Send(out), support::Step::Close], false);
        }
        if req.header("range").is_some() {
            let total = format!("bytes */{LEN}");
            return Reply::status(416, &[("Content-Range", &total), ("ETag", NEW_ETAG)], b"");
        }
        answer(req, &served_new, NEW_ETAG).reply(&served_new)
    });
    let dir = Dir::new("download-416-other");
    let client = support::client_trusting(&pki);
    let first = download(&client, &server, &dir).attempts(1).run();
    assert!(matches!(first, Err(Error::Truncated { .. })), "{first:?}");
    assert_eq!(file_len(&dir.part()), LEN as u64);
    let report = download(&client, &server, &dir)
        .run()
        .expect("the new file downloads");
    dir.assert_only_the_file(&new);
    assert_eq!(ranges(&server), vec![None, range(LEN), None]);
    assert_eq!(server.requests()[1].header("if-range"), Some(ETAG));
    assert_eq!(report.restarts, 1);
}

/// What the crate writes in a sidecar (`PATH.part.meta`) for `url`, tagged
/// [`ETAG`], [`FILE_LEN`] long, of which `durable` bytes of the part were synced.
fn sidecar_text(url: &str, durable: usize) -> String {
    format!(
        "tinyhttps-download 2\nurl {url}\netag {ETAG}\nlength {FILE_LEN}\ndurable {durable}\nend\n"
    )
}

#[test]
fn a_part_longer_than_its_durable_length_resumes_from_the_durable_length() {
    // After a power loss, UBIFS/JFFS2 or ext4 data=writeback may leave zeros or
    // garbage past what was synced: the bytes beyond the durable length recorded
    // in the sidecar are never trusted, even with a validator and no digest.
    const DURABLE: usize = 1_000_000;
    let body = Arc::new(file_bytes(FILE_LEN, 18));
    let served = body.clone();
    let (pki, server) = pki_and_https(move |req| answer(req, &served, ETAG).reply(&served));
    let dir = Dir::new("download-durable");
    let mut part = body[..DURABLE].to_vec();
    part.extend_from_slice(&file_bytes(50_000, 19));
    std::fs::write(dir.part(), &part).unwrap();
    std::fs::write(dir.sidecar(), sidecar_text(&server.url("/fw.bin"), DURABLE)).unwrap();
    let client = support::client_trusting(&pki);
    let report = download(&client, &server, &dir)
        .run()
        .expect("the download completes");
    dir.assert_only_the_file(&body);
    assert_eq!(ranges(&server), vec![range(DURABLE)]);
    assert_eq!(server.requests()[0].header("if-range"), Some(ETAG));
    assert_eq!(report.resumed_from, DURABLE as u64);
}

#[test]
fn a_wrong_digest_fails_naming_both_digests_and_deletes_the_part() {
    let body = Arc::new(file_bytes(FILE_LEN, 9));
    let served = body.clone();
    let (pki, server) = pki_and_https(move |req| {
        let a = answer(req, &served, ETAG);
        a.cut(&served, CUT)
    });
    let dir = Dir::new("download-digest");
    let client = support::client_trusting(&pki);
    let wrong = sha256_hex(b"another image");
    let err = download(&client, &server, &dir)
        .sha256(&wrong.to_uppercase())
        .run()
        .expect_err("the digest does not match");
    let actual = sha256_hex(&body);
    match &err {
        Error::Digest {
            expected,
            actual: got,
        } => assert_eq!((&**expected, &**got), (wrong.as_str(), actual.as_str())),
        other => panic!("expected Error::Digest, got {other:?}"),
    }
    let message = err.to_string();
    assert!(
        message.contains(&wrong) && message.contains(&actual),
        "{message}"
    );
    assert!(!dir.dest().exists() && !dir.part().exists() && !dir.sidecar().exists());
    // The whole file was hashed, resumed parts included: 4 requests.
    assert_eq!(server.requests().len(), 4);
}

#[test]
fn not_found_fails_at_once_with_the_status() {
    let (pki, server) = pki_and_https(|_| Reply::status(404, &[], b"no such image"));
    let dir = Dir::new("download-404");
    let client = support::client_trusting(&pki);
    let err = download(&client, &server, &dir).run().expect_err("404");
    assert!(matches!(err, Error::Status { status: 404, .. }), "{err:?}");
    assert!(
        err.to_string().contains("/fw.bin answered 404 Not Found"),
        "{err}"
    );
    assert_eq!(server.requests().len(), 1);
    assert!(!dir.dest().exists());
}

#[test]
fn server_errors_are_retried_then_the_download_completes() {
    let body = Arc::new(file_bytes(100_000, 10));
    let served = body.clone();
    let count = AtomicUsize::new(0);
    let (pki, server) = pki_and_https(move |req| {
        if count.fetch_add(1, Ordering::SeqCst) < 2 {
            return Reply::status(503, &[], b"busy");
        }
        answer(req, &served, ETAG).reply(&served)
    });
    let dir = Dir::new("download-503");
    let client = support::client_trusting(&pki);
    let report = download(&client, &server, &dir).run().expect("downloads");
    dir.assert_only_the_file(&body);
    assert_eq!(report.attempts, 3);
}

#[test]
fn attempts_in_a_row_that_add_nothing_give_up_with_the_last_error() {
    let body = Arc::new(file_bytes(100_000, 11));
    let served = body.clone();
    let (pki, server) = pki_and_https(move |req| answer(req, &served, ETAG).cut(&served, 0));
    let dir = Dir::new("download-give-up");
    let client = support::client_trusting(&pki);
    let err = download(&client, &server, &dir)
        .attempts(3)
        .run()
        .expect_err("nothing ever arrives");
    assert!(matches!(err, Error::Truncated { .. }), "{err:?}");
    assert_eq!(server.requests().len(), 3);
}

#[test]
fn each_attempt_runs_to_the_download_deadline_not_the_clients() {
    // The body takes longer than the client's overall deadline per request: a
    // download's attempt is bounded by the download's own deadline instead.
    let body = Arc::new(file_bytes(200_000, 12));
    let served = body.clone();
    let (pki, server) = pki_and_https(move |req| {
        let a = answer(req, &served, ETAG);
        let mut out = a.head(&served);
        out.extend_from_slice(&served[..100_000]);
        let steps = vec![
            support::Step::Send(out),
            support::Step::Sleep(Duration::from_millis(600)),
            support::Step::Send(served[100_000..].to_vec()),
        ];
        Reply::steps(steps, true)
    });
    let client = Client::builder()
        .tls(support::trust(&pki))
        .timeout_overall(Some(Duration::from_millis(200)))
        .build()
        .unwrap();
    let dir = Dir::new("download-deadline");
    let report = download(&client, &server, &dir)
        .attempts(1)
        .run()
        .expect("the download's deadline, not the client's, bounds the attempt");
    dir.assert_only_the_file(&body);
    assert_eq!(report.attempts, 1);
}

#[test]
fn a_part_left_for_another_url_is_not_resumed() {
    let body = Arc::new(file_bytes(FILE_LEN, 13));
    let served = body.clone();
    let (pki, server) = pki_and_https(move |req| {
        let a = answer(req, &served, ETAG);
        if req.target == "/old.bin" {
            return a.cut(&served, CUT);
        }
        a.reply(&served)
    });
    let dir = Dir::new("download-other-url");
    let client = support::client_trusting(&pki);
    let first = client
        .download(&server.url("/old.bin"))
        .to_file(dir.dest())
        .attempts(1)
        .run();
    assert!(matches!(first, Err(Error::Truncated { .. })), "{first:?}");
    assert_eq!(std::fs::metadata(dir.part()).unwrap().len(), CUT as u64);
    download(&client, &server, &dir).run().expect("downloads");
    dir.assert_only_the_file(&body);
    assert_eq!(ranges(&server), vec![None, None]);
}

#[test]
fn bad_settings_are_refused_before_any_request() {
    let (pki, server) = pki_and_https(|_| Reply::ok(b"x"));
    let dir = Dir::new("download-settings");
    let client = support::client_trusting(&pki);
    let no_file = client.download(&server.url("/fw.bin")).run();
    assert!(
        matches!(no_file, Err(Error::InvalidRequest { .. })),
        "{no_file:?}"
    );
    let bad_hex = download(&client, &server, &dir).sha256("abc").run();
    let message = bad_hex.expect_err("bad digest").to_string();
    assert!(message.contains("64 hex digits"), "{message}");
    let zero = download(&client, &server, &dir).attempts(0).run();
    assert!(
        matches!(zero, Err(Error::InvalidRequest { .. })),
        "{zero:?}"
    );
    assert!(server.requests().is_empty());
}

/// In the child (its env set): downloads as the parent says, printing
/// `PROGRESS n` after every write and one `CHILD-OK`/`CHILD-ERR` line; under a
/// file size limit when asked. In the ordinary run (no env): does nothing.
#[test]
fn child_download() {
    let Some(url) = std::env::var_os(CHILD_URL) else {
        return;
    };
    let var = |name| std::env::var(name).unwrap_or_else(|_| panic!("{name} set"));
    if let Ok(limit) = std::env::var(CHILD_FSIZE) {
        limit_file_size(limit.parse().expect("a size in bytes"));
    }
    let client = Client::builder()
        .tls(TlsSettings::new().root_pem_file(var(CHILD_CA)))
        .build()
        .unwrap();
    let result = client
        .download(url.to_str().unwrap())
        .to_file(var(CHILD_DEST))
        .sha256(&var(CHILD_SHA256))
        .retry_pause(Duration::ZERO)
        .progress(|done, _| println!("PROGRESS {done}"))
        .run();
    match result {
        Ok(report) => println!("CHILD-OK {}", report.bytes),
        Err(Error::File { path, source }) => println!(
            "CHILD-ERR file {:?} errno {:?} {}",
            path,
            source.raw_os_error(),
            Error::File {
                path: path.clone(),
                source
            }
        ),
        Err(e) => println!("CHILD-ERR {e}"),
    }
}

/// RLIMIT_FSIZE for this (child) process, with SIGXFSZ ignored so that a write
/// beyond it fails with EFBIG instead of killing the process.
fn limit_file_size(bytes: u64) {
    let limit = libc::rlimit {
        rlim_cur: bytes as libc::rlim_t,
        rlim_max: bytes as libc::rlim_t,
    };
    // SAFETY: plain system calls with valid arguments, in a single-threaded child
    // test (no client yet).
    unsafe {
        assert_ne!(libc::signal(libc::SIGXFSZ, libc::SIG_IGN), libc::SIG_ERR);
        assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &limit), 0);
    }
}

/// Env for [`child_download`] of `server`'s `/fw.bin` to `dir`.
fn child_env(
    pki: &Pki,
    server: &Server,
    dir: &Dir,
    sha256: &str,
) -> Vec<(&'static str, std::ffi::OsString)> {
    let ca = dir.0.join("ca.pem");
    std::fs::write(&ca, &pki.ca_pem).unwrap();
    vec![
        (CHILD_URL, server.url("/fw.bin").into()),
        (CHILD_CA, ca.into()),
        (CHILD_DEST, dir.dest().into()),
        (CHILD_SHA256, sha256.into()),
    ]
}

fn spawn_child(env: &[(&'static str, std::ffi::OsString)]) -> std::process::Child {
    let env: Vec<(&str, &OsStr)> = env.iter().map(|(k, v)| (*k, v.as_os_str())).collect();
    support::child::spawn_test(CHILD_TEST, &env)
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

#[test]
fn download_killed_mid_way_is_finished_by_a_new_process_from_the_durable_part() {
    const STALL_AT: usize = 1_500_000;
    let body = Arc::new(file_bytes(FILE_LEN, 14));
    let served = body.clone();
    let (pki, server) = pki_and_https(move |req| {
        let a = answer(req, &served, ETAG);
        if a.status == 200 {
            // The first process gets this far, then the transfer hangs.
            return a.stall(&served, STALL_AT);
        }
        a.reply(&served)
    });
    let dir = Dir::new("download-killed");
    let env = child_env(&pki, &server, &dir, &sha256_hex(&body));
    let mut child = spawn_child(&env);
    // Wait for the event: the child wrote all the server sent before it hung.
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let mut seen = Vec::new();
    for line in stdout.lines() {
        let line = line.unwrap();
        let reached = line == format!("PROGRESS {STALL_AT}");
        seen.push(line);
        if reached {
            break;
        }
    }
    assert!(
        seen.last() == Some(&format!("PROGRESS {STALL_AT}")),
        "the child ended before it got {STALL_AT} bytes: {:?}",
        &seen[seen.len().saturating_sub(5)..]
    );
    child.kill().unwrap(); // SIGKILL: no destructor, no flush, like a power cut
    let status = child.wait().unwrap();
    assert!(!status.success());
    assert_eq!(file_len(&dir.part()), STALL_AT as u64);
    assert!(dir.sidecar().exists() && !dir.dest().exists());
    // What a power loss may leave past the synced MiB: zeros.
    let mut part = std::fs::read(dir.part()).unwrap();
    part[DURABLE_STEP..].fill(0);
    std::fs::write(dir.part(), &part).unwrap();

    // No digest: only the durable length keeps the zeros out.
    let client = support::client_trusting(&pki);
    let report = download(&client, &server, &dir)
        .run()
        .expect("the new process finishes from the part");
    dir.assert_only_the_file(&body);
    assert_eq!(ranges(&server), vec![None, range(DURABLE_STEP)]);
    assert_eq!(server.requests()[1].header("if-range"), Some(ETAG));
    assert_eq!(report.resumed_from, DURABLE_STEP as u64);
    assert_eq!(report.received, (FILE_LEN - DURABLE_STEP) as u64);
}

#[test]
fn file_size_limit_is_a_clear_error_naming_the_part_which_resumes_later() {
    const LIMIT: u64 = 1_000_000;
    let body = Arc::new(file_bytes(FILE_LEN, 15));
    let served = body.clone();
    let (pki, server) = pki_and_https(move |req| answer(req, &served, ETAG).reply(&served));
    let dir = Dir::new("download-fsize");
    let mut env = child_env(&pki, &server, &dir, &sha256_hex(&body));
    env.push((CHILD_FSIZE, LIMIT.to_string().into()));
    let out = spawn_child(&env).wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "child failed: {stdout}");
    let line = stdout
        .lines()
        .find(|l| l.starts_with("CHILD-"))
        .unwrap_or_else(|| panic!("child printed no outcome: {stdout}"));
    let part = dir.part();
    assert!(
        line.starts_with("CHILD-ERR file")
            && line.contains(&format!("errno Some({})", libc::EFBIG)),
        "{line}"
    );
    assert!(
        line.contains(&format!("file error on {}: File too large", part.display())),
        "{line}"
    );
    // Written up to the limit, nothing lost, nothing extra; the sidecar kept.
    assert_eq!(file_len(&part), LIMIT);
    assert!(dir.sidecar().exists() && !dir.dest().exists());

    let client = support::client_trusting(&pki);
    let report = download(&client, &server, &dir)
        .sha256(&sha256_hex(&body))
        .run()
        .expect("resumes without the limit");
    dir.assert_only_the_file(&body);
    assert_eq!(ranges(&server), vec![None, range(LIMIT as usize)]);
    assert_eq!(report.resumed_from, LIMIT);
}
