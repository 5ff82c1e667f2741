#!/usr/bin/env bash
# Runs this folder's reference-style Python worker with the Python on PATH.
exec python3 "$(dirname "$0")/main.py" "$@"
