"""Counts its calls in a file, to see which calls really ran: `count_call`
answers how many calls the file has seen; `fail_first` exits with status 3
(a crashed process) until the file has seen more than `failures` calls."""

import os
import sys
from pathlib import Path

from tierkreis import Worker

worker = Worker("counting_worker")


def _record(path: str) -> int:
    with Path(path).open("a") as f:
        f.write("call\n")
    return len(Path(path).read_text().splitlines())


@worker.task()
def count_call(path: str) -> int:
    return _record(path)


@worker.task()
def fail_first(path: str, failures: int) -> int:
    calls = _record(path)
    if calls <= failures:
        sys.stderr.write(f"failing call {calls} of the first {failures}\n")
        sys.stderr.flush()
        os._exit(3)
    return calls


if __name__ == "__main__":
    worker.app(sys.argv)
