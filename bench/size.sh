#!/usr/bin/env bash
# Stripped armv7 size of the minimal GET programs of bench/size, tinyhttps-get with
# several feature sets beside ureq-get, and the "smallest build" of README.md.
#
#   bash bench/size.sh        (from anywhere; needs what ci/setup.sh installs and
#                              python3 >= 3.11; ~10 min from a clean clone on 2 busy
#                              cores, seconds once built)
#
# Every program is built with the size profile of bench/size (opt-level "z", fat LTO,
# one codegen unit, panic abort, strip), for armv7-unknown-linux-gnueabihf, from the
# repository root (--manifest-path) so that .cargo/config.toml (linker, C cross
# compiler) holds. A variant of tinyhttps-get is a copy of the program, renamed, whose
# tinyhttps dependency names its features (default-features = false, features = [...])
# and which keeps the program's Cargo.lock. The Thumb-2 rows are the same programs
# built with RUSTFLAGS="-C target-feature=+thumb-mode" (rustc warns that this target
# feature is unstable; it works on stable) into a target directory of their own.
#
# Each binary must also work: under qemu-arm it fetches /20k from nginx on loopback
# (TLS 1.3, ECDSA P-256; ci/lib/nginx.sh) and must print 20480.
#
# Output directory: CARGO_TARGET_DIR if set, else bench/size/target.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=ci/lib/nginx.sh
source ci/lib/nginx.sh

TARGET=armv7-unknown-linux-gnueabihf
OUT=$(realpath -m -- "${CARGO_TARGET_DIR:-bench/size/target}")
THUMB_OUT=$OUT/thumb
THUMB_FLAGS="-C target-feature=+thumb-mode"
QEMU="qemu-arm -L /usr/arm-linux-gnueabihf"
LIMIT=60

fail() { echo "FAIL: $*" >&2; exit 1; }
for tool in "$NGINX" openssl python3 qemu-arm arm-linux-gnueabihf-gcc; do
  command -v "$tool" >/dev/null 2>&1 || fail "$tool not found (run bash ci/setup.sh)"
done

nginx_tmpdir tinyhttps-size
TMP=$NGINX_TMP

# variant NAME FEATURES: a copy of bench/size/tinyhttps-get named NAME in TMP whose
# tinyhttps dependency has default-features = false and FEATURES (a TOML list body,
# e.g. '"webpki-roots"'); prints its manifest path.
variant() {
  local name=$1 features=$2 dir=$TMP/$1
  mkdir -p "$dir"
  cp -r bench/size/tinyhttps-get/src bench/size/tinyhttps-get/Cargo.lock "$dir/"
  python3 - "$PWD" "$name" "$features" bench/size/tinyhttps-get/Cargo.toml \
    >"$dir/Cargo.toml" <<'EOF'
import re, sys
root, name, features, manifest = sys.argv[1:]
text = open(manifest).read()
text = text.replace('name = "tinyhttps-get"', 'name = "%s"' % name, 1)
text, n = re.subn(r'^tinyhttps = \{ path = "[^"]*" \}$',
                  'tinyhttps = { path = "%s", default-features = false, features = [%s] }'
                  % (root, features), text, count=1, flags=re.M)
assert n == 1, "no tinyhttps path dependency in " + manifest
sys.stdout.write(text)
EOF
  echo "$dir/Cargo.toml"
}

# build MANIFEST [thumb]: one cargo build at a time.
build() {
  local manifest=$1
  echo "== build $(basename "$(dirname "$manifest")")${2:+ (Thumb-2)}"
  if [ "${2:-}" = thumb ]; then
    RUSTFLAGS=$THUMB_FLAGS CARGO_TARGET_DIR=$THUMB_OUT \
      cargo build --quiet --release --target "$TARGET" --manifest-path "$manifest"
  else
    CARGO_TARGET_DIR=$OUT cargo build --quiet --release --target "$TARGET" \
      --manifest-path "$manifest"
  fi
}

# The crate's default features, and the feature lists of the variants: the defaults
# without tls12, and the defaults with webpki-roots toggled (off if it is a default,
# else on), as TOML list bodies ('' for none).
read -r DEFAULTS NO_TLS12 ROOTS_TOGGLED ROOTS_LABEL < <(python3 - <<'EOF'
import tomllib
default = tomllib.load(open("Cargo.toml", "rb"))["features"].get("default", [])
toml = lambda names: ",".join('"%s"' % n for n in names) or "''"
roots = [f for f in default if f != "webpki-roots"]
label = "without" if "webpki-roots" in default else "with"
if label == "with":
    roots.append("webpki-roots")
print(toml(default), toml([f for f in default if f != "tls12"]), toml(roots), label)
EOF
)
unquote() { if [ "$1" = "''" ]; then echo ""; else echo "$1"; fi; }

