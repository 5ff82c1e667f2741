"""The native API (`run`, `resume`, `restart`, `runs`), the drop-in
functions' storage and executor mapping, and the installed commands."""

from __future__ import annotations

import fcntl
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import NamedTuple
from uuid import UUID

import pytest
from tierkreis.builder import Graph
from tierkreis.builtins.stubs import iadd, itimes, sum_list, tkr_range
from tierkreis.controller.executor.multiple import MultipleExecutor
from tierkreis.controller.executor.shell_executor import ShellExecutor
from tierkreis.controller.executor.uv_executor import UvExecutor
from tierkreis.controller.storage.filestorage import ControllerFileStorage
from tierkreis.controller.storage.in_memory import ControllerInMemoryStorage
from tierkreis.exceptions import TierkreisError
from tierkreis.models import TKR
from tierkreis.storage import read_outputs

import tierkreis_rs


class greet(NamedTuple):
    greeting: TKR[str]
    subject: TKR[str]

    @staticmethod
    def out() -> type[TKR[str]]:
        return TKR[str]

    @property
    def namespace(self) -> str:
        return "hello_world_worker"


class wait_for_marker(NamedTuple):
    path: TKR[str]

    @staticmethod
    def out() -> type[TKR[str]]:
        return TKR[str]

    @property
    def namespace(self) -> str:
        return "slow_worker"


class checked_double(NamedTuple):
    x: TKR[int]

    @staticmethod
    def out() -> type[TKR[int]]:
        return TKR[int]

    @property
    def namespace(self) -> str:
        return "failing_worker"


class process_id(NamedTuple):
    tag: TKR[int]

    @staticmethod
    def out() -> type[TKR[int]]:
        return TKR[int]

    @property
    def namespace(self) -> str:
        return "pid_worker"


class count_call(NamedTuple):
    path: TKR[str]

    @staticmethod
    def out() -> type[TKR[int]]:
        return TKR[int]

    @property
    def namespace(self) -> str:
        return "counting_worker"


class fail_first(NamedTuple):
    path: TKR[str]
    failures: TKR[int]

    @staticmethod
    def out() -> type[TKR[int]]:
        return TKR[int]

    @property
    def namespace(self) -> str:
        return "counting_worker"


def counting_graph():
    g = Graph(TKR[str], TKR[int])
    return g.finish_with_outputs(g.task(count_call(path=g.inputs)))


def failing_first_graph():
    g = Graph(TKR[str], TKR[int])
    return g.finish_with_outputs(g.task(fail_first(path=g.inputs, failures=g.const(2))))


def process_ids_graph():
    """The process id of the worker call for each of range(value)."""
    body = Graph(TKR[int], TKR[int])
    body_wf = body.finish_with_outputs(body.task(process_id(tag=body.inputs)))
    g = Graph(TKR[int], TKR[list[int]])
    return g.finish_with_outputs(
        g.map(body_wf, g.task(tkr_range(start=g.const(0), stop=g.inputs)))
    )


def breakpoint_chain_graph():
    """((value + 1) * 3) + 10; the multiplication and the last addition are breakpoints."""
    g = Graph(TKR[int], TKR[int])
    one = g.task(iadd(a=g.inputs, b=g.const(1)))
    three = g.task(itimes(a=one, b=g.const(3)), has_breakpoint=True)
    return g.finish_with_outputs(g.task(iadd(a=three, b=g.const(10)), has_breakpoint=True))


def squares_sum_graph():
    body = Graph(TKR[int], TKR[int])
    body_wf = body.finish_with_outputs(body.task(itimes(a=body.inputs, b=body.inputs)))
    g = Graph(TKR[int], TKR[int])
    squares = g.map(body_wf, g.task(tkr_range(start=g.const(0), stop=g.inputs)))
    return g.finish_with_outputs(g.task(sum_list(values=squares)))


def hello_graph():
    g = Graph(TKR[str], TKR[str])
    return g.finish_with_outputs(g.task(greet(greeting=g.const("hi "), subject=g.inputs)))


def waiting_graph():
    g = Graph(TKR[str], TKR[str])
    return g.finish_with_outputs(g.task(wait_for_marker(path=g.inputs)))


def doubling_graph():
    g = Graph(TKR[int], TKR[int])
    return g.finish_with_outputs(g.task(checked_double(x=g.inputs)))


