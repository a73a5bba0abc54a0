#!/usr/bin/env bash
# The soak test: one Client, 4 threads, 100,000 requests (a tenth over TLS) against
# local test servers that misbehave at random (close unanswered, truncate, stall past
# the read timeout, answer slowly, close after answering). Release build.
#
#   bash ci/soak.sh                     (from anywhere; ~15 s of run after the build)
#   SOAK_SEED=123 bash ci/soak.sh       (replay the server's choices of a run: each
#                                        run prints its seed)
#   SOAK_REQUESTS=1000000 bash ci/soak.sh
#
# It fails if a request is lost, answered twice, handed another request's body, or
# ends in a result that does not fit what the server did; if a thread gets stuck; or
# if, once the client is dropped, a socket to the servers is left open or the live
# heap of the threads that used it is not back where it started.
# The figures (results, errors by kind, retries, stale discards, connections, wall
# time, sockets and heap before/after) are printed either way. The test is
# `soak::soak_100k_requests` of the integration test binary (tests/it/soak.rs).
set -euo pipefail
cd "$(dirname "$0")/.."

start=$(date +%s)
cargo test --release --test it -- --ignored --exact soak::soak_100k_requests --nocapture
echo "ci/soak.sh: passed in $(( $(date +%s) - start )) s (build included)"
