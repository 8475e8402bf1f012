"""What the pages and the JSON API show, assembled from the read model as plain dicts.

The HTML pages and the API are built from the same dicts, so a page never
shows what the API would not say. Nothing here reads git itself: experiments
come through gitexp/exploring (readmodel, listing, treefiles, series,
overrides, sweep_groups), sweeps through gitexp/sweeps/results.py, models
through gitexp/registry. Values are raw (NaN stays a float); the API cleans
them for JSON (jsonable.py) and the templates escape them.
"""

from __future__ import annotations

from typing import Any

from gitexp.common.errors import StoreError, UsageError
from gitexp.common.mappings import flatten
from gitexp.exploring import readmodel
from gitexp.exploring.overrides import is_overridden, overridden_keys
from gitexp.exploring.summaries import ExperimentSummary
from gitexp.exploring.sweep_groups import split
from gitexp.exploring.treefiles import output_log
from gitexp.gitstore.repo import Repo

MAX_DIFF = 2 << 20
KNOWN_STATUSES = ("queued", "running", "succeeded", "failed", "interrupted", "pruned", "broken")


class NotFoundError(UsageError):
    """A sweep or page that does not exist (the API answers 404)."""


class UnreadableError(NotFoundError):
    """An experiment whose ref points at no commit, or whose commit is gone: no
    experiment to show (404; 400 in a comparison), not a server fault."""


def summary(repo: Repo, spec: str) -> ExperimentSummary:
    """readmodel.intact_summary, a broken experiment refused as not found."""
    try:
        return readmodel.intact_summary(repo, spec)
    except StoreError as exc:
        raise UnreadableError(exc.message, exc.hint) from exc


def status_class(status: str) -> str:
    """A CSS class for a status; an unknown word gets the neutral one."""
    return f"status-{status}" if status in KNOWN_STATUSES else "status-other"


def experiment(repo: Repo, spec: str) -> dict[str, Any]:
    """One experiment in full: record, params (overrides marked), metrics, environment."""
    try:
        found = readmodel.detail(repo, spec)
    except StoreError as exc:  # its ref points at no commit, or the commit is gone
        raise UnreadableError(exc.message, exc.hint) from exc
    s, run = found.summary, found.run
    keys = overridden_keys(run)
    histories = {h.name: h.to_json() for h in found.histories}
    return {
        **_identity(s),
        "command": run.get("command") if isinstance(run.get("command"), list) else [],
        "cwd": run.get("cwd") or "",
        "exit_code": run.get("exit_code"),
        "error": _text(run.get("error")),
        "stop_reason": _text(run.get("stop_reason")),
        "record_errors": [str(e) for e in run.get("record_errors") or []],
        "started": run.get("started"),
        "ended": run.get("ended"),
        "duration_s": run.get("duration_s"),
        "executor": run.get("executor"),
        "dirty": run.get("dirty"),
        "overrides": [str(o) for o in run.get("overrides") or []],
        "params": [
            {"key": k, "value": v, "overridden": is_overridden(k, keys)}
            for k, v in flatten(s.params).items()
        ],
        "metrics": [
            {"key": k, "value": v, "history": histories.get(k)}
            for k, v in flatten(s.metrics).items()
        ],
        "series": sorted(histories),
        "environment": found.environment,
        "artifacts": [a for a in run.get("artifacts") or [] if isinstance(a, dict)],
        "submodules": [{"path": p, "commit": c} for p, c in found.submodules],
    }


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _identity(s: ExperimentSummary) -> dict[str, Any]:
    return {
        "name": s.name,
        "ref": s.ref,
        "commit": s.commit,
        "status": s.status,
        "created": s.created,
        "baseline": s.baseline,
        "seed": s.seed,
        "sweep": s.sweep,
        "trial": s.trial,
    }


def log(repo: Repo, spec: str) -> dict[str, Any]:
    s = summary(repo, spec)
    found = output_log(repo, s.commit)
    if found is None:
        return {"name": s.name, "text": "", "size": 0, "truncated": False}
    return {"name": s.name, "text": found.text, "size": found.size, "truncated": found.truncated}


