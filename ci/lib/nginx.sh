# shellcheck shell=bash
# nginx on loopback with certificates made by openssl: the parts ci/interop.sh and
# bench/bench.sh share. Source it (after `set -euo pipefail`), then:
#
#   nginx_tmpdir NAME       NGINX_TMP := a new temporary directory; an EXIT trap stops
#                           nginx by PID and removes the directory, whatever happens
#                           (INT and TERM exit through it too)
#   nginx_certs KIND...     in NGINX_TMP: ca.pem (a test CA, ECDSA P-256) and, for each
#                           KIND, KIND.pem/KIND.key: a server certificate for
#                           DNS:localhost and IP:127.0.0.1 (or the subjectAltName
#                           list NGINX_CERT_SAN) signed by it, `ec` (ECDSA P-256) or
#                           `rsa` (RSA-2048)
#   nginx_www               NGINX_TMP/www/{1k,20k,1m}: random files of those sizes
#   nginx_conf_main         prints the top level of a config: no daemon, no master
#                           process, pid and error log in NGINX_TMP
#   nginx_conf_http_common  prints what every http block needs: temp paths in
#                           NGINX_TMP, root NGINX_TMP/www, octet-stream
#   nginx_start COUNT WRITE picks COUNT free loopback ports into the array NGINX_PORTS,
#                           calls the function WRITE (which writes NGINX_TMP/nginx.conf
#                           using them), checks the config, starts nginx (NGINX_PID)
#                           and waits until every port accepts connections on
#                           127.0.0.1 (or every ADDRESS:PORT that WRITE put in the
#                           array NGINX_LISTEN, for servers on other addresses); should
#                           another process take a port first, tries again with new
#                           ports (3 attempts)
#   nginx_stop              stops nginx by PID (TERM, then KILL after 5 s)
#   nginx_version           prints nginx's version number
#
# A function that cannot do its job prints what went wrong (with the logs) and exits 1.
# An optional function named by NGINX_CLEANUP_HOOK runs in the EXIT trap before
# nginx is stopped.

NGINX=$(command -v nginx || echo /usr/sbin/nginx)
NGINX_TMP=""
NGINX_PID=""
NGINX_PORTS=()
NGINX_LISTEN=()
NGINX_CERT_SAN=${NGINX_CERT_SAN:-DNS:localhost,IP:127.0.0.1}
NGINX_CLEANUP_HOOK=${NGINX_CLEANUP_HOOK:-}

# _nginx_die MESSAGE FILE...: prints MESSAGE and the start of each non-empty FILE; exit 1.
_nginx_die() {
  echo "FAIL: $1"
  shift
  local f
  for f in "$@"; do
    [ -s "$f" ] && { echo "--- $(basename "$f"):"; head -c 4000 "$f"; echo; }
  done
  exit 1
}

_nginx_cleanup() {
  local rc=$?
  if [ -n "$NGINX_CLEANUP_HOOK" ]; then "$NGINX_CLEANUP_HOOK" || true; fi
  nginx_stop
  if [ -n "$NGINX_TMP" ]; then rm -rf "$NGINX_TMP"; fi
  exit "$rc"
}

nginx_tmpdir() {
  NGINX_TMP=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
  trap _nginx_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

nginx_stop() {
  if [ -n "$NGINX_PID" ]; then
    if kill -0 "$NGINX_PID" 2>/dev/null; then
      kill -TERM "$NGINX_PID" 2>/dev/null || true
      for _ in $(seq 50); do kill -0 "$NGINX_PID" 2>/dev/null || break; sleep 0.1; done
      kill -KILL "$NGINX_PID" 2>/dev/null || true
    fi
    wait "$NGINX_PID" 2>/dev/null || true
    NGINX_PID=""
  fi
}

nginx_certs() {
  # A child bash with its own -e: every openssl step must succeed (errexit does not
  # hold inside a subshell that is the condition of an `if`).
  if ! (cd "$NGINX_TMP" && SAN=$NGINX_CERT_SAN bash -e -s -- "$@") \
    >"$NGINX_TMP/openssl.log" 2>&1 <<'SH'
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -keyout ca.key -out ca.pem -subj "/CN=tinyhttps test CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
cat >server.ext <<EOF
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = $SAN
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
for k in "$@"; do
  case $k in
    ec) openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
          -keyout ec.key -out ec.csr -subj "/CN=localhost" ;;
    rsa) openssl req -new -newkey rsa:2048 -nodes -keyout rsa.key -out rsa.csr -subj "/CN=localhost" ;;
    *) echo "nginx_certs: unknown key kind $k"; exit 1 ;;
  esac
  openssl x509 -req -in $k.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
    -extfile server.ext -out $k.pem
  openssl verify -CAfile ca.pem $k.pem
