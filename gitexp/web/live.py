"""Live updates: the repository watched by the server, told to browsers as events.

Runs happen in other processes (`gitexp run`, a sweep, a queue runner), each
publishing on its own in-process event bus, which the server cannot hear. So
the server watches the repository itself, while at least one browser listens:

- the experiment refs, through the table the pages share (``ExperimentTable``):
  a ref that appears `running` publishes ``run_reserved``, one that moves to
  a finished commit ``run_recorded``, on the server's own ``EventBus``
  (gitexp/events/bus.py; payload keys as documented there). Any change to
  the list (a heartbeat, a removal, a pull) also goes out as ``experiments``
  with the changed and removed names, which the table page refetches on;
- for every experiment running on this machine, the live metrics file its
  script appends (found by gitexp/exploring/live.py): new points go into a
  buffer per experiment for the charts, and the latest point of each metric
  is published as ``metric_logged``.

``Hub`` is a listener of that bus: it hands each event to every connected
browser's queue, from the watcher's thread into the server's event loop. A
poll costs one read of the refs (about 80 ms at 10,000 experiments), so its
interval grows with that cost, and nothing is polled while nobody listens.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitexp.events.bus import EventBus
from gitexp.exploring.listing import ExperimentTable
from gitexp.exploring.live import LiveSeries, Point, live_metrics_file
from gitexp.exploring.series import thin
from gitexp.exploring.summaries import ExperimentSummary
from gitexp.gitstore.repo import Repo, open_repo

log = logging.getLogger(__name__)
POLL_S = 0.5
LOOK_AGAIN_S = 2.0  # a running experiment whose live file is not found yet
MAX_BUFFER = 20_000  # points per metric kept for a chart; past it, thinned to half
MANY = 200  # changed names sent one by one; more: "many"
REF = "refs/experiments/"


@dataclass(frozen=True)
class Cursor:
    """How much of a buffer a browser has: its epoch and points per metric."""

    epoch: int
    counts: dict[str, int]


@dataclass
class Buffer:
    """A running experiment's live points by metric; thinning starts a new epoch."""

    series: LiveSeries | None = None
    points: dict[str, list[Point]] = field(default_factory=dict)
    epoch: int = 0
    looked_at: float = float("-inf")

    def add(self, new: dict[str, list[Point]]) -> None:
        for metric, points in new.items():
            found = self.points.setdefault(metric, [])
            found.extend(points)
            if len(found) > MAX_BUFFER:
                self.points[metric] = thin(found, MAX_BUFFER // 2)
                self.epoch += 1

    def since(self, cursor: Cursor | None) -> tuple[Cursor, bool, dict[str, list[Point]]]:
        """(new cursor, start over?, the points the cursor has not seen)."""
        reset = cursor is None or cursor.epoch != self.epoch
        seen = {} if reset or cursor is None else cursor.counts
        out = {m: p[seen.get(m, 0) :] for m, p in self.points.items() if len(p) > seen.get(m, 0)}
        return Cursor(self.epoch, {m: len(p) for m, p in self.points.items()}), reset, out


class Watcher:
    """Polls the repository in a thread while someone listens (see the module doc)."""

    def __init__(self, root: Path, table: ExperimentTable, bus: EventBus, poll_s: float) -> None:
        self.root, self.table, self.bus, self.poll_s = root, table, bus, poll_s
        self.listeners = 0
        self._known: dict[str, tuple[str, str]] | None = None
        self._buffers: dict[str, Buffer] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="gitexp-ui-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def listen(self, delta: int) -> None:
        with self._lock:
            self.listeners += delta
        self._wake.set()

    def status(self, name: str) -> str | None:
        """The experiment's status as last polled; "" before the first poll."""
        with self._lock:
            if self._known is None:
                return ""
            found = self._known.get(name)
        return found[1] if found else None

    def points_since(
        self, name: str, cursor: Cursor | None
    ) -> tuple[Cursor | None, bool, dict[str, list[Point]]]:
        with self._lock:
            buffer = self._buffers.get(name)
            if buffer is None:
                return cursor, False, {}
            return buffer.since(cursor)

    def _run(self) -> None:
        repo = open_repo(self.root)  # this thread's own handle
        self._prime(repo)
        while not self._stop.is_set():
            if self.listeners <= 0:
                self._wake.wait(1.0)
                self._wake.clear()
                continue
            started = time.monotonic()
            try:
                self.poll(repo)
            except Exception:  # a bad moment (a ref being written): try again next poll
                log.warning("gitexp ui: polling the repository failed", exc_info=True)
            self._stop.wait(max(self.poll_s, 4 * (time.monotonic() - started)))

    def _prime(self, repo: Repo) -> None:
        """Read the table once at start, so the first page does not wait for it."""
        try:
            self.table.summaries(repo)
        except Exception:  # the first request will say what is wrong
            log.debug("gitexp ui: could not read the experiments at start", exc_info=True)

    def poll(self, repo: Repo) -> None:
        """One look at the refs and the live files; events for what changed."""
        summaries = self.table.summaries(repo)
        now = {s.name: (s.commit, s.status) for s in summaries}
        with self._lock:
            before, self._known = self._known, now
        if before is not None:
            self._announce(before, now)
        self._follow(repo, {s.name: s for s in summaries if s.status == "running"})

    def _announce(
        self, before: dict[str, tuple[str, str]], now: dict[str, tuple[str, str]]
    ) -> None:
        changed = [n for n, found in now.items() if before.get(n) != found]
        removed = [n for n in before if n not in now]
        for name in changed:
            commit, status = now[name]
            was = before.get(name, ("", ""))[1]
            if status == "running" and was != "running":
                self._publish("run_reserved", name, commit=commit, status=status)
            elif status != "running" and (was != status or before[name][0] != commit):
                self._publish("run_recorded", name, commit=commit, status=status)
        if changed or removed:
            many = len(changed) + len(removed) > MANY
            self.bus.publish(
                "experiments",
                {
                    "changed": [] if many else [{"name": n, "status": now[n][1]} for n in changed],
                    "removed": [] if many else removed,
                    "many": many,
                },
            )

    def _publish(self, event: str, name: str, **payload: Any) -> None:
        self.bus.publish(event, {"name": name, "ref": REF + name, **payload})

    def _follow(self, repo: Repo, running: dict[str, ExperimentSummary]) -> None:
        with self._lock:
            for name in [n for n in self._buffers if n not in running]:
                del self._buffers[name]
            buffers = {n: self._buffers.setdefault(n, Buffer()) for n in running}
        for name, buffer in buffers.items():
            new = self._read(repo, running[name], buffer)
            if not new:
                continue
            with self._lock:
                buffer.add(new)
            for metric, points in new.items():
                step, value, when = points[-1]
                self._publish(
                    "metric_logged", name, metric=metric, step=step, value=value, time=when
                )

    def _read(
        self, repo: Repo, summary: ExperimentSummary, buffer: Buffer
    ) -> dict[str, list[Point]]:
        now = time.monotonic()
        if buffer.series is None and now - buffer.looked_at >= LOOK_AGAIN_S:
            buffer.looked_at = now
            try:
                path = live_metrics_file(repo, summary.commit)
            except (KeyError, ValueError):  # its commit is gone (a gc, a forced fetch)
                path = None
            buffer.series = LiveSeries(path) if path is not None else None
        return buffer.series.poll() if buffer.series is not None else {}


class Client:
    """One browser's stream: a bounded queue in the server's event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.queue: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue(maxsize=1000)
        self.overflow = False

    def offer(self, item: tuple[str, dict[str, Any]]) -> None:
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:  # a slow browser: it refetches everything instead
            self.overflow = True

    async def next(self, timeout: float) -> tuple[str, dict[str, Any]] | None:
        """The next event, or None after ``timeout`` seconds of quiet."""
        if self.overflow:
            self.overflow = False
            return ("experiments", {"changed": [], "removed": [], "many": True})
        try:
            return await asyncio.wait_for(self.queue.get(), timeout)
        except asyncio.TimeoutError:
            return None


class Hub:
    """Fans the bus's events out to connected browsers; counts them for the watcher."""

    def __init__(self, watcher: Watcher) -> None:
        self.watcher = watcher
        self._clients: set[Client] = set()
        self._lock = threading.Lock()
        watcher.bus.subscribe(self.publish, label="gitexp ui")

    def connect(self) -> Client:
        client = Client(asyncio.get_running_loop())
        with self._lock:
            self._clients.add(client)
        self.watcher.listen(+1)
        return client

    def disconnect(self, client: Client) -> None:
        with self._lock:
            self._clients.discard(client)
        self.watcher.listen(-1)

    def publish(self, event: str, payload: dict[str, Any]) -> None:
        with self._lock:
            clients = list(self._clients)
        for client in clients:
            try:
                client.loop.call_soon_threadsafe(client.offer, (event, payload))
            except RuntimeError:  # its loop has closed: the server is stopping
                continue
