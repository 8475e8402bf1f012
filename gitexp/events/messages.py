"""Readable notifications: a title and a few lines for each event.

A message says what happened to which experiment, how it ended, its key
metrics, how long it took, where it ran, and the command that shows it
(``gitexp show NAME``), so a phone screen is enough to decide whether to
look. ``kind`` is Apprise's notify type (success, failure, warning, info),
which services show as a colour or an icon. An event without a writer of
its own gets a generic message of its scalar fields.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gitexp.common.errors import describe_exit
from gitexp.common.mappings import flatten
from gitexp.common.numbers import number
from gitexp.events.bus import Payload

MAX_METRICS = 8
FAILED = frozenset({"failed", "aborted", "interrupted"})
#: a sweep's ``ended`` in words
ENDINGS = {
    "completed": "completed",
    "exhausted": "covered its grid",
    "timeout": "reached its time limit",
    "interrupted": "was interrupted",
    "failed": "failed",
    "aborted": "was aborted",
}


@dataclass(frozen=True)
class Message:
    title: str
    body: str
    kind: str  # success | failure | warning | info


def render(event: str, payload: Payload, project: str) -> Message:
    """The message for ``event`` in the repository named ``project``."""
    writer = _WRITERS.get(event, _generic)
    title, lines, kind = writer(payload)
    return Message(f"gitexp [{project}]: {title}", "\n".join(lines), kind)


def duration(seconds: Any) -> str:
    """``42s``, ``3m 07s``, ``2h 05m``: how long, at a glance."""
    if not isinstance(seconds, int | float):
        return "?"
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"


def metrics_line(metrics: Any) -> str:
    """``acc=0.91, loss=0.3`` (the first few, and how many more)."""
    flat = flatten(metrics) if isinstance(metrics, dict) else {}
    if not flat:
        return "no metrics"
    shown = [f"{k}={_number(v)}" for k, v in list(flat.items())[:MAX_METRICS]]
    more = len(flat) - len(shown)
    return "metrics: " + ", ".join(shown) + (f" (+{more} more)" if more else "")


def _number(value: Any) -> str:
    return number(value) if isinstance(value, float) and math.isfinite(value) else str(value)


def _show(name: Any) -> str:
    return f"see it: gitexp show {name}"


Written = tuple[str, list[str], str]


def _run_finished(p: Payload) -> Written:
    status = str(p.get("status"))
    how = describe_exit(p.get("exit_code"), status)
    host = f" on {p['host']}" if p.get("host") else ""
    head = f"{p.get('name')} {how} after {duration(p.get('duration_s'))}{host}"
    kind = "success" if status == "succeeded" else "failure" if status in FAILED else "warning"
    return f"{p.get('name')} {how}", [head, metrics_line(p.get("metrics")), _show(p["name"])], kind


def _run_started(p: Payload) -> Written:
    return f"{p.get('name')} started", [f"executor: {p.get('executor')}", _show(p["name"])], "info"


def _run_recorded(p: Payload) -> Written:
    commit = str(p.get("commit"))[:10]
    lines = [f"{p.get('name')} recorded as {commit} ({p.get('status')})", _show(p["name"])]
    return f"{p.get('name')} recorded ({p.get('status')})", lines, "info"


def _trial_finished(p: Payload) -> Written:
    title, lines, kind = _run_finished(p)
    if p.get("values") is not None:
        lines.insert(1, f"objective values: {_values(p.get('values'))}")
    if p.get("reason"):
        lines.insert(1, f"reason: {p['reason']}")
    return f"trial {title}", lines, kind


def _new_best(p: Payload) -> Written:
    trial = p.get("trial_name")
    pairs = zip(p.get("objectives") or [], p.get("values") or [], strict=False)
    score = ", ".join(f"{o} = {_number(v)}" for o, v in pairs)
    lines = [f"trial {p.get('trial')}: {score}", "params: " + _pairs(p.get("params"))]
    if p.get("front"):
        lines.insert(1, f"Pareto front: {len(p['front'])} trial(s)")
    return f"sweep {p.get('sweep')} has a new best: {trial}", [*lines, _show(trial)], "success"


def _sweep_finished(p: Payload) -> Written:
    ended = str(p.get("ended"))
    counts = ", ".join(f"{p.get(k, 0)} {k}" for k in ("succeeded", "failed", "pruned"))
    interrupted = f", {p.get('interrupted')} interrupted" if p.get("interrupted") else ""
    lines = [f"{counts}{interrupted} in {duration(p.get('duration_s'))}"]
    if p.get("best"):
        lines.append(f"best: {p['best']} ({_values(p.get('best_values'))})")
    kind = "failure" if ended in FAILED else "success"
    title = f"sweep {p.get('sweep')} {ENDINGS.get(ended, ended)}"
    return title, [*lines, _show(f"{p.get('sweep')}/")], kind


def _pushed(p: Payload) -> Written:
    forced = " (forced)" if p.get("forced") else ""
    line = f"{p.get('name')} ({str(p.get('commit'))[:10]}) pushed to {p.get('remote')}{forced}"
    return f"{p.get('name')} pushed to {p.get('remote')}", [line], "info"


def _model_writer(verb: str) -> Callable[[Payload], Written]:
    """``model churn v1.2.0 promoted to prod``, the tag and the experiment."""

    def write(p: Payload) -> Written:
        what = f"model {p.get('model')} {p.get('version') or ''}".rstrip()
        stage = f" {p['stage']}" if p.get("stage") else ""
        lines = [f"tag {p.get('tag')} on {str(p.get('commit'))[:10]}"]
        if p.get("name"):
            lines.append(f"from {p['name']}")
        return f"{what} {verb}{stage}", lines, "info"

    return write


def _generic(p: Payload) -> Written:
    fields = {k: v for k, v in p.items() if isinstance(v, str | int | float | bool)}
    return str(p.get("name") or "event"), [f"{k}: {v}" for k, v in fields.items()], "info"


def _values(values: Any) -> str:
    if not isinstance(values, list):
        return str(values)
    return ", ".join(_number(v) for v in values)


def _pairs(params: Any) -> str:
    flat = flatten(params) if isinstance(params, dict) else {}
    return ", ".join(f"{k}={_number(v)}" for k, v in flat.items()) or "none"


_WRITERS: dict[str, Callable[[Payload], Written]] = {
    "run_started": _run_started,
    "run_finished": _run_finished,
    "run_recorded": _run_recorded,
    "trial_finished": _trial_finished,
    "sweep_new_best": _new_best,
    "sweep_finished": _sweep_finished,
    "experiment_pushed": _pushed,
    "model_registered": _model_writer("registered"),
    "model_promoted": _model_writer("promoted to"),
    "model_demoted": _model_writer("demoted from"),
    "model_deprecated": _model_writer("deprecated"),
}
