"""`python -m tierkreis_rs ARGS` runs our CLI, installed as `tkr-rs`."""

from __future__ import annotations

import os
import shutil
import sys
import sysconfig
from pathlib import Path


def find_cli() -> str:
    """The `tkr-rs` binary this package installed (next to this Python's scripts)."""
    candidates = [Path(sysconfig.get_path("scripts")) / "tkr-rs"]
    user = sysconfig.get_path("scripts", f"{os.name}_user") if os.name == "posix" else None
    if user:
        candidates.append(Path(user) / "tkr-rs")
    for candidate in candidates:
        if candidate.is_file():
            return str(candidate)
    found = shutil.which("tkr-rs")
    if found:
        return found
    raise SystemExit("tkr-rs is not installed next to this Python; reinstall tierkreis-rs")


def main() -> None:
    cli = find_cli()
    os.execv(cli, ["tkr-rs", *sys.argv[1:]])


if __name__ == "__main__":
    main()
