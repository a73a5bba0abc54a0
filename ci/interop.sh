#!/usr/bin/env bash
# Interop against a real server: nginx on loopback, with certificates made by openssl.
#
#   bash ci/interop.sh          (from anywhere; needs nginx, openssl, python3,
#                                qemu-user and gcc-arm-linux-gnueabihf: ci/setup.sh
#                                installs them)
#
# Builds the `fetch` and `loadgen` examples (release) for the host and for armv7,
# makes a CA plus an ECDSA P-256 and an RSA-2048 server certificate (DNS:localhost,
# IP:127.0.0.1) in a temporary directory, and starts one nginx (no daemon, no master
# process, everything under that directory) listening on 127.0.0.1 ports that the
# kernel picks free at run time (python3 binds port 0 and hands them over):
#
#   A  TLS 1.2 + 1.3, ECDSA, session tickets, keep-alive (60 s, 10000 requests)
#   B  the same with the RSA certificate
#   C  ECDSA, keepalive_timeout 0 (the server closes after every response)
#   D  ECDSA, keepalive_requests 3 (the server closes after every 3rd response)
#   E  ECDSA, TLS 1.2 only (session tickets)
#   F  ECDSA, TLS 1.3 early data on (`ssl_early_data on`), reached through
#      ci/lib/delay_relay.py (the bench's relay: a 100 ms round trip, 50 ms each way,
#      one more for TCP set-up); its log line ends with early=1 for a request nginx
#      read as early data. The delay lets nginx read the early data, and act on it,
#      before the client's Finished arrives: nginx's $ssl_early_data is "1" only
#      until then, and over bare loopback a fast client often finishes first
#
# each serving /1k, /20k, /1m (random files) and /echo (200 "ok\n", for POST). Then,
# on the host and on armv7 under qemu-user, it checks (loadgen counts after its one
# warm-up request unless told otherwise; "fresh" is a new connection per request):
#
#   fetch:   /1k, /20k, /1m byte for byte on A, B, E; POST /echo; without --cacert a
#            certificate error and a non-zero exit; against `openssl s_server -tls1_2`
#            asking to renegotiate mid-request, a clear TLS error and no hang
#            (ci/lib/renegotiate.py); --pinnedpubkey (pins computed with openssl,
#            as curl's docs do): the right pin and a list holding it succeed, a
#            wrong one fails with one line naming the server's pin; under
#            `faketime -f '@1970-01-02 00:00:00'` (a board whose clock is not set)
#            one error line that says "clock"
#   loadgen: A keepalive: all 50 on the warm-up's connection (0 opened, 50 reused)
#            A fresh: 50 connections, 50 resumed handshakes, 0 full
#            A fresh --no-resumption: 50 full handshakes, 0 resumed
#            A fresh --no-tls-cache: 50 configs built, still 50 resumed, 0 root parses
#            A fresh --no-tls-cache --no-resumption: 50 configs built, 50 full, 0 root parses
#            B (RSA) keepalive and fresh, E (TLS 1.2) fresh: as on A
#            C: 20 requests, 20 connections, 20 resumed, no reuse, no retry
#            D (no warm-up): 20 requests on 7 connections, no stale discard, no retry
#            each --cipher, and the default order (ChaCha20 first on armv7, AES
#            elsewhere); 3 URLs round robin on 2 threads (exact body bytes); /1m;
#            a 404 makes loadgen exit 1
#            F fresh --early-data: each resumed connection's GET went in its first
#            flight (early_data_sent = accepted = resumed handshakes, none
#            rejected), and nginx's log says early=1 for exactly those requests
#            and for no full handshake; without --early-data, nothing early
#   nginx's access log (protocol, cipher, session reused) confirms, from the server's
#   side, the TLS version, the cipher and the resumed/full count of several of them
#
# Each check prints `ok: ...` (loadgen's JSON line below it) or `FAIL: ...` with the
# output, and the script stops at the first failure. nginx is stopped by PID and the
# directory removed on exit, whatever happens. The nginx set-up (ports, certificates,
# start, stop) is ci/lib/nginx.sh, shared with bench/bench.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=ci/lib/nginx.sh
source ci/lib/nginx.sh

