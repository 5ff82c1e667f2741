"""Records the failing workflows (see rec.py)."""
from pathlib import Path
from uuid import UUID

from tierkreis.controller import run_graph
from tierkreis.controller.data.graph import GraphData
from tierkreis.controller.executor.shell_executor import ShellExecutor
from tierkreis.controller.storage.filestorage import ControllerFileStorage
from tierkreis.exceptions import TierkreisError

TKR = Path("/tmp/tkr-rec/checkpoints")


def run(n, name, graph, inputs, iterations):
    st = ControllerFileStorage(UUID(int=n), name=name, tierkreis_directory=TKR)
    try:
        run_graph(st, ShellExecutor(Path("/tmp/tkr-rec/registry"), st.workflow_dir), GraphData(**graph),
                  inputs, n_iterations=iterations, polling_interval_seconds=0.01)
    except TierkreisError as e:
        print(n, "failed:", e)


def graph(function_name, b):
    return {
        "nodes": [
            {"type": "const", "value": 1, "inputs": {}, "outputs": {"value": [2, 3]}},
            {"type": "const", "value": b, "inputs": {}, "outputs": {"value": [2, 3]}},
            {"type": "function", "function_name": "builtins.iadd", "inputs": {"a": [0, "value"], "b": [1, "value"]}, "outputs": {"value": [4]}},
            {"type": "function", "function_name": function_name, "inputs": {"a": [0, "value"], "b": [1, "value"]}, "outputs": {"value": [4]}},
            {"type": "output", "inputs": {"sum": [2, "value"], "quotient": [3, "value"]}, "outputs": {}},
        ],
        "fixed_inputs": {}, "graph_inputs": [], "graph_output_idx": 4, "named_nodes": {}, "node_metadata": {},
    }


# 3: an external worker (registry/failer/main.sh) exits 1: the shell executor touches _error.
run(3, "divide_fails", graph("failer.divide", 0), {}, 1000)
# 4: a builtin raises (1 + "x"): the reference writes the message to the node's logs but
# touches no _error, so its controller never sees the failure; stopped after 300 polls.
run(4, None, graph("builtins.iadd", "x"), {}, 300)
