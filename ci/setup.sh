#!/usr/bin/env bash
# Installs what the build and the tests need; safe to run again, and silent when all
# is there. It decides by *package* (dpkg-query), never by "is the command on PATH":
# a command can be present while a package the build needs is not (the ARM cross
# compiler without its libc headers compiles nothing of ring's C code).
# Needs root (or sudo) for apt-get on Debian/Ubuntu.
set -euo pipefail

TARGET=armv7-unknown-linux-gnueabihf
SUDO=""
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then SUDO=sudo; fi

# Debian packages, each with what needs it.
packages=(
  gcc-arm-linux-gnueabihf   # the armv7 linker, and ring's C/assembly compiler
  libc6-dev-armhf-cross     # armv7 libc headers and crt files (only a Recommends of the above)
  qemu-user                 # qemu-arm runs the armv7 test binaries
  nginx                     # the real-server interop run (ci/interop.sh)
  openssl                   # certificates for interop; s_server for the renegotiation check
  python3                   # interop and bench helpers (free ports, log checks)
  faketime                  # the "clock at 1970" check of fetch in ci/interop.sh
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [ "$status" = "installed" ] || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
  echo "ci/setup.sh: installed ${missing[*]}"
fi

# Rust: the armv7 standard library, rustfmt and clippy for the installed toolchain.
if ! rustup target list --installed | grep -qx "$TARGET"; then
  rustup target add "$TARGET" >/dev/null 2>&1
  echo "ci/setup.sh: installed the Rust target $TARGET"
fi
for c in rustfmt clippy; do
  if ! rustup component list --installed | grep -q "^$c"; then
    rustup component add "$c" >/dev/null 2>&1
    echo "ci/setup.sh: installed the Rust component $c"
  fi
done
