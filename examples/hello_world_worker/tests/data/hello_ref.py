"""The reference tutorial's hello world worker (with a plain `str` return);
`python hello_ref.py OUT` writes its stubs (no ruff) to OUT."""
import sys
from pathlib import Path
from tierkreis.worker.worker import Worker

worker = Worker("hello_world_worker")


@worker.task()
def greet(greeting: str, subject: str) -> str:
    return greeting + subject


if __name__ == "__main__":
    worker.namespace.write_stubs(Path(sys.argv[1]))
