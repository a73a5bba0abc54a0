#!/usr/bin/env bash
# Side-by-side comparison of tinyhttps and ureq 3 on armv7: the table of BENCHMARKS.md.
#
#   bash bench/bench.sh         (from anywhere; needs what ci/setup.sh installs, plus
#                                gcc for the QEMU plugin and python3 >= 3.11; ~8 min
#                                from a clean clone on 2 busy cores, 7 of them
#                                building; ~1 min once built)
#   INSNCOUNT_SRC=path/to/insncount.c bash bench/bench.sh
#   BENCH_OUT=dir BENCH_RTT_MS=50 BENCH_RTT_N=10 bash bench/bench.sh   (the defaults)
#
# 1. Builds, release, for armv7-unknown-linux-gnueabihf: tinyhttps' `loadgen` example,
#    `ureq-loadgen` (bench/ureq-driver: ureq 3 with rustls + ring, loadgen's CLI; both
#    use bench/harness), and the two minimal GET programs of bench/size (opt-level "z",
#    LTO, one codegen unit, panic abort, stripped), plus tinyhttps-get with
#    `default-features = false` when the crate has a default `webpki-roots` feature;
#    for the host, both load drivers; and the insncount QEMU plugin with gcc into the
#    temp dir: the file $INSNCOUNT_SRC (relative to where the script is run from), else
#    ../shared/tools/qemu-insncount/insncount.c relative to the repository root.
#    Every crate is built from the repository root (--manifest-path), so that its
#    .cargo/config.toml (linker, C cross compiler) holds; each of bench/'s crates is
#    a workspace of its own, with its own Cargo.lock and, without CARGO_TARGET_DIR,
#    its own target/ directory.
# 2. Starts nginx on loopback (ci/lib/nginx.sh, shared with ci/interop.sh): a test CA
#    and an ECDSA P-256 certificate from openssl, TLS 1.2 + 1.3, session tickets, and
#    ports  K  keep-alive, serving /1k /20k /1m (random bytes)
#           C  keepalive_timeout 0 (the server closes after every response)
#           Z  as C, with `ssl_early_data on` (TLS 1.3 0-RTT; its own access log
#              records $ssl_early_data)
#           D0..D15  keep-alive, /1k: 16 netlocs. Server Dk listens on 127.0.0.(k+1)
#              (all of 127/8 is loopback; the certificate names those 16 addresses)
#              and on 127.0.0.1, both on its own port.
# 3. Measures both drivers, armv7, under `qemu-arm -cpu cortex-a7 -plugin insncount`:
#    instructions per request = (I(N2) - I(N1)) / (N2 - N1), I the GUEST_INSNS of a
#    whole run of N requests (after the same warm-up), so start-up, warm-up and exit
#    cancel out:
#      A  keep-alive GET 1 KiB                   N 100 / 1100
#      B  keep-alive GET 20 KiB                  N 20 / 220
#      C  a new connection per request, 1 KiB    N 10 / 60 (--mode fresh, port C)
#      C0 tinyhttps --no-tls-cache --no-resumption on C: its full-handshake baseline,
#         N 10 / 30
#      D  16 netlocs round robin, 1 KiB          N 32 / 192, warm-up 16 (each netloc
#         once), https://127.0.0.(k+1):Dk/1k: 16 hosts, as 16 servers would be:
#         tinyhttps by default, with --tls-cache-size 8 and 16, and (for what TLS
#         config eviction costs) --mode fresh with 8 and 16; ureq by default
#      D' the same over https://localhost:Dk/1k: 16 ports of one host name. rustls'
#         own session cache (ureq's) is keyed by server name only, so it offers one
#         port's ticket to another, whose server (its own ticket key: one nginx
#         server block each) cannot resume it: shown for what it costs
#      E  one 1 MiB download                     N 1 / 3
#      B and E again with tinyhttps --cipher aes256 (ureq's default cipher: rustls'
#      order, AES-256-GCM first; tinyhttps puts ChaCha20 first on 32-bit ARM, and nginx
#      takes the client's order), so the HTTP layer shows apart from the cipher.
#    F  heap per idle pooled TLS connection after a 20 KiB response: both drivers'
#       `--heap` (a counting global allocator: live bytes with two idle pooled
#       connections minus with one), armv7 under qemu, the median of 5 runs;
#    G  size of the stripped armv7 GET programs (stat -c %s);
#    and CPU ms per request on the host (x86), the median of 5 runs, for A and C:
#    wall-clock based and so noisy, quoted for orientation only;
#    R  round trips at BENCH_RTT_MS (50) ms RTT: ci/lib/delay_relay.py between the
#       client and nginx delays every byte by RTT/2 each way and the client's first
#       bytes by one more RTT (TCP set-up; this kernel has no netem). Host (x86) builds
#       of both drivers with --latency, BENCH_RTT_N (10) counted requests after one
#       warm-up: round trips = median wall ms per request / RTT (round trips do not
#       depend on the CPU, and the host's few ms of CPU are small beside 50 ms):
#         A  keep-alive GET 1 KiB on K                     expected 1
#         C  --mode fresh on C, resumed TLS 1.3             expected 3 (TCP, TLS, request)
#         C  tinyhttps --early-data on Z                    expected 2 (skipped when
#            loadgen has no --early-data; nginx's log must show early data)
#         C  tinyhttps --no-tls-cache --no-resumption on C  expected 3 (TLS 1.3 full is
#            1 RTT too)
#    Each run's JSON line is checked (request and byte counts; for tinyhttps the
#    connection and handshake counters the scenario implies), so a mis-set scenario
#    fails instead of printing a wrong number; nginx's access log shows what was
#    negotiated (every request must have been over TLS 1.3).
#    If bench/size.sh exists (binary sizes, "smallest build"), it runs last, with
#    BENCH_OUT and TMP in its environment, and writes its table to $BENCH_OUT/sizes.md.
# 4. Writes into BENCH_OUT (default bench/out, git-ignored), with bench/lib/report.py
#    and bench/lib/chart.py: results.txt (every figure, KEY VALUE), table.md (scenario |
#    tinyhttps | ureq | ratio | target | met/missed), raw.txt (the raw counts), rtt.md
#    (round trips), negotiated.txt (nginx's log summed up), versions.txt, sizes.md
#    (bench/size.sh's), insns.svg and rtt.svg; and prints them. BENCHMARKS.md is
#    refreshed from them with `python3 bench/lib/report.py refresh bench/out
#    BENCHMARKS.md` (which also copies the SVGs to bench/).
#
# nginx and the relay are stopped by PID and the temp dir removed on exit, whatever
# happens.
set -euo pipefail
# A relative INSNCOUNT_SRC is relative to where the script was started.
INSNCOUNT_SRC=${INSNCOUNT_SRC:+$(realpath -m -- "$INSNCOUNT_SRC")}
BENCH_OUT=${BENCH_OUT:+$(realpath -m -- "$BENCH_OUT")}
cd "$(dirname "$0")/.."
BENCH_OUT=${BENCH_OUT:-$PWD/bench/out}
BENCH_RTT_MS=${BENCH_RTT_MS:-50}
BENCH_RTT_N=${BENCH_RTT_N:-10}
# shellcheck source=ci/lib/nginx.sh
source ci/lib/nginx.sh