def test_run_returns_outputs_and_runs_lists_it(tmp_path: Path) -> None:
    outputs = tierkreis_rs.run(
        squares_sum_graph(), {"value": 10}, tkr_dir=tmp_path, name="squares", progress=False
    )
    assert outputs == {"value": sum(i * i for i in range(10))}
    listed = tierkreis_rs.runs(tmp_path)
    assert [(r.name, r.status) for r in listed] == [("squares", "finished")]
    # The reference reads what we wrote.
    storage = ControllerFileStorage(UUID(listed[0].workflow_id), tierkreis_directory=tmp_path)
    assert read_outputs(squares_sum_graph(), storage) == 285


def test_graph_as_json_dict_and_bad_graph(tmp_path: Path) -> None:
    as_dict = squares_sum_graph().data.model_dump(mode="json")
    assert tierkreis_rs.run(as_dict, {"value": 3}, tkr_dir=tmp_path, progress=False) == {"value": 5}
    with pytest.raises(ValueError, match="not a valid graph"):
        tierkreis_rs.run({"nodes": "nonsense"}, {}, tkr_dir=tmp_path, progress=False)


def test_failure_names_the_node(tmp_path: Path, workers: Path) -> None:
    with pytest.raises(tierkreis_rs.WorkflowFailed) as caught:
        tierkreis_rs.run(
            doubling_graph(), {"value": -3}, tkr_dir=tmp_path, registry=[workers], progress=False
        )
    [(loc, text)] = caught.value.failures
    assert loc == "-.N1"
    assert "negative number -3" in text
    assert "node -.N1" in str(caught.value)
    assert [r.status for r in tierkreis_rs.runs(tmp_path)] == ["failed"]


def test_task_timeout_from_python_stops_a_task_and_restart_reuses_the_settings(
    tmp_path: Path, workers: Path
) -> None:
    marker = tmp_path / "never-written.txt"
    ck = tmp_path / "ck"
    with pytest.raises(tierkreis_rs.WorkflowFailed) as caught:
        tierkreis_rs.run(
            waiting_graph(), {"value": str(marker)}, tkr_dir=ck, name="slow",
            registry=[workers], progress=False, task_timeout=1.0,
        )
    [(loc, text)] = caught.value.failures
    assert loc == "-.N1"
    assert "timed out" in text, text
    # The run recorded its settings (registry and timeout), as `tkr run`
    # does: a restart naming neither runs the task the same way.
    with pytest.raises(tierkreis_rs.WorkflowFailed) as again:
        tierkreis_rs.restart("slow", "-.N1", tkr_dir=ck, progress=False)
    [(_, text)] = again.value.failures
    assert "timed out" in text, text


def test_runs_reports_the_storage_status_lock_first_then_done(tmp_path: Path) -> None:
    tierkreis_rs.run(squares_sum_graph(), {"value": 3}, tkr_dir=tmp_path, progress=False)
    [info] = tierkreis_rs.runs(tmp_path)
    assert info.status == "finished"
    # A stale `_error` beside the root's `_done` (a restart can leave one):
    # the storage says finished, as `tkr ls` does.
    (info.workflow_dir / "-" / "_error").touch()
    assert [r.status for r in tierkreis_rs.runs(tmp_path)] == ["finished"]
    # While a live controller holds the run's lock, it is running.
    with open(info.workflow_dir / ".controller.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        assert [r.status for r in tierkreis_rs.runs(tmp_path)] == ["running"]
    assert [r.status for r in tierkreis_rs.runs(tmp_path)] == ["finished"]


def test_a_name_of_several_runs_means_the_newest_as_in_tkr(tmp_path: Path) -> None:
    for n in (2, 3):
        tierkreis_rs.run(
            squares_sum_graph(), {"value": n}, tkr_dir=tmp_path, name="twice", progress=False
        )
    # The newest run of that name (0 + 1 + 4), not an error.
    assert tierkreis_rs.resume("twice", tkr_dir=tmp_path, progress=False) == {"value": 5}
    with pytest.raises(tierkreis_rs.EngineFailure, match="closest: twice"):
        tierkreis_rs.resume("twcie", tkr_dir=tmp_path, progress=False)


def test_restart_reruns_a_task(tmp_path: Path, workers: Path) -> None:
    marker = tmp_path / "marker.txt"
    marker.write_text("one")
    ck = tmp_path / "ck"
    first = tierkreis_rs.run(
        waiting_graph(), {"value": str(marker)}, tkr_dir=ck, name="waiter",
        registry=[workers], progress=False,
    )
    assert first == {"value": "marker found: one"}
    marker.write_text("two")
    again = tierkreis_rs.restart("waiter", "-.N1", tkr_dir=ck, registry=[workers], progress=False)
    assert again == {"value": "marker found: two"}


def test_ctrl_c_stops_the_run_and_resume_finishes_it(tmp_path: Path, workers: Path) -> None:
    marker = tmp_path / "marker.txt"
    started = Path(str(marker) + ".started")
    ck = tmp_path / "ck"

    def press_ctrl_c() -> None:
        while not started.exists():
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=press_ctrl_c, daemon=True).start()
    with pytest.raises(KeyboardInterrupt):
        tierkreis_rs.run(
            waiting_graph(), {"value": str(marker)}, tkr_dir=ck, name="interrupted",
            registry=[workers], progress=False,
        )
    [info] = tierkreis_rs.runs(ck)
    assert info.status == "interrupted"
    # The interrupted task's worker was stopped, so it never wrote an output.
    assert not (info.workflow_dir / "-.N1" / "outputs" / "value").exists()
    marker.write_text("after")
    assert tierkreis_rs.resume("interrupted", tkr_dir=ck, registry=[workers], progress=False) == {
        "value": "marker found: after"
    }


