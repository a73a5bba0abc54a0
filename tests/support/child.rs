//! Runs one test of this test binary again in a child process: for what a test
//! cannot do in its own process (be killed half-way, run under a file size limit).
//! The child test reads its orders from environment variables and returns at once
//! when they are not set (as it does in the ordinary run).
//!
//! Under qemu-user without binfmt_misc (how the armv7 tests run here), the kernel
//! cannot start an ARM binary, and qemu's emulated `posix_spawn` does not report
//! the failure (the child just exits with 127): so this binary is first started
//! with `--list`, and if that fails on ARM, children go through `qemu-arm`, with
//! the library prefix of `.cargo/config.toml`.

use std::ffi::{OsStr, OsString};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

/// The runner's library prefix, as in `.cargo/config.toml`.
const QEMU_LD_PREFIX: &str = "/usr/arm-linux-gnueabihf";

/// The program and the arguments before the test binary's own that start it.
fn launcher() -> &'static (OsString, Vec<OsString>) {
    static LAUNCHER: OnceLock<(OsString, Vec<OsString>)> = OnceLock::new();
    LAUNCHER.get_or_init(|| {
        let exe: PathBuf = std::env::current_exe().expect("test binary path");
        let direct = Command::new(&exe)
            .arg("--list")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if direct || !cfg!(target_arch = "arm") {
            return (exe.into(), Vec::new());
        }
        let before = vec!["-L".into(), QEMU_LD_PREFIX.into(), exe.into()];
        ("qemu-arm".into(), before)
    })
}

/// Starts this test binary running only `test` (exactly), with `envs` set, stdout
/// piped (read what the child prints), stderr inherited.
pub fn spawn_test(test: &str, envs: &[(&str, &OsStr)]) -> Child {
    let (program, before) = launcher();
    Command::new(program)
        .args(before)
        .args(["--exact", test, "--nocapture", "--test-threads", "1"])
        .envs(envs.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("start the child test process {program:?}: {e}"))
}
