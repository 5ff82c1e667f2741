"""tierkreis-rs from Python: the Rust Tierkreis engine.

Swap one import to run existing scripts on it::

    from tierkreis_rs import run_graph, resume_graph

or use the native API: `run`, `resume`, `restart`, `runs`.
"""

from tierkreis_rs._api import (
    RunInfo,
    WorkflowFailed,
    WorkflowPaused,
    WorkflowStalled,
    restart,
    resume,
    run,
    runs,
)
from tierkreis_rs._dropin import resume_graph, run_graph
from tierkreis_rs._executors import UnsupportedExecutorError
from tierkreis_rs._native import EngineFailure, __version__

__all__ = [
    "EngineFailure",
    "RunInfo",
    "UnsupportedExecutorError",
    "WorkflowFailed",
    "WorkflowPaused",
    "WorkflowStalled",
    "__version__",
    "restart",
    "resume",
    "resume_graph",
    "run",
    "run_graph",
    "runs",
]