TARGET=armv7-unknown-linux-gnueabihf
QEMU="qemu-arm -L /usr/arm-linux-gnueabihf"
OUT_DIR=${CARGO_TARGET_DIR:-target}
HOST_BIN=$OUT_DIR/release/examples
ARM_BIN=$OUT_DIR/$TARGET/release/examples
# Longest any one command may take (qemu on a busy machine is slow, never stuck).
LIMIT=300

step() { echo; echo "== $* ($(date +%T))"; }
t0=$(date +%s)

for tool in "$NGINX" openssl python3 qemu-arm arm-linux-gnueabihf-gcc faketime; do
  command -v "$tool" >/dev/null 2>&1 || { echo "FAIL: $tool not found (run bash ci/setup.sh)"; exit 1; }
done

step "build fetch and loadgen (release, host)"
cargo build --release --example fetch --example loadgen
step "build fetch and loadgen (release, $TARGET)"
cargo build --release --target "$TARGET" --example fetch --example loadgen
t_built=$(date +%s)

nginx_tmpdir tinyhttps-interop
TMP=$NGINX_TMP

fail() {
  echo "FAIL: $1"
  shift
  for f in "$@"; do
    [ -s "$f" ] && { echo "--- $(basename "$f"):"; head -c 4000 "$f"; echo; }
  done
  exit 1
}
ok() { echo "ok: $*"; }

step "certificates (openssl)"
nginx_certs ec rsa
ok "CA, ECDSA P-256 and RSA-2048 server certificates for localhost and 127.0.0.1"

# pin CERT: curl's pin of a certificate's public key, sha256//BASE64 of the SHA-256
# of its SubjectPublicKeyInfo.
pin() {
  echo "sha256//$(openssl x509 -pubkey -noout -in "$1" | openssl pkey -pubin -outform der \
    | openssl dgst -sha256 -binary | base64)"
}
PIN_EC=$(pin "$TMP/ec.pem")
PIN_RSA=$(pin "$TMP/rsa.pem")
ok "pins: A's key $PIN_EC, another key $PIN_RSA"

nginx_www

write_nginx_conf() {
  local tls="ssl_certificate $TMP/ec.pem; ssl_certificate_key $TMP/ec.key;"
  local rsa="ssl_certificate $TMP/rsa.pem; ssl_certificate_key $TMP/rsa.key;"
  local echo_loc='location = /echo { return 200 "ok\n"; }'
  PORT_A=${NGINX_PORTS[0]} PORT_B=${NGINX_PORTS[1]} PORT_C=${NGINX_PORTS[2]}
  PORT_D=${NGINX_PORTS[3]} PORT_E=${NGINX_PORTS[4]} PORT_F=${NGINX_PORTS[5]}
  cat >"$TMP/nginx.conf" <<EOF
$(nginx_conf_main)
http {
$(nginx_conf_http_common)
  # What the server saw, to check the client's counters against: protocol, cipher,
  # and "r" for a resumed session ("." for a full handshake).
  log_format interop '\$server_port \$ssl_protocol \$ssl_cipher \$ssl_session_reused \$status "\$request"';
  # F's: the same, then early=1 if the request was read as TLS 1.3 early data.
  # \$ssl_early_data is "1" only while the handshake is unfinished, so it is taken
  # when the request is read (server rewrite phase), not when it is logged.
  log_format interop_early '\$server_port \$ssl_protocol \$ssl_cipher \$ssl_session_reused \$status "\$request" early=\$early_at_request';
  access_log $TMP/access.log interop;
  ssl_protocols TLSv1.2 TLSv1.3;
  ssl_session_cache shared:SSL:1m;
  ssl_session_tickets on;
  keepalive_timeout 60;
  keepalive_requests 10000;
  server { listen 127.0.0.1:$PORT_A ssl; $tls $echo_loc }
  server { listen 127.0.0.1:$PORT_B ssl; $rsa $echo_loc }
  server { listen 127.0.0.1:$PORT_C ssl; $tls keepalive_timeout 0; $echo_loc }
  server { listen 127.0.0.1:$PORT_D ssl; $tls keepalive_requests 3; $echo_loc }
  server { listen 127.0.0.1:$PORT_E ssl; $tls ssl_protocols TLSv1.2; $echo_loc }
  server {
    listen 127.0.0.1:$PORT_F ssl; $tls ssl_early_data on; $echo_loc
    set \$early_at_request \$ssl_early_data;
    access_log $TMP/access.log interop_early;
  }
}
EOF
}

