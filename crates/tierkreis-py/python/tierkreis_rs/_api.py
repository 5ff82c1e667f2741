"""The native API for new code: `run`, `resume`, `restart` and `runs`.

Checkpoints go to `tkr_dir` (default `$TKR_DIR`, else
`~/.tierkreis/checkpoints`), laid out as the reference lays them out, so
`tkr-rs show RUN` and the reference's tools read them.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from tierkreis_rs import _engine, _native


class WorkflowFailed(Exception):
    """Nodes of the workflow failed; `failures` holds `(loc, error_text)`."""

    def __init__(self, workflow_id: str, failures: list[tuple[str, str]]) -> None:
        self.workflow_id = workflow_id
        self.failures = failures
        lines = [f"workflow {workflow_id} failed"]
        for loc, text in failures:
            last = text.strip().splitlines()[-1] if text.strip() else "(no error text)"
            lines.append(f"node {loc}: {last}")
        super().__init__("\n".join(lines))


class WorkflowPaused(Exception):
    """The run stopped at a breakpoint before starting the nodes in
    `paused_at`; `resume(workflow_id)` continues it (to the next breakpoint,
    as the run was started with them)."""

    def __init__(self, workflow_id: str, paused_at: list[str]) -> None:
        self.workflow_id = workflow_id
        self.paused_at = paused_at
        super().__init__(
            f"workflow {workflow_id} paused at breakpoint(s) {', '.join(paused_at)}; "
            "resume it to continue"
        )


class WorkflowStalled(Exception):
    """Nothing runs and nothing can start (e.g. a graph input is missing)."""


@dataclass(frozen=True)
class RunInfo:
    """One workflow in a checkpoint folder."""

    workflow_id: str
    name: str | None
    status: str
    """As `tkr ls` says it (the storage's one rule): `running` (a live
    controller holds its lock, or a run of the reference changed it in the
    last minute), `finished`, `failed`, `paused` (at a breakpoint),
    `interrupted` (stopped or crashed: `resume` continues it) or `not
    started`."""
    start_time: str | None
    workflow_dir: Path


def _checkpoints_dir(tkr_dir: str | Path | None) -> Path:
    """`tkr_dir`, else the default checkpoint folder."""
    return Path(tkr_dir) if tkr_dir is not None else _engine.default_tkr_dir()


def _engine_settings(
    *,
    registry: Sequence[str | Path],
    config: str | Path | None,
    jobs: int | None,
    warm: bool,
    progress: bool | None,
    cache: bool,
    retries: int | None,
    task_timeout: float | None,
    uv: bool,
    warm_prestart: bool,
    breakpoints: bool = False,
    break_at: Sequence[str] = (),
) -> dict[str, Any]:
    """The keyword arguments of `_engine.call_engine` that `run`, `resume`
    and `restart` share, from their own arguments: registries made absolute,
    and the config file defaulting to `./tkr.toml` when it exists. These are
    `tkr run`'s settings: a new run records them, and `resume`/`restart`
    (and `tkr-rs resume`) reuse the recorded ones, with those given on top."""
    if config is None and Path("tkr.toml").is_file():
        config = Path("tkr.toml")
    return {
        "registries": [Path(r).absolute() for r in registry],
        "config_path": Path(config) if config is not None else None,
        "jobs": jobs,
        "progress": progress,
        "warm": warm,
        "breakpoints": breakpoints,
        "break_at": break_at,
        "cache": cache,
        "retries": retries,
        "task_timeout": task_timeout,
        "uv": uv,
        "warm_prestart": warm_prestart,
    }


def _outputs(report: dict[str, Any]) -> dict[str, Any]:
    if report["outcome"] == "failed":
        raise WorkflowFailed(report["workflow_id"], list(report["failures"]))
    if report["outcome"] == "paused":
        raise WorkflowPaused(report["workflow_id"], list(report["paused_at"]))
    if report["outcome"] != "finished":
        why = report.get("stall_explanation") or (
            "stalled: nothing is running and nothing can start (a value it waits for "
            "will never come, e.g. a missing input)"
        )
        raise WorkflowStalled(f"workflow {report['workflow_id']} {why}")
    raw = _engine.read_root_outputs(Path(report["workflow_dir"]))
    return {port: _engine.decode_value(data) for port, data in raw.items()}


def run(
    graph: Any,
    inputs: Mapping[str, Any] | None = None,
    *,
    tkr_dir: str | Path | None = None,
    name: str | None = None,
    registry: Sequence[str | Path] = (),
    config: str | Path | None = None,
    jobs: int | None = None,
    warm: bool = True,
    workflow_id: str | uuid.UUID | None = None,
    progress: bool | None = None,
    breakpoints: bool = False,
    break_at: Sequence[str] = (),
    cache: bool = False,
    retries: int | None = None,
    task_timeout: float | None = None,
    uv: bool = False,
    warm_prestart: bool = False,
) -> dict[str, Any]:
    """Runs `graph` (a `GraphData`, builder `Graph`, `Workflow`, graph JSON as
    a dict, bytes or a file path) on `inputs` and returns its outputs by port.

    `registry` folders and the `config` file (default `./tkr.toml` when it
    exists) say where workers are, as `tkr run --registry/--config` do;
    `jobs` limits concurrent worker processes. `warm` (default) lets one
    process of a worker that supports it serve many calls; `warm=False`
    starts a process per task (`tkr run --no-warm`). `breakpoints=True`
    pauses before nodes whose metadata has a breakpoint (the reference's
    `enable_breakpoints`), `break_at` before the given locations (`-.N3`),
    named nodes or functions (`builtins.iadd`); both are kept for `resume`.
    `cache=True` reuses the outputs of identical tasks finished earlier in
    `tkr_dir` (`tkr run --cache`; workers opt out with `cache = false` in
    the config); `retries=N` retries a failed task N times unless its worker
    or route configures its own `retries` (`tkr run --retries N`).
    `task_timeout` fails a task without a configured timeout that runs
    longer than that many seconds (`--task-timeout`); `uv=True` runs Python
    workers with `uv run` (`--uv`); `warm_prestart=True` starts a warm
    process for each worker the graph names when the run starts
    (`--warm-prestart`). `resume` and `restart` reuse these settings.
    Raises `WorkflowFailed` when nodes fail, `WorkflowPaused` at a
    breakpoint, `WorkflowStalled`, `EngineFailure` for bad graphs, storage,
    configuration or a `break_at` naming nothing, and `KeyboardInterrupt` on
    Ctrl-C (workers stopped, the run resumable).
    """
    wid = str(workflow_id) if workflow_id is not None else str(uuid.uuid4())
    report = _engine.call_engine(
        "run",
        _checkpoints_dir(tkr_dir),
        wid,
        name=name,
        graph_json=_engine.graph_bytes(graph),
        inputs=[(k, _engine.encode_value(v)) for k, v in (inputs or {}).items()],
        **_engine_settings(
            registry=registry,
            config=config,
            jobs=jobs,
            warm=warm,
            progress=progress,
            cache=cache,
            retries=retries,
            task_timeout=task_timeout,
            uv=uv,
            warm_prestart=warm_prestart,
            breakpoints=breakpoints,
            break_at=break_at,
        ),
    )
    return _outputs(report)


def _resolve(run: str | uuid.UUID, tkr_dir: Path) -> str:
    """A workflow id from an id, a workflow name (the newest run of that
    name) or a unique id prefix, by `tkr`'s rule; `EngineFailure` names the
    closest runs when nothing matches."""
    return _native.find_workflow(str(tkr_dir), str(run))


def resume(
    run: str | uuid.UUID,
    *,
    tkr_dir: str | Path | None = None,
    registry: Sequence[str | Path] = (),
    config: str | Path | None = None,
    jobs: int | None = None,
    warm: bool = True,
    progress: bool | None = None,
    breakpoints: bool = False,
    break_at: Sequence[str] = (),
    cache: bool = False,
    retries: int | None = None,
    task_timeout: float | None = None,
    uv: bool = False,
    warm_prestart: bool = False,
) -> dict[str, Any]:
    """Continues the workflow `run` (id, id prefix or name) and returns its
    outputs. A paused run goes on past the nodes it paused at, up to its next
    breakpoint: those it was started with, plus `breakpoints`/`break_at`."""
    directory = _checkpoints_dir(tkr_dir)
    report = _engine.call_engine(
        "resume",
        directory,
        _resolve(run, directory),
        **_engine_settings(
            registry=registry,
            config=config,
            jobs=jobs,
            warm=warm,
            progress=progress,
            cache=cache,
            retries=retries,
            task_timeout=task_timeout,
            uv=uv,
            warm_prestart=warm_prestart,
            breakpoints=breakpoints,
            break_at=break_at,
        ),
    )
    return _outputs(report)


def restart(
    run: str | uuid.UUID,
    loc: str,
    *,
    tkr_dir: str | Path | None = None,
    registry: Sequence[str | Path] = (),
    config: str | Path | None = None,
    jobs: int | None = None,
    warm: bool = True,
    progress: bool | None = None,
    cache: bool = False,
    retries: int | None = None,
    task_timeout: float | None = None,
    uv: bool = False,
    warm_prestart: bool = False,
) -> dict[str, Any]:
    """Re-runs the task at `loc` (e.g. `"-.N3"`) of workflow `run` and what
    depends on it, then continues to the end; returns the outputs."""
    directory = _checkpoints_dir(tkr_dir)
    report = _engine.call_engine(
        "restart",
        directory,
        _resolve(run, directory),
        loc=loc,
        **_engine_settings(
            registry=registry,
            config=config,
            jobs=jobs,
            warm=warm,
            progress=progress,
            cache=cache,
            retries=retries,
            task_timeout=task_timeout,
            uv=uv,
            warm_prestart=warm_prestart,
        ),
    )
    return _outputs(report)


def runs(tkr_dir: str | Path | None = None) -> list[RunInfo]:
    """The workflows in `tkr_dir`, oldest first."""
    directory = _checkpoints_dir(tkr_dir)
    if not directory.is_dir():
        return []
    found: list[RunInfo] = []
    for entry in directory.iterdir():
        try:
            workflow_id = str(uuid.UUID(entry.name))
        except ValueError:
            continue
        if not entry.is_dir():
            continue
        meta: dict[str, Any] = {}
        try:
            meta = json.loads((entry / "_metadata").read_bytes())
        except (OSError, ValueError):
            pass
        status = _native.workflow_status(str(entry))
        found.append(
            RunInfo(
                workflow_id=workflow_id,
                name=meta.get("name"),
                status=status,
                start_time=meta.get("start_time"),
                workflow_dir=entry,
            )
        )
    found.sort(key=lambda r: (r.start_time or "", r.workflow_id))
    return found
