"""`run_graph` and `resume_graph` with the reference 2.1.1 signatures, over
our engine.

They take the reference's own storage and executor objects. A
`ControllerFileStorage` is used in place: the checkpoint folder is the one
the reference would write, so `read_outputs(g, storage)` and every other
reference tool read it unchanged. A `ControllerInMemoryStorage` is run in a
private temporary checkpoint folder whose files are then copied into the
storage object. Node failures raise the reference's `TierkreisError`, naming
the failed nodes.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import weakref
from pathlib import Path
from typing import Any

from tierkreis_rs import _engine, _executors
from tierkreis_rs._native import EngineFailure

logger = logging.getLogger("tierkreis_rs")

# The attribute of an in-memory storage object holding its checkpoint folder.
_MEMORY_DIR_ATTRIBUTE = "_tierkreis_rs_checkpoints"


def _tierkreis_error() -> type[Exception]:
    from tierkreis.exceptions import TierkreisError

    return TierkreisError


def _storage_location(storage: Any, *, new: bool) -> tuple[Path, bool]:
    """`(tkr_dir, in_memory)` for the reference storage object."""
    kind = type(storage).__name__
    if kind == "ControllerFileStorage":
        # Absolute, so that workers started elsewhere find the same folder.
        return Path(storage.tkr_dir).absolute(), False
    if kind == "ControllerInMemoryStorage":
        existing = getattr(storage, _MEMORY_DIR_ATTRIBUTE, None)
        if existing is None:
            if not new:
                raise _tierkreis_error()(
                    "this in-memory storage was not run by tierkreis_rs, so there is "
                    "nothing of it to resume"
                )
            existing = tempfile.mkdtemp(prefix="tierkreis-rs-memory-")
            setattr(storage, _MEMORY_DIR_ATTRIBUTE, existing)
            # The folder lives as long as the storage object (for resume_graph).
            weakref.finalize(storage, shutil.rmtree, existing, True)
        return Path(existing), True
    raise TypeError(
        f"tierkreis_rs cannot use the storage {type(storage).__module__}."
        f"{type(storage).__qualname__}: give a ControllerFileStorage (FileStorage) "
        "or a ControllerInMemoryStorage"
    )


def _copy_into_memory(storage: Any, tkr_dir: Path) -> None:
    """Copies the checkpoint files into the in-memory storage's dictionary."""
    from tierkreis.controller.storage.in_memory import InMemoryFileData

    source = tkr_dir / str(storage.workflow_id)
    for path in sorted(source.rglob("*")):
        if path.is_file() and path.name != ".lock":
            storage.files[storage.workflow_dir / path.relative_to(source)] = InMemoryFileData(
                path.read_bytes()
            )


def _finish(storage: Any, report: dict[str, Any], tkr_dir: Path, in_memory: bool) -> None:
    if in_memory:
        _copy_into_memory(storage, tkr_dir)
    if report["outcome"] in ("finished", "paused"):
        # At a breakpoint the reference's run_graph returns too.
        return
    error = _tierkreis_error()
    if report["outcome"] == "failed":
        logger.error("\n\nGraph finished with errors.\n\n")
        lines = ["Graph encountered errors"]
        for loc, text in report["failures"]:
            logger.error(text)
            logger.error("Node: '%s' encountered an error.", loc)
            logger.error(
                "Stderr information is available at %s",
                Path(report["workflow_dir"]) / loc / "logs",
            )
            last = text.strip().splitlines()[-1] if text.strip() else "(no error text)"
            lines.append(f"Node: '{loc}' encountered an error: {last}")
        logger.error("--- Tierkreis graph errors above this line. ---")
        raise error("\n".join(lines))
    why = report.get("stall_explanation") or (
        "stalled: it waits for a value that never comes, e.g. a missing input"
    )
    raise error(
        f"Graph stalled: workflow {report['workflow_id']} has nothing running and "
        f"nothing that can start; {why}"
    )


def _engine_call(storage: Any, executor: Any, mode: str, **kw: Any) -> None:
    tkr_dir, in_memory = _storage_location(storage, new=mode == "run")
    config = _executors.translate(executor) if executor is not None else None
    try:
        report = _engine.call_engine(
            mode,
            tkr_dir,
            str(storage.workflow_id),
            registries=config.registries if config else (),
            config_toml=config.to_toml() if config else None,
            only_these_breakpoints=True,
            **kw,
        )
    except EngineFailure as e:
        raise _tierkreis_error()(str(e)) from e
    _finish(storage, report, tkr_dir, in_memory)


def run_graph(
    storage: Any,
    executor: Any,
    g: Any,
    graph_inputs: Any,
    n_iterations: int = 10000,
    polling_interval_seconds: float = 0.01,
    *,
    enable_logging: bool = True,
    enable_breakpoints: bool = False,
    progress: bool | None = None,
) -> None:
    """Runs `g` on `graph_inputs` to its end, as `tierkreis.controller.run_graph`.

    `n_iterations` and `polling_interval_seconds` are accepted and ignored:
    the engine waits for completions instead of polling, and runs until the
    graph finishes or fails. With `enable_breakpoints=True` it returns, as the
    reference does, when it reaches a node whose metadata has a breakpoint
    (tasks already running finish first; the pause is recorded in the
    reference's layout); `resume_graph(..., enable_breakpoints=True)`
    continues to the next one. Warm workers are used: one process of a
    worker serves many calls (see the README). `progress` (not in the reference) shows or hides
    the progress bar (default: shown on a terminal or in a notebook).
    """
    del n_iterations, polling_interval_seconds
    g = _engine.graph_data_of(g)
    if not isinstance(graph_inputs, dict):
        graph_inputs = {"value": graph_inputs}
    remaining = g.remaining_inputs(set(graph_inputs.keys()))
    if remaining:
        logger.warning(
            "Some inputs were not provided: %sTasks will use default values if available.",
            remaining,
        )
    if type(storage).__name__ == "ControllerFileStorage" and any(
        (Path(storage.workflow_dir) / entry).exists() for entry in ("_metadata", "-")
    ):
        raise _tierkreis_error()(
            f"workflow {storage.workflow_id} already exists in {storage.tkr_dir}: create the "
            "storage with do_cleanup=True to start it again, or call resume_graph to continue it"
        )
    if enable_logging and type(storage).__name__ == "ControllerFileStorage":
        from tierkreis.logger_setup import set_tkr_logger

        Path(storage.workflow_dir).mkdir(parents=True, exist_ok=True)
        set_tkr_logger(storage.logs_path)
    inputs = [(name, _engine.encode_value(value)) for name, value in graph_inputs.items()]
    _engine_call(
        storage,
        executor,
        "run",
        name=storage.name,
        graph_json=_engine.encode_value(g),
        inputs=inputs,
        progress=progress,
        breakpoints=enable_breakpoints,
    )


def resume_graph(
    storage: Any,
    executor: Any,
    n_iterations: int = 10000,
    polling_interval_seconds: float = 0.01,
    *,
    enable_breakpoints: bool = False,
    progress: bool | None = None,
) -> None:
    """Continues the workflow in `storage` to its end, as
    `tierkreis.controller.resume_graph` (after a crash, Ctrl-C, or the
    reference's `storage.restart_task(loc)`). As in the reference, only
    `enable_breakpoints` decides whether breakpoints pause this call: with
    `False` a paused run goes on past its breakpoints to the end."""
    del n_iterations, polling_interval_seconds
    _engine_call(
        storage, executor, "resume", progress=progress, breakpoints=enable_breakpoints
    )
