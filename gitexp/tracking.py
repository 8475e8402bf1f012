"""The run-side tracking library: what training code calls through ``import gitexp``.

It must stay light (stdlib only at import time) and fast: ``log_metric`` only
appends a tuple to a list; a flush formats the buffer into one append-only
file that the runner tails and records. Outside ``gitexp run`` every call is a
no-op after a single notice, so the same script still runs on its own.

Wire format (``$GITEXP_RUN_DIR/.gitexp/live/``), read by ``gitexp.metrics``:
``metrics.tsv`` lines ``name<TAB>step<TAB>value<TAB>unix_time`` (step empty
when not given) and ``params.jsonl`` / ``artifacts.jsonl`` JSON lines.
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

LIVE_DIR = os.path.join(".gitexp", "live")
METRICS_FILE = "metrics.tsv"
PARAMS_FILE = "params.jsonl"
ARTIFACTS_FILE = "artifacts.jsonl"
FLUSH_EVERY = 50_000  # entries; bounds memory and keeps flushes large
FLUSH_INTERVAL_S = 1.0  # a killed run loses at most this much


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
        self.buf: list[tuple[str, float, int | None]] = []
        self.names: set[str] = set()
        self.lock = threading.Lock()
        self.last_flush = time.time()
        self.stopped = threading.Event()
        threading.Thread(target=self._flush_periodically, daemon=True).start()

    def flush(self) -> None:
        with self.lock:
            n = len(self.buf)
            if n == 0:
                return
            now = f"{time.time():.3f}"
            lines = [
                f"{name}\t{'' if step is None else step}\t{value!r}\t{now}\n"
                for name, value, step in self.buf[:n]
            ]
            with open(os.path.join(self.live_dir, METRICS_FILE), "a", encoding="utf-8") as f:
                f.write("".join(lines))
            del self.buf[:n]  # appends made meanwhile stay in the buffer
            self.last_flush = time.time()

    def append_json(self, filename: str, record: Mapping[str, Any]) -> None:
        with self.lock, open(os.path.join(self.live_dir, filename), "a", encoding="utf-8") as f:
            f.write(json.dumps(record, default=str) + "\n")

    def _flush_periodically(self) -> None:
        while not self.stopped.wait(FLUSH_INTERVAL_S):
            self.flush()


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
    if _recorder is not None:
        _recorder.stopped.set()
        _recorder.flush()


def _flush_on_sigterm() -> None:
    """SIGTERM skips atexit; flush first, then die of the signal as before."""
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return

    def handler(signum: int, frame: object) -> None:
        _shutdown()
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)

    signal.signal(signal.SIGTERM, handler)


def log_metric(name: str, value: float, step: int | None = None) -> None:
    """Record one value of a metric; ``step`` orders a series (auto-increments if None).

    Hot path (aim: >500k calls/s): a set lookup, a type check and an append.
    Timestamps are taken per flush, at most FLUSH_INTERVAL_S apart.
    """
    rec = _recorder or _active()
    if rec is None:
        return
    if name not in rec.names:
        _check_metric_name(name)
        rec.names.add(name)
    if type(value) is not float and type(value) is not int:
        value = float(value)
    buf = rec.buf
    buf.append((name, value, step))
    if len(buf) >= FLUSH_EVERY:
        rec.flush()


def log_metrics(metrics: Mapping[str, float], step: int | None = None) -> None:
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


def params() -> dict[str, Any]:
    """The merged params of this run; outside a run, ``params.yaml`` of the cwd."""
    path = os.environ.get("GITEXP_PARAMS_FILE")
    if path and os.path.exists(path):
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
