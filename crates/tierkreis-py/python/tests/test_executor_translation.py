"""Each reference executor translates into an executor configuration that
our engine accepts (it rejects unknown keys), with the settings carried over."""

from __future__ import annotations

import tomllib
from pathlib import Path
from uuid import uuid4

import pytest
from tierkreis.controller.executor.hpc.job_spec import (
    ContainerSpec,
    JobSpec,
    MpiSpec,
    ResourceSpec,
    UserSpec,
)
from tierkreis.controller.executor.hpc.pbs import PBSExecutor
from tierkreis.controller.executor.hpc.pjsub import PJSUBExecutor
from tierkreis.controller.executor.hpc.slurm import SLURMExecutor
from tierkreis.controller.executor.multiple import MultipleExecutor
from tierkreis.controller.executor.shell_executor import ShellExecutor
from tierkreis.controller.executor.stdinout import StdInOut
from tierkreis.controller.executor.uv_executor import UvExecutor

import tierkreis_rs
from tierkreis_rs import _executors, _native
from test_native_api import squares_sum_graph


def spec() -> JobSpec:
    return JobSpec(
        job_name="sim",
        command="unused by tierkreis_rs",
        resource=ResourceSpec(nodes=2, cores_per_node=4, memory_gb=8, gres=["tmp:1G"]),
        account="proj",
        queue="compute",
        walltime="00:30:00",
        user=UserSpec(mail="me@example.org"),
        mpi=MpiSpec(proc=8, max_proc_per_node=4),
        container=ContainerSpec(image="/img/sim.sif", engine="apptainer"),
        environment={"OMP_NUM_THREADS": "4"},
        modules=["gcc/12"],
        extra_scheduler_args={"--qos": "high", "--exclusive": None},
        include_no_check_directory_flag=True,
    )


def executors(tmp_path: Path) -> dict[str, object]:
    wd = tmp_path / "wf"
    return {
        "shell": ShellExecutor(tmp_path / "shell_reg", wd, env={"A": "1"}),
        "uv": UvExecutor([tmp_path / "uv1", tmp_path / "uv2"], wd / "logs", env={"B": "2"}),
        "stdio": StdInOut(tmp_path / "stdio_reg", wd),
        "slurm": SLURMExecutor(tmp_path / "hpc_reg", wd / "logs", spec()),
        "pbs": PBSExecutor(tmp_path / "hpc_reg", wd / "logs", spec()),
        "pjsub": PJSUBExecutor(tmp_path / "hpc_reg", wd / "logs", spec()),
    }


@pytest.mark.parametrize("name", ["shell", "uv", "stdio", "slurm", "pbs", "pjsub"])
def test_translation_is_accepted_by_the_engine(tmp_path: Path, name: str) -> None:
    executor = executors(tmp_path)[name]
    config = _executors.translate(executor).to_toml()
    # The engine parses the configuration before running; a builtins-only
    # graph then runs without touching the executor.
    report = _native.run_workflow(
        "run",
        str(tmp_path / "ck"),
        str(uuid4()),
        graph_json=squares_sum_graph().data.model_dump_json().encode(),
        inputs=[("value", b"3")],
        config_toml=config,
    )
    assert report["outcome"] == "finished", report["failures"]


def test_translated_settings(tmp_path: Path) -> None:
    ex = executors(tmp_path)
    multiple = MultipleExecutor(
        ex["uv"], {"batch": ex["slurm"], "pipe": ex["stdio"]}, {"sim": "batch", "tool": "pipe"}
    )
    config = tomllib.loads(_executors.translate(multiple).to_toml())
    assert config["registries"] == [
        str((tmp_path / p).absolute()) for p in ("hpc_reg", "stdio_reg", "uv1", "uv2")
    ]
    routes = config["routes"]
    assert [r["task"] for r in routes] == ["sim.*", "tool.*", "*"]
    assert routes[0]["executor"] == "slurm"
    assert routes[0]["job"]["nodes"] == 2
    assert routes[0]["job"]["mail"] == "me@example.org"
    assert routes[0]["job"]["mpi"] == {"proc": 8, "max_proc_per_node": 4}
    assert routes[0]["job"]["extra_scheduler_args"] == {"--qos": "high", "--exclusive": ""}
    assert routes[0]["job"]["container"] == {"image": "/img/sim.sif", "engine": "apptainer"}
    assert routes[1]["kind"] == "stdio"
    assert routes[2] == {"task": "*", "kind": "uv", "env": {"B": "2"}}


def test_assignment_to_a_missing_executor_is_refused(tmp_path: Path) -> None:
    ex = executors(tmp_path)
    broken = MultipleExecutor(ex["shell"], {}, {"sim": "nowhere"})
    with pytest.raises(tierkreis_rs.UnsupportedExecutorError, match="nowhere"):
        _executors.translate(broken)
