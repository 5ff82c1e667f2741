#!/usr/bin/env bash
# CI for the Python package, the way a Python user gets it: `pip install
# ./crates/tierkreis-py` and `pip wheel` of the same folder on a fresh clone
# (maturin from PyPI through pip's build isolation; build.rs builds the `tkr`
# CLI inside), then the wheel installed with `pip install --target DIR` into
# the reference environment (next to tierkreis 2.1.1, which stays untouched),
# its types checked there (mypy --strict on the package, stubtest on the
# extension's stub) and its pytest suite run from it.
# Run from anywhere; needs ../shared/reference beside the repository.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
run="$root/../shared/reference/run.sh"
ref_python=/opt/tk/bin/python

# CI checks behaviour, not speed: the dev profile tests the same code and
# reuses most of the `cargo test` build (the benchmarks use release wheels).
export MATURIN_PEP517_ARGS="${MATURIN_PEP517_ARGS:---profile dev}"

# The reference environment sees only /tmp of this machine.
work="$(mktemp -d /tmp/tierkreis-rs-ci.XXXXXX)"
trap 'rm -rf "$work"' EXIT

echo "-- pip install ./crates/tierkreis-py (host Python, fresh venv)"
python3 -m venv "$work/venv"
"$work/venv/bin/python" -m pip install -q "$here"
"$work/venv/bin/tkr-rs" --version

echo "-- pip wheel ./crates/tierkreis-py, checked by auditwheel"
python3 -m pip wheel -q --no-deps --wheel-dir "$work/wheels" "$here"
wheel="$(ls "$work"/wheels/tierkreis_rs-*.whl)"
"$work/venv/bin/python" -m pip install -q auditwheel
"$work/venv/bin/auditwheel" show "$wheel"

echo "-- the wheel installed with pip install --target into the reference environment"
site="$work/site"
"$run" -- "$ref_python" -m pip install -q --no-deps --target "$site" "$wheel"
"$run" -- "$ref_python" -m pip install -q --target "$work/tools" pytest mypy
in_reference() { "$run" -- env PYTHONPATH="$site:$work/tools" PATH="$work/tools/bin:/opt/tk/bin:/usr/local/bin:/usr/bin:/bin" "$@"; }

echo "-- mypy --strict on the installed package, stubtest on the extension's stub"
in_reference "$ref_python" -m mypy --strict --no-incremental --cache-dir=/dev/null -p tierkreis_rs
in_reference "$ref_python" -m mypy.stubtest tierkreis_rs._native

echo "-- pytest (reference environment, package from $site)"
tests="$work/tests"
cp -r "$here/python/tests/." "$tests/"
status=0
(cd "$tests" && in_reference "$ref_python" -m pytest -q -p no:cacheprovider) || status=$?
if [ "$status" -eq 5 ]; then
  echo "error: pytest collected no tests from $here/python/tests" >&2
fi
exit "$status"
