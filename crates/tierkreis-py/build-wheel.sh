#!/usr/bin/env bash
# Builds the tierkreis-rs wheel (abi3, CPython >= 3.10) with our CLI inside as
# `tkr-rs`. Usage: build-wheel.sh OUT_DIR  (needs `maturin` on PATH).
# TKR_WHEEL_PROFILE picks the Cargo profile (default `release`; CI uses `dev`,
# which tests the same code and reuses the test build's artifacts).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:?give the output folder}"
root="$(cd "$here/../.." && pwd)"
profile="${TKR_WHEEL_PROFILE:-release}"
case "$profile" in dev | test) target_subdir=debug ;; *) target_subdir="$profile" ;; esac
cargo build --profile "$profile" --locked -p tierkreis-cli --bin tkr --manifest-path "$root/Cargo.toml"
mkdir -p "$here/wheel-data/scripts"
install -m 0755 "$root/target/$target_subdir/tkr" "$here/wheel-data/scripts/tkr-rs"
# The release profile keeps line tables for profiling; the wheel needs none.
if command -v strip >/dev/null 2>&1; then strip "$here/wheel-data/scripts/tkr-rs"; fi
maturin build --profile "$profile" --locked --manifest-path "$here/Cargo.toml" --out "$out"
