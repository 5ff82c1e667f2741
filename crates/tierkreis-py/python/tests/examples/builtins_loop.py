"""A builtins-only loop: count up while the counter is below a bound.

Usage: python builtins_loop.py TKR_DIR WORKERS_DIR [read]
"""

import json
import sys
from pathlib import Path
from typing import NamedTuple
from uuid import UUID

from tierkreis.builder import Graph
from tierkreis.builtins.stubs import iadd, igt
from tierkreis.controller import run_graph
from tierkreis.controller.executor.shell_executor import ShellExecutor
from tierkreis.controller.storage.filestorage import ControllerFileStorage
from tierkreis.models import TKR
from tierkreis.storage import read_outputs


class LoopIn(NamedTuple):
    counter: TKR[int]
    bound: TKR[int]


class LoopOut(NamedTuple):
    counter: TKR[int]
    bound: TKR[int]
    should_continue: TKR[bool]


class Inputs(NamedTuple):
    start: TKR[int]
    bound: TKR[int]


def loop_graph():
    body = Graph(LoopIn, LoopOut)
    nxt = body.task(iadd(a=body.inputs.counter, b=body.const(3)))
    cont = body.task(igt(a=body.inputs.bound, b=nxt))
    body_wf = body.finish_with_outputs(
        LoopOut(counter=nxt, bound=body.inputs.bound, should_continue=cont)
    )
    g = Graph(Inputs, TKR[int])
    out = g.loop(body_wf, LoopIn(counter=g.inputs.start, bound=g.inputs.bound), "count_up")
    return g.finish_with_outputs(out.counter)


def main() -> None:
    tkr_dir, workers = Path(sys.argv[1]), Path(sys.argv[2])
    reading = sys.argv[3:] == ["read"]
    storage = ControllerFileStorage(
        UUID(int=102), name="builtins_loop", tierkreis_directory=tkr_dir, do_cleanup=not reading
    )
    if not reading:
        executor = ShellExecutor(workers, storage.workflow_dir)
        run_graph(storage, executor, loop_graph(), {"start": 1, "bound": 40})
    print("RESULT: " + json.dumps({"outputs": read_outputs(loop_graph(), storage)}))


if __name__ == "__main__":
    main()
