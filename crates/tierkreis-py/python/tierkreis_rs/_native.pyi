from typing import Any, Callable, Sequence

__all__ = [
    "EngineFailure",
    "__version__",
    "find_workflow",
    "run_workflow",
    "workflow_status",
]

__version__: str

class EngineFailure(Exception): ...

def run_workflow(
    mode: str,
    tkr_dir: str,
    workflow_id: str,
    *,
    name: str | None = None,
    graph_json: bytes | None = None,
    inputs: Sequence[tuple[str, bytes]] | None = None,
    loc: str | None = None,
    registries: Sequence[str] = ...,
    config_toml: str | None = None,
    config_path: str | None = None,
    jobs: int | None = None,
    progress: Callable[[int, int, int, int], Any] | None = None,
    warm: bool = True,
    breakpoints: bool = False,
    break_at: Sequence[str] = ...,
    only_these_breakpoints: bool = False,
    cache: bool = False,
    retries: int | None = None,
    task_timeout: float | None = None,
    uv: bool = False,
    warm_prestart: bool = False,
) -> dict[str, Any]: ...
def workflow_status(workflow_dir: str) -> str: ...
def find_workflow(tkr_dir: str, run: str) -> str: ...
