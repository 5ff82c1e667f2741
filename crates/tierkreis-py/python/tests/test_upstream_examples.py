"""Each example script runs twice, once importing `run_graph` from
`tierkreis.controller` and once from `tierkreis_rs`, nothing else changed.
Results must be equal, and each checkpoint tree must read the same with the
reference's `read_outputs` and with our `tkr-rs outputs`."""

from __future__ import annotations

from pathlib import Path
from uuid import UUID

import pytest

from conftest import EXAMPLES, outputs_read_by_tkr_rs, run_script, swapped_script

# (script, the integer of the workflow id it uses, the node whose outputs it prints)
CASES = [
    ("hello_world.py", 101, "-"),
    ("builtins_loop.py", 102, "-"),
    ("map_fold.py", 103, "-"),
    ("interrupt_resume.py", 105, "-"),
]


def both(tmp_path: Path, workers: Path, script_name: str) -> tuple[dict, dict, Path, Path]:
    reference_script = EXAMPLES / script_name
    ours_script = swapped_script(reference_script, tmp_path / f"rs_{script_name}")
    reference_dir, ours_dir = tmp_path / "reference_ck", tmp_path / "ours_ck"
    reference = run_script(reference_script, reference_dir, workers)
    ours = run_script(ours_script, ours_dir, workers)
    return reference, ours, reference_dir, ours_dir


@pytest.mark.parametrize(("script_name", "run_number", "loc"), CASES)
def test_same_outputs_and_cross_readable(
    tmp_path: Path, workers: Path, script_name: str, run_number: int, loc: str
) -> None:
    reference, ours, reference_dir, ours_dir = both(tmp_path, workers, script_name)
    assert ours == reference
    workflow_id = str(UUID(int=run_number))
    for checkpoints in (reference_dir, ours_dir):
        # The reference's read_outputs, through the unchanged script's read mode.
        read_back = run_script(EXAMPLES / script_name, checkpoints, workers, "read")
        assert read_back["outputs"] == reference["outputs"]
        # Our reader of the same tree.
        by_tkr_rs = outputs_read_by_tkr_rs(checkpoints, workflow_id, loc)
        if isinstance(reference["outputs"], dict):
            assert by_tkr_rs == reference["outputs"]
        else:
            assert by_tkr_rs == {"value": reference["outputs"]}


def test_expected_values(tmp_path: Path, workers: Path) -> None:
    """The examples compute what they should (not only the same as each other)."""
    ours_dir = tmp_path / "ck"
    results = {}
    for script_name, _, _ in CASES:
        script = swapped_script(EXAMPLES / script_name, tmp_path / f"rs_{script_name}")
        results[script_name] = run_script(script, ours_dir, workers)
    assert results["hello_world.py"]["outputs"] == "hello world!"
    assert results["builtins_loop.py"]["outputs"] == 40
    assert results["map_fold.py"]["outputs"] == sum(i * i for i in range(25))
    assert results["interrupt_resume.py"] == {
        "interrupted": True,
        "outputs": "marker found: written after Ctrl-C",
    }


def test_failing_worker_raises_the_reference_error_type(tmp_path: Path, workers: Path) -> None:
    reference, ours, reference_dir, ours_dir = both(tmp_path, workers, "error_handling.py")
    assert ours["error_type"] == reference["error_type"] == "tierkreis.exceptions.TierkreisError"
    assert ours["failed_nodes"] == reference["failed_nodes"]
    assert ours["failed_nodes"], "the failed node is named in the root's errors"
    assert ours["node_errors_mention_cause"] == [True] * len(ours["failed_nodes"])
    # Each tree's failure reads the same with the other implementation's tools.
    for checkpoints in (reference_dir, ours_dir):
        read_back = run_script(EXAMPLES / "error_handling.py", checkpoints, workers, "read")
        assert read_back["failed_nodes"] == reference["failed_nodes"]


def test_compile_simulate_on_aer_and_qulacs(tmp_path: Path, workers: Path) -> None:
    """Shots are random: both runs give GHZ counts (all-equal bit strings
    only) with the requested number of shots per circuit; each tree reads
    back with the reference's read_outputs exactly as its run reported."""
    reference, ours, reference_dir, ours_dir = both(tmp_path, workers, "compile_simulate.py")
    for result in (reference, ours):
        for simulator in ("aer", "qulacs"):
            per_circuit = result["outputs"][simulator]
            assert [sum(c.values()) for c in per_circuit] == [300]
            for n_qubits, c in zip((3,), per_circuit):
                assert set(c) <= {"0" * n_qubits, "1" * n_qubits}, c
                assert len(c) == 2, f"both GHZ outcomes should appear in 300 shots: {c}"
    for checkpoints, result in ((reference_dir, reference), (ours_dir, ours)):
        read_back = run_script(EXAMPLES / "compile_simulate.py", checkpoints, workers, "read")
        assert read_back == result


def test_breakpoints_pause_and_resume_step_as_the_reference(tmp_path: Path, workers: Path) -> None:
    """`run_graph(enable_breakpoints=True)` returns at the first breakpoint
    and each `resume_graph(enable_breakpoints=True)` at the next, with the
    same pause record and the same tasks started after every call; without
    the flag `resume_graph` runs past them. Each tree reads back with the
    reference's read_outputs."""
    reference, ours, reference_dir, ours_dir = both(tmp_path, workers, "breakpoints.py")
    assert ours["outputs"] == reference["outputs"] == [(4 + 1) * 3 + 10, (5 + 1) * 3 + 10]
    assert ours["steps"] == reference["steps"]
    assert [s["paused_at"] for s in ours["steps"]] == [["-.N4"], ["-.N6"], []]
    assert [s["finished"] for s in ours["steps"]] == [False, False, True]
    # Paused with the tasks before the breakpoint done and none after it.
    assert ours["past"][0] == reference["past"][0] == {
        "paused_at": ["-.N4"], "started": ["-.N2"], "finished": False,
    }
    # resume_graph without the flag runs to the end. The reference leaves its
    # pause record behind (a later resume with breakpoints would start -.N4
    # again); ours is consumed: the one deliberate difference.
    assert ours["past"][1]["started"] == reference["past"][1]["started"] == ["-.N2", "-.N4", "-.N6"]
    assert ours["past"][1]["finished"] and reference["past"][1]["finished"]
    assert reference["past"][1]["paused_at"] == ["-.N4"]
    assert ours["past"][1]["paused_at"] == []
    for checkpoints in (reference_dir, ours_dir):
        read_back = run_script(EXAMPLES / "breakpoints.py", checkpoints, workers, "read")
        assert read_back["outputs"] == reference["outputs"]
