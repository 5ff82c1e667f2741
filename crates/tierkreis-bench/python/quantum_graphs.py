"""Builds the reference's quantum workflows with its own Python builder, for
`tkr` and the reference to run on the same graph JSON and inputs.

Runs inside the reference environment (tierkreis 2.1.1 with pytket and the
published `tkr-*-worker-impl` packages). Shared by the `quantum` tests of
tierkreis-cli and by `tkr-bench quantum`.

Usage:
  python quantum_graphs.py ghz OUT SIMULATOR SIZES SHOTS
      `tierkreis.graphs.simulate.compile_simulate` on GHZ circuits of
      SIZES qubits (comma-separated) with SHOTS shots each (comma-separated),
      simulated with SIMULATOR (aer or qulacs), optimisation level 2.
  python quantum_graphs.py hamiltonian OUT SEED N_SHOTS
      A Hamiltonian-expectation sweep: a map over parameter sets (the ansatz
      with each set's angles), then a map over the Pauli strings of a fixed
      4-qubit Hamiltonian of 3 terms (append the measurement, optimise phase gadgets,
      Aer `run_circuit` with SEED, expectation), then a fold adding the
      expectations weighted by their coefficients: one energy per set.
  python quantum_graphs.py reference CASE_DIR
      Runs CASE_DIR/graph.json on CASE_DIR/inputs with the reference
      controller as its CLI does (`run_graph`, file storage in $TKR_DIR as
      workflow 1, `ShellExecutor` without registry: workers from PATH) and
      prints {"seconds": <run_graph wall time>}.
  python quantum_graphs.py counts VALUE_FILE
      Decodes a stored list of BackendResults (the `value` output of a
      compile_simulate run) with pytket and prints, as JSON, one object per
      circuit: {"n_qubits": int, "counts": {bitstring: count}}.

`ghz` and `hamiltonian` write OUT/graph.json (the GraphData as the reference
stores a graph) and OUT/inputs/PORT for each graph input, encoded with the
reference's `bytes_from_ptype` exactly as `run_graph` writes its inputs.
"""

import json
import os
import sys
import time
import uuid
from pathlib import Path
from typing import NamedTuple

from pytket._tket.circuit import Circuit
from pytket._tket.unit_id import Qubit
from pytket.backends.backendresult import BackendResult
from pytket.pauli import Pauli, QubitPauliString

from tierkreis.aer_worker import run_circuit as aer_run_circuit
from tierkreis.builder import Graph
from tierkreis.builtins import add, times, unzip, untuple, tkr_zip
from tierkreis.controller import run_graph
from tierkreis.controller.data.graph import GraphData
from tierkreis.controller.data.types import bytes_from_ptype, ptype_from_bytes
from tierkreis.controller.executor.shell_executor import ShellExecutor
from tierkreis.controller.storage.filestorage import ControllerFileStorage
from tierkreis.graphs.fold import FoldFunctionInput, FoldGraphInputs, fold_graph
from tierkreis.graphs.simulate.compile_simulate import compile_simulate
from tierkreis.models import TKR, OpaqueType
from tierkreis.pytket_worker import (
    append_pauli_measurement_impl,
    expectation,
    optimise_phase_gadgets,
)

type CircuitT = OpaqueType["pytket._tket.circuit.Circuit"]  # noqa: SLF001
type PauliStringT = OpaqueType["pytket._tket.pauli.QubitPauliString"]  # noqa: SLF001


def write_case(out: Path, workflow, inputs: dict) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "graph.json").write_bytes(bytes_from_ptype(workflow.data))
    (out / "inputs").mkdir(exist_ok=True)
    for port, value in inputs.items():
        (out / "inputs" / port).write_bytes(bytes_from_ptype(value))


def ghz(n_qubits: int) -> Circuit:
    circuit = Circuit(n_qubits)
    circuit.H(0)
    for q in range(1, n_qubits):
        circuit.CX(0, q)
    circuit.measure_all()
    return circuit


def ghz_case(out: Path, simulator: str, sizes: str, shots: str) -> None:
    sizes_list = [int(s) for s in sizes.split(",")]
    shots_list = [int(s) for s in shots.split(",")]
    if len(sizes_list) != len(shots_list):
        sys.exit(f"{len(sizes_list)} circuit sizes but {len(shots_list)} shot counts")
    write_case(
        out,
        compile_simulate(),
        {
            "simulator_name": simulator,
            "circuits": [ghz(n) for n in sizes_list],
            "n_shots": shots_list,
            "compilation_optimisation_level": 2,
        },
    )


# The Hamiltonian sweep.

PARAMETER_SETS = [(0.2, 0.55, 0.75), (1.1, -0.3, 0.4)]


def ansatz(a: float, b: float, c: float) -> Circuit:
    """A 4-qubit ansatz of three Rz phase gadgets (angles in half-turns)."""
    circuit = Circuit(4)
    for angle, qubit in [(a, 3), (b, 0), (c, 3)]:
        circuit.CX(0, 1).CX(1, 2).CX(2, 3)
        circuit.Rz(angle, qubit)
        circuit.CX(2, 3).CX(1, 2).CX(0, 1)
        circuit.H(qubit)
    return circuit


