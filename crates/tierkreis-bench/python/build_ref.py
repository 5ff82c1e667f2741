"""Builds the benchmark graphs with the reference's own Python builder.

Usage (inside the reference environment, script under /tmp):
    python build_ref.py map|loop|worker N   -> prints GraphData.model_dump_json()
tests/data/reference_*_5.json were made with `map 5`, `loop 5` and `worker 5`;
the crate's tests check that the Rust generators produce the same JSON.
"""

import json, sys
from tierkreis.builder import Graph
from tierkreis.controller.data.models import TKR
from tierkreis.builtins.stubs import tkr_range, itimes, sum_list, iadd, igt
from typing import NamedTuple

def map_square_sum(n: int):
    body = Graph(TKR[int], TKR[int])
    sq = body.task(itimes(a=body.inputs, b=body.inputs))
    wf = body.finish_with_outputs(sq)
    g = Graph(outputs_type=TKR[int])
    r = g.task(tkr_range(start=g.const(0), stop=g.const(n)))
    m = g.map(wf, r)
    s = g.task(sum_list(values=m))
    return g.finish_with_outputs(s).data

class square(NamedTuple):
    """The stub `tkr-numerics-worker --stubs-path` writes for its `square`."""
    x: TKR[int]

    @staticmethod
    def out() -> type[TKR[int]]:
        return TKR[int]

    @property
    def namespace(self) -> str:
        return "numerics_worker"

def map_worker(n: int):
    body = Graph(TKR[int], TKR[int])
    sq = body.task(square(x=body.inputs))
    wf = body.finish_with_outputs(sq)
    g = Graph(outputs_type=TKR[int])
    r = g.task(tkr_range(start=g.const(0), stop=g.const(n)))
    m = g.map(wf, r)
    s = g.task(sum_list(values=m))
    return g.finish_with_outputs(s).data

class LoopIn(NamedTuple):
    counter: TKR[int]

class LoopOut(NamedTuple):
    counter: TKR[int]
    should_continue: TKR[bool]

def loop_count(n: int):
    body = Graph(LoopIn, LoopOut)
    nxt = body.task(iadd(a=body.inputs.counter, b=body.const(1)))
    cont = body.task(igt(a=body.const(n), b=nxt))
    wf = body.finish_with_outputs(LoopOut(counter=nxt, should_continue=cont))
    g = Graph(outputs_type=TKR[int])
    out = g.loop(wf, LoopIn(counter=g.const(0)))
    return g.finish_with_outputs(out.counter).data

which, n = sys.argv[1], int(sys.argv[2])
gd = {"map": map_square_sum, "loop": loop_count, "worker": map_worker}[which](n)
print(gd.model_dump_json())
