#!/usr/bin/env bash
# The whole check, as CI runs it: set-up, format, lints, tests on the host and on
# armv7 under qemu-user. Run from anywhere: `bash ci/test.sh`.
set -euo pipefail
cd "$(dirname "$0")/.."

TARGET=armv7-unknown-linux-gnueabihf
bash ci/setup.sh

step() { echo; echo "== $* ($(date +%T))"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (host, all targets)"
cargo clippy --all-targets -- -D warnings

step "cargo clippy without default features (no webpki-roots)"
cargo clippy --all-targets --no-default-features -- -D warnings

step "cargo clippy with the optional features (json, gzip)"
cargo clippy --all-targets --features json,gzip -- -D warnings

step "the bench harness (bench/harness, loadgen's path dev-dependency): clippy, tests"
# A crate of its own: the clippy run above does not lint it.
cargo clippy --manifest-path bench/harness/Cargo.toml --all-targets -- -D warnings
cargo test --manifest-path bench/harness/Cargo.toml --quiet

step "cargo doc (private items too), warnings are errors"
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --document-private-items
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --document-private-items --features json,gzip

step "tests on the host"
start=$(date +%s)
cargo test
echo "host tests took $(( $(date +%s) - start )) s"

step "the optional features' tests on the host (json, gzip)"
# Only what the features add: their tests, the unit tests, their doc examples.
cargo test --features json,gzip --lib
cargo test --features json,gzip --test it -- features::
cargo test --features json,gzip --doc -- json gzip

step "tests on the host without default features (system trust store)"
start=$(date +%s)
cargo test --no-default-features
echo "host tests without default features took $(( $(date +%s) - start )) s"

step "tests on $TARGET under qemu-user"
start=$(date +%s)
cargo test --target "$TARGET"
echo "armv7 tests took $(( $(date +%s) - start )) s"

step "interop with a real server (nginx on loopback), host and armv7"
bash ci/interop.sh

step "the package crates.io would get (cargo publish --dry-run)"
bash ci/package.sh

step "all checks passed"
