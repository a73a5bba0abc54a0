#!/usr/bin/env bash
# Checks the crate as crates.io would get it: `cargo publish --dry-run` packages it and
# builds the packaged copy (nothing is uploaded), and the file list holds only what a
# user needs: no tests, test certificates, CI scripts, bench results or fuzz seeds.
set -euo pipefail
cd "$(dirname "$0")/.."

# --allow-dirty: CI runs on a clean clone; by hand the tree may have uncommitted work.
cargo publish --dry-run --allow-dirty --quiet
files=$(cargo package --list --allow-dirty)
unexpected=$(grep -vE '^(src/.*\.rs|examples/(demo|fetch)\.rs|README\.md|CHANGELOG\.md|LICENSE-(MIT|APACHE)|Cargo\.toml|Cargo\.toml\.orig|Cargo\.lock|\.cargo_vcs_info\.json)$' <<<"$files" || true)
if [ -n "$unexpected" ]; then
  echo "FAIL: the package holds files a user does not need:"
  echo "$unexpected"
  exit 1
fi
for needed in src/lib.rs README.md LICENSE-MIT LICENSE-APACHE CHANGELOG.md; do
  grep -qx "$needed" <<<"$files" || { echo "FAIL: the package lacks $needed"; exit 1; }
done
echo "ci/package.sh: $(wc -l <<<"$files") files packaged, publish dry run passed"
