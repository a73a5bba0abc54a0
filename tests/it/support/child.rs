//! Running one test of this binary again in a child process, for what a test cannot
//! do in the process all tests share:
//! - change what the whole process shares (its environment variables: `getaddrinfo`
//!   and the other tests read them while it runs): [`run_isolated`];
//! - be killed half-way, or run under a file size limit: [`spawn_test`], whose child
//!   reads its orders from environment variables and returns at once when they are
//!   not set (as it does in the ordinary run).
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

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

/// Set in the child's environment: it runs one test, alone.
const CHILD: &str = "TINYHTTPS_TEST_CHILD";

/// The armv7 runner's library prefix, as in `.cargo/config.toml`.
const QEMU_LD_PREFIX: &str = "/usr/arm-linux-gnueabihf";

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
        .stdin(Stdio::null())
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

/// Starts this test binary running only `test` (its full path, exactly), with `envs`
/// set, stdout piped (read what the child prints), stderr inherited. The caller
/// waits for it (or kills it).
pub fn spawn_test(test: &str, envs: &[(&str, &OsStr)]) -> Child {
    command()
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(CHILD, test)
        .envs(envs.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("start the child test process {test}: {e}"))
}

/// A command that starts this test binary the way this process was started.
///
/// Under qemu-user (armv7 tests on another host) without binfmt_misc, the kernel
/// cannot run the guest binary that `current_exe` names, and qemu's emulated
/// `posix_spawn` does not report the failure (the child just exits with 127): the
/// child must go through a runner. The one this process runs under, when it can be
/// seen ([`runner_seen`]); else, on ARM, if the binary does not start directly
/// (`--list` fails), `qemu-arm` with the library prefix of `.cargo/config.toml`.
fn command() -> Command {
    static LAUNCHER: OnceLock<Vec<OsString>> = OnceLock::new();
    let launcher = LAUNCHER.get_or_init(|| {
        let exe: PathBuf = std::env::current_exe().expect("test binary path");
        let mut runner = runner_seen();
        if runner.is_empty() && cfg!(target_arch = "arm") && !starts_directly(&exe) {
            runner = vec!["qemu-arm".into(), "-L".into(), QEMU_LD_PREFIX.into()];
        }
        runner.push(exe.into());
        runner
    });
    let mut command = Command::new(&launcher[0]);
    command.args(&launcher[1..]);
    command
}

/// Whether `exe --list` runs and succeeds when started directly.
fn starts_directly(exe: &Path) -> bool {
    Command::new(exe)
        .arg("--list")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The program and arguments this process runs under, if any can be seen.
///
/// qemu-user shows the guest its own command line in `/proc/self/cmdline`; older
/// versions (7.x) do not in `/proc/thread-self/cmdline`, which keeps the real one:
/// the runner is what comes before the guest's arguments there. Newer versions
/// hide it there too; then nothing is seen.
fn runner_seen() -> Vec<OsString> {
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