def hamiltonian() -> list[tuple[QubitPauliString, float]]:
    qubits = [Qubit(i) for i in range(4)]
    X, Y, Z, I = Pauli.X, Pauli.Y, Pauli.Z, Pauli.I  # noqa: E741, N806
    return [
        (QubitPauliString(qubits, [X, Y, X, I]), 0.1),
        (QubitPauliString(qubits, [Y, Z, X, Z]), 0.5),
        (QubitPauliString(qubits, [Z, Y, X, Y]), 0.6),
    ]


class TermInputs(NamedTuple):
    circuit: TKR[CircuitT]
    pauli_string: TKR[PauliStringT]
    n_shots: TKR[int]
    seed: TKR[int]


def term_expectation():
    """<P> for one Pauli string P, estimated from seeded Aer shots."""
    g = Graph(TermInputs, TKR[float])
    measured = g.task(append_pauli_measurement_impl(g.inputs.circuit, g.inputs.pauli_string))
    optimised = g.task(optimise_phase_gadgets(measured))
    result = g.task(aer_run_circuit(optimised, g.inputs.n_shots, seed=g.inputs.seed))
    return g.finish_with_outputs(g.task(expectation(result)))


def weighted_sum_step():
    """accum + expectation * coefficient, for a fold over (expectation, coefficient)."""
    g = Graph(FoldFunctionInput[tuple[float, float], float], TKR[float])
    pair = g.task(untuple(g.inputs.value))
    product = g.task(times(pair.a, pair.b))
    return g.finish_with_outputs(g.task(add(g.inputs.accum, product)))


class EnergyInputs(NamedTuple):
    circuit: TKR[CircuitT]
    hamiltonian: TKR[list[tuple[PauliStringT, float]]]
    n_shots: TKR[int]
    seed: TKR[int]


def energy():
    """The Hamiltonian's expectation for one prepared circuit."""
    g = Graph(EnergyInputs, TKR[float])
    terms = g.task(unzip(g.inputs.hamiltonian))
    expectations = g.map(
        lambda pauli: TermInputs(g.inputs.circuit, pauli, g.inputs.n_shots, g.inputs.seed),
        terms.a,
    )
    expectations = g.map(term_expectation(), expectations)
    weighted = g.task(tkr_zip(expectations, terms.b))
    total = g.eval(fold_graph(weighted_sum_step()), FoldGraphInputs(g.const(0.0), weighted))
    return g.finish_with_outputs(total)


class SweepInputs(NamedTuple):
    circuits: TKR[list[CircuitT]]
    hamiltonian: TKR[list[tuple[PauliStringT, float]]]
    n_shots: TKR[int]
    seed: TKR[int]


def sweep():
    """One energy per parameter set (each set's ansatz circuit)."""
    g = Graph(SweepInputs, TKR[list[float]])
    per_set = g.map(
        lambda circuit: EnergyInputs(circuit, g.inputs.hamiltonian, g.inputs.n_shots, g.inputs.seed),
        g.inputs.circuits,
    )
    return g.finish_with_outputs(g.map(energy(), per_set))


def hamiltonian_case(out: Path, seed: str, n_shots: str) -> None:
    write_case(
        out,
        sweep(),
        {
            "circuits": [ansatz(*p) for p in PARAMETER_SETS],
            "hamiltonian": hamiltonian(),
            "n_shots": int(n_shots),
            "seed": int(seed),
        },
    )


def reference(case_dir: Path) -> None:
    graph = ptype_from_bytes((case_dir / "graph.json").read_bytes(), GraphData)
    inputs = {
        f.name: ptype_from_bytes(f.read_bytes()) for f in sorted((case_dir / "inputs").iterdir())
    }
    storage = ControllerFileStorage(
        uuid.UUID(int=1), tierkreis_directory=Path(os.environ["TKR_DIR"]).resolve()
    )
    executor = ShellExecutor(None, storage.workflow_dir)
    start = time.perf_counter()
    # As tkr-bench's other reference runs: 10**5 iterations, 0.01 s polling.
    run_graph(storage, executor, graph, inputs, 10**5, 0.01)
    print(json.dumps({"seconds": time.perf_counter() - start}))


def counts(value_file: Path) -> None:
    results = ptype_from_bytes(value_file.read_bytes())
    summary = []
    for r in results:
        result = BackendResult.from_dict(r)
        summary.append(
            {
                "n_qubits": len(result.get_bitlist()),
                "counts": {
                    "".join(str(b) for b in bits): int(n)
                    for bits, n in result.get_counts().items()
                },
            }
        )
    print(json.dumps(summary))


def main() -> None:
    match sys.argv[1:]:
        case ["ghz", out, simulator, sizes, shots]:
            ghz_case(Path(out), simulator, sizes, shots)
        case ["hamiltonian", out, seed, n_shots]:
            hamiltonian_case(Path(out), seed, n_shots)
        case ["reference", case_dir]:
            reference(Path(case_dir))
        case ["counts", value_file]:
            counts(Path(value_file))
        case _:
            sys.exit(__doc__)


main()