# Rows: LABEL | program name | manifest | thumb or not.
ROWS=(
  "ureq-get (rustls, ring, webpki-roots)|ureq-get|bench/size/ureq-get/Cargo.toml|"
  "tinyhttps-get, default features [$DEFAULTS]|tinyhttps-get|bench/size/tinyhttps-get/Cargo.toml|"
  "tinyhttps-get, defaults without tls12|tinyhttps-get-no-tls12|$(variant tinyhttps-get-no-tls12 "$(unquote "$NO_TLS12")")|"
  "tinyhttps-get, defaults $ROOTS_LABEL webpki-roots|tinyhttps-get-roots-$ROOTS_LABEL|$(variant "tinyhttps-get-roots-$ROOTS_LABEL" "$(unquote "$ROOTS_TOGGLED")")|"
  "tinyhttps-get, default-features = false|tinyhttps-get-bare|$(variant tinyhttps-get-bare '')|"
  "ureq-get, Thumb-2|ureq-get|bench/size/ureq-get/Cargo.toml|thumb"
  "tinyhttps-get, smallest: no features, Thumb-2|tinyhttps-get-bare|$TMP/tinyhttps-get-bare/Cargo.toml|thumb"
)
for row in "${ROWS[@]}"; do
  IFS='|' read -r _ _ manifest thumb <<<"$row"
  build "$manifest" "$thumb"
done

echo "== nginx on loopback"
nginx_certs ec
nginx_www
write_nginx_conf() {
  NGINX_LISTEN=("127.0.0.1:${NGINX_PORTS[0]}")
  cat >"$TMP/nginx.conf" <<EOF
$(nginx_conf_main)
http {
$(nginx_conf_http_common)
  access_log off;
  ssl_protocols TLSv1.2 TLSv1.3;
  ssl_certificate $TMP/ec.pem;
  ssl_certificate_key $TMP/ec.key;
  server { listen 127.0.0.1:${NGINX_PORTS[0]} ssl; }
}
EOF
}
nginx_start 1 write_nginx_conf
URL=https://localhost:${NGINX_PORTS[0]}/20k

# With BENCH_OUT set (bench/bench.sh runs this script so), the table is also
# written there as Markdown, for BENCHMARKS.md.
MD=${BENCH_OUT:+$BENCH_OUT/sizes.md}
if [ -n "$MD" ]; then
  printf '| program (stripped, %s) | bytes | x ureq |\n|---|---|---|\n' "$TARGET" >"$MD"
fi
echo
printf '%-62s %10s %7s\n' "program (stripped, $TARGET)" bytes "x ureq"
ureq_arm="" ureq_thumb=""
for row in "${ROWS[@]}"; do
  IFS='|' read -r label name _ thumb <<<"$row"
  file=$OUT/$TARGET/release/$name
  [ "$thumb" = thumb ] && file=$THUMB_OUT/$TARGET/release/$name
  size=$(stat -c %s "$file")
  # The program must work, not only exist.
  got=$(timeout "$LIMIT" $QEMU "$file" "$URL" "$TMP/ca.pem" 2>"$TMP/stderr") \
    || { cat "$TMP/stderr" >&2; fail "$label: $file $URL: exit $?"; }
  [ "$got" = 20480 ] || fail "$label printed $got, expected 20480"
  if [ "$name" = ureq-get ]; then
    if [ "$thumb" = thumb ]; then ureq_thumb=$size; else ureq_arm=$size; fi
  fi
  base=$ureq_arm
  [ "$thumb" = thumb ] && base=$ureq_thumb
  ratio=$(python3 -c "print(f'{$size / $base:.3f}')")
  printf '%-62s %10s %7s\n' "$label" "$(printf "%'d" "$size")" "$ratio"
  if [ -n "$MD" ]; then
    printf '| %s | %s | %s |\n' "$label" "$(printf "%'d" "$size")" "$ratio" >>"$MD"
  fi
done
echo "(x ureq: against ureq-get built the same way, ARM or Thumb-2)"
