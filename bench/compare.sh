#!/usr/bin/env bash
# Instructions per request of several builds of tinyhttps' loadgen, side by side against
# one nginx: the before/after figure a change on the request path must state.
#
#   bash bench/compare.sh LOADGEN_ARMV7 [LOADGEN_ARMV7...]
#
# Each argument is an armv7 release build of examples/loadgen (build one per revision,
# e.g. in a git worktree: cargo build --release --target armv7-unknown-linux-gnueabihf
# --example loadgen). For each, under `qemu-arm -cpu cortex-a7` with the insncount
# plugin, as bench/bench.sh counts them:
#   A  keep-alive GET 1 KiB: a pooled GET     (I(1100) - I(100)) / 1000
#   C  a new connection per request, resumed  (I(60) - I(10)) / 50
# nginx and the plugin are set up as in bench/bench.sh (ci/lib/nginx.sh).
set -euo pipefail
[ $# -ge 1 ] || { sed -n 2,13p "$0"; exit 2; }
bins=()
for b in "$@"; do bins+=("$(realpath "$b")"); done
cd "$(dirname "$0")/.."
# shellcheck source=ci/lib/nginx.sh
source ci/lib/nginx.sh

INSNCOUNT_SRC=${INSNCOUNT_SRC:-../shared/tools/qemu-insncount/insncount.c}
[ -f "$INSNCOUNT_SRC" ] || { echo "insncount.c not found (set INSNCOUNT_SRC)"; exit 1; }
nginx_tmpdir tinyhttps-compare
TMP=$NGINX_TMP
gcc -shared -fPIC -O2 -o "$TMP/libinsncount.so" "$INSNCOUNT_SRC"
QEMU="qemu-arm -cpu cortex-a7 -L /usr/arm-linux-gnueabihf -plugin $TMP/libinsncount.so"

nginx_certs ec
nginx_www
nginx_start 2 nginx_conf_keepalive_and_close

# insns BIN N ARGS...: the guest instructions of one whole run of N requests.
insns() {
  local bin=$1 n=$2
  shift 2
  # shellcheck disable=SC2086 # QEMU is a command line, split on purpose.
  $QEMU "$bin" --json --cacert "$TMP/ca.pem" -n "$n" "$@" >"$TMP/out" 2>"$TMP/err" \
    || { echo "FAIL: $bin $*"; cat "$TMP/out" "$TMP/err"; exit 1; }
  sed -n 's/^GUEST_INSNS \([0-9]*\)$/\1/p' "$TMP/err"
}
per_request() {
  local bin=$1 n1=$2 n2=$3 i1 i2
  shift 3
  i1=$(insns "$bin" "$n1" "$@")
  i2=$(insns "$bin" "$n2" "$@")
  echo $(( (i2 - i1) / (n2 - n1) ))
}

printf '%-10s %-10s %s\n' "A pooled" "C new" "loadgen build"
for bin in "${bins[@]}"; do
  a=$(per_request "$bin" 100 1100 "https://localhost:$PORT_K/1k")
  c=$(per_request "$bin" 10 60 --mode fresh "https://localhost:$PORT_C/1k")
  printf '%-10s %-10s %s\n' "$a" "$c" "$bin"
done