step "nginx on loopback"
nginx_start 6 write_nginx_conf
ok "nginx $(nginx_version) (pid $NGINX_PID) on 127.0.0.1:" \
  "A=$PORT_A B=$PORT_B C=$PORT_C D=$PORT_D E=$PORT_E F=$PORT_F"

# The relay in front of F (see the top of this file); stopped by PID on exit.
RTT_MS=100
DELAY_PID=""
stop_delay() {
  if [ -n "$DELAY_PID" ]; then kill "$DELAY_PID" 2>/dev/null || true; wait "$DELAY_PID" 2>/dev/null || true; fi
}
NGINX_CLEANUP_HOOK=stop_delay
python3 ci/lib/delay_relay.py --rtt-ms "$RTT_MS" --port-file "$TMP/delay.ports" "$PORT_F" \
  2>"$TMP/delay.err" &
DELAY_PID=$!
for _ in $(seq 100); do
  [ -s "$TMP/delay.ports" ] && break
  kill -0 "$DELAY_PID" 2>/dev/null || fail "ci/lib/delay_relay.py $PORT_F" "$TMP/delay.err"
  sleep 0.1
done
PORT_F_DELAYED=$(awk -v p="$PORT_F" '$1 == p { print $2 }' "$TMP/delay.ports" 2>/dev/null)
[ -n "$PORT_F_DELAYED" ] || fail "ci/lib/delay_relay.py: no port" "$TMP/delay.err"
ok "relay 127.0.0.1:$PORT_F_DELAYED to F, $RTT_MS ms round trip (pid $DELAY_PID)"
t_up=$(date +%s)

# run ARCH TOOL ARGS...: runs a built example; stdout and stderr go to files, the exit
# status to RC.
run() {
  local arch=$1 tool=$2
  shift 2
  if [ "$arch" = host ]; then
    set -- "$HOST_BIN/$tool" "$@"
  else
    # shellcheck disable=SC2086 # QEMU is a command line, split on purpose.
    set -- $QEMU "$ARM_BIN/$tool" "$@"
  fi
  if timeout "$LIMIT" "$@" >"$TMP/stdout" 2>"$TMP/stderr"; then RC=0; else RC=$?; fi
}

# check_fetch ARCH PORT PATH: the body fetched equals the file, byte for byte.
check_fetch() {
  local arch=$1 port=$2 path=$3 what="fetch https://localhost:$2$3 = www$3 ($1)"
  run "$arch" fetch --cacert "$TMP/ca.pem" "https://localhost:$port$path"
  [ "$RC" -eq 0 ] || fail "$what: exit $RC" "$TMP/stderr"
  cmp -s "$TMP/stdout" "$TMP/www$path" || fail "$what: body differs ($(wc -c <"$TMP/stdout") bytes)" "$TMP/stderr"
  ok "$what"
}

log_lines() { if [ -f "$TMP/access.log" ]; then wc -l <"$TMP/access.log"; else echo 0; fi; }

