//! Running one test alone in a child process, for a test that must change what the
//! whole process shares (its environment variables: `getaddrinfo` and the other tests
//! read them while it runs).
//!
//! ```ignore
//! #[test]
//! fn a_test_that_sets_environment_variables() {
//!     if support::child::run_isolated() {
//!         return;
//!     }
//!     // Only in the child process, which runs nothing else:
//!     std::env::set_var("SSL_CERT_FILE", path);
//! }
//! ```

use std::ffi::OsString;
use std::process::Command;

/// Set in the child's environment: it runs one test, alone.
const CHILD: &str = "TINYHTTPS_TEST_CHILD";

/// In the test binary's own process: runs the calling test again, alone (`--exact`),
/// in a child process of this binary, checks that it passed, and returns true. In
/// that child: returns false, and the test goes on.
///
/// Call it from the test's own thread: libtest names it after the test.
pub fn run_isolated() -> bool {
    if std::env::var_os(CHILD).is_some() {
        return false;
    }
    let current = std::thread::current();
    let test = current.name().expect("a test thread, named after its test");
    let out = command()
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(CHILD, test)
        .output()
        .expect("the test binary runs as a child");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("test result: ok. 1 passed"),
        "{test} in a child process: {}\n--- stdout:\n{stdout}\n--- stderr:\n{stderr}",
        out.status
    );
    true
}

/// A command that starts this test binary the way this process was started.
///
/// Under qemu-user (armv7 tests on another host) without binfmt_misc, the kernel
/// cannot run the guest binary that `current_exe` names: the child must go through
/// the same runner (`qemu-arm -L ...`). qemu-user shows the guest its own command
/// line in `/proc/self/cmdline`, but not in `/proc/thread-self/cmdline`, which keeps
/// the real one: the runner is what comes before the guest's arguments there.
fn command() -> Command {
    let exe = std::env::current_exe().expect("test binary path");
    let mut runner = runner().into_iter();
    let mut command = match runner.next() {
        None => return Command::new(exe),
        Some(program) => Command::new(program),
    };
    command.args(runner).arg(exe);
    command
}

/// The program and arguments this process runs under, if any (see [`command`]).
fn runner() -> Vec<OsString> {
    use std::os::unix::ffi::OsStringExt;
    let Ok(real) = std::fs::read("/proc/thread-self/cmdline") else {
        return Vec::new();
    };
    let real: Vec<&[u8]> = real
        .strip_suffix(&[0])
        .unwrap_or(&real)
        .split(|&b| b == 0)
        .collect();
    let own: Vec<OsString> = std::env::args_os().collect();
    let extra = real.len().saturating_sub(own.len());
    // The guest's arguments after its program name must end the real command line.
    let tail = real.get(extra + 1..).unwrap_or_default();
    let tail_matches = tail.len() + 1 == own.len()
        && tail
            .iter()
            .zip(&own[1..])
            .all(|(r, o)| *r == o.as_encoded_bytes());
    if extra == 0 || !tail_matches {
        return Vec::new();
    }
    real[..extra]
        .iter()
        .map(|a| OsString::from_vec(a.to_vec()))
        .collect()
}