TARGET=armv7-unknown-linux-gnueabihf
QEMU_BASE="qemu-arm -cpu cortex-a7 -L /usr/arm-linux-gnueabihf"
# Where cargo puts each crate's output (one shared directory if CARGO_TARGET_DIR is set).
MAIN_OUT=${CARGO_TARGET_DIR:-target}
UREQ_OUT=${CARGO_TARGET_DIR:-bench/ureq-driver/target}
TINY_GET_OUT=${CARGO_TARGET_DIR:-bench/size/tinyhttps-get/target}
UREQ_GET_OUT=${CARGO_TARGET_DIR:-bench/size/ureq-get/target}
ARM_LOADGEN=$MAIN_OUT/$TARGET/release/examples/loadgen
ARM_UREQ=$UREQ_OUT/$TARGET/release/ureq-loadgen
HOST_LOADGEN=$MAIN_OUT/release/examples/loadgen
HOST_UREQ=$UREQ_OUT/release/ureq-loadgen
# Longest any one run may take (qemu on a busy machine is slow, never stuck).
LIMIT=600

step() { echo; echo "== $* ($(date +%T))"; }
fail() {
  echo "FAIL: $1"
  shift
  local f
  for f in "$@"; do
    [ -s "$f" ] && { echo "--- $(basename "$f"):"; head -c 4000 "$f"; echo; }
  done
  exit 1
}
t0=$(date +%s)

