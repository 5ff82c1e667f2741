"""tierkreis-rs warm loader: serves many calls of one Python tierkreis worker.

Shipped inside `tkr` and run under the worker's own interpreter (or uv
environment) as `python LOADER SCRIPT`, where SCRIPT is the worker's main.py
or console script. It imports SCRIPT once under a name other than __main__
(so its `if __name__ == "__main__":` block does not run), finds the
`tierkreis.worker.Worker` object, answers one JSON line, then serves one call
per JSON line on stdin with `Worker.run(call_args_path)`, exactly as the
worker's own command line would, with fds 1 and 2 sent to that node's log.
The protocol is documented in tierkreis-storage's `warm` module.
"""

import json
import os
import sys

PROTOCOL_PIPE_IN = os.dup(0)
PROTOCOL_PIPE_OUT = os.dup(1)


def _die_with_parent():
    """No orphan: SIGKILL this process when the controller dies."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, 9, 0, 0, 0)
    except Exception:  # noqa: BLE001 - best effort; stdin EOF also ends us
        pass


def _reply(out, **fields):
    out.write(json.dumps(fields) + "\n")
    out.flush()


def _is_worker(obj):
    cls = type(obj)
    return any(c.__name__ == "Worker" for c in getattr(cls, "__mro__", ())) and hasattr(
        obj, "functions"
    )


def _find_workers(module):
    found = {}
    for name, value in vars(module).items():
        if _is_worker(value):
            found[id(value)] = (name, value)
    if not found:
        # A console script: `from pkg.main import main`; look where its
        # functions come from.
        for value in list(vars(module).values()):
            origin = getattr(value, "__module__", None)
            if callable(value) and origin and origin != module.__name__:
                source = sys.modules.get(origin)
                if source is None:
                    continue
                for name, obj in vars(source).items():
                    if _is_worker(obj):
                        found[id(obj)] = (f"{origin}.{name}", obj)
    return list(found.values())


def _tierkreis_version():
    try:
        from importlib.metadata import version

        return version("tierkreis")
    except Exception:  # noqa: BLE001
        return "unknown"


def _load(script):
    import importlib.machinery
    import importlib.util

    path = os.path.abspath(script)
    here = os.path.dirname(os.path.abspath(__file__))
    if sys.path and os.path.abspath(sys.path[0] or ".") == here:
        sys.path.pop(0)
    sys.path.insert(0, os.path.dirname(path))
    sys.argv = [path]
    name = "__tkr_warm_worker__"
    loader = importlib.machinery.SourceFileLoader(name, path)
    spec = importlib.util.spec_from_loader(name, loader)
    module = importlib.util.module_from_spec(spec)
    module.__file__ = path
    sys.modules[name] = module
    loader.exec_module(module)
    return module


def _ends_with_newline(path):
    try:
        with open(path, "rb") as fh:
            fh.seek(-1, os.SEEK_END)
            return fh.read(1) == b"\n"
    except OSError:  # empty or missing: nothing to end
        return True


def _keep_the_log(worker):
    """The reference's write_error truncates the error file, which is the
    node's log: tkr's `running warm` header and the task's output would be
    lost. Append the error text instead, on lines of its own."""
    storage = getattr(worker, "storage", None)
    write_error = getattr(storage, "write_error", None)
    resolve = getattr(storage, "resolve", None)
    if not callable(write_error) or not callable(resolve):
        return

    def append_error(path, error_logs):
        try:
            target = resolve(path)
        except Exception:  # noqa: BLE001 - as the worker would have written it
            return write_error(path, error_logs)
        text = str(error_logs)
        if not _ends_with_newline(target):
            text = "\n" + text
        if not text.endswith("\n"):
            text += "\n"
        sys.stdout.flush()
        sys.stderr.flush()
        with open(target, "a") as fh:
            fh.write(text)

    try:
        storage.write_error = append_error
    except Exception:  # noqa: BLE001 - a storage that refuses: keep its own
        pass


def _reported_by_the_worker(err):
    """Whether `err` is the reference Worker's wrapper around a task's
    exception, which the worker has logged with its traceback already."""
    return type(err).__name__ == "TierkreisWorkerError" and err.__cause__ is not None


def _refusal(script):
    """Loads the worker; returns (worker, None) or (None, reason)."""
    import traceback

    try:
        module = _load(script)
    except BaseException as err:  # noqa: BLE001 - any failure means "not warm"
        traceback.print_exc()
        return None, f"importing {script} raised {type(err).__name__}: {err}"
    found = _find_workers(module)
    if not found:
        return None, f"no tierkreis Worker object found in {script}"
    if len(found) > 1:
        names = ", ".join(sorted(n for n, _ in found))
        return None, f"several Worker objects in {script} ({names}); cannot tell which serves calls"
    name, worker = found[0]
    run = getattr(worker, "run", None)
    if not callable(run):
        return None, (
            f"the Worker object `{name}` in {script} has no run(call_args_path) method "
            f"(an older or different tierkreis API; tierkreis {_tierkreis_version()})"
        )
    try:
        import inspect

        inspect.signature(run).bind("call_args")
    except TypeError as err:
        return None, (
            f"`{name}.run` in {script} does not take one call-args path ({err}; "
            f"an older or different tierkreis API; tierkreis {_tierkreis_version()})"
        )
    except ValueError:
        pass
    return worker, None


def _exit_status(err):
    """The status a one-shot `python main.py` ends with when `err` escapes it."""
    if isinstance(err, SystemExit):
        if err.code is None:
            return 0
        if isinstance(err.code, int):
            return err.code & 0xFF
    return 1


def main():
    _die_with_parent()
    commands = os.fdopen(PROTOCOL_PIPE_IN, "r", encoding="utf-8")
    replies = os.fdopen(PROTOCOL_PIPE_OUT, "w", encoding="utf-8")
    # Stray output between calls goes to stderr; nothing reads our stdin.
    saved_err = os.dup(2)
    os.dup2(2, 1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    import faulthandler

    faulthandler.enable()
    worker, reason = _refusal(sys.argv[1])
    if worker is None:
        _reply(replies, reply="refused", reason=reason)
        return
    import logging
    import traceback
    from pathlib import Path

    try:
        from tierkreis.logger_setup import add_handler_from_environment

        add_handler_from_environment(logging.getLogger())
    except Exception:  # noqa: BLE001 - logging set-up is a nicety
        pass
    _keep_the_log(worker)
    _reply(replies, reply="ready", pid=os.getpid(), worker=str(getattr(worker, "name", "")))
    for line in commands:
        call = json.loads(line)
        log = os.open(call["log"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(log)
        answer = {"reply": "finished"}
        try:
            worker.run(Path(call["call_args"]))
        except BaseException as err:  # noqa: BLE001 - as the one-shot process would end
            if _reported_by_the_worker(err):
                # Its traceback is in the log already: once is enough.
                print("".join(traceback.format_exception_only(type(err), err)), end="", file=sys.stderr)
            else:
                traceback.print_exc()
            answer = {
                "reply": "raised",
                "message": f"{type(err).__name__}: {err}",
                "exit_status": _exit_status(err),
            }
        finally:
            try:
                sys.stdout.flush()
                sys.stderr.flush()
            finally:
                os.dup2(saved_err, 1)
                os.dup2(saved_err, 2)
        _reply(replies, **answer)


if __name__ == "__main__":
    main()