def test_in_memory_storage_reads_with_read_outputs(workers: Path) -> None:
    storage = ControllerInMemoryStorage(UUID(int=7), name="in memory")
    executor = ShellExecutor(workers, storage.workflow_dir)
    tierkreis_rs.run_graph(storage, executor, hello_graph(), "memory")
    assert read_outputs(hello_graph(), storage) == "hi memory"


def test_multiple_executor_assignments(tmp_path: Path, workers: Path) -> None:
    storage = ControllerFileStorage(UUID(int=8), tierkreis_directory=tmp_path / "ck")
    shell = ShellExecutor(workers, storage.workflow_dir, env={"GREETING_ENV": "set"})
    default = UvExecutor(tmp_path / "no_workers_here", storage.logs_path)
    executor = MultipleExecutor(default, {"shell": shell}, {"hello_world_worker": "shell"})
    tierkreis_rs.run_graph(storage, executor, hello_graph(), "multiple")
    assert read_outputs(hello_graph(), storage) == "hi multiple"


def test_unmappable_executor_is_refused_before_anything_runs(tmp_path: Path) -> None:
    class MyExecutor:
        def run(self, launcher_name: str, worker_call_args_path: Path) -> None:
            raise AssertionError("never called")

    storage = ControllerFileStorage(UUID(int=9), tierkreis_directory=tmp_path)
    with pytest.raises(tierkreis_rs.UnsupportedExecutorError, match="MyExecutor"):
        tierkreis_rs.run_graph(storage, MyExecutor(), hello_graph(), "x")
    assert not (tmp_path / str(UUID(int=9)) / "-").exists()


def test_existing_workflow_is_not_overwritten(tmp_path: Path) -> None:
    storage = ControllerFileStorage(UUID(int=10), tierkreis_directory=tmp_path)
    tierkreis_rs.run_graph(storage, None, squares_sum_graph(), 4)
    with pytest.raises(TierkreisError, match="do_cleanup=True"):
        tierkreis_rs.run_graph(storage, None, squares_sum_graph(), 4)
    cleaned = ControllerFileStorage(UUID(int=10), tierkreis_directory=tmp_path, do_cleanup=True)
    tierkreis_rs.run_graph(cleaned, None, squares_sum_graph(), 5)
    assert read_outputs(squares_sum_graph(), cleaned) == 30


def test_progress_goes_to_logging(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="tierkreis_rs"):
        tierkreis_rs.run(squares_sum_graph(), {"value": 3}, tkr_dir=tmp_path, progress=False)
    messages = [r.getMessage() for r in caplog.records if r.name == "tierkreis_rs"]
    assert any("finished" in m and "nodes in" in m for m in messages)
    assert any("nodes started" in m for m in messages)


def test_installed_commands_do_not_replace_the_reference_tkr() -> None:
    from tierkreis_rs.__main__ import installed_script

    # Where pip put it: next to this Python, or in DIR/bin for `--target DIR`.
    ours = installed_script()
    assert ours is not None and ours.name == "tkr-rs"
    version = subprocess.run([ours, "--version"], capture_output=True, text=True, check=True)
    assert version.stdout.strip()
    via_module = subprocess.run(
        [sys.executable, "-m", "tierkreis_rs", "--version"], capture_output=True, text=True, check=True
    )
    assert via_module.stdout == version.stdout
    # `tkr` is still the reference's Python entry point.
    reference_tkr = Path(sys.executable).parent / "tkr"
    assert reference_tkr.read_bytes().startswith(b"#!")