def diff(repo: Repo, spec: str, against: str | None = None) -> dict[str, Any]:
    """The code diff from the baseline (or another experiment) to this experiment."""
    s = summary(repo, spec)
    base = summary(repo, against).commit if against else s.baseline
    if base is None:
        return {"name": s.name, "base": None, "text": "", "truncated": False, "missing": True}
    try:
        text = readmodel.code_diff(repo, base, s.commit)
    except (KeyError, ValueError):  # the baseline commit is not in this clone
        return {"name": s.name, "base": base, "text": "", "truncated": False, "missing": True}
    cut = text[:MAX_DIFF]
    return {"name": s.name, "base": base, "text": cut, "truncated": len(cut) < len(text)}


def compare(repo: Repo, specs: list[str]) -> dict[str, Any]:
    """Experiments side by side: params and metrics with deltas and a changed flag."""
    if not 2 <= len(specs) <= 20:
        raise UsageError("compare takes 2 to 20 experiments", "tick them in the table")
    try:
        summaries = [readmodel.intact_summary(repo, spec) for spec in specs]
    except StoreError as exc:  # a broken one: a bad choice, not a server fault
        raise UsageError(exc.message, exc.hint) from exc
    rows = readmodel.compare(summaries)
    return {
        "experiments": [_identity(s) for s in summaries],
        "params": [_compare_row(r) for r in rows if r.kind == "param"],
        "metrics": [_compare_row(r) for r in rows if r.kind == "metric"],
    }


def _compare_row(row: readmodel.CompareRow) -> dict[str, Any]:
    return {"key": row.key, "values": row.values, "deltas": row.deltas, "changed": row.changed}


def sweeps(summaries: list[ExperimentSummary]) -> list[dict[str, Any]]:
    """Every sweep with trials here, newest first: counts, objectives, the best."""
    _, groups = split(summaries)
    return [
        {
            "name": g.name,
            "trials": len(g.trials),
            "statuses": g.counts,
            "objectives": [f"{m}:{d}" for m, d in g.objectives],
            "best": [t.name for t in g.best()],
            "created": g.trials[0].created,
        }
        for g in groups
    ]


def sweep(
    repo: Repo, summaries: list[ExperimentSummary], name: str, importances: bool = True
) -> dict[str, Any]:
    """A sweep's trials (by number), objectives, best trial or front, and Optuna's
    importances (``importances=False``: {}, see sweeps/results.py), from the
    table's summaries like every other page."""
    from gitexp.sweeps.results import report

    try:
        data = report(repo, name, summaries, importances)
    except UsageError as exc:
        raise NotFoundError(exc.message, exc.hint) from exc
    metrics = [o.rpartition(":")[0] or o for o in data.objectives]
    searched = data.searched or sorted({k for t in data.trials for k in flatten(t.params)})
    return {
        "name": data.name,
        "objectives": data.objectives,
        "metrics": metrics,
        "searched": searched,
        "storage": data.storage,
        "best": [t.name for t in data.best],
        "importances": data.importances,
        "trials": [_trial(t, data.name, metrics, searched) for t in data.trials],
    }


def _trial(
    t: ExperimentSummary, sweep: str, metrics: list[str], searched: list[str]
) -> dict[str, Any]:
    params, values = flatten(t.params), flatten(t.metrics)
    return {
        "name": t.name,
        "trial": t.trial,
        "label": t.name.removeprefix(sweep + "/"),
        "status": t.status,
        "created": t.created,
        "params": {k: params.get(k) for k in searched},
        "values": {m: values.get(m) for m in metrics},
    }


def models(repo: Repo, summaries: list[ExperimentSummary]) -> list[dict[str, Any]]:
    """Every model: latest version, stages, versions."""
    from gitexp.registry import report
    from gitexp.registry.state import models as fold
    from gitexp.registry.tagstore import read_tags

    experiments = _by_commit(summaries)
    return [report.model_dict(m, experiments) for m in fold(read_tags(repo)).values()]


def model(repo: Repo, summaries: list[ExperimentSummary], name: str) -> dict[str, Any]:
    """One model: its versions and stages, and its history (every tag, oldest first)."""
    from gitexp.registry import report
    from gitexp.registry.state import find
    from gitexp.registry.tagstore import read_tags

    found = find(read_tags(repo), name)
    experiments = _by_commit(summaries)
    return {**report.model_dict(found, experiments), "history": report.history(found, experiments)}


def _by_commit(summaries: list[ExperimentSummary]) -> dict[str, str]:
    return {s.commit: s.name for s in summaries}