# check_loadgen ARCH WHAT "key=value ..." ARGS...: loadgen --json succeeds and each
# key of its JSON line has the value given.
check_loadgen() {
  local arch=$1 what="$2 ($1)" expect=$3 line why
  shift 3
  LOG_BEFORE=$(log_lines)
  run "$arch" loadgen --json --cacert "$TMP/ca.pem" "$@"
  [ "$RC" -eq 0 ] || fail "$what: loadgen $* exited $RC" "$TMP/stderr" "$TMP/stdout"
  line=$(tail -n 1 "$TMP/stdout")
  # shellcheck disable=SC2086 # one argument per expectation
  if ! why=$(python3 - "$line" $expect <<'EOF' 2>&1
import json, sys
report = json.loads(sys.argv[1])
bad = []
for cond in sys.argv[2:]:
    key, want = cond.split("=", 1)
    got = report.get(key)
    if str(got) != want:
        bad.append(f"{key} is {got}, expected {want}")
if bad:
    print("; ".join(bad))
    sys.exit(1)
EOF
  ); then
    fail "$what: $why" "$TMP/stdout" "$TMP/stderr"
  fi
  ok "$what"
  echo "    $line"
}

# check_server_log WHAT SKIP COUNT REGEX: the access log lines of the last
# check_loadgen are SKIP (warm-up) + COUNT, and each of the COUNT matches REGEX
# (format: port protocol cipher reused status "request").
check_server_log() {
  local what="$1 ($arch, server side)" skip=$2 count=$3 regex=$4 new
  # nginx logs a request as it ends it: give the last line a moment.
  for _ in $(seq 20); do
    [ $(( $(log_lines) - LOG_BEFORE )) -ge $(( skip + count )) ] && break
    sleep 0.1
  done
  tail -n +"$(( LOG_BEFORE + 1 ))" "$TMP/access.log" >"$TMP/new.log"
  new=$(wc -l <"$TMP/new.log")
  [ "$new" -eq $(( skip + count )) ] || fail "$what: $new requests logged, expected $(( skip + count ))" "$TMP/new.log"
  tail -n "$count" "$TMP/new.log" >"$TMP/counted.log"
  if grep -Evq -- "$regex" "$TMP/counted.log"; then
    fail "$what: not every line matches /$regex/" "$TMP/new.log"
  fi
  ok "$what: $count x $(tail -n 1 "$TMP/new.log" | cut -d' ' -f2-4)"
}

# check_early_log WHAT EARLY COUNT: the access log lines of the last check_loadgen
# on F are 1 (warm-up) + COUNT; with EARLY=1, every resumed request among the
# COUNT was read as early data (early=1), no full handshake's was, and the JSON
# line agrees (early_data_sent = early_data_accepted = handshakes_resumed = the
# early=1 lines, at least one); with EARLY=0, none was. A resumed connection whose
# answer came in its first flight can end before the server's new ticket arrives,
# so some of the fresh connections may be full handshakes: counted, not guessed.
check_early_log() {
  local what="$1 ($arch, server side)" early=$2 count=$3 why json
  for _ in $(seq 20); do
    [ $(( $(log_lines) - LOG_BEFORE )) -ge $(( 1 + count )) ] && break
    sleep 0.1
  done
  tail -n +"$(( LOG_BEFORE + 1 ))" "$TMP/access.log" >"$TMP/new.log"
  json=$(tail -n 1 "$TMP/stdout")
  if ! why=$(python3 - "$json" "$TMP/new.log" "$PORT_F" "$early" "$count" <<'EOF' 2>&1
import json, re, sys
report = json.loads(sys.argv[1])
lines = open(sys.argv[2]).read().splitlines()
port, early, count = sys.argv[3], sys.argv[4] == "1", int(sys.argv[5])
if len(lines) != 1 + count:
    sys.exit(f"{len(lines)} requests logged, expected {1 + count}")
line = re.compile(rf'^{port} TLSv1\.3 \S+ (r|\.) 200 "GET /1k HTTP/1\.1" early=(1?)$')
seen = []
for text in lines[1:]:
    m = line.match(text)
    if not m:
        sys.exit(f"unexpected log line: {text}")
    seen.append((m.group(1) == "r", m.group(2) == "1"))
resumed = sum(r for r, _ in seen)
logged_early = sum(e for _, e in seen)
bad = []
if early:
    if any(r != e for r, e in seen):
        bad.append("a resumed request not read early, or a full handshake's read early")
    if logged_early == 0:
        bad.append("no request read as early data")
    want = {"early_data_sent": logged_early, "early_data_accepted": logged_early,
            "early_data_rejected": 0, "handshakes_resumed": resumed,
            "handshakes_full": count - resumed}
else:
    if logged_early:
        bad.append(f"{logged_early} requests read as early data")
    want = {"early_data_sent": 0, "handshakes_resumed": resumed}
for key, value in want.items():
    if report.get(key) != value:
        bad.append(f"{key} is {report.get(key)}, the log says {value}")
if bad:
    sys.exit("; ".join(bad))
print(f"{logged_early} of {count} read as early data, {resumed} resumed, "
      f"{report['wall_ms'] / count:.0f} ms per request")
EOF
  ); then
    fail "$what: $why" "$TMP/new.log" "$TMP/stdout"
  fi
  ok "$what: $why"
}