done
SH
  then
    _nginx_die "making certificates with openssl" "$NGINX_TMP/openssl.log"
  fi
}

nginx_www() {
  mkdir -p "$NGINX_TMP/www"
  head -c 1024 /dev/urandom >"$NGINX_TMP/www/1k"
  head -c 20480 /dev/urandom >"$NGINX_TMP/www/20k"
  head -c 1048576 /dev/urandom >"$NGINX_TMP/www/1m"
}

nginx_conf_main() {
  cat <<EOF
master_process off;
daemon off;
pid $NGINX_TMP/nginx.pid;
error_log $NGINX_TMP/error.log warn;
events { worker_connections 256; }
EOF
}

nginx_conf_http_common() {
  cat <<EOF
  client_body_temp_path $NGINX_TMP/client_body;
  proxy_temp_path $NGINX_TMP/proxy;
  fastcgi_temp_path $NGINX_TMP/fastcgi;
  uwsgi_temp_path $NGINX_TMP/uwsgi;
  scgi_temp_path $NGINX_TMP/scgi;
  types { }
  default_type application/octet-stream;
  root $NGINX_TMP/www;
  log_not_found off;
EOF
}

# nginx_conf_keepalive_and_close: the whole nginx.conf of the instruction counts
# (bench/compare.sh, bench/profile.sh): ECDSA, TLS 1.2 + 1.3, session tickets; the
# first port keeps connections alive, the second closes after every response. Sets
# PORT_K and PORT_C. Use: nginx_start 2 nginx_conf_keepalive_and_close.
nginx_conf_keepalive_and_close() {
  PORT_K=${NGINX_PORTS[0]} PORT_C=${NGINX_PORTS[1]}
  cat >"$NGINX_TMP/nginx.conf" <<EOF
$(nginx_conf_main)
http {
$(nginx_conf_http_common)
  access_log off;
  ssl_protocols TLSv1.2 TLSv1.3;
  ssl_certificate $NGINX_TMP/ec.pem;
  ssl_certificate_key $NGINX_TMP/ec.key;
  ssl_session_cache shared:SSL:1m;
  ssl_session_tickets on;
  keepalive_timeout 60;
  keepalive_requests 100000;
  server { listen 127.0.0.1:$PORT_K ssl; }
  server { listen 127.0.0.1:$PORT_C ssl; keepalive_timeout 0; }
}
EOF
}

# _nginx_listening: true when every ADDRESS:PORT of NGINX_LISTEN (by default
# 127.0.0.1 and each port of NGINX_PORTS) accepts TCP connections.
_nginx_listening() {
  local a
  for a in "${NGINX_LISTEN[@]}"; do
    (exec 3<>"/dev/tcp/${a%:*}/${a##*:}") 2>/dev/null || return 1
  done
}

nginx_start() {
  local count=$1 write_conf=$2 attempt up=no
  # The kernel picks free ports (bind to port 0); python3 prints and releases them
  # and nginx takes them a moment later.
  for attempt in 1 2 3; do
    read -r -a NGINX_PORTS < <(python3 - "$count" <<'EOF'
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
)
    [ "${#NGINX_PORTS[@]}" -eq "$count" ] || _nginx_die "python3 found ${#NGINX_PORTS[@]} free ports, not $count"
    NGINX_LISTEN=()
    "$write_conf"
    if [ "${#NGINX_LISTEN[@]}" -eq 0 ]; then
      NGINX_LISTEN=("${NGINX_PORTS[@]/#/127.0.0.1:}")
    fi
    "$NGINX" -t -q -p "$NGINX_TMP" -e "$NGINX_TMP/error.log" -c "$NGINX_TMP/nginx.conf" \
      >"$NGINX_TMP/nginx-t.log" 2>&1 \
      || _nginx_die "nginx -t" "$NGINX_TMP/nginx-t.log" "$NGINX_TMP/error.log" "$NGINX_TMP/nginx.conf"
    "$NGINX" -p "$NGINX_TMP" -e "$NGINX_TMP/error.log" -c "$NGINX_TMP/nginx.conf" \
      >"$NGINX_TMP/nginx.out" 2>&1 &
    NGINX_PID=$!
    for _ in $(seq 50); do
      kill -0 "$NGINX_PID" 2>/dev/null || break
      if _nginx_listening; then up=yes; break; fi
      sleep 0.1
    done
    [ "$up" = yes ] && return 0
    echo "nginx did not come up (attempt $attempt):"
    cat "$NGINX_TMP/nginx.out" "$NGINX_TMP/error.log" 2>/dev/null | tail -n 5
    nginx_stop
  done
  _nginx_die "starting nginx" "$NGINX_TMP/nginx.out" "$NGINX_TMP/error.log"
}

nginx_version() {
  "$NGINX" -v 2>&1 | sed 's/.*\///'
}
