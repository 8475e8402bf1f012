"""The model registry for people: `gitexp model list` and `gitexp model show`.

What arrives is plain data (gitexp/registry/report.py: one dict per model,
one per history event); this module only lays it out.
"""

from __future__ import annotations

from typing import Any

from gitexp.views import render as output
from gitexp.views.render import cell, render_sections

METRICS_SHOWN = 4


def models_table(models: list[dict[str, Any]], fmt: str) -> str:
    """One row per model: latest version, the version in each stage (GTO's ``#stage``
    columns), and the experiment behind the latest."""
    if fmt == "json":
        return output.to_json(models)
    stages = sorted({stage for m in models for stage in m["stages"]})
    headers = ["model", "latest", *(f"#{s}" for s in stages), "experiment"]
    rows = [_model_row(m, stages) for m in models]
    text, _ = output.render(headers, rows, fmt)
    return text


def _model_row(model: dict[str, Any], stages: list[str]) -> list[Any]:
    name = model["model"] + (" (deprecated)" if model["deprecated"] else "")
    latest = next((v for v in model["versions"] if v["version"] == model["latest"]), None)
    held = [model["stages"].get(s) for s in stages]
    return [name, model["latest"], *held, latest["experiment"] if latest else None]


def model_details(model: dict[str, Any], events: list[dict[str, Any]], fmt: str) -> str:
    """A model's state, its versions, then its history (oldest first)."""
    if fmt == "json":
        return output.to_json({**model, "history": events})
    state = [("latest", model["latest"]), *model["stages"].items()]
    state += [("deprecated", True)] if model["deprecated"] else []
    versions = [(v["version"], _version_line(v)) for v in model["versions"]]
    head = render_sections([(f"model {model['model']}", state), ("versions", versions)])
    headers = ["time", "event", "version", "stage", "by", "experiment", "metrics"]
    rows = [
        [e["time"], e["event"], e["version"], e["stage"], e["by"], e["experiment"], _metrics(e)]
        for e in events
    ]
    text, _ = output.render(headers, rows, fmt, wide=True)
    return f"{head}\n\nhistory\n{text}" if fmt == "table" else text


def _version_line(version: dict[str, Any]) -> str:
    where = version["experiment"] or version["commit"][:10]
    parts = [where, version["path"] or "(no path recorded)"]
    parts += [f"[{', '.join(version['stages'])}]"] if version["stages"] else []
    parts += [] if version["active"] else ["deprecated"]
    return "  ".join(parts)


def _metrics(event: dict[str, Any]) -> str:
    items = list(event["metrics"].items())[:METRICS_SHOWN]
    return " ".join(f"{k}={cell(v)}" for k, v in items)
