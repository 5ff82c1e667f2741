"""Answers with the id of the process that ran the call: one process serving
many calls (a warm worker) answers the same id each time."""

import os
import sys

from tierkreis import Worker

worker = Worker("pid_worker")


@worker.task()
def process_id(tag: int) -> int:
    return os.getpid()


if __name__ == "__main__":
    worker.app(sys.argv)
