#!/usr/bin/env bash
# armv7 instructions per MiB of a download, the table of README.md's "Firmware
# downloads (OTA)":
#
#   bash bench/download.sh     (needs what ci/setup.sh installs, plus gcc; ~1 min once
#                               fetch is built)
#
# Builds `fetch` (release, armv7) and the insncount QEMU plugin, starts nginx on
# loopback (https with an ECDSA P-256 certificate, and http) serving 4 MiB and 20 MiB
# of random bytes, and runs under `qemu-arm -cpu cortex-a7 -plugin insncount`:
#   copy      fetch -o FILE URL                       (a plain streamed copy)
#   download  fetch -o FILE -C - URL                  (Client::download)
#   sha256    fetch -o FILE -C - --sha256 HEX URL     (download + SHA-256)
# instructions per MiB = (I(20 MiB) - I(4 MiB)) / 16, so start-up, the handshake and
# exit cancel out. Each output is compared with the served file.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=ci/lib/nginx.sh
source ci/lib/nginx.sh

TARGET=armv7-unknown-linux-gnueabihf
FETCH=${CARGO_TARGET_DIR:-target}/$TARGET/release/examples/fetch
INSNCOUNT_SRC=${INSNCOUNT_SRC:-../shared/tools/qemu-insncount/insncount.c}
[ -f "$INSNCOUNT_SRC" ] || { echo "FAIL: $INSNCOUNT_SRC not found: set INSNCOUNT_SRC"; exit 1; }

cargo build --release --target "$TARGET" --example fetch
nginx_tmpdir tinyhttps-download-bench
TMP=$NGINX_TMP
# The binary as built now: another build in a shared target dir may replace it.
cp "$FETCH" "$TMP/fetch"
gcc -shared -fPIC -O2 -o "$TMP/libinsncount.so" "$INSNCOUNT_SRC"
nginx_certs ec
mkdir -p "$TMP/www"
head -c $((4 << 20)) /dev/urandom >"$TMP/www/4m"
head -c $((20 << 20)) /dev/urandom >"$TMP/www/20m"
write_conf() {
  cat >"$TMP/nginx.conf" <<CONF
$(nginx_conf_main)
http {
$(nginx_conf_http_common)
  access_log off;
  ssl_certificate $TMP/ec.pem;
  ssl_certificate_key $TMP/ec.key;
  ssl_protocols TLSv1.2 TLSv1.3;
  server { listen 127.0.0.1:${NGINX_PORTS[0]} ssl; }
  server { listen 127.0.0.1:${NGINX_PORTS[1]}; }
}
CONF
}
nginx_start 2 write_conf

QEMU="qemu-arm -cpu cortex-a7 -L /usr/arm-linux-gnueabihf -plugin $TMP/libinsncount.so"
# insns ARGS...: GUEST_INSNS of one fetch to $TMP/out (no part left from before).
insns() {
  rm -f "$TMP/out" "$TMP/out.part" "$TMP/out.part.meta"
  $QEMU "$TMP/fetch" --cacert "$TMP/ca.pem" -o "$TMP/out" "$@" 2>"$TMP/err" \
    || { cat "$TMP/err"; exit 1; }
  grep -o 'GUEST_INSNS [0-9]*' "$TMP/err" | awk '{print $2}'
}
for scheme in https http; do
  port=${NGINX_PORTS[0]}
  [ "$scheme" = http ] && port=${NGINX_PORTS[1]}
  for mode in copy download sha256; do
    declare -A count=()
    for size in 4m 20m; do
      sum=$(sha256sum "$TMP/www/$size" | cut -d' ' -f1)
      case $mode in
        copy) args=() ;;
        download) args=(-C -) ;;
        sha256) args=(-C - --sha256 "$sum") ;;
      esac
      count[$size]=$(insns "${args[@]}" "$scheme://localhost:$port/$size")
      cmp "$TMP/out" "$TMP/www/$size"
    done
    echo "$scheme $mode: I(4 MiB)=${count[4m]} I(20 MiB)=${count[20m]}" \
      "per MiB=$(( (count[20m] - count[4m]) / 16 ))"
  done
done
