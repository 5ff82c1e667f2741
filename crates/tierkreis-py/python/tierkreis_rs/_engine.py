"""What the drop-in functions and the native API share: encoding values the
reference's way, the checkpoint folder, and one call into the engine."""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from tierkreis_rs import _native
from tierkreis_rs._progress import Reporter

logger = logging.getLogger("tierkreis_rs")


def default_tkr_dir() -> Path:
    """`$TKR_DIR`, else `~/.tierkreis/checkpoints` (as `tkr` and the reference)."""
    env = os.environ.get("TKR_DIR")
    return Path(env) if env else Path.home() / ".tierkreis" / "checkpoints"


def graph_data_of(g: Any) -> Any:
    """The `GraphData` inside a builder `Graph` or a `Workflow`; else `g`."""
    try:
        from tierkreis.controller.data.graph import GraphData
    except ImportError:
        return g
    if isinstance(g, GraphData):
        return g
    data = getattr(g, "data", None)
    if isinstance(data, GraphData):
        return data
    return g


def graph_bytes(g: Any) -> bytes:
    """The graph as the JSON the reference stores as the workflow's body."""
    g = graph_data_of(g)
    if isinstance(g, (bytes, bytearray)):
        return bytes(g)
    if isinstance(g, (str, os.PathLike)):
        return Path(g).read_bytes()
    if isinstance(g, Mapping):
        return json.dumps(g, indent=2).encode()
    return encode_value(g)


def encode_value(value: Any) -> bytes:
    """A value as the reference stores it: its own `bytes_from_ptype` when
    `tierkreis` is importable (pytket objects, complex, bytes, models), else
    bytes as they are and anything else as JSON."""
    try:
        from tierkreis.controller.data.types import bytes_from_ptype
    except ImportError:
        if isinstance(value, (bytes, bytearray)):
            return bytes(value)
        return json.dumps(value, indent=2).encode()
    return bytes_from_ptype(value)


def decode_value(data: bytes) -> Any:
    """A stored value back into Python, as `read_outputs` does without a type."""
    try:
        from tierkreis.controller.data.types import ptype_from_bytes
    except ImportError:
        try:
            return json.loads(data)
        except (ValueError, UnicodeDecodeError):
            return data
    return ptype_from_bytes(data)


def call_engine(
    mode: str,
    tkr_dir: Path,
    workflow_id: str,
    *,
    name: str | None = None,
    graph_json: bytes | None = None,
    inputs: Sequence[tuple[str, bytes]] | None = None,
    loc: str | None = None,
    registries: Sequence[Path] = (),
    config_toml: str | None = None,
    config_path: Path | None = None,
    jobs: int | None = None,
    progress: bool | None = None,
    warm: bool = True,
    breakpoints: bool = False,
    break_at: Sequence[str] = (),
    only_these_breakpoints: bool = False,
    cache: bool = False,
    retries: int | None = None,
    task_timeout: float | None = None,
    uv: bool = False,
    warm_prestart: bool = False,
) -> dict[str, Any]:
    """Runs the engine with logging and the progress bar around it."""
    reporter = Reporter(workflow_id, progress)
    callback: Callable[[int, int, int, int], None] = reporter
    started = time.perf_counter()
    logger.info("workflow %s: %s in %s", workflow_id, mode, tkr_dir)
    try:
        report = _native.run_workflow(
            mode,
            str(tkr_dir),
            workflow_id,
            name=name,
            graph_json=graph_json,
            inputs=list(inputs) if inputs is not None else None,
            loc=loc,
            registries=[str(r) for r in registries],
            config_toml=config_toml,
            config_path=str(config_path) if config_path is not None else None,
            jobs=jobs,
            progress=callback,
            warm=warm,
            breakpoints=breakpoints,
            break_at=list(break_at),
            only_these_breakpoints=only_these_breakpoints,
            cache=cache,
            retries=retries,
            task_timeout=task_timeout,
            uv=uv,
            warm_prestart=warm_prestart,
        )
    except KeyboardInterrupt:
        logger.warning(
            "workflow %s interrupted: workers stopped, nothing marked failed; resume it to continue",
            workflow_id,
        )
        raise
    finally:
        reporter.close()
    if report["outcome"] == "paused":
        logger.info("workflow %s paused at breakpoint(s) %s", workflow_id, ", ".join(report["paused_at"]))
    logger.info(
        "workflow %s %s: %d nodes in %.3fs",
        workflow_id,
        report["outcome"],
        report["finished"],
        time.perf_counter() - started,
    )
    return report


def read_root_outputs(workflow_dir: Path) -> dict[str, bytes]:
    """The finished workflow's outputs, by port."""
    outputs = workflow_dir / "-" / "outputs"
    if not outputs.is_dir():
        return {}
    return {p.name: p.read_bytes() for p in sorted(outputs.iterdir()) if p.is_file()}
