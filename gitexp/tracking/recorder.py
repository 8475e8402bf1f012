"""The run-side tracking library: what training code calls through ``import gitexp``.

It must stay light (stdlib only at import time) and fast: ``log_metric`` only
appends a tuple to a list; a flush formats the buffer into one append-only
file that the runner tails and records. Outside ``gitexp run`` every call is a
no-op after a single notice, so the same script still runs on its own.

The format it appends, the contract with the runner, is documented in
``gitexp/tracking/wire.py``.
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gitexp.tracking.wire import (
    ARTIFACTS_FILE,
    LIVE_DIR,
    METRICS_FILE,
    PARAMS_FILE,
    PARAMS_READ_FILE,
)

FLUSH_EVERY = 50_000  # entries; bounds memory and keeps flushes large
FLUSH_INTERVAL_S = 1.0  # a killed run loses at most this much
# model registry requests, one JSON object a line, read once the run is recorded
# (gitexp/registry/runrequests.py): {"action": "register" | "alias" | "unalias", ...}
MODELS_FILE = "models.jsonl"


@dataclass(frozen=True)
class RunInfo:
    """What a running script can know about its experiment."""

    name: str
    seed: int | None
    run_dir: str


class _Recorder:
    """Buffers metric tuples and appends them to the live file in batches."""

    def __init__(self, live_dir: str) -> None:
        os.makedirs(live_dir, exist_ok=True)
        self.live_dir = live_dir
        self.buf: list[tuple[str, float, int | float | None]] = []
        self.names: set[str] = set()
        self.lock = threading.Lock()
        self.last_flush = time.time()
        self.flush_at = FLUSH_EVERY
        self.warned: set[str] = set()
        self.stopped = threading.Event()
        _start_without_signals(threading.Thread(target=self._flush_periodically, daemon=True))

    def flush(self, final: bool = False) -> None:
        """Append the buffer as whole lines; on a write error keep it and say so once.

        A failed append is cut back to the file's previous end, so the runner
        never reads half a line; the values stay buffered for the next try.
        """
        with self.lock:
            n = len(self.buf)
            if n == 0:
                return
            now = f"{time.time():.3f}"
            text = "".join(
                f"{name}\t{'' if step is None else step}\t{value!r}\t{now}\n"
                for name, value, step in self.buf[:n]
            )
            if not self._append(METRICS_FILE, text, lost=n if final else None):
                self.flush_at = len(self.buf) + FLUSH_EVERY  # retry later, not every call
                return
            del self.buf[:n]  # appends made meanwhile stay in the buffer
            self.flush_at = FLUSH_EVERY
            self.last_flush = time.time()

    def _append(self, filename: str, text: str, lost: int | None = None) -> bool:
        """Append ``text`` whole or not at all; False (and one notice) on an OS error.

        ``lost``: this was the last try, and that many values are lost with it.
        """
        path = os.path.join(self.live_dir, filename)
        try:
            with open(path, "ab") as f:
                end = f.tell()
                try:
                    f.write(text.encode("utf-8"))
                    f.flush()
                except OSError:
                    f.truncate(end)
                    raise
        except OSError as exc:
            reason = f"cannot write {path} ({exc.strerror or exc})"
            if lost is not None:
                self._warn(f"{reason}; {lost} metric values were not recorded")
            else:
                self._warn(f"{reason}; values kept in memory, retrying")
            return False
        return True

    def _warn(self, message: str) -> None:
        if message not in self.warned:
            self.warned.add(message)
            try:
                print(f"gitexp: warning: {message}", file=sys.stderr)
            except (OSError, ValueError):
                pass

    def append_json(self, filename: str, record: Mapping[str, Any]) -> None:
        with self.lock:
            self._append(filename, json.dumps(record, default=str) + "\n")

    def _flush_periodically(self) -> None:
        while not self.stopped.wait(FLUSH_INTERVAL_S):
            self.flush()


def _start_without_signals(thread: threading.Thread) -> None:
    """Start ``thread`` with Ctrl-C and SIGTERM blocked in it, so they always reach
    the main thread, where Python runs handlers (a signal taken by another thread
    would wait for the main thread to leave a long `time.sleep`)."""
    stops = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT}
    try:
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, stops)
    except (AttributeError, OSError, ValueError):  # no pthread_sigmask here
        thread.start()
        return
    try:
        thread.start()  # the new thread inherits the blocked set
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _check_metric_name(name: str) -> None:
    if not isinstance(name, str) or not name or any(c in name for c in "\t\n\r"):
        raise ValueError(f"invalid metric name {name!r}: use a non-empty string without tabs")


_recorder: _Recorder | None = None
_noticed = False


def _active() -> _Recorder | None:
    """The recorder of this process, created on first use inside a run."""
    global _recorder, _noticed
    if _recorder is not None:
        return _recorder
    run_dir = os.environ.get("GITEXP_RUN_DIR")
    if not run_dir:
        if not _noticed:
            _noticed = True
            print("gitexp: not inside `gitexp run`; tracking calls do nothing", file=sys.stderr)
        return None
    _recorder = _Recorder(os.path.join(run_dir, LIVE_DIR))
    atexit.register(_shutdown)
    _flush_on_sigterm()
    return _recorder


def _shutdown() -> None:
    """At exit: a last flush; never a traceback (a full disk is one line, from flush)."""
    if _recorder is None:
        return
    _recorder.stopped.set()
    try:
        _recorder.flush(final=True)
    except Exception as exc:  # nothing may escape an atexit callback
        _recorder._warn(f"metrics not written at exit: {exc}")


def detach() -> None:
    """End this process's recorder after a last flush: the next call finds its run
    afresh (an in-process run, gitexp/inprocess/, ended and another may start)."""
    global _recorder
    _shutdown()
    _recorder = None


def _flush_on_sigterm() -> None:
    """SIGTERM skips atexit; flush first, then die of the signal as before."""
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return

    ending: list[int] = []

    def handler(signum: int, frame: object) -> None:
        # once only: a second SIGTERM (a parent-death signal, then a process group's)
        # runs this handler again inside the first one's flush, which holds the lock
        if not ending:
            ending.append(signum)
            rec = _recorder
            # the main thread may have been stopped inside a flush (the lock is not
            # reentrant): wait a little for it, never forever, then die as asked
            if rec is not None and rec.lock.acquire(timeout=2):
                rec.lock.release()
                _shutdown()
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)

    signal.signal(signal.SIGTERM, handler)


def log_metric(name: str, value: float, step: int | float | None = None) -> None:
    """Record one value of a metric; ``step`` orders a series (auto-increments if None).

    A step may be any real number and is stored as given (an int stays an
    int); a value or step that is not a number raises here, in the script,
    never later in the recorder. Hot path (aim: >500k calls/s): a set lookup,
    two type checks and an append; timestamps are taken per flush.
    """
    rec = _recorder or _active()
    if rec is None:
        return
    if name not in rec.names:
        _check_metric_name(name)
        rec.names.add(name)
    if type(value) is not float and type(value) is not int:
        value = _number(value, f"log_metric({name!r}) value")
    if step is not None and type(step) is not int:
        step = _step(step, name)
    buf = rec.buf
    buf.append((name, value, step))
    if len(buf) >= rec.flush_at:
        rec.flush()


def _number(value: Any, what: str, strict: bool = False) -> float:
    """``float(value)``, or a TypeError naming the call; ``strict`` refuses bools and text."""
    if strict and isinstance(value, bool | str | bytes):
        raise TypeError(f"{what} must be a number, got {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{what} must be a number, got {value!r}") from None


def _step(step: Any, name: str) -> int | float:
    """An integral step stays an int (numpy ints too); other real numbers stay floats."""
    if hasattr(step, "__index__") and not isinstance(step, bool):
        return int(step.__index__())
    number = _number(step, f"log_metric({name!r}) step", strict=True)
    if number != number or number in (float("inf"), float("-inf")):
        raise ValueError(f"log_metric({name!r}) step must be finite, got {step!r}")
    return number


def log_metrics(metrics: Mapping[str, float], step: int | float | None = None) -> None:
    """Record several metrics at the same step; nested dicts become dotted names."""
    for name, value in _flatten(metrics).items():
        log_metric(name, value, step)


def log_param(name: str, value: Any) -> None:
    """Record a param decided at run time (it joins ``params`` in run.json)."""
    log_params({name: value})


def log_params(params: Mapping[str, Any]) -> None:
    rec = _recorder or _active()
    if rec is not None:
        rec.append_json(PARAMS_FILE, dict(params))


def log_artifact(path: str, name: str | None = None) -> None:
    """Mark a file or folder of the run as an artifact (stored through DVC when large)."""
    rec = _recorder or _active()
    if rec is not None:
        rec.append_json(ARTIFACTS_FILE, {"path": os.fspath(path), "name": name})


def request_model_action(action: str, **fields: Any) -> None:
    """Ask for a model registry action (``register``, ``alias``, ``unalias``) that
    needs the experiment's commit: done after the run is recorded, if it succeeded."""
    rec = _recorder or _active()
    if rec is not None:
        rec.append_json(MODELS_FILE, {"action": action, **fields})


