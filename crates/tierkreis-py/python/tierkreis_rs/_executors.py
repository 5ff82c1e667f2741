"""Translates the reference's executor objects into our executor configuration.

The engine reads the same configuration as `tkr.toml` (see the
`tierkreis_controller::executor` docs). Each reference executor becomes a
`[[routes]]` entry: the workers a `MultipleExecutor` assigns get a route
`"<worker>.*"`, the default executor the catch-all route `"*"`. Registry
folders of every executor are searched in order. An executor class we do not
know is refused before anything runs (see `UnsupportedExecutorError`).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class UnsupportedExecutorError(TypeError):
    """An executor tierkreis_rs cannot translate (e.g. a user's own class).

    Its tasks would have to run Python code of the user's inside our engine;
    we refuse instead, naming the class, before anything is written.
    """


@dataclass
class ExecutorTranslation:
    """The engine's view of a reference executor."""

    registries: list[Path] = field(default_factory=list)
    routes: list[dict[str, Any]] = field(default_factory=list)

    def to_toml(self) -> str:
        """The configuration as TOML text (strings written as JSON strings,
        which TOML reads as basic strings)."""
        lines: list[str] = []
        lines.append(
            "registries = [" + ", ".join(json.dumps(str(r)) for r in self.registries) + "]"
        )
        for route in self.routes:
            lines.append("")
            lines.append("[[routes]]")
            job = route.get("job")
            for key, value in route.items():
                if key == "job":
                    continue
                lines.append(f"{key} = {_toml_value(value)}")
            if job is not None:
                lines.append("[routes.job]")
                for key, value in job.items():
                    lines.append(f"{key} = {_toml_value(value)}")
        return "\n".join(lines) + "\n"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    if isinstance(value, (str, Path)):
        return json.dumps(str(value))
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return (
            "{ "
            + ", ".join(f"{json.dumps(str(k))} = {_toml_value(v)}" for k, v in value.items())
            + " }"
        )
    raise TypeError(f"cannot write {value!r} into the executor configuration")


SUPPORTED = (
    "ShellExecutor, UvExecutor, StdInOut, InMemoryExecutor, MultipleExecutor, "
    "SLURMExecutor, PBSExecutor, PJSUBExecutor"
)


def translate(executor: Any) -> ExecutorTranslation:
    """The configuration that runs tasks the way `executor` would."""
    out = ExecutorTranslation()
    _add(executor, "*", out)
    return out


def _add_registry(path: Any, out: ExecutorTranslation) -> None:
    if path is None:
        return
    paths = path if isinstance(path, (list, tuple)) else [path]
    for p in paths:
        p = Path(p).absolute()
        if p not in out.registries:
            out.registries.append(p)


def _add(executor: Any, task: str, out: ExecutorTranslation) -> None:
    kind = type(executor).__name__
    route: dict[str, Any] = {"task": task}
    if kind == "MultipleExecutor":
        for worker, name in executor.assignments.items():
            if name not in executor.executors:
                raise UnsupportedExecutorError(
                    f"{worker} is assigned to non-existent executor name: {name}."
                )
            _add(executor.executors[name], f"{worker}.*", out)
        _add(executor.default, task, out)
        return
    if kind == "ShellExecutor":
        _add_registry(executor.launchers_path, out)
        env = dict(executor.env)
    elif kind == "UvExecutor":
        _add_registry(executor.registries, out)
        route["kind"] = "uv"
        env = dict(executor.env)
    elif kind == "StdInOut":
        _add_registry(executor.launchers_path, out)
        route["kind"] = "stdio"
        env = {}
    elif kind == "InMemoryExecutor":
        # The reference imports the worker's main.py into the controller's
        # process; we run the same file with this interpreter instead.
        _add_registry(executor.registry_path, out)
        route["kind"] = "python"
        route["python"] = sys.executable
        env = {}
    elif kind in ("SLURMExecutor", "PBSExecutor", "PJSUBExecutor"):
        _add_registry(executor.launchers_path, out)
        route["executor"] = {"SLURMExecutor": "slurm", "PBSExecutor": "pbs"}.get(kind, "pjsub")
        route["job"] = _job(executor.spec)
        env = {}
    else:
        raise UnsupportedExecutorError(
            f"tierkreis_rs cannot run tasks through the executor {type(executor).__module__}."
            f"{type(executor).__qualname__}: only the reference's own executors are "
            f"translated ({SUPPORTED}). Run this graph with "
            "tierkreis.controller.run_graph, or express the executor as one of those."
        )
    if env:
        route["env"] = {str(k): str(v) for k, v in env.items()}
    out.routes.append(route)


def _job(spec: Any) -> dict[str, Any]:
    """Our `[routes.job]` for the reference's `JobSpec`."""
    job: dict[str, Any] = {"job_name": spec.job_name, "walltime": spec.walltime}
    resource = spec.resource
    for name in ("nodes", "cores_per_node", "memory_gb", "gpus_per_node", "gres"):
        value = getattr(resource, name, None)
        if value is not None:
            job[name] = value
    for name in ("account", "queue", "output_path", "error_path", "modules"):
        value = getattr(spec, name, None)
        if value:
            job[name] = value
    if spec.user is not None and spec.user.mail:
        job["mail"] = spec.user.mail
    if spec.mpi is not None:
        job["mpi"] = {
            k: v
            for k, v in (("proc", spec.mpi.proc), ("max_proc_per_node", spec.mpi.max_proc_per_node))
            if v is not None
        }
    if spec.container is not None:
        c = spec.container
        container: dict[str, Any] = {"image": c.image, "engine": c.engine}
        if c.name:
            container["name"] = c.name
        if c.env_file:
            container["env_file"] = c.env_file
        if c.extra_args:
            container["extra_args"] = {k: v or "" for k, v in c.extra_args.items()}
        job["container"] = container
    if spec.environment:
        job["environment"] = dict(spec.environment)
    if spec.extra_scheduler_args:
        job["extra_scheduler_args"] = {k: v or "" for k, v in spec.extra_scheduler_args.items()}
    if spec.include_no_check_directory_flag:
        job["no_check_directory"] = True
    return job
