"""A sweep's progress on a terminal (rich): done / running / pruned / failed, the
best value so far, elapsed and estimated time, and one line per finished trial.

It listens to the sweep's events on the bus (``sweep_started``,
``run_started``, ``trial_finished``, ``sweep_new_best``, ``sweep_finished``),
so the driver knows nothing of it. The CLI attaches it only when stderr is a
terminal: piped or in CI, a sweep prints its summary line and nothing else.
"""

from __future__ import annotations

import threading
from typing import Any

from gitexp.common.numbers import number

EVENTS = ("sweep_started", "run_started", "trial_finished", "sweep_new_best", "sweep_finished")


class SweepProgress:
    """A rich progress bar fed by bus events (thread-safe: events come from trials)."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.console = Console(stderr=True)
        self.bar = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[counts]}"),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            console=self.console,
        )
        self.task: Any = None
        self.prefix = ""
        self.counts = {"running": 0, "pruned": 0, "failed": 0, "interrupted": 0}
        self.best = ""
        self._lock = threading.Lock()

    def __call__(self, event: str, payload: dict[str, Any]) -> None:
        with self._lock:
            handler = getattr(self, "_" + event, None)
            if handler is not None:
                handler(payload)

    def note(self, text: str) -> None:
        self.console.print(f"gitexp: {text}", highlight=False)

    def _sweep_started(self, p: dict[str, Any]) -> None:
        self.prefix = p["sweep"] + "/"
        before = p.get("best") or {}  # a resumed sweep's best so far
        if before.get("values") is not None or before.get("front"):
            self._show_best(p["objectives"], before.get("values") or [], before.get("front") or [])
        self.bar.start()
        self.task = self.bar.add_task(p["sweep"], total=p.get("trials"), counts=self._text())

    def _run_started(self, p: dict[str, Any]) -> None:
        if self.task is not None and str(p.get("name", "")).startswith(self.prefix):
            self.counts["running"] += 1
            self.bar.update(self.task, counts=self._text())

    def _trial_finished(self, p: dict[str, Any]) -> None:
        status = p["status"]
        self.counts["running"] = max(0, self.counts["running"] - 1)
        if status in self.counts:
            self.counts[status] += 1
        if status != "interrupted":
            self.bar.advance(self.task)
        self.bar.update(self.task, counts=self._text())
        self.console.print(_trial_line(p), highlight=False)

    def _sweep_new_best(self, p: dict[str, Any]) -> None:
        self._show_best(p["objectives"], p["values"], p["front"])
        self.bar.update(self.task, counts=self._text())

    def _show_best(self, objectives: list[str], values: list[float], front: list[str]) -> None:
        shown = " ".join(
            f"{o.split(':')[0]}={number(v, 4)}" for o, v in zip(objectives, values, strict=False)
        )
        self.best = f"best {shown}" if not front else f"front {len(front)}"

    def _sweep_finished(self, p: dict[str, Any]) -> None:
        self.bar.stop()

    def _text(self) -> str:
        shown = " ".join(f"{k} {v}" for k, v in self.counts.items() if v or k == "running")
        return f"{shown}  {self.best}".rstrip()


def _trial_line(p: dict[str, Any]) -> str:
    values = " ".join(number(v, 4) for v in p.get("values") or [])
    params = " ".join(f"{k}={_short(v)}" for k, v in (p.get("params") or {}).items())
    detail = values or p.get("reason") or ""
    return f"  {p['name']} {p['status']} {detail} | {params} ({p['duration_s']:.1f}s)"


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