def test_warm_serves_many_calls_in_one_process_and_no_warm_in_many(
    tmp_path: Path, workers: Path
) -> None:
    """One job slot: warm, one Python worker process answers all five calls;
    warm=False starts one process per call."""
    calls = 5
    warm = tierkreis_rs.run(
        process_ids_graph(), {"value": calls}, tkr_dir=tmp_path / "warm",
        registry=[workers], jobs=1, warm=True, progress=False,
    )["value"]
    cold = tierkreis_rs.run(
        process_ids_graph(), {"value": calls}, tkr_dir=tmp_path / "cold",
        registry=[workers], jobs=1, warm=False, progress=False,
    )["value"]
    assert len(warm) == len(cold) == calls
    assert len(set(warm)) == 1, warm
    assert len(set(cold)) == calls, cold
    assert os.getpid() not in warm + cold
    # The node logs say which process served each warm call.
    [run] = tierkreis_rs.runs(tmp_path / "warm")
    warm_logs = [
        p for p in run.workflow_dir.rglob("logs") if p.is_file() and "running warm" in p.read_text()
    ]
    assert len(warm_logs) == calls


def test_breakpoints_pause_the_native_run_and_resume_steps_to_the_next(tmp_path: Path) -> None:
    with pytest.raises(tierkreis_rs.WorkflowPaused) as first:
        tierkreis_rs.run(
            breakpoint_chain_graph(), {"value": 4}, tkr_dir=tmp_path, name="stepping",
            breakpoints=True, progress=False,
        )
    assert first.value.paused_at == ["-.N4"]
    assert [(r.name, r.status) for r in tierkreis_rs.runs(tmp_path)] == [("stepping", "paused")]
    # The run keeps its breakpoints: a plain resume stops at the next one.
    with pytest.raises(tierkreis_rs.WorkflowPaused) as second:
        tierkreis_rs.resume("stepping", tkr_dir=tmp_path, progress=False)
    assert second.value.paused_at == ["-.N6"]
    assert tierkreis_rs.resume("stepping", tkr_dir=tmp_path, progress=False) == {"value": 25}
    assert [r.status for r in tierkreis_rs.runs(tmp_path)] == ["finished"]


def test_break_at_pauses_at_a_function_and_a_selector_naming_nothing_is_refused(
    tmp_path: Path,
) -> None:
    with pytest.raises(tierkreis_rs.WorkflowPaused) as paused:
        tierkreis_rs.run(
            breakpoint_chain_graph(), {"value": 1}, tkr_dir=tmp_path / "a",
            break_at=["builtins.itimes"], progress=False,
        )
    assert paused.value.paused_at == ["-.N4"]
    with pytest.raises(tierkreis_rs.EngineFailure, match="no_such_function"):
        tierkreis_rs.run(
            breakpoint_chain_graph(), {"value": 1}, tkr_dir=tmp_path / "b",
            break_at=["no_such_function"], progress=False,
        )
    # Refused before anything was written.
    assert tierkreis_rs.runs(tmp_path / "b") == []


def test_cache_reuses_an_identical_task_of_an_earlier_run(tmp_path: Path, workers: Path) -> None:
    calls = tmp_path / "calls.txt"
    ck = tmp_path / "ck"
    for _ in range(2):
        assert tierkreis_rs.run(
            counting_graph(), {"value": str(calls)}, tkr_dir=ck, registry=[workers],
            cache=True, progress=False,
        ) == {"value": 1}
    # The second run's task came from the cache: the worker ran once.
    assert calls.read_text().splitlines() == ["call"]
    # Without the cache the task runs again.
    assert tierkreis_rs.run(
        counting_graph(), {"value": str(calls)}, tkr_dir=ck, registry=[workers], progress=False,
    ) == {"value": 2}


def test_retries_rerun_a_crashing_task_until_it_succeeds(tmp_path: Path, workers: Path) -> None:
    calls = tmp_path / "calls.txt"
    outputs = tierkreis_rs.run(
        failing_first_graph(), {"value": str(calls)}, tkr_dir=tmp_path / "ck",
        registry=[workers], retries=2, warm=False, progress=False,
    )
    assert outputs == {"value": 3}
    [run] = tierkreis_rs.runs(tmp_path / "ck")
    # Each failed attempt is kept with its reason.
    attempts = sorted(p.name for p in (run.workflow_dir / "-.N2" / "attempts").iterdir())
    assert attempts == ["1", "2"]
    # Without retries the first crash fails the run, naming the node.
    calls.unlink()
    with pytest.raises(tierkreis_rs.WorkflowFailed, match="-.N2"):
        tierkreis_rs.run(
            failing_first_graph(), {"value": str(calls)}, tkr_dir=tmp_path / "ck2",
            registry=[workers], warm=False, progress=False,
        )
