"""Two tkr builds on one graph, side by side: rounds alternate which build
goes first; each run is timed from fork to reap, with its CPU time (user +
sys, from wait4). Prints the medians.

    python3 side_by_side.py OLD_TKR NEW_TKR GRAPH.json ROUNDS [memory|file DIR]
"""
import os
import shutil
import statistics
import sys
import time


def run_once(tkr, graph, storage, work_dir):
    args = [tkr, "run", "-f", graph, "-o", "--json", "-q"]
    if storage == "memory":
        args += ["--storage", "memory"]
    else:
        shutil.rmtree(work_dir, ignore_errors=True)
        os.makedirs(work_dir)
        args += ["--checkpoints", work_dir]
    started = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        null = os.open("/dev/null", os.O_WRONLY)
        os.dup2(null, 1)
        os.dup2(null, 2)
        os.execv(tkr, args)
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - started
    if status != 0:
        sys.exit(f"{tkr} failed on {graph} (status {status})")
    return wall, usage.ru_utime + usage.ru_stime


def main():
    old, new, graph, rounds = sys.argv[1:5]
    storage = sys.argv[5] if len(sys.argv) > 5 else "memory"
    work_dir = sys.argv[6] if len(sys.argv) > 6 else "/dev/shm/side-by-side"
    builds = {"old": old, "new": new}
    wall = {"old": [], "new": []}
    cpu = {"old": [], "new": []}
    for r in range(int(rounds)):
        for name in ["old", "new"] if r % 2 == 0 else ["new", "old"]:
            w, c = run_once(builds[name], graph, storage, f"{work_dir}-{name}")
            wall[name].append(w)
            cpu[name].append(c)
    for name in ("old", "new"):
        print(f"{name}: wall median {statistics.median(wall[name]):.4f} s, "
              f"CPU median {statistics.median(cpu[name]):.4f} s ({len(wall[name])} runs)")
    print(f"new / old: wall {statistics.median(wall['new']) / statistics.median(wall['old']):.3f}, "
          f"CPU {statistics.median(cpu['new']) / statistics.median(cpu['old']):.3f}")


if __name__ == "__main__":
    main()
