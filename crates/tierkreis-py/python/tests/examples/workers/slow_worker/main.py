"""A worker whose task waits for a marker file (to interrupt a run mid-task)."""

import sys
import time
from pathlib import Path

from tierkreis import Worker

worker = Worker("slow_worker")


@worker.task()
def wait_for_marker(path: str) -> str:
    Path(path + ".started").write_text("started")
    deadline = time.monotonic() + 120
    while not Path(path).exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"the marker {path} never appeared")
        time.sleep(0.05)
    return "marker found: " + Path(path).read_text()


if __name__ == "__main__":
    worker.app(sys.argv)
