"""Sweeps for people: the lines a finished sweep prints, and `gitexp sweep show`.

Views sit below the sweeps package: what they get is data, a ``SweepSummary``
(gitexp/sweeps/launch.py) or a ``SweepReport`` (gitexp/sweeps/results.py),
read by attribute only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gitexp.common.mappings import flatten
from gitexp.common.numbers import number
from gitexp.views import render as output
from gitexp.views import terminal
from gitexp.views.render import cell

if TYPE_CHECKING:
    from gitexp.exploring.query import Query
    from gitexp.exploring.summaries import ExperimentSummary

SweepSummary = Any  # gitexp.sweeps.launch.SweepSummary
SweepReport = Any  # gitexp.sweeps.results.SweepReport

FIXED = ("trial", "status")
ENDINGS = {"exhausted": "covered its grid", "timeout": "reached its timeout"}


def summary_lines(s: SweepSummary) -> list[str]:
    """How the sweep ended, its best trial (or front), and where the study is."""
    t = s.tally
    if s.ended == "complete":
        return [f"sweep {s.name} is complete; give --trials N to run more (with --resume)"]
    parts = [f"{t.succeeded} succeeded"]
    parts += [f"{n} {what}" for n, what in ((t.pruned, "pruned"), (t.failed, "failed")) if n]
    parts += [f"{t.interrupted} interrupted"] if t.interrupted else []
    done = t.succeeded + t.pruned + t.failed + t.interrupted
    ended = ENDINGS.get(s.ended, s.ended)
    lines = [f"sweep {s.name} {ended}: {done} trials ({', '.join(parts)}) in {s.duration_s:.1f}s"]
    if s.best.front:
        lines.append(f"Pareto front: {', '.join(s.best.front)}")
    elif s.best.name is not None and s.best.values is not None:
        value = " ".join(
            f"{o.metric}={number(v)}" for o, v in zip(s.objectives, s.best.values, strict=False)
        )
        lines.append(f"best: {s.best.name} {value}")
    lines.append(f"study: {s.storage} (gitexp sweep show {s.name}; optuna-dashboard {s.storage})")
    return lines


def render_report(data: SweepReport, query: Query, fmt: str) -> str:
    """The trials table; with `table`, the best, importances and storage after it."""
    if fmt == "json":
        return output.to_json(_json(data))
    from gitexp.exploring.query import run_query

    columns, rows = run_query(data.rows(), query, FIXED)
    columns = [c for c in columns if not c.startswith("params.") or _searched(c, data)]
    headers, cells = terminal.table(columns, rows)
    text, _ = output.render(headers, cells, fmt)
    if fmt != "table":
        return text
    return "\n\n".join([_head(data), text if rows else "no trials yet", _tail(data)])


def _searched(column: str, data: SweepReport) -> bool:
    return not data.searched or column.removeprefix("params.") in data.searched


def _head(data: SweepReport) -> str:
    counts: dict[str, int] = {}
    for t in data.trials:
        counts[t.status] = counts.get(t.status, 0) + 1
    line = f"sweep {data.name}: {len(data.trials)} trials"
    line += " (" + ", ".join(f"{n} {s}" for s, n in counts.items()) + ")" if counts else ""
    if data.spec is not None:
        line += f"; sampler {data.spec.sampler.name}, pruner {data.spec.pruner.name}"
    return line + "; objective " + ", ".join(data.objectives)


def _tail(data: SweepReport) -> str:
    sections: list[tuple[str, list[tuple[str, Any]]]] = [
        ("Pareto front" if len(data.objectives) > 1 else "best trial", _best(data)),
    ]
    for objective, found in data.importances.items():
        items = sorted(found.items(), key=lambda kv: -kv[1])
        sections.append((f"param importances ({objective})", [(k, f"{v:.3f}") for k, v in items]))
    where = data.storage or "not in this repository (pulled trials bring no study)"
    extra = [("optuna-dashboard", data.storage)] if data.storage else []
    sections.append(("storage", [("study", where), *extra]))
    return output.render_sections(sections)


def _best(data: SweepReport) -> list[tuple[str, Any]]:
    metrics = [o.rpartition(":")[0] or o for o in data.objectives]
    return [(t.name, _describe(t, metrics, data.searched)) for t in data.best] or [
        ("-", "no succeeded trial yet")
    ]


def _describe(t: ExperimentSummary, metrics: list[str], searched: list[str]) -> str:
    values, params = flatten(t.metrics), flatten(t.params)
    shown = " ".join(f"{m}={cell(values.get(m))}" for m in metrics)
    chosen = " ".join(f"{k}={cell(params.get(k))}" for k in searched if k in params)
    return f"{shown} | {chosen}" if chosen else shown


def _json(data: SweepReport) -> dict[str, Any]:
    return {
        "name": data.name,
        "storage": data.storage,
        "spec": data.spec_json(),
        "objectives": data.objectives,
        "trials": [t.to_json() for t in data.trials],
        "best": [t.name for t in data.best],
        "importances": data.importances,
    }
