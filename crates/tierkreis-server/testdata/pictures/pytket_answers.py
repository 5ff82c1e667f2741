"""Records what pytket itself says about the recorded values, for the unit
tests of `pictures.rs`: each circuit's depth, gate count and gates per type,
each BackendResult's width and counts (pytket's default bit order).

Run inside the reference environment, from this folder:
  bash ../../../../../shared/reference/run.sh -- python3 pytket_answers.py > pytket_answers.json
"""

import json
from collections import Counter

from pytket._tket.circuit import Circuit
from pytket.backends.backendresult import BackendResult


def circuit(name):
    c = Circuit.from_dict(json.load(open(name)))
    return {
        "depth": c.depth(),
        "n_gates": c.n_gates,
        "n_qubits": c.n_qubits,
        "counts": dict(Counter(cmd.op.type.name for cmd in c.get_commands())),
    }


def result(r):
    r = BackendResult.from_dict(r)
    return {
        "width": len(r.get_bitlist()),
        "counts": {"".join(map(str, k)): int(v) for k, v in r.get_counts().items()},
    }


answers = {
    "circuits": {n: circuit(n) for n in ["ghz5_compiled.json", "ansatz_measured.json", "ansatz_optimised.json"]},
    "results": {
        "ghz_results.json": [result(r) for r in json.load(open("ghz_results.json"))],
        "ansatz_shots.json": [result(json.load(open("ansatz_shots.json")))],
    },
}
print(json.dumps(answers, indent=1, sort_keys=True))
