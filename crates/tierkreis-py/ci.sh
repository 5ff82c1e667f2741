#!/usr/bin/env bash
# CI for the Python package: builds the tierkreis-rs wheel with maturin (from
# PyPI, on the host's Python), installs it into the reference environment's
# Python next to tierkreis 2.1.1, checks the types (mypy --strict on the
# package, stubtest on the extension's stub) and runs the pytest suite there.
# Run from anywhere; needs ../shared/reference beside the repository.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
run="$root/../shared/reference/run.sh"
ref_python=/opt/tk/bin/python

python3 -m pip install -q "maturin>=1.5,<2"
# The reference environment sees only /tmp of this machine.
wheels="$(mktemp -d /tmp/tierkreis-rs-wheel.XXXXXX)"
tests="$(mktemp -d /tmp/tierkreis-rs-tests.XXXXXX)"
trap 'rm -rf "$wheels" "$tests"' EXIT
# CI checks behaviour, not speed: a dev-profile wheel reuses the test build
# (the benchmarks in BENCHMARKS.md use release wheels).
TKR_WHEEL_PROFILE="${TKR_WHEEL_PROFILE:-dev}" bash "$here/build-wheel.sh" "$wheels"
wheel="$(ls "$wheels"/tierkreis_rs-*.whl)"

"$run" -- "$ref_python" -m pip install -q --force-reinstall --no-deps "$wheel"
"$run" -- "$ref_python" -m pip install -q pytest mypy

echo "-- mypy --strict on the installed package, stubtest on the extension's stub"
"$run" -- "$ref_python" -m mypy --strict --no-incremental -p tierkreis_rs
"$run" -- "$ref_python" -m mypy.stubtest tierkreis_rs._native

echo "-- pytest (reference environment)"
cp -r "$here/python/tests/." "$tests/"
status=0
(cd "$tests" && "$run" -- "$ref_python" -m pytest -q -p no:cacheprovider) || status=$?
if [ "$status" -eq 5 ]; then
  echo "error: pytest collected no tests from $here/python/tests" >&2
fi
exit "$status"
