"""The same Python script with the reference's run_graph and with ours on
the reference's own `compile_simulate` graph: N GHZ circuits of 2 to 5
qubits, 100 shots each, compiled with the published pytket worker and
simulated with the published Aer worker (`tkr-aer-worker`,
`tkr-pytket-worker` on PATH: ShellExecutor without a registry), file storage.

    python compile_simulate_run_graph.py compare N [WORK_DIR]   # both, side by side
    python compile_simulate_run_graph.py one reference|rs N TKR_DIR

`compare` times each whole process (interpreter start to exit) and prints a
JSON line per implementation plus the ratio; each run checks its result
(one result per circuit, of its width, 100 shots, only all-0 or all-1
strings). Ours uses warm workers (the default of tierkreis_rs.run_graph).
"""

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from uuid import UUID

SHOTS = 100


def widths(n: int) -> list[int]:
    return [2 + i % 4 for i in range(n)]


def ghz(n_qubits: int):
    from pytket import Circuit

    circuit = Circuit(n_qubits)
    circuit.H(0)
    for q in range(1, n_qubits):
        circuit.CX(0, q)
    circuit.measure_all()
    return circuit


def one(impl: str, n: int, tkr_dir: Path) -> None:
    if impl == "rs":
        from tierkreis_rs import run_graph
    else:
        from tierkreis.controller import run_graph
    from pytket.backends.backendresult import BackendResult
    from tierkreis.controller.executor.shell_executor import ShellExecutor
    from tierkreis.controller.storage.filestorage import ControllerFileStorage
    from tierkreis.graphs.simulate.compile_simulate import compile_simulate
    from tierkreis.storage import read_outputs

    graph = compile_simulate()
    storage = ControllerFileStorage(UUID(int=1), tierkreis_directory=tkr_dir, do_cleanup=True)
    executor = ShellExecutor(None, storage.workflow_dir)
    inputs = {
        "simulator_name": "aer",
        "circuits": [ghz(w) for w in widths(n)],
        "n_shots": [SHOTS] * n,
        "compilation_optimisation_level": 2,
    }
    started = time.perf_counter()
    run_graph(storage, executor, graph, inputs, n_iterations=10**8, enable_logging=False)
    seconds = time.perf_counter() - started
    results = read_outputs(graph, storage)
    if len(results) != n:
        raise SystemExit(f"{impl}: {len(results)} results for {n} circuits")
    for width, result in zip(widths(n), results):
        r = result if isinstance(result, BackendResult) else BackendResult.from_dict(result)
        counts = {"".join(map(str, bits)): int(c) for bits, c in r.get_counts().items()}
        if sum(counts.values()) != SHOTS or not set(counts) <= {"0" * width, "1" * width}:
            raise SystemExit(f"{impl}: wrong counts {counts} for a GHZ circuit of {width} qubits")
    print(json.dumps({"impl": impl, "n": n, "run_graph_seconds": round(seconds, 3)}))


def compare(n: int, work_dir: Path) -> None:
    rows = {}
    for impl in ("rs", "reference"):
        tkr_dir = Path(tempfile.mkdtemp(prefix=f"bench-cs-{impl}-", dir=work_dir))
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
