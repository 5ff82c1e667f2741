"""A Python worker for the reference stub tests: `python demo_worker.py OUT`
in the reference environment writes its stubs (no ruff) to OUT, which is
demo_worker_stubs.py here. tests/common/mod.rs is its Rust twin."""
import sys
from typing import NamedTuple
from pathlib import Path
from tierkreis.worker.worker import Worker
from tierkreis.controller.data.models import portmapping

worker = Worker("demo_worker")

@worker.task()
def greet(greeting: str, subject: str) -> str:
    return greeting + subject

@portmapping
class Stats(NamedTuple):
    mean: float
    stdev: float

@worker.task()
def stats(values: list[float], scale: float = 1.0) -> Stats:
    return Stats(1.0, 2.0)

@worker.task()
def misc(a: int, b: bytes, c: dict[str, list[int]], d: bool | None = None, e: int | None = None) -> list[bytes]:
    return []

@worker.task()
def nothing(a: int) -> None:
    return None

if __name__ == "__main__":
    worker.namespace.write_stubs(Path(sys.argv[1]))
