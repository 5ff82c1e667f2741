"""Hello world: one task of a Python worker written with the reference's Worker.

Usage: python hello_world.py TKR_DIR WORKERS_DIR [read]
"""

import json
import sys
from pathlib import Path
from typing import NamedTuple
from uuid import UUID

from tierkreis.builder import Graph
from tierkreis.controller import run_graph
from tierkreis.controller.executor.shell_executor import ShellExecutor
from tierkreis.controller.storage.filestorage import ControllerFileStorage
from tierkreis.models import TKR
from tierkreis.storage import read_outputs


class greet(NamedTuple):
    greeting: TKR[str]
    subject: TKR[str]

    @staticmethod
    def out() -> type[TKR[str]]:
        return TKR[str]

    @property
    def namespace(self) -> str:
        return "hello_world_worker"


def hello_graph():
    g = Graph(TKR[str], TKR[str])
    hello = g.const("hello ")
    output = g.task(greet(greeting=hello, subject=g.inputs))
    return g.finish_with_outputs(output)


def main() -> None:
    tkr_dir, workers = Path(sys.argv[1]), Path(sys.argv[2])
    reading = sys.argv[3:] == ["read"]
    storage = ControllerFileStorage(
        UUID(int=101), name="hello_world", tierkreis_directory=tkr_dir, do_cleanup=not reading
    )
    if not reading:
        executor = ShellExecutor(workers, storage.workflow_dir)
        run_graph(storage, executor, hello_graph(), "world!")
    print("RESULT: " + json.dumps({"outputs": read_outputs(hello_graph(), storage)}))


if __name__ == "__main__":
    main()