# The QEMU plugin's source: INSNCOUNT_SRC, else beside the repository (we are at its root).
INSNCOUNT_SRC=${INSNCOUNT_SRC:-../shared/tools/qemu-insncount/insncount.c}
if [ ! -f "$INSNCOUNT_SRC" ]; then
  fail "$INSNCOUNT_SRC not found: set INSNCOUNT_SRC to the insncount QEMU plugin's insncount.c"
fi
for tool in "$NGINX" openssl python3 qemu-arm arm-linux-gnueabihf-gcc gcc; do
  command -v "$tool" >/dev/null 2>&1 || fail "$tool not found (run bash ci/setup.sh)"
done

nginx_tmpdir tinyhttps-bench
TMP=$NGINX_TMP
RESULTS=$TMP/results
: >"$RESULTS"
# Only the files this script writes are replaced, never the directory.
mkdir -p "$BENCH_OUT"
for f in results.txt table.md raw.txt rtt.md negotiated.txt versions.txt sizes.md \
    insns.svg rtt.svg; do
  rm -f "$BENCH_OUT/$f"
done
RELAY_PID=""
# stop_relay: stops the delay relay by PID (it exits at TERM), KILL after 5 s.
stop_relay() {
  if [ -n "$RELAY_PID" ]; then
    kill -TERM "$RELAY_PID" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$RELAY_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$RELAY_PID" 2>/dev/null || true
    wait "$RELAY_PID" 2>/dev/null || true
    RELAY_PID=""
  fi
}
# ci/lib/nginx.sh's EXIT trap calls it before it stops nginx.
NGINX_CLEANUP_HOOK=stop_relay
# record KEY VALUE: one result for the table.
record() { echo "$1 $2" >>"$RESULTS"; }

step "build the insncount plugin (gcc)"
gcc -shared -fPIC -O2 -o "$TMP/libinsncount.so" "$INSNCOUNT_SRC"
QEMU="$QEMU_BASE -plugin $TMP/libinsncount.so"

# One build at a time: the machine may be small and shared.
step "build loadgen (release, $TARGET)"
cargo build --release --target "$TARGET" --example loadgen
step "build ureq-loadgen (release, $TARGET)"
cargo build --release --target "$TARGET" --manifest-path bench/ureq-driver/Cargo.toml
step "build bench/size/tinyhttps-get (size profile, $TARGET)"
cargo build --release --target "$TARGET" --manifest-path bench/size/tinyhttps-get/Cargo.toml
step "build bench/size/ureq-get (size profile, $TARGET)"
cargo build --release --target "$TARGET" --manifest-path bench/size/ureq-get/Cargo.toml
# With a default `webpki-roots` feature, also tinyhttps-get without it: a copy of the
# program (renamed, so both binaries can stand side by side) whose dependency says
# default-features = false. Built from the repository root so .cargo/config.toml holds.
has_default_roots=$(python3 - <<'EOF'
import tomllib
features = tomllib.load(open("Cargo.toml", "rb")).get("features", {})
print("yes" if "webpki-roots" in features.get("default", []) else "no")
EOF
)
if [ "$has_default_roots" = yes ]; then
  step "build tinyhttps-get with default-features = false (size profile, $TARGET)"
  mkdir -p "$TMP/tinyhttps-get-nodefault"
  cp -r bench/size/tinyhttps-get/src bench/size/tinyhttps-get/Cargo.lock "$TMP/tinyhttps-get-nodefault/"
  python3 - "$PWD" bench/size/tinyhttps-get/Cargo.toml >"$TMP/tinyhttps-get-nodefault/Cargo.toml" <<'EOF'
import re, sys
text = open(sys.argv[2]).read()
text = text.replace('name = "tinyhttps-get"', 'name = "tinyhttps-get-nodefault"', 1)
text, n = re.subn(r'^tinyhttps = \{ path = "[^"]*" \}$',
                  'tinyhttps = { path = "%s", default-features = false }' % sys.argv[1],
                  text, count=1, flags=re.M)
