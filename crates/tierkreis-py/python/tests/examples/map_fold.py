"""A map with a fold: square every number of a range, then sum the squares.

Usage: python map_fold.py TKR_DIR WORKERS_DIR [read]
"""

import json
import sys
from pathlib import Path
from uuid import UUID

from tierkreis.builder import Graph
from tierkreis.builtins.stubs import itimes, sum_list, tkr_range
from tierkreis.controller import run_graph
from tierkreis.controller.executor.shell_executor import ShellExecutor
from tierkreis.controller.storage.filestorage import ControllerFileStorage
from tierkreis.models import TKR
from tierkreis.storage import read_outputs


def map_fold_graph():
    body = Graph(TKR[int], TKR[int])
    square = body.task(itimes(a=body.inputs, b=body.inputs))
    body_wf = body.finish_with_outputs(square)
    g = Graph(TKR[int], TKR[int])
    numbers = g.task(tkr_range(start=g.const(0), stop=g.inputs))
    squares = g.map(body_wf, numbers)
    total = g.task(sum_list(values=squares))
    return g.finish_with_outputs(total)


def main() -> None:
    tkr_dir, workers = Path(sys.argv[1]), Path(sys.argv[2])
    reading = sys.argv[3:] == ["read"]
    storage = ControllerFileStorage(
        UUID(int=103), name="map_fold", tierkreis_directory=tkr_dir, do_cleanup=not reading
    )
    if not reading:
        executor = ShellExecutor(workers, storage.workflow_dir)
        run_graph(storage, executor, map_fold_graph(), 25)
    print("RESULT: " + json.dumps({"outputs": read_outputs(map_fold_graph(), storage)}))


if __name__ == "__main__":
    main()
