"""A worker whose task fails for negative numbers."""

import sys

from tierkreis import Worker

worker = Worker("failing_worker")


@worker.task()
def checked_double(x: int) -> int:
    if x < 0:
        raise ValueError(f"checked_double refuses the negative number {x}")
    return 2 * x


if __name__ == "__main__":
    worker.app(sys.argv)