assert n == 1, "no tinyhttps path dependency in bench/size/tinyhttps-get/Cargo.toml"
sys.stdout.write(text)
EOF
  CARGO_TARGET_DIR=$TINY_GET_OUT cargo build --release --target "$TARGET" \
    --manifest-path "$TMP/tinyhttps-get-nodefault/Cargo.toml"
fi
step "build loadgen and ureq-loadgen (release, host)"
cargo build --release --example loadgen
cargo build --release --manifest-path bench/ureq-driver/Cargo.toml
t_built=$(date +%s)

step "nginx on loopback"
NGINX_CERT_SAN="DNS:localhost,IP:127.0.0.1"
for k in $(seq 2 16); do NGINX_CERT_SAN+=",IP:127.0.0.$k"; done
nginx_certs ec
nginx_www
write_nginx_conf() {
  local k p d_servers=""
  PORT_K=${NGINX_PORTS[0]} PORT_C=${NGINX_PORTS[1]} PORT_Z=${NGINX_PORTS[18]}
  D_PORTS=("${NGINX_PORTS[@]:2:16}")
  NGINX_LISTEN=("127.0.0.1:$PORT_K" "127.0.0.1:$PORT_C" "127.0.0.1:$PORT_Z")
  for k in $(seq 0 15); do
    p=${D_PORTS[$k]}
    if [ "$k" -eq 0 ]; then
      d_servers+="  server { listen 127.0.0.1:$p ssl; }"$'\n'
      NGINX_LISTEN+=("127.0.0.1:$p")
    else
      d_servers+="  server { listen 127.0.0.$(( k + 1 )):$p ssl; listen 127.0.0.1:$p ssl; }"$'\n'
      NGINX_LISTEN+=("127.0.0.$(( k + 1 )):$p" "127.0.0.1:$p")
    fi
  done
  cat >"$TMP/nginx.conf" <<EOF
$(nginx_conf_main)
http {
$(nginx_conf_http_common)
  # What nginx negotiated, summed up at the end: protocol, cipher, key exchange
  # group, "r" for a resumed session ("." for a full handshake).
  log_format bench '\$ssl_protocol \$ssl_cipher \$ssl_curve \$ssl_session_reused';
  access_log $TMP/access.log bench;
  # nginx 1.22 speaks TLS 1.3 only when told.
  ssl_protocols TLSv1.2 TLSv1.3;
  ssl_certificate $TMP/ec.pem;
  ssl_certificate_key $TMP/ec.key;
  ssl_session_cache shared:SSL:1m;
  ssl_session_tickets on;
  keepalive_timeout 60;
  keepalive_requests 100000;
  server { listen 127.0.0.1:$PORT_K ssl; }
  server { listen 127.0.0.1:$PORT_C ssl; keepalive_timeout 0; }
  # TLS 1.3 early data, on a port of its own: "1" in early.log for a request that
  # came in early data (before the handshake was complete).
  log_format early '\$ssl_session_reused \$ssl_early_data';
  server {
    listen 127.0.0.1:$PORT_Z ssl;
    keepalive_timeout 0;
    ssl_early_data on;
    access_log $TMP/access.log bench;
    access_log $TMP/early.log early;
  }
$d_servers}
EOF
}
nginx_start 19 write_nginx_conf
K=https://localhost:$PORT_K
C=https://localhost:$PORT_C
D_URLS=() D1_URLS=()
for k in $(seq 0 15); do
  D_URLS+=("https://127.0.0.$(( k + 1 )):${D_PORTS[$k]}/1k")
  D1_URLS+=("https://localhost:${D_PORTS[$k]}/1k")
done
echo "nginx $(nginx_version) (pid $NGINX_PID): K=127.0.0.1:$PORT_K C=127.0.0.1:$PORT_C Z=127.0.0.1:$PORT_Z D0..D15=127.0.0.1..16 on ports ${D_PORTS[*]} (and 127.0.0.1)"
t_up=$(date +%s)

