"""Ctrl-C, then resume_graph: the run is interrupted while a worker task
runs, the task's condition is met, and `resume_graph` finishes the run.

Usage: python interrupt_resume.py TKR_DIR WORKERS_DIR [read]
"""

import json
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import NamedTuple
from uuid import UUID

from tierkreis.builder import Graph
from tierkreis.controller import resume_graph, run_graph
from tierkreis.controller.executor.shell_executor import ShellExecutor
from tierkreis.controller.storage.filestorage import ControllerFileStorage
from tierkreis.models import TKR
from tierkreis.storage import read_outputs


class wait_for_marker(NamedTuple):
    path: TKR[str]

    @staticmethod
    def out() -> type[TKR[str]]:
        return TKR[str]

    @property
    def namespace(self) -> str:
        return "slow_worker"


def waiting_graph():
    g = Graph(TKR[str], TKR[str])
    found = g.task(wait_for_marker(path=g.inputs))
    return g.finish_with_outputs(found)


def press_ctrl_c_when_started(started: Path) -> None:
    while not started.exists():
        time.sleep(0.05)
    os.kill(os.getpid(), signal.SIGINT)


def main() -> None:
    tkr_dir, workers = Path(sys.argv[1]), Path(sys.argv[2])
    reading = sys.argv[3:] == ["read"]
    storage = ControllerFileStorage(
        UUID(int=105), name="interrupt_resume", tierkreis_directory=tkr_dir, do_cleanup=not reading
    )
    marker = tkr_dir / "marker.txt"
    interrupted = None
    if not reading:
        tkr_dir.mkdir(parents=True, exist_ok=True)
        started = Path(str(marker) + ".started")
        threading.Thread(target=press_ctrl_c_when_started, args=(started,), daemon=True).start()
        executor = ShellExecutor(workers, storage.workflow_dir)
        try:
            run_graph(storage, executor, waiting_graph(), str(marker))
        except KeyboardInterrupt:
            interrupted = True
        marker.write_text("written after Ctrl-C")
        resume_graph(storage, executor)
    print(
        "RESULT: "
        + json.dumps({"interrupted": interrupted, "outputs": read_outputs(waiting_graph(), storage)})
    )


if __name__ == "__main__":
    main()