# blackhole PORT ADDR...: blackholes ADDR:PORT (ci/lib/blackhole.py) in the
# background; sets BH_PID and BH_PORT (the port, picked when PORT is 0).
blackhole() {
  python3 ci/lib/blackhole.py "$@" >"$TMP/blackhole.port" 2>"$TMP/blackhole.err" &
  BH_PID=$!
  for _ in $(seq 100); do
    [ -s "$TMP/blackhole.port" ] && break
    kill -0 "$BH_PID" 2>/dev/null || fail "blackhole $*" "$TMP/blackhole.err"
    sleep 0.1
  done
  BH_PORT=$(cat "$TMP/blackhole.port")
  [ -n "$BH_PORT" ] || fail "blackhole $*: no port" "$TMP/blackhole.err"
}

# ms: milliseconds since the epoch.
ms() { echo $(( $(date +%s%N) / 1000000 )); }

# check_happy_eyeballs ARCH: with [::1] blackholed and nginx on 127.0.0.1, fetch
# answers within 2 s (Happy Eyeballs); with both blackholed and --connect-timeout 2
# it fails within 3 s with one line naming the connect phase. [::1] must exist:
# without it this fails, saying so, rather than skipping.
check_happy_eyeballs() {
  local arch=$1 t what
  ip -6 addr show dev lo 2>/dev/null | grep -q 'inet6 ::1/128' \
    || fail "IPv6 loopback [::1] is missing on this machine: the Happy Eyeballs checks need it"
  what="fetch --resolve localhost:$PORT_A:[::1],127.0.0.1 with [::1] blackholed answers within 2 s ($arch)"
  blackhole "$PORT_A" ::1
  t=$(ms)
  run "$arch" fetch --cacert "$TMP/ca.pem" --resolve "localhost:$PORT_A:[::1],127.0.0.1" "$A/1k"
  t=$(( $(ms) - t ))
  kill "$BH_PID"; wait "$BH_PID" 2>/dev/null || true
  [ "$RC" -eq 0 ] && cmp -s "$TMP/stdout" "$TMP/www/1k" || fail "$what: exit $RC" "$TMP/stdout" "$TMP/stderr"
  [ "$t" -lt 2000 ] || fail "$what: took $t ms"
  ok "$what: $t ms"

  what="fetch --connect-timeout 2 with both addresses blackholed fails within 3 s naming the connect phase ($arch)"
  blackhole 0 ::1 127.0.0.1
  t=$(ms)
  run "$arch" fetch --connect-timeout 2 --resolve "localhost:$BH_PORT:[::1],127.0.0.1" "https://localhost:$BH_PORT/"
  t=$(( $(ms) - t ))
  kill "$BH_PID"; wait "$BH_PID" 2>/dev/null || true
  [ "$RC" -eq 1 ] || fail "$what: exit $RC" "$TMP/stdout" "$TMP/stderr"
  [ "$(grep -c . "$TMP/stderr")" -eq 1 ] && grep -q '^error: .*connect timed out after 2 s' "$TMP/stderr" \
    || fail "$what: not one line naming the connect phase" "$TMP/stderr"
  [ "$t" -lt 3000 ] || fail "$what: took $t ms"
  ok "$what: $t ms, $(cat "$TMP/stderr")"
}

