"""Breakpoints as the reference has them: `run_graph(..., enable_breakpoints=True)`
returns at the first node whose metadata has a breakpoint, and each
`resume_graph(..., enable_breakpoints=True)` continues to the next one;
`resume_graph` without the flag goes on past the breakpoints to the end.

Usage: python breakpoints.py TKR_DIR WORKERS_DIR [read]
"""

import json
import sys
from pathlib import Path
from uuid import UUID

from tierkreis.builder import Graph
from tierkreis.builtins.stubs import iadd, itimes
from tierkreis.controller import resume_graph, run_graph
from tierkreis.controller.data.location import Loc
from tierkreis.controller.executor.shell_executor import ShellExecutor
from tierkreis.controller.storage.filestorage import ControllerFileStorage
from tierkreis.models import TKR
from tierkreis.storage import read_outputs


def chain_graph():
    """((value + 1) * 3) + 10, the last two tasks breakpoints."""
    g = Graph(TKR[int], TKR[int])
    one = g.task(iadd(a=g.inputs, b=g.const(1)))
    three = g.task(itimes(a=one, b=g.const(3)), has_breakpoint=True)
    ten = g.task(iadd(a=three, b=g.const(10)), has_breakpoint=True)
    return g.finish_with_outputs(ten)


def state(storage: ControllerFileStorage) -> dict:
    """Where the run stands: the pause record and the tasks started."""
    graph = chain_graph().data
    tasks = [f"-.N{i}" for i, node in enumerate(graph.nodes) if node.type == "function"]
    record = Path(storage.workflow_dir) / "debug" / "breakpoints"
    return {
        "paused_at": sorted(p.name for p in record.iterdir()) if record.is_dir() else [],
        "started": [loc for loc in tasks if storage.is_node_started(Loc(loc))],
        "finished": storage.is_node_finished(Loc()),
    }


def main() -> None:
    tkr_dir, workers = Path(sys.argv[1]), Path(sys.argv[2])
    reading = sys.argv[3:] == ["read"]
    stepping = ControllerFileStorage(
        UUID(int=108), name="breakpoints_stepping", tierkreis_directory=tkr_dir,
        do_cleanup=not reading,
    )
    past = ControllerFileStorage(
        UUID(int=109), name="breakpoints_past", tierkreis_directory=tkr_dir,
        do_cleanup=not reading,
    )
    steps, skipping = [], []
    if not reading:
        executor = ShellExecutor(workers, stepping.workflow_dir)
        run_graph(stepping, executor, chain_graph(), 4, enable_breakpoints=True)
        steps.append(state(stepping))
        while not steps[-1]["finished"] and len(steps) < 6:
            resume_graph(stepping, executor, enable_breakpoints=True)
            steps.append(state(stepping))

        executor = ShellExecutor(workers, past.workflow_dir)
        run_graph(past, executor, chain_graph(), 5, enable_breakpoints=True)
        skipping.append(state(past))
        resume_graph(past, executor)
        skipping.append(state(past))
    print("RESULT: " + json.dumps({
        "outputs": [read_outputs(chain_graph(), s) for s in (stepping, past)],
        "steps": steps,
        "past": skipping,
    }))


if __name__ == "__main__":
    main()
