#!/usr/bin/env bash
# Installs what the tests need; safe to run again (does nothing when all is there).
# Needs root (or sudo) for apt-get on Debian/Ubuntu.
set -euo pipefail

TARGET=armv7-unknown-linux-gnueabihf
SUDO=""
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then SUDO=sudo; fi

if ! rustup target list --installed | grep -qx "$TARGET"; then
  rustup target add "$TARGET"
fi
for c in rustfmt clippy; do
  if ! rustup component list --installed | grep -q "^$c"; then
    rustup component add "$c"
  fi
done

# Debian packages: the ARM cross linker + libc, qemu-user to run armv7 binaries,
# nginx and openssl for the real-server interop run.
need=()
command -v arm-linux-gnueabihf-gcc >/dev/null 2>&1 || need+=(gcc-arm-linux-gnueabihf)
command -v qemu-arm >/dev/null 2>&1 || need+=(qemu-user)
[ -x /usr/sbin/nginx ] || command -v nginx >/dev/null 2>&1 || need+=(nginx)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
if [ ${#need[@]} -gt 0 ]; then
  echo "ci/setup.sh: installing ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
echo "ci/setup.sh: ready ($(rustc --version), $(qemu-arm --version | head -n1))"