def mark_params_read() -> None:
    """Leave ``params.read`` in the live dir (once): the script read its params, so
    `-p` values passed through without a params file reached it (wire.py)."""
    global _params_read
    run_dir = os.environ.get("GITEXP_RUN_DIR")
    if _params_read == run_dir or not run_dir:
        return
    _params_read = run_dir
    try:
        os.makedirs(os.path.join(run_dir, LIVE_DIR), exist_ok=True)
        open(os.path.join(run_dir, LIVE_DIR, PARAMS_READ_FILE), "a").close()
    except OSError:
        pass  # only a warning depends on it


_params_read: str | None = None


def params() -> dict[str, Any]:
    """The merged params of this run; outside a run, ``params.yaml`` of the cwd."""
    path = os.environ.get("GITEXP_PARAMS_FILE")
    if path and os.path.exists(path):
        mark_params_read()
        with open(path, encoding="utf-8") as f:
            loaded: dict[str, Any] = json.load(f)
            return loaded
    _active()  # the one notice
    if os.path.exists("params.yaml"):
        import yaml  # only outside a run, only when asked

        with open("params.yaml", encoding="utf-8") as f:
            return dict(yaml.safe_load(f) or {})
    return {}


def current_run() -> RunInfo | None:
    """The experiment this process runs in, or None outside ``gitexp run``."""
    run_dir = os.environ.get("GITEXP_RUN_DIR")
    if not run_dir:
        return None
    seed = os.environ.get("GITEXP_SEED")
    return RunInfo(os.environ.get("GITEXP_RUN_NAME", ""), int(seed) if seed else None, run_dir)


def _flatten(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out
