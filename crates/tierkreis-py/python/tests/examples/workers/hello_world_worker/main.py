"""The reference tutorial's hello world worker, written with its Worker."""

import sys

from tierkreis import Worker

worker = Worker("hello_world_worker")


@worker.task()
def greet(greeting: str, subject: str) -> str:
    return greeting + subject


if __name__ == "__main__":
    worker.app(sys.argv)
