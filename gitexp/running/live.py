"""Live metrics: what the script logs, seen while it runs.

The library appends to ``.gitexp/live/metrics.tsv`` (the contract is in
gitexp/tracking/wire.py). While the command runs, ``LiveMetrics`` follows
those bytes — from a thread tailing the local file, or fed by an executor
that runs elsewhere and streams them back — keeps the latest point of each
metric, and hands points to ``on_point`` at most once per metric per
``throttle_s`` (the last point of every metric always goes out at
``stop``). A sweep prunes on them, a progress line shows them, the web UI
plots them; recording still reads the whole file after the run.

Following parses whole blocks column-wise (gitexp/running/liveparse.py),
and reads at most ``READ_BYTES`` at a time, so a script logging millions of
points costs little; still, the runner starts it only when someone listens.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from gitexp.running.liveparse import BLOCK_BYTES, Columns, last_step, parse_block
from gitexp.tracking.wire import Step

Point = tuple[Step, float, float]  # step, value, time
OnPoint = Callable[[str, Step, float, float], None]
POLL_S = 0.2
READ_BYTES = BLOCK_BYTES


class LiveMetrics:
    """Latest value per metric, from appended bytes; throttled callbacks."""

    def __init__(self, on_point: OnPoint, throttle_s: float = 0.5) -> None:
        self.on_point = on_point
        self.throttle_s = throttle_s
        self.latest: dict[str, Point] = {}
        self._partial = b""
        self._steps: dict[str, Step] = {}
        self._sent_at: dict[str, float] = {}
        self._pending: dict[str, Point] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def feed(self, data: bytes) -> None:
        """Bytes appended to the live metrics file (whole lines or not)."""
        with self._lock:
            buf = self._partial + data
            cut = buf.rfind(b"\n") + 1
            self._partial = buf[cut:]
            if cut:
                for cols in parse_block(buf[:cut]):
                    self._last_of(cols)
            due = self._due(time.monotonic())
        self._send(due)

    def _last_of(self, cols: Columns) -> None:
        """The block's last point of a metric; a missing step continues the series,
        as the recorder reads it."""
        step = last_step(cols.steps, self._steps.get(cols.name))
        self._steps[cols.name] = step
        point = (step, cols.values[-1], cols.times[-1])
        self.latest[cols.name] = point
        self._pending[cols.name] = point

    def _due(self, now: float, everything: bool = False) -> list[tuple[str, Point]]:
        due = [
            (name, point)
            for name, point in self._pending.items()
            if everything or now - self._sent_at.get(name, float("-inf")) >= self.throttle_s
        ]
        for name, _ in due:
            del self._pending[name]
            self._sent_at[name] = now
        return due

    def _send(self, due: list[tuple[str, Point]]) -> None:
        for name, (step, value, t) in due:
            self.on_point(name, step, value, t)

    def follow(self, path: Path) -> LiveMetrics:
        """Tail a local file (created later by the library) in a thread until ``stop``."""
        self._thread = threading.Thread(
            target=self._tail, args=(path,), name="gitexp-live", daemon=True
        )
        self._thread.start()
        return self

    def _tail(self, path: Path) -> None:
        offset = 0
        while True:
            stopping = self._stop.is_set()
            offset = self._read_from(path, offset)
            if stopping:
                return
            with self._lock:
                due = self._due(time.monotonic())
            self._send(due)
            self._stop.wait(POLL_S)

    def _read_from(self, path: Path, offset: int) -> int:
        """Feed what was appended since ``offset``, a bounded read at a time."""
        try:
            with path.open("rb") as f:
                f.seek(offset)
                while data := f.read(READ_BYTES):
                    self.feed(data)
                    offset += len(data)
        except OSError:  # not written yet
            pass
        return offset

    def stop(self) -> None:
        """Read what is left, then hand out the last point of every metric."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        with self._lock:
            due = self._due(time.monotonic(), everything=True)
        self._send(due)
