"""The same Python script with the reference's run_graph and with ours:
map_square_sum(N) (builtins only) with ControllerFileStorage, the way
tkr-bench's reference runner runs it (ShellExecutor without a registry).

    python map_run_graph.py compare N [WORK_DIR]   # both, side by side
    python map_run_graph.py one reference|rs N TKR_DIR

`compare` times each whole process (interpreter start to exit) and prints a
JSON line per implementation plus the ratio; each run checks its result.
"""

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from uuid import UUID


def map_square_sum(n: int):
    from tierkreis.builder import Graph
    from tierkreis.builtins.stubs import itimes, sum_list, tkr_range
    from tierkreis.models import TKR

    body = Graph(TKR[int], TKR[int])
    body_wf = body.finish_with_outputs(body.task(itimes(a=body.inputs, b=body.inputs)))
    g = Graph(outputs_type=TKR[int])
    squares = g.map(body_wf, g.task(tkr_range(start=g.const(0), stop=g.const(n))))
    return g.finish_with_outputs(g.task(sum_list(values=squares)))


def one(impl: str, n: int, tkr_dir: Path) -> None:
    if impl == "rs":
        from tierkreis_rs import run_graph
    else:
        from tierkreis.controller import run_graph
    from tierkreis.controller.executor.shell_executor import ShellExecutor
    from tierkreis.controller.storage.filestorage import ControllerFileStorage
    from tierkreis.storage import read_outputs

    graph = map_square_sum(n)
    storage = ControllerFileStorage(UUID(int=1), tierkreis_directory=tkr_dir, do_cleanup=True)
    executor = ShellExecutor(None, storage.workflow_dir)
    started = time.perf_counter()
    # Enough polling iterations for the reference to finish a large map.
    run_graph(storage, executor, graph, {}, n_iterations=10**8, enable_logging=False)
    seconds = time.perf_counter() - started
    value = read_outputs(graph, storage)
    expected = (n - 1) * n * (2 * n - 1) // 6
    if value != expected:
        raise SystemExit(f"{impl}: wrong result {value!r}, expected {expected}")
    print(json.dumps({"impl": impl, "n": n, "run_graph_seconds": round(seconds, 3)}))


def compare(n: int, work_dir: Path) -> None:
    rows = {}
    for impl in ("rs", "reference"):
        tkr_dir = Path(tempfile.mkdtemp(prefix=f"bench-{impl}-", dir=work_dir))
        env = {**os.environ, "TKR_DIR": str(tkr_dir), "TIERKREIS_RS_PROGRESS": "0"}
        started = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, __file__, "one", impl, str(n), str(tkr_dir)],
            env=env, capture_output=True, text=True,
        )
        wall = time.perf_counter() - started
        if proc.returncode != 0:
            raise SystemExit(f"{impl} failed:\n{proc.stdout}\n{proc.stderr}")
        row = json.loads(proc.stdout.strip().splitlines()[-1])
        row["process_seconds"] = round(wall, 3)
        rows[impl] = row
        print(json.dumps(row), flush=True)
    ratio = rows["reference"]["process_seconds"] / rows["rs"]["process_seconds"]
    print(json.dumps({"n": n, "end_to_end_speedup": round(ratio, 1)}))


if __name__ == "__main__":
    if sys.argv[1] == "compare":
        compare(int(sys.argv[2]), Path(sys.argv[3]) if len(sys.argv) > 3 else Path("/tmp"))
    else:
        one(sys.argv[2], int(sys.argv[3]), Path(sys.argv[4]))
