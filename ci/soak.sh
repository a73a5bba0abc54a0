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
# if open file descriptors or live heap do not come back to where they started.
# The figures (results, errors by kind, retries, stale discards, connections, wall
# time, fds and heap before/after) are printed either way.
set -euo pipefail
cd "$(dirname "$0")/.."

start=$(date +%s)
cargo test --release --test soak -- --ignored --nocapture
echo "ci/soak.sh: passed in $(( $(date +%s) - start )) s (build included)"
