"""The append-only format between the tracking library and the runner: the contract.

The script's process (the library, ``gitexp/tracking/recorder.py``) is the
only writer; files live in ``$GITEXP_RUN_DIR/.gitexp/live/``:

- ``metrics.tsv``: one line per logged point,
  ``name<TAB>step<TAB>value<TAB>unix_time<NEWLINE>``. ``name`` has no tab or
  newline; ``step`` is empty (the series continues from its last step + 1),
  an integer, or a decimal number; ``value`` is Python's ``repr`` of a float
  (``nan`` and ``inf`` included); the time is that of the flush, in seconds.
  Lines are appended in batches (at least every second, every 50,000 points,
  at exit and on SIGTERM), each batch whole or not at all.
- ``params.jsonl`` and ``artifacts.jsonl``: one JSON object per line
  (``log_param(s)``; ``log_artifact`` as ``{"path": ..., "name": ...}``).
- ``params.read``: empty; the script read its params (``gitexp.params()`` or a
  ``start_run`` that joined the run), so `-p` values passed through without a
  params file reached it (gitexp/running/params.py ``unread_overrides``).
- ``models.jsonl``: model registry requests of an MLflow script
  (``{"action": ..., ...}``, ``recorder.request_model_action``), done after
  the run is recorded by gitexp/registry/runrequests.py.

Readers: the runner follows ``metrics.tsv`` while the command runs (live
metrics, for events, pruning and progress) and reads all three when it has
ended. A line without its newline is unfinished, a malformed one is
skipped: nothing a script writes can make recording fail. A remote executor
streams the same bytes back (``OutputSink.metrics``). Stdlib only: this
module is imported by training code.
"""

from __future__ import annotations

from gitexp.common.layout import LIVE_ARTIFACTS, LIVE_DIR, LIVE_METRICS, LIVE_PARAMS

__all__ = [
    "ARTIFACTS_FILE",
    "LIVE_DIR",
    "METRICS_FILE",
    "PARAMS_FILE",
    "PARAMS_READ_FILE",
    "parse_line",
    "parse_step",
]
METRICS_FILE = LIVE_METRICS
PARAMS_FILE = LIVE_PARAMS
ARTIFACTS_FILE = LIVE_ARTIFACTS
PARAMS_READ_FILE = "params.read"
Step = int | float | None


def parse_line(line: str) -> tuple[str, Step, float, float] | None:
    """(name, step, value, time) of one whole ``metrics.tsv`` line, else None."""
    parts = line.rstrip("\n").split("\t")
    if not line.endswith("\n") or len(parts) != 4:
        return None
    name, step, value, t = parts
    try:
        return name, parse_step(step), float(value), float(t)
    except ValueError:
        return None


def parse_step(text: str) -> Step:
    """An empty step is None; an integer stays an int; anything else must be a float."""
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        return float(text)
