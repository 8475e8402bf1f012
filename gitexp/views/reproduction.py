"""A reproduction for people: the metric table, what differs, and the verdict line."""

from __future__ import annotations

from typing import Any

from gitexp.views.render import render
from gitexp.views.safetext import visible

# gitexp.sharing.reproduce's Reproduction and Row: views sit below sharing, so they
# take them as they come
Reproduction = Any
Row = Any

WHY = {
    "match": "metrics match",
    "drift": "metrics differ; the environment changed",
    "nondeterministic": "metrics differ; nothing recorded changed: the run is nondeterministic",
    "unrecorded": "metrics differ, but the reruns agree with each other and nothing recorded "
    "changed: an input gitexp does not record changed (an environment variable, `link:` "
    "data, a file outside the repository)",
}


def report(outcome: Reproduction, fmt: str) -> str:
    """The metric table, then the environment difference, the reruns, the hints."""
    blocks = [_table(outcome.rows, ["metric", "recorded", "reproduced", "difference", "ok?"], fmt)]
    changes = _diff_lines(outcome.environment_diff)
    if changes:
        blocks.append("environment (original -> rerun):\n" + "\n".join(f"  {c}" for c in changes))
    for i, rows in enumerate(outcome.repeats, start=2):
        differing = [r for r in rows if not r.ok]
        head = f"rerun {i} against rerun 1: " + ("same metrics" if not differing else "differs")
        blocks.append(head + ("\n" + _table(differing, _REPEAT, fmt) if differing else ""))
    if outcome.hints:
        blocks.append("not controlled:\n" + "\n".join(f"  {h}" for h in outcome.hints))
    return visible("\n\n".join(b for b in blocks if b), lines=True)  # a pulled record's text


_REPEAT = ["metric", "rerun 1", "this rerun", "difference", "ok?"]


def verdict(outcome: Reproduction) -> str:
    """The one line CI logs show last."""
    diagnosis = outcome.diagnosis
    if diagnosis == "failed":
        detail = f": {outcome.error}" if outcome.error else ""
        text = f"rerun {outcome.status}{detail}"
    elif diagnosis == "match" and not outcome.rows:
        text = "rerun succeeded (no metrics to compare)"
    elif outcome.reruns_disagree:
        text = "the reruns disagree with each other: the run is nondeterministic"
    else:
        text = WHY[diagnosis]
    saved = f"; saved as {outcome.saved_as}" if outcome.saved_as else ""
    return visible(f"gitexp: {outcome.name}: {text}{saved}")


def _table(rows: list[Row], headers: list[str], fmt: str) -> str:
    cells = [
        [r.metric, r.recorded, r.reproduced, r.difference, "ok" if r.ok else "DIFF"] for r in rows
    ]
    text, _ = render(headers, cells, "md" if fmt == "md" else "table")
    return text


def _diff_lines(diff: dict[str, Any]) -> list[str]:
    from gitexp.exploring.envdiff import EnvDiff

    return EnvDiff(**diff).lines() if diff else []