# check_json FILE "key=value ...": each key of the JSON line in FILE has the value.
check_json() {
  local file=$1 expect=$2
  # shellcheck disable=SC2086 # one argument per expectation
  python3 - "$(tail -n 1 "$file")" $expect <<'EOF'
import json, sys
report = json.loads(sys.argv[1])
bad = [f"{k} is {report.get(k)}, expected {v}"
       for k, v in (c.split("=", 1) for c in sys.argv[2:]) if str(report.get(k)) != v]
if bad:
    print("; ".join(bad))
    sys.exit(1)
EOF
}

# json_field FILE KEY: the value of KEY in the JSON line of FILE.
json_field() {
  python3 -c 'import json, sys; print(json.loads(open(sys.argv[1]).read().splitlines()[-1])[sys.argv[2]])' "$1" "$2"
}

# count_run CLIENT N EXPECT ARGS...: one armv7 run of CLIENT (tiny or ureq) under qemu
# with the plugin, N counted requests; checks the JSON line against EXPECT (plus
# requests=N) and sets INSNS to the run's GUEST_INSNS.
count_run() {
  local client=$1 n=$2 expect=$3 bin why
  shift 3
  if [ "$client" = tiny ]; then bin=$ARM_LOADGEN; else bin=$ARM_UREQ; fi
  # shellcheck disable=SC2086 # QEMU is a command line, split on purpose.
  timeout "$LIMIT" $QEMU "$bin" --json --cacert "$TMP/ca.pem" -n "$n" "$@" \
    >"$TMP/stdout" 2>"$TMP/stderr" \
    || fail "$client $* -n $n: exit $?" "$TMP/stdout" "$TMP/stderr"
  why=$(check_json "$TMP/stdout" "requests=$n $expect") \
    || fail "$client $* -n $n: $why" "$TMP/stdout"
  INSNS=$(sed -n 's/^GUEST_INSNS \([0-9]*\)$/\1/p' "$TMP/stderr")
  [ -n "$INSNS" ] || fail "$client $* -n $n: no GUEST_INSNS from the plugin" "$TMP/stderr"
}

