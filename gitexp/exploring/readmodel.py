"""The read model: what the CLI, the notebook API and the web UI read experiments through.

It returns data, never text: summaries (one row per experiment, through the
commit-keyed cache), one experiment in full with its metric histories, and
experiments side by side. Turning them into tables is gitexp/views' job.

- ``summaries.py``: ``ExperimentSummary``, ``list_summaries``, ``get_summaries``,
  ``intact_summary`` (a broken experiment is one line)
- ``details.py``: ``detail``, ``read_histories``, ``MetricHistory``; the history
  files themselves are read by ``histories.py``
- ``comparison.py``: ``compare``, ``compare_json``, code diffs
"""

from __future__ import annotations

from gitexp.exploring.comparison import (
    CompareRow,
    code_diff,
    compare,
    compare_json,
    diffs_against_first,
)
from gitexp.exploring.details import (
    ExperimentDetail,
    MetricHistory,
    detail,
    read_histories,
    summarise_history,
)
from gitexp.exploring.summaries import (
    FIXED_COLUMNS,
    ExperimentSummary,
    get_summaries,
    intact_summary,
    list_summaries,
)

__all__ = [
    "FIXED_COLUMNS",
    "CompareRow",
    "ExperimentDetail",
    "ExperimentSummary",
    "MetricHistory",
    "code_diff",
    "compare",
    "compare_json",
    "detail",
    "diffs_against_first",
    "get_summaries",
    "intact_summary",
    "list_summaries",
    "read_histories",
    "summarise_history",
]
