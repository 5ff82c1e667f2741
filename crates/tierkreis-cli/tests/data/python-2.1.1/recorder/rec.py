"""Records small checkpoint folders with the reference tierkreis 2.1.1 for the tkr inspect tests."""
import json
from pathlib import Path
from uuid import UUID

from tierkreis.controller import run_graph
from tierkreis.controller.data.graph import GraphData
from tierkreis.controller.executor.shell_executor import ShellExecutor
from tierkreis.controller.storage.filestorage import ControllerFileStorage
from tierkreis.exceptions import TierkreisError

TKR = Path("/tmp/tkr-rec/checkpoints")


def run(n, name, graph, inputs):
    st = ControllerFileStorage(UUID(int=n), name=name, tierkreis_directory=TKR)
    try:
        run_graph(st, ShellExecutor(None, st.workflow_dir), GraphData(**graph), inputs, polling_interval_seconds=0.01)
    except TierkreisError as e:
        print(n, "failed:", e)


# 1: simple_loop with its loop named "counter".
loop = json.load(open("loop.json"))
loop["nodes"][2]["name"] = "counter"
loop["named_nodes"] = {"counter": 2}
run(1, "counter_loop", loop, {})

# 2: typed_map over 12 elements.
run(2, "doubler_map", json.load(open("map.json")), {"value": list(range(12))})

# 3: iadd of 1 and "x": the builtin worker raises a TypeError.
fails = {
    "nodes": [
        {"type": "const", "value": 1, "inputs": {}, "outputs": {"value": [2]}},
        {"type": "const", "value": "x", "inputs": {}, "outputs": {"value": [2]}},
        {"type": "function", "function_name": "builtins.iadd", "inputs": {"a": [0, "value"], "b": [1, "value"]}, "outputs": {"value": [3]}},
        {"type": "output", "inputs": {"value": [2, "value"]}, "outputs": {}},
    ],
    "fixed_inputs": {}, "graph_inputs": [], "graph_output_idx": 3, "named_nodes": {}, "node_metadata": {},
}
run(3, None, fails, {})
