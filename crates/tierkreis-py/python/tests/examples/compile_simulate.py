"""The reference's compile_simulate graph on the published Aer and Qulacs
workers (`tkr-aer-worker`, `tkr-qulacs-worker` on PATH): GHZ circuits,
compiled and simulated, counts per circuit.

Usage: python compile_simulate.py TKR_DIR WORKERS_DIR [read]
"""

import json
import sys
from pathlib import Path
from uuid import UUID

from pytket import Circuit
from pytket.backends.backendresult import BackendResult
from tierkreis.controller import run_graph
from tierkreis.controller.executor.shell_executor import ShellExecutor
from tierkreis.controller.storage.filestorage import ControllerFileStorage
from tierkreis.graphs.simulate.compile_simulate import compile_simulate
from tierkreis.storage import read_outputs

SIMULATORS = {"aer": 106, "qulacs": 107}


def ghz(n_qubits: int) -> Circuit:
    circuit = Circuit(n_qubits)
    circuit.H(0)
    for q in range(1, n_qubits):
        circuit.CX(0, q)
    circuit.measure_all()
    return circuit


def counts(results) -> list[dict[str, int]]:
    backend_results = [r if isinstance(r, BackendResult) else BackendResult.from_dict(r) for r in results]
    return [
        {"".join(map(str, bits)): int(n) for bits, n in sorted(r.get_counts().items())}
        for r in backend_results
    ]


def main() -> None:
    tkr_dir = Path(sys.argv[1])
    reading = sys.argv[3:] == ["read"]
    out = {}
    for simulator, number in SIMULATORS.items():
        storage = ControllerFileStorage(
            UUID(int=number), name=f"compile_simulate_{simulator}",
            tierkreis_directory=tkr_dir, do_cleanup=not reading,
        )
        if not reading:
            executor = ShellExecutor(None, storage.workflow_dir)
            inputs = {
                "simulator_name": simulator,
                "circuits": [ghz(3)],
                "n_shots": [300],
                "compilation_optimisation_level": 2,
            }
            run_graph(storage, executor, compile_simulate(), inputs)
        out[simulator] = counts(read_outputs(compile_simulate(), storage))
    print("RESULT: " + json.dumps({"outputs": out}))


if __name__ == "__main__":
    main()