# per_request KEY CLIENT N1 N2 BYTES "EXPECT" ARGS...: instructions per request
# (I(N2) - I(N1)) / (N2 - N1), recorded as KEY.CLIENT. EXPECT may use {n}, replaced by the
# run's N; BYTES is the body size of one request (0: not checked).
per_request() {
  local key=$1 client=$2 n1=$3 n2=$4 size=$5 expect=$6 i1 i2 e1 e2
  shift 6
  e1=${expect//\{n\}/$n1} e2=${expect//\{n\}/$n2}
  if [ "$size" -gt 0 ]; then
    e1="$e1 bytes=$(( n1 * size ))" e2="$e2 bytes=$(( n2 * size ))"
  fi
  count_run "$client" "$n1" "$e1" "$@"; i1=$INSNS
  count_run "$client" "$n2" "$e2" "$@"; i2=$INSNS
  record "$key.$client" $(( (i2 - i1) / (n2 - n1) ))
  record "$key.$client.raw" "$n1:$i1,$n2:$i2"
  printf '  %-14s %-5s I(%s)=%s I(%s)=%s  -> %s per request\n' \
    "$key" "$client" "$n1" "$i1" "$n2" "$i2" $(( (i2 - i1) / (n2 - n1) ))
}

step "instructions per request, armv7 under qemu-arm -cpu cortex-a7"
t_insns=$(date +%s)
KEEP="connections_opened=0 handshakes_full=0 handshakes_resumed=0 retries=0"
FRESH="connections_opened={n} handshakes_resumed={n} handshakes_full=0 pool_reuses=0 retries=0"
per_request A tiny 100 1100 1024 "$KEEP pool_reuses={n}" "$K/1k"
per_request A ureq 100 1100 1024 "" "$K/1k"
per_request B tiny 20 220 20480 "$KEEP" "$K/20k"
per_request B ureq 20 220 20480 "" "$K/20k"
per_request B.aes256 tiny 20 220 20480 "$KEEP" --cipher aes256 "$K/20k"
per_request C tiny 10 60 1024 "$FRESH" --mode fresh "$C/1k"
per_request C ureq 10 60 1024 "" --mode fresh "$C/1k"
per_request C.full tiny 10 30 1024 \
  "connections_opened={n} handshakes_full={n} handshakes_resumed=0 tls_config_builds={n}" \
  --mode fresh --no-tls-cache --no-resumption "$C/1k"
per_request D tiny 32 192 1024 "$KEEP pool_reuses={n}" --warmup 16 "${D_URLS[@]}"
per_request D.cache8 tiny 32 192 1024 "$KEEP pool_reuses={n}" \
  --warmup 16 --tls-cache-size 8 "${D_URLS[@]}"
per_request D.cache16 tiny 32 192 1024 "$KEEP pool_reuses={n}" \
  --warmup 16 --tls-cache-size 16 "${D_URLS[@]}"
per_request D.fresh8 tiny 32 192 1024 "$FRESH tls_config_builds={n}" \
  --warmup 16 --mode fresh --tls-cache-size 8 "${D_URLS[@]}"
per_request D.fresh16 tiny 32 192 1024 "$FRESH tls_config_builds=0" \
  --warmup 16 --mode fresh --tls-cache-size 16 "${D_URLS[@]}"
per_request D ureq 32 192 1024 "" --warmup 16 "${D_URLS[@]}"
per_request D1 tiny 32 192 1024 "$KEEP pool_reuses={n}" --warmup 16 "${D1_URLS[@]}"
per_request D1.fresh8 tiny 32 192 1024 "$FRESH tls_config_builds={n}" \
  --warmup 16 --mode fresh --tls-cache-size 8 "${D1_URLS[@]}"
per_request D1 ureq 32 192 1024 "" --warmup 16 "${D1_URLS[@]}"
per_request E tiny 1 3 1048576 "$KEEP" "$K/1m"
per_request E ureq 1 3 1048576 "" "$K/1m"
per_request E.aes256 tiny 1 3 1048576 "$KEEP" --cipher aes256 "$K/1m"
echo "instruction counts took $(( $(date +%s) - t_insns )) s"

step "F: heap per idle pooled TLS connection after a 20 KiB response (armv7, qemu)"
# The median of 5 runs: now and then a 24 KiB TLS read buffer is or is not still held
# at one of the two measuring points, depending on how the bytes arrived.
for client in tiny ureq; do
  if [ "$client" = tiny ]; then bin=$ARM_LOADGEN; else bin=$ARM_UREQ; fi
  values=()
  for _ in 1 2 3 4 5; do
    # shellcheck disable=SC2086 # QEMU_BASE is a command line, split on purpose.
    timeout "$LIMIT" $QEMU_BASE "$bin" --json --cacert "$TMP/ca.pem" -n 1 --heap "$K/20k" \
      >"$TMP/stdout" 2>"$TMP/stderr" || fail "$client --heap: exit $?" "$TMP/stdout" "$TMP/stderr"
    values+=("$(json_field "$TMP/stdout" heap_per_idle_conn)")
  done
  heap=$(printf '%s\n' "${values[@]}" | sort -n | sed -n 3p)
  record "F.$client" "$heap"
  echo "  $client heap_per_idle_conn: ${values[*]} (median $heap bytes)"
done

step "G: stripped armv7 size of the minimal GET programs"
for prog in "tinyhttps-get:$TINY_GET_OUT" "ureq-get:$UREQ_GET_OUT" \
    "tinyhttps-get-nodefault:$TINY_GET_OUT"; do
  name=${prog%%:*} file=${prog#*:}/$TARGET/release/${prog%%:*}
  [ "$name" = tinyhttps-get-nodefault ] && [ "$has_default_roots" = no ] && continue
  size=$(stat -c %s "$file")
  # The program must work, not only exist.
  # shellcheck disable=SC2086
  got=$(timeout "$LIMIT" $QEMU_BASE "$file" "$K/20k" "$TMP/ca.pem" 2>"$TMP/stderr") \
    || fail "$name $K/20k: exit $?" "$TMP/stderr"
  [ "$got" = 20480 ] || fail "$name printed $got, expected 20480"
  record "G.$name" "$size"
  echo "  $name $size bytes"
done

step "CPU ms per request on the host (x86), median of 5 runs"
# cpu_host KEY CLIENT N ARGS...: the median of 5 runs' cpu_ms_per_request.
cpu_host() {
  local key=$1 client=$2 n=$3 bin values=()
  shift 3
  if [ "$client" = tiny ]; then bin=$HOST_LOADGEN; else bin=$HOST_UREQ; fi
  for _ in 1 2 3 4 5; do
    timeout "$LIMIT" "$bin" --json --cacert "$TMP/ca.pem" -n "$n" "$@" >"$TMP/stdout" 2>"$TMP/stderr" \
      || fail "$client (host) $*: exit $?" "$TMP/stdout" "$TMP/stderr"
    values+=("$(json_field "$TMP/stdout" cpu_ms_per_request)")
  done
  record "$key" "$(printf '%s\n' "${values[@]}" | sort -g | sed -n 3p)"
  echo "  $key $client: ${values[*]} (median $(printf '%s\n' "${values[@]}" | sort -g | sed -n 3p))"
}
cpu_host x86A.tiny tiny 2000 "$K/1k"
cpu_host x86A.ureq ureq 2000 "$K/1k"
cpu_host x86C.tiny tiny 200 --mode fresh "$C/1k"
cpu_host x86C.ureq ureq 200 --mode fresh "$C/1k"

step "R: round trips at $BENCH_RTT_MS ms RTT (host builds, through ci/lib/delay_relay.py)"
python3 ci/lib/delay_relay.py --rtt-ms "$BENCH_RTT_MS" --port-file "$TMP/relay.ports" \
  "$PORT_K" "$PORT_C" "$PORT_Z" &
RELAY_PID=$!
for _ in $(seq 100); do
  [ -s "$TMP/relay.ports" ] && break
  kill -0 "$RELAY_PID" 2>/dev/null || fail "the delay relay exited"
  sleep 0.05
done
[ -s "$TMP/relay.ports" ] || fail "the delay relay did not start"
# relay_port PORT: the relay's port in front of nginx's PORT.
relay_port() { awk -v p="$1" '$1 == p { print $2 }' "$TMP/relay.ports"; }
RK=https://localhost:$(relay_port "$PORT_K")
RC=https://localhost:$(relay_port "$PORT_C")
RZ=https://localhost:$(relay_port "$PORT_Z")
record R.rtt_ms "$BENCH_RTT_MS"
# rtt_run KEY CLIENT EXPECT ARGS...: one host run of CLIENT through the relay with
# --latency, BENCH_RTT_N counted requests after one warm-up; checks the JSON line against
# EXPECT ({n} is BENCH_RTT_N) and records the median wall ms per request as R.KEY.CLIENT.
rtt_run() {
  local key=$1 client=$2 expect=$3 n=$BENCH_RTT_N bin why median
  shift 3
  if [ "$client" = tiny ]; then bin=$HOST_LOADGEN; else bin=$HOST_UREQ; fi
  timeout "$LIMIT" "$bin" --json --latency --cacert "$TMP/ca.pem" -n "$n" --warmup 1 "$@" \
    >"$TMP/stdout" 2>"$TMP/stderr" || fail "$client (relay) $*: exit $?" "$TMP/stdout" "$TMP/stderr"
  why=$(check_json "$TMP/stdout" "requests=$n bytes=$(( n * 1024 )) ${expect//\{n\}/$n}") \
    || fail "$client (relay) $*: $why" "$TMP/stdout"
  median=$(json_field "$TMP/stdout" wall_ms_median)
  record "R.$key.$client" "$median"
  printf '  %-6s %-5s median %s ms per request = %s round trips (wall_ms %s for %s)\n' "$key" \
    "$client" "$median" "$(python3 -c "print(f'{$median / $BENCH_RTT_MS:.1f}')")" \
    "$(json_field "$TMP/stdout" wall_ms)" "$n"
}
rtt_run A tiny "$KEEP pool_reuses={n}" "$RK/1k"
rtt_run A ureq "" "$RK/1k"
rtt_run C tiny "$FRESH" --mode fresh "$RC/1k"
rtt_run C ureq "" --mode fresh "$RC/1k"
# --early-data comes with tinyhttps' early data support: without it, no such row.
if "$HOST_LOADGEN" --help | grep -q -- '--early-data'; then
  : >"$TMP/early.log"
  rtt_run Cearly tiny "connections_opened={n}" --early-data --mode fresh "$RZ/1k"
  # Early data needs a ticket, and a connection that went early is closed before the
  # server's next tickets arrive (they follow the client's Finished: one round trip
  # after the response), so each full handshake's tickets serve the next few
  # connections and then one is full again (README, "Early data"). At least half of
  # the counted requests must have gone early, and nginx must have read as early data
  # exactly those the client counted as accepted.
  early=$(grep -c ' 1$' "$TMP/early.log" || true)
  accepted=$(json_field "$TMP/stdout" early_data_accepted)
  [ "$early" -eq "$accepted" ] && [ $(( 2 * early )) -ge "$BENCH_RTT_N" ] \
    || fail "nginx saw $early requests in early data, the client counted $accepted accepted" \
      "$TMP/early.log" "$TMP/stdout"
  echo "  nginx: $early requests came in early data"
else
  echo "  C with early data: skipped, loadgen has no --early-data"
fi
rtt_run Cfull tiny "connections_opened={n} handshakes_full={n} handshakes_resumed=0" \
  --mode fresh --no-tls-cache --no-resumption "$RC/1k"
stop_relay

nginx_stop
t_end=$(date +%s)

step "what nginx negotiated, over all the runs above (requests: protocol cipher group resumed)"
sort "$TMP/access.log" | uniq -c | sort -rn | tee "$TMP/negotiated"
if grep -qv '^TLSv1\.3 ' "$TMP/access.log"; then
  fail "a request was not made over TLS 1.3" "$TMP/access.log"
fi

step "results"
lock_version() {
  python3 - "$1" "$2" <<'EOF'
import sys, tomllib
lock = tomllib.load(open(sys.argv[1], "rb"))
print(",".join(p["version"] for p in lock["package"] if p["name"] == sys.argv[2]) or "?")
EOF
}
{
  echo "rustc $(rustc --version | cut -d' ' -f2-)"
  echo "qemu $(qemu-arm --version | head -n 1 | sed 's/^qemu-arm version //')"
  echo "nginx $(nginx_version)"
  echo "ureq $(lock_version bench/ureq-driver/Cargo.lock ureq)"
  echo "rustls $(lock_version Cargo.lock rustls) (tinyhttps), $(lock_version bench/ureq-driver/Cargo.lock rustls) (ureq)"
  echo "ring $(lock_version Cargo.lock ring) (tinyhttps), $(lock_version bench/ureq-driver/Cargo.lock ring) (ureq)"
  echo "tinyhttps $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD -- 2>/dev/null || echo ' + uncommitted changes')"
} >"$TMP/versions"

# Binary sizes and the "smallest build", when bench/size.sh exists (it writes its
# Markdown table to $BENCH_OUT/sizes.md; a missing table fails the run).
if [ -f bench/size.sh ]; then
  step "sizes: bench/size.sh"
  BENCH_OUT=$BENCH_OUT TMP=$TMP bash bench/size.sh || fail "bench/size.sh: exit $?"
  [ -s "$BENCH_OUT/sizes.md" ] || fail "bench/size.sh wrote no $BENCH_OUT/sizes.md"
fi

cp "$RESULTS" "$BENCH_OUT/results.txt"
cp "$TMP/versions" "$BENCH_OUT/versions.txt"
cp "$TMP/negotiated" "$BENCH_OUT/negotiated.txt"
python3 bench/lib/report.py write "$BENCH_OUT"
python3 bench/lib/chart.py "$BENCH_OUT"
cat "$BENCH_OUT/table.md"
echo
echo "raw GUEST_INSNS (N:I(N)) per run pair:"
sed 's/^/  /' "$BENCH_OUT/raw.txt"
echo
echo "round trips at $BENCH_RTT_MS ms RTT (median wall ms per request / RTT):"
cat "$BENCH_OUT/rtt.md"
if [ -s "$BENCH_OUT/sizes.md" ]; then
  echo
  cat "$BENCH_OUT/sizes.md"
fi
echo
cat "$BENCH_OUT/versions.txt"
echo
echo "written to $BENCH_OUT: $(cd "$BENCH_OUT" && echo *)"
echo "builds $(( t_built - t0 )) s, nginx set-up $(( t_up - t_built )) s, measurements $(( t_end - t_up )) s, total $(( $(date +%s) - t0 )) s"
