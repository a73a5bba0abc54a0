#!/usr/bin/env bash
# Side-by-side comparison of tinyhttps and ureq 3 on armv7: the table of BENCHMARKS.md.
#
#   bash bench/bench.sh         (from anywhere; needs what ci/setup.sh installs, plus
#                                gcc for the QEMU plugin and python3 >= 3.11; ~8 min
#                                from a clean clone on 2 busy cores, 7 of them
#                                building; ~1 min once built)
#   INSNCOUNT_SRC=path/to/insncount.c bash bench/bench.sh
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
#    wall-clock based and so noisy, quoted for orientation only.
#    Each run's JSON line is checked (request and byte counts; for tinyhttps the
#    connection and handshake counters the scenario implies), so a mis-set scenario
#    fails instead of printing a wrong number; nginx's access log shows what was
#    negotiated (every request must have been over TLS 1.3).
# 4. Prints the table (scenario | tinyhttps | ureq | ratio | target | met/missed), the
#    raw counts, and the versions.
#
# nginx is stopped by PID and the temp dir removed on exit, whatever happens.
set -euo pipefail
# A relative INSNCOUNT_SRC is relative to where the script was started.
INSNCOUNT_SRC=${INSNCOUNT_SRC:+$(realpath -m -- "$INSNCOUNT_SRC")}
cd "$(dirname "$0")/.."
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
  PORT_K=${NGINX_PORTS[0]} PORT_C=${NGINX_PORTS[1]}
  D_PORTS=("${NGINX_PORTS[@]:2:16}")
  NGINX_LISTEN=("127.0.0.1:$PORT_K" "127.0.0.1:$PORT_C")
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
$d_servers}
EOF
}
nginx_start 18 write_nginx_conf
K=https://localhost:$PORT_K
C=https://localhost:$PORT_C
D_URLS=() D1_URLS=()
for k in $(seq 0 15); do
  D_URLS+=("https://127.0.0.$(( k + 1 )):${D_PORTS[$k]}/1k")
  D1_URLS+=("https://localhost:${D_PORTS[$k]}/1k")
done
echo "nginx $(nginx_version) (pid $NGINX_PID): K=127.0.0.1:$PORT_K C=127.0.0.1:$PORT_C D0..D15=127.0.0.1..16 on ports ${D_PORTS[*]} (and 127.0.0.1)"
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

nginx_stop
t_end=$(date +%s)

step "what nginx negotiated, over all the runs above (requests: protocol cipher group resumed)"
sort "$TMP/access.log" | uniq -c | sort -rn
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

python3 - "$RESULTS" <<'EOF'
import sys

r = {}
for line in open(sys.argv[1]):
    key, value = line.split(None, 1)
    r[key] = value.strip()

def insns(v):
    v = float(v)
    return f"{v / 1e6:.3f} M" if v >= 1e6 else f"{v / 1e3:.1f} K"

def kib(v):
    return f"{float(v) / 1024:.1f} KiB"

def mb(v):
    return f"{float(v) / 1e6:.3f} MB"

rows = []
def ratio_row(name, tiny, ref, fmt, target, limit):
    if tiny not in r or ref not in r:
        return
    ratio = float(r[tiny]) / float(r[ref])
    verdict = "" if limit is None else ("met" if ratio <= limit else "missed")
    rows.append((name, fmt(r[tiny]), fmt(r[ref]), f"{ratio:.2f}", target, verdict))

def absolute_row(name, tiny, ref, fmt, target, limit):
    if tiny not in r:
        return
    v = float(r[tiny])
    ratio = f"{v / float(r[ref]):.2f}" if ref in r else ""
    rows.append((name, fmt(r[tiny]), fmt(r[ref]) if ref in r else "", ratio, target,
                 "met" if v <= limit else "missed"))

ratio_row("A keep-alive GET 1 KiB, insns/req", "A.tiny", "A.ureq", insns, "<= 0.7 x ureq", 0.7)
ratio_row("B keep-alive GET 20 KiB, insns/req", "B.tiny", "B.ureq", insns, "<= 0.6 x ureq", 0.6)
ratio_row("B  tinyhttps --cipher aes256 (ureq's cipher)", "B.aes256.tiny", "B.ureq", insns, "(info)", None)
ratio_row("C new connection per request, insns/req", "C.tiny", "C.ureq", insns, "<= 0.9 x ureq", 0.9)
ratio_row("C  vs tinyhttps --no-tls-cache --no-resumption (ureq column: that baseline)",
          "C.tiny", "C.full.tiny", insns, "<= 0.15 x baseline", 0.15)
ratio_row("D 16 netlocs round robin, defaults, insns/req", "D.tiny", "D.ureq", insns, "<= 0.1 x ureq", 0.1)
ratio_row("D  tinyhttps --tls-cache-size 8", "D.cache8.tiny", "D.ureq", insns, "<= 0.1 x ureq", 0.1)
ratio_row("D  tinyhttps --tls-cache-size 16", "D.cache16.tiny", "D.ureq", insns, "<= 0.1 x ureq", 0.1)
ratio_row("D  tinyhttps --mode fresh --tls-cache-size 8 (evicting)", "D.fresh8.tiny", "D.ureq", insns, "(info)", None)
ratio_row("D  tinyhttps --mode fresh --tls-cache-size 16", "D.fresh16.tiny", "D.ureq", insns, "(info)", None)
ratio_row("D' 16 ports of one host name (localhost), defaults", "D1.tiny", "D1.ureq", insns, "(info)", None)
ratio_row("D'  tinyhttps --mode fresh --tls-cache-size 8", "D1.fresh8.tiny", "D1.ureq", insns, "(info)", None)
ratio_row("E one 1 MiB download, insns/req", "E.tiny", "E.ureq", insns, "<= 0.6 x ureq", 0.6)
ratio_row("E  tinyhttps --cipher aes256 (ureq's cipher)", "E.aes256.tiny", "E.ureq", insns, "(info)", None)
absolute_row("F heap per idle pooled TLS connection", "F.tiny", "F.ureq", kib, "<= 48 KiB", 48 * 1024)
absolute_row("G minimal GET program, armv7 stripped", "G.tinyhttps-get", "G.ureq-get", mb, "<= 0.9 MB", 0.9e6)
absolute_row("G  tinyhttps-get, default-features = false", "G.tinyhttps-get-nodefault", "G.ureq-get",
             mb, "<= 0.9 MB", 0.9e6)
ms = lambda v: f"{float(v):.4f} ms"
ratio_row("x86 CPU ms/req A (median of 5, noisy)", "x86A.tiny", "x86A.ureq", ms, "(info)", None)
ratio_row("x86 CPU ms/req C (median of 5, noisy)", "x86C.tiny", "x86C.ureq", ms, "(info)", None)

head = ("scenario", "tinyhttps", "ureq", "ratio", "target", "met?")
widths = [max(len(row[i]) for row in rows + [head]) for i in range(6)]
def line(row):
    return "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |"
print(line(head))
print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
for row in rows:
    print(line(row))
print()
print("raw GUEST_INSNS (N:I(N)) per run pair:")
for key in sorted(k for k in r if k.endswith(".raw")):
    print(f"  {key[:-4]:<18} {r[key]}")
EOF
echo
cat "$TMP/versions"
echo
echo "builds $(( t_built - t0 )) s, nginx set-up $(( t_up - t_built )) s, measurements $(( t_end - t_up )) s, total $(( t_end - t0 )) s"
