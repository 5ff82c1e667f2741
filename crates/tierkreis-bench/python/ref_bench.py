"""Times the reference Python controller on a graph file, the way its CLI runs.

Usage: python ref_bench.py GRAPH.json file|memory [BIN_DIR]
BIN_DIR (optional) is put first on PATH, where ShellExecutor (no registry)
finds external workers as `tkr-<worker>`, the reference's way of running a
binary worker. Needs TKR_DIR (the checkpoint folder). Prints one JSON line:
{"seconds": <run_graph wall time>, "outputs": {"value": <parsed output>}}.
"""

import json
import logging
import os
import sys
import time
import uuid
from pathlib import Path

from tierkreis.consts import PACKAGE_PATH
from tierkreis.controller import run_graph
from tierkreis.controller.data.graph import GraphData
from tierkreis.controller.data.location import Loc
from tierkreis.controller.data.types import ptype_from_bytes
from tierkreis.controller.executor.in_memory_executor import InMemoryExecutor
from tierkreis.controller.executor.shell_executor import ShellExecutor
from tierkreis.controller.storage.filestorage import ControllerFileStorage
from tierkreis.controller.storage.in_memory import ControllerInMemoryStorage


def main() -> None:
    graph_path, mode = sys.argv[1], sys.argv[2]
    if len(sys.argv) > 3:
        os.environ["PATH"] = sys.argv[3] + os.pathsep + os.environ.get("PATH", "")
    tkr_dir = Path(os.environ["TKR_DIR"]).resolve()
    logging.getLogger("tierkreis").setLevel(logging.WARNING)
    with open(graph_path) as fh:
        graph = ptype_from_bytes(fh.read().encode(), GraphData)
    workflow_id = uuid.UUID(int=1)
    if mode == "file":
        # As cli/run_workflow.py: file storage, ShellExecutor; builtins are
        # started by the controller as `python main.py` per task.
        storage = ControllerFileStorage(
            workflow_id, tierkreis_directory=tkr_dir, do_cleanup=True
        )
        executor = ShellExecutor(None, storage.workflow_dir)
    elif mode == "memory":
        # In-memory storage needs the in-process executor; its task paths are
        # relative to the default tierkreis_directory (Path()), so work there.
        tkr_dir.mkdir(parents=True, exist_ok=True)
        os.chdir(tkr_dir)
        storage = ControllerInMemoryStorage(workflow_id)
        executor = InMemoryExecutor(PACKAGE_PATH / "tierkreis", storage)
    else:
        raise SystemExit(f"unknown storage {mode!r}: use file or memory")
    start = time.perf_counter()
    # The reference CLI's defaults: 10**5 iterations, 0.01 s polling.
    run_graph(storage, executor, graph, {}, 10**5, 0.01)
    seconds = time.perf_counter() - start
    outputs = {
        port: json.loads(storage.read_output(Loc(), port))
        for port in storage.read_output_ports(Loc())
    }
    print(json.dumps({"seconds": seconds, "outputs": outputs}))


if __name__ == "__main__":
    main()
