"""Progress of a run: lines on the `tierkreis_rs` logger, and a tqdm bar when
the call runs in a terminal or a notebook and tqdm is importable."""

from __future__ import annotations

import importlib
import logging
import os
import sys
from typing import Any

logger = logging.getLogger("tierkreis_rs")


def _interactive() -> bool:
    if "ipykernel" in sys.modules:
        return True
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


class Reporter:
    """Receives `(started, finished, running, failed)` from the engine."""

    def __init__(self, workflow: str, show_bar: bool | None) -> None:
        self.workflow = workflow
        if show_bar is None:
            show_bar = os.environ.get("TIERKREIS_RS_PROGRESS", "1") != "0" and _interactive()
        self.bar: Any = None
        if show_bar:
            try:
                # Imported by name: tqdm is optional and ships no type stubs.
                tqdm_auto = importlib.import_module("tqdm.auto")
            except ImportError:
                tqdm_auto = None
            if tqdm_auto is not None:
                self.bar = tqdm_auto.tqdm(
                    total=0, desc=f"tierkreis {workflow}", unit="node", leave=False
                )
        self.last = (0, 0, 0, 0)

    def __call__(self, started: int, finished: int, running: int, failed: int) -> None:
        self.last = (started, finished, running, failed)
        logger.debug(
            "workflow %s: %d nodes started, %d finished, %d running, %d failed",
            self.workflow, started, finished, running, failed,
        )
        if self.bar is not None:
            self.bar.total = started
            self.bar.n = finished
            self.bar.set_postfix(running=running, failed=failed, refresh=False)
            self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
