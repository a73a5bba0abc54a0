#!/usr/bin/env bash
# Where a pooled GET's instructions go, by function, on armv7: the profile behind the
# per-request figures of bench/compare.sh (scenario A) or, with --fresh, of a new
# connection per request (scenario C).
#
#   bash bench/profile.sh [--fresh] LOADGEN_ARMV7 [ROWS]
#
# LOADGEN_ARMV7: an armv7 release build of examples/loadgen with its symbol table
# (the release profile does not strip; for file and line detail build with
# CARGO_PROFILE_RELEASE_DEBUG=line-tables-only). nginx is started as bench/compare.sh
# does (ci/lib/nginx.sh); loadgen runs twice under qemu-arm -cpu cortex-a7 with the
# plugin bench/lib/tbprof.c (N = 100 and 1100 for A, 10 and 60 for C), and
# bench/lib/tbprof.py prints instructions per request for the ROWS (40) largest
# functions, and the total, which matches bench/compare.sh's.
set -euo pipefail
mode=keepalive
if [ "${1:-}" = --fresh ]; then mode=fresh; shift; fi
[ $# -ge 1 ] || { sed -n 2,13p "$0"; exit 2; }
bin=$(realpath "$1")
rows=${2:-40}
cd "$(dirname "$0")/.."
# shellcheck source=ci/lib/nginx.sh
source ci/lib/nginx.sh
nginx_tmpdir tinyhttps-profile
TMP=$NGINX_TMP
gcc -shared -fPIC -O2 -o "$TMP/libtbprof.so" bench/lib/tbprof.c
nginx_certs ec
nginx_www
nginx_start 2 nginx_conf_keepalive_and_close
if [ "$mode" = fresh ]; then
  n1=10 n2=60 args=(--mode fresh "https://localhost:$PORT_C/1k")
else
  n1=100 n2=1100 args=("https://localhost:$PORT_K/1k")
fi
for n in "$n1" "$n2"; do
  TBPROF_OUT=$TMP/prof.$n qemu-arm -cpu cortex-a7 -L /usr/arm-linux-gnueabihf \
    -d page -D "$TMP/page.$n" -plugin "$TMP/libtbprof.so" \
    "$bin" --json --cacert "$TMP/ca.pem" -n "$n" "${args[@]}" >"$TMP/out.$n" \
    || { echo "FAIL: loadgen -n $n"; cat "$TMP/out.$n"; exit 1; }
done
python3 bench/lib/tbprof.py "$bin" "$TMP/page.$n1" "$TMP/prof.$n1" "$TMP/prof.$n2" \
  "$n1" "$n2" "$rows"
