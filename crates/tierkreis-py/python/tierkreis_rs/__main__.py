"""`python -m tierkreis_rs ARGS` runs our CLI, installed as `tkr-rs`."""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import sys
import sysconfig
from pathlib import Path


def installed_script() -> Path | None:
    """`tkr-rs` where the installer put it: as this package's record says (a
    venv, `--user`, `--prefix`), else in DIR/bin for `pip install --target
    DIR` (whose record points elsewhere)."""
    try:
        files = importlib.metadata.distribution("tierkreis-rs").files or []
    except importlib.metadata.PackageNotFoundError:
        files = []
    for file in files:
        if file.name == "tkr-rs":
            path = Path(str(file.locate())).resolve()
            if path.is_file():
                return path
    beside_package = Path(__file__).resolve().parent.parent / "bin" / "tkr-rs"
    if beside_package.is_file():
        return beside_package
    return None


def find_cli() -> str:
    """The `tkr-rs` binary this package installed (next to this Python's scripts)."""
    recorded = installed_script()
    if recorded is not None:
        return str(recorded)
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