A=https://localhost:$PORT_A
B=https://localhost:$PORT_B
C=https://localhost:$PORT_C
D=https://localhost:$PORT_D
E=https://localhost:$PORT_E
F=https://localhost:$PORT_F_DELAYED

for arch in host armv7; do
  step "checks on $arch$([ $arch = armv7 ] && echo " (qemu-user)")"
  ts=$(date +%s)

  check_fetch "$arch" "$PORT_A" /1k
  check_fetch "$arch" "$PORT_A" /20k
  check_fetch "$arch" "$PORT_A" /1m
  check_fetch "$arch" "$PORT_B" /1k
  check_fetch "$arch" "$PORT_E" /20k

  what="fetch -d hello $A/echo answers ok ($arch)"
  run "$arch" fetch --cacert "$TMP/ca.pem" -d hello "$A/echo"
  [ "$RC" -eq 0 ] && [ "$(cat "$TMP/stdout")" = ok ] || fail "$what: exit $RC" "$TMP/stdout" "$TMP/stderr"
  ok "$what"

  what="fetch without --cacert fails with a certificate error ($arch)"
  run "$arch" fetch "$A/1k"
  [ "$RC" -ne 0 ] || fail "$what: exit 0" "$TMP/stdout" "$TMP/stderr"
  grep -q '^error: .*certificate' "$TMP/stderr" || fail "$what: no certificate error (exit $RC)" "$TMP/stderr"
  ok "$what: exit $RC, $(head -n 1 "$TMP/stderr")"

  what="fetch --pinnedpubkey: the right pin, and a list holding it, succeed ($arch)"
  for pins in "$PIN_EC" "$PIN_RSA;$PIN_EC"; do
    run "$arch" fetch --cacert "$TMP/ca.pem" --pinnedpubkey "$pins" "$A/1k"
    { [ "$RC" -eq 0 ] && cmp -s "$TMP/stdout" "$TMP/www/1k"; } \
      || fail "$what: --pinnedpubkey '$pins': exit $RC" "$TMP/stderr"
  done
  ok "$what"

  what="fetch --pinnedpubkey with a wrong pin: one line naming the server's pin ($arch)"
  run "$arch" fetch --cacert "$TMP/ca.pem" --pinnedpubkey "$PIN_RSA" "$A/1k"
  { [ "$RC" -eq 1 ] && [ "$(wc -l <"$TMP/stderr")" -eq 1 ] && grep -qF -- "$PIN_EC" "$TMP/stderr"; } \
    || fail "$what: exit $RC" "$TMP/stderr"
  ok "$what: $(cat "$TMP/stderr")"

  # libfaketime is preloaded into the host process: fetch itself, or qemu-user, which
  # reads the host's (faked) clock for the guest; -U LD_PRELOAD keeps the guest's
  # loader from trying to preload the host's library too.
  what="fetch with the clock at 1970 (faketime): one error line that says clock ($arch)"
  if [ "$arch" = host ]; then
    clock_cmd=("$HOST_BIN/fetch")
  else
    read -ra clock_cmd <<<"${QEMU/qemu-arm/qemu-arm -U LD_PRELOAD} $ARM_BIN/fetch"
  fi
  if timeout "$LIMIT" faketime -f '@1970-01-02 00:00:00' "${clock_cmd[@]}" --cacert "$TMP/ca.pem" \
    "$A/1k" >"$TMP/stdout" 2>"$TMP/stderr"; then RC=0; else RC=$?; fi
  { [ "$RC" -eq 1 ] && [ "$(wc -l <"$TMP/stderr")" -eq 1 ] && grep -q '^error: .*clock' "$TMP/stderr"; } \
    || fail "$what: exit $RC" "$TMP/stderr"
  ok "$what: $(cat "$TMP/stderr")"

  # openssl s_server (TLS 1.2) sends a HelloRequest mid-request; rustls refuses to
  # renegotiate, so the request must end promptly in a clear TLS error.
  what="renegotiation asked by a TLS 1.2 server: clear TLS error, no hang ($arch)"
  reneg_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  if [ "$arch" = host ]; then reneg_cmd="$HOST_BIN/fetch"; else reneg_cmd="$QEMU $ARM_BIN/fetch"; fi
  # shellcheck disable=SC2086 # reneg_cmd is a command line, split on purpose.
  if reneg_out=$(timeout "$LIMIT" python3 ci/lib/renegotiate.py "$TMP/ec.pem" "$TMP/ec.key" \
    "$TMP/ca.pem" "$reneg_port" -- $reneg_cmd 2>&1); then
    ok "$what: ${reneg_out#outcome: }"
  else
    echo "$reneg_out" >"$TMP/reneg.log"
    fail "$what" "$TMP/reneg.log"
  fi

  check_happy_eyeballs "$arch"

  check_loadgen "$arch" "A keepalive: 50 requests on the warm-up's connection" \
    "requests=50 client_requests=50 bytes=51200 connections_opened=0 pool_reuses=50 handshakes_full=0 handshakes_resumed=0 retries=0" \
    -n 50 "$A/1k"
  check_server_log "A keepalive: TLS 1.3" 1 50 "^$PORT_A TLSv1\.3 \S+ \. 200 "
  check_loadgen "$arch" "A fresh: 50 connections, 50 resumed, 0 full handshakes" \
    "requests=50 connections_opened=50 handshakes_resumed=50 handshakes_full=0 pool_reuses=0 tls_config_builds=0 root_store_parses=0" \
    -n 50 --mode fresh "$A/1k"
  check_server_log "A fresh: 50 resumed" 1 50 "^$PORT_A TLSv1\.3 \S+ r 200 "
  check_loadgen "$arch" "A fresh --no-resumption: 50 full handshakes" \
    "requests=50 connections_opened=50 handshakes_full=50 handshakes_resumed=0" \
    -n 50 --mode fresh --no-resumption "$A/1k"
  check_server_log "A fresh --no-resumption: 50 full" 1 50 "^$PORT_A TLSv1\.3 \S+ \. 200 "
  check_loadgen "$arch" "A fresh --no-tls-cache: a config per connection, sessions still resume, roots parsed once" \
    "requests=50 connections_opened=50 tls_config_builds=50 tls_config_cache_hits=0 root_store_parses=0 handshakes_resumed=50 handshakes_full=0" \
    -n 50 --mode fresh --no-tls-cache "$A/1k"
  check_loadgen "$arch" "A fresh --no-tls-cache --no-resumption: 50 configs, 50 full handshakes" \
    "requests=50 connections_opened=50 tls_config_builds=50 root_store_parses=0 handshakes_full=50 handshakes_resumed=0" \
    -n 50 --mode fresh --no-tls-cache --no-resumption "$A/1k"

  check_loadgen "$arch" "B (RSA) keepalive" \
    "requests=50 connections_opened=0 pool_reuses=50" -n 50 "$B/1k"
  check_loadgen "$arch" "B (RSA) fresh: 50 resumed, 0 full" \
    "requests=50 connections_opened=50 handshakes_resumed=50 handshakes_full=0" \
    -n 50 --mode fresh "$B/1k"
  check_loadgen "$arch" "E (TLS 1.2 only) fresh: 50 resumed, 0 full" \
    "requests=50 connections_opened=50 handshakes_resumed=50 handshakes_full=0" \
    -n 50 --mode fresh "$E/1k"
  check_server_log "E fresh: TLS 1.2, 50 resumed" 1 50 "^$PORT_E TLSv1\.2 \S+ r 200 "

  check_loadgen "$arch" "C (keepalive_timeout 0): 20 requests, 20 connections" \
    "requests=20 client_requests=20 connections_opened=20 handshakes_resumed=20 pool_reuses=0 retries=0" \
    -n 20 "$C/1k"
  check_loadgen "$arch" "D (keepalive_requests 3, no warm-up): 20 requests on 7 connections" \
    "requests=20 client_requests=20 connections_opened=7 pool_reuses=13 pool_stale_discards=0 retries=0" \
    -n 20 --warmup 0 "$D/1k"

  for cipher in chacha:TLS_CHACHA20_POLY1305_SHA256 aes128:TLS_AES_128_GCM_SHA256 \
      aes256:TLS_AES_256_GCM_SHA384 default:"$([ "$arch" = armv7 ] && echo TLS_CHACHA20_POLY1305_SHA256 || echo TLS_AES_128_GCM_SHA256)"; do
    check_loadgen "$arch" "A --cipher ${cipher%%:*}" "requests=5 connections_opened=5" \
      -n 5 --mode fresh --cipher "${cipher%%:*}" "$A/1k"
    check_server_log "A --cipher ${cipher%%:*}: ${cipher#*:}" 1 5 "^$PORT_A TLSv1\.3 ${cipher#*:} r 200 "
  done
  check_loadgen "$arch" "3 URLs round robin on 2 threads" \
    "requests=60 client_requests=60 bytes=450560 retries=0" \
    -n 60 --threads 2 "$A/1k" "$A/20k" "$B/1k"
  check_loadgen "$arch" "A /1m x 5, keepalive" \
    "requests=5 bytes=5242880 connections_opened=0" -n 5 "$A/1m"

  check_loadgen "$arch" "F fresh --early-data: GETs in the first flight, none rejected" \
    "requests=5 connections_opened=5 early_data_rejected=0 retries=0" \
    -n 5 --mode fresh --early-data "$F/1k"
  check_early_log "F fresh --early-data: every resumed GET read as early data" 1 5
  check_loadgen "$arch" "F fresh without --early-data: nothing early" \
    "requests=5 connections_opened=5 handshakes_resumed=5 early_data_sent=0" \
    -n 5 --mode fresh "$F/1k"
  check_early_log "F fresh without --early-data: nothing read as early data" 0 5

  what="loadgen on a missing path exits 1 with the status ($arch)"
  run "$arch" loadgen --cacert "$TMP/ca.pem" -n 3 "$A/missing"
  [ "$RC" -eq 1 ] && grep -q '^error: .*404' "$TMP/stderr" || fail "$what: exit $RC" "$TMP/stdout" "$TMP/stderr"
  ok "$what: $(head -n 1 "$TMP/stderr")"

  echo "checks on $arch took $(( $(date +%s) - ts )) s"
done

step "done"
nginx_stop
if [ -s "$TMP/error.log" ]; then
  echo "nginx error.log ($(grep -c . "$TMP/error.log") lines at warn and above; the first 5):"
  head -n 5 "$TMP/error.log"
fi
grep -c . "$TMP/access.log" | sed 's/^/nginx served /; s/$/ requests/'
echo "builds $(( t_built - t0 )) s, set-up $(( t_up - t_built )) s, checks $(( $(date +%s) - t_up )) s"
echo "all interop checks passed"
