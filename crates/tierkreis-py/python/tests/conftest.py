"""Shared helpers: run an example script with either implementation."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).parent / "examples"
REFERENCE_IMPORT = "from tierkreis.controller import "
OURS_IMPORT = "from tierkreis_rs import "


def swapped_script(script: Path, destination: Path) -> Path:
    """`script` with its one `from tierkreis.controller import ...` line
    importing from `tierkreis_rs` instead; nothing else changes."""
    lines = script.read_text().splitlines(keepends=True)
    matches = [i for i, line in enumerate(lines) if line.startswith(REFERENCE_IMPORT)]
    assert len(matches) == 1, f"{script} must import run_graph from tierkreis.controller once"
    lines[matches[0]] = lines[matches[0]].replace(REFERENCE_IMPORT, OURS_IMPORT, 1)
    destination.write_text("".join(lines))
    return destination


def run_script(script: Path, tkr_dir: Path, workers: Path, *extra: str) -> dict:
    """Runs `script` and returns the JSON on its `RESULT: ` line."""
    # The reference's builtins worker finds checkpoints through $TKR_DIR only.
    env = {**os.environ, "TKR_DIR": str(tkr_dir)}
    proc = subprocess.run(
        [sys.executable, str(script), str(tkr_dir), str(workers), *extra],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, (
        f"{script.name} {' '.join(extra)} exited {proc.returncode}\n"
        f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    )
    results = [line for line in proc.stdout.splitlines() if line.startswith("RESULT: ")]
    assert len(results) == 1, f"{script.name} printed no RESULT line:\n{proc.stdout}\n{proc.stderr}"
    return json.loads(results[0][len("RESULT: ") :])


@pytest.fixture()
def workers(tmp_path: Path) -> Path:
    """A temporary registry holding copies of the example workers."""
    registry = tmp_path / "workers"
    shutil.copytree(EXAMPLES / "workers", registry)
    return registry


def tkr_rs() -> str:
    """The `tkr-rs` CLI the wheel installed next to this Python."""
    from tierkreis_rs.__main__ import find_cli

    return find_cli()


def outputs_read_by_tkr_rs(tkr_dir: Path, workflow_id: str, loc: str = "-") -> dict:
    """The outputs of node `loc`, as `tkr-rs outputs` reads them."""
    proc = subprocess.run(
        [tkr_rs(), "outputs", workflow_id, loc, "--checkpoints", str(tkr_dir)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)
