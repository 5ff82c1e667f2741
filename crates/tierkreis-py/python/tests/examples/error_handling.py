"""Error handling: a worker task fails; the run raises and names the node.

Usage: python error_handling.py TKR_DIR WORKERS_DIR [read]
"""

import json
import sys
from pathlib import Path
from typing import NamedTuple
from uuid import UUID

from tierkreis.builder import Graph
from tierkreis.controller import run_graph
from tierkreis.controller.data.location import Loc
from tierkreis.controller.executor.shell_executor import ShellExecutor
from tierkreis.controller.storage.filestorage import ControllerFileStorage
from tierkreis.exceptions import TierkreisError
from tierkreis.models import TKR


class checked_double(NamedTuple):
    x: TKR[int]

    @staticmethod
    def out() -> type[TKR[int]]:
        return TKR[int]

    @property
    def namespace(self) -> str:
        return "failing_worker"


def failing_graph():
    g = Graph(TKR[int], TKR[int])
    doubled = g.task(checked_double(x=g.inputs))
    return g.finish_with_outputs(doubled)


def main() -> None:
    tkr_dir, workers = Path(sys.argv[1]), Path(sys.argv[2])
    reading = sys.argv[3:] == ["read"]
    storage = ControllerFileStorage(
        UUID(int=104), name="error_handling", tierkreis_directory=tkr_dir, do_cleanup=not reading
    )
    error_type = None
    if not reading:
        executor = ShellExecutor(workers, storage.workflow_dir)
        try:
            run_graph(storage, executor, failing_graph(), -7)
        except TierkreisError as e:
            error_type = type(e).__module__ + "." + type(e).__qualname__
    failed = [loc for loc in storage.read_errors(Loc()).splitlines() if loc]
    print(
        "RESULT: "
        + json.dumps(
            {
                "error_type": error_type,
                "failed_nodes": failed,
                "node_errors_mention_cause": [
                    "negative number -7" in storage.read_errors(Loc(loc)) for loc in failed
                ],
            }
        )
    )


if __name__ == "__main__":
    main()
