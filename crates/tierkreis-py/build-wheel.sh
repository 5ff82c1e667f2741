#!/usr/bin/env bash
# Builds the tierkreis-rs wheel to distribute: abi3 (CPython >= 3.10), tagged
# manylinux2014 (glibc >= 2.17, the clusters' distributions), linked by
# maturin's zig support, with our CLI inside as `tkr-rs` (build.rs builds it
# with the same profile, target and linker), then checks the tag with
# `auditwheel show`. Usage: build-wheel.sh OUT_DIR. Installs maturin, ziglang
# and auditwheel from PyPI into the current Python when missing.
# TKR_WHEEL_PROFILE picks the Cargo profile (default `release`).
# A wheel for this machine only needs no script: `pip install
# ./crates/tierkreis-py` (or `pip wheel`, `maturin build`, `maturin develop`).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:?give the output folder}"
profile="${TKR_WHEEL_PROFILE:-release}"
for tool in maturin ziglang auditwheel; do
  if ! python3 -m pip show -q "$tool" >/dev/null 2>&1; then
    python3 -m pip install -q "$tool$([ "$tool" = maturin ] && echo '>=1.5,<2')"
  fi
done
mkdir -p "$out"
python3 -m maturin build --profile "$profile" --locked --zig --compatibility manylinux2014 \
  --manifest-path "$here/Cargo.toml" --out "$out"
wheel="$(ls -t "$out"/tierkreis_rs-*manylinux*2_17*.whl | head -n 1)"
python3 -m auditwheel show "$wheel"
