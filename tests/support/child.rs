//! Runs one test of this test binary again in a child process: for what a test
//! cannot do in its own process (be killed half-way, run under a file size limit).
//! The child test reads its orders from environment variables and returns at once
//! when they are not set (as it does in the ordinary run).
//!
//! Under qemu-user without binfmt_misc (how the armv7 tests run here), the kernel
//! cannot start an ARM binary (ENOEXEC): the child is then started through
//! `qemu-arm`, with the library prefix of `.cargo/config.toml`.

use std::ffi::OsStr;
use std::process::{Child, Command, Stdio};

/// The runner's library prefix, as in `.cargo/config.toml`.
const QEMU_LD_PREFIX: &str = "/usr/arm-linux-gnueabihf";

/// Starts this test binary running only `test` (exactly), with `envs` set, stdout
/// piped (read what the child prints), stderr inherited.
pub fn spawn_test(test: &str, envs: &[(&str, &OsStr)]) -> Child {
    let exe = std::env::current_exe().expect("test binary path");
    let command = |program: &OsStr, before: &[&OsStr]| {
        let mut c = Command::new(program);
        c.args(before)
            .args(["--exact", test, "--nocapture", "--test-threads", "1"])
            .envs(envs.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        c
    };
    match command(exe.as_os_str(), &[]).spawn() {
        Ok(child) => child,
        Err(e) if e.raw_os_error() == Some(libc::ENOEXEC) => command(
            OsStr::new("qemu-arm"),
            &[
                OsStr::new("-L"),
                OsStr::new(QEMU_LD_PREFIX),
                exe.as_os_str(),
            ],
        )
        .spawn()
        .expect("start the child test process through qemu-arm"),
        Err(e) => panic!("start the child test process {}: {e}", exe.display()),
    }
}
