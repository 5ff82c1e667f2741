#!/usr/bin/env bash
# A worker whose every task fails: it prints a message and exits 1.
echo "failer: cannot divide by zero" >&2
exit 1
