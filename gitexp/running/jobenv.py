"""The variables a run's command gets: where it runs, who it is, what it came from.

The run directory is a snapshot, not a clone: git commands in the script find
no repository there (``GIT_CEILING_DIRECTORIES`` stops the search on purpose,
and the executors drop ``GIT_DIR`` and its kin, gitstore/gitenv.py). A script
that logs its commit reads ``GITEXP_BASELINE`` instead of ``git rev-parse HEAD``.
Listed for users in docs/configuration.md ("What the command gets").
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from gitexp.common.layout import PARAMS_JSON
from gitexp.gitstore.record import RunRecord


def run_env(record: RunRecord, extra: Mapping[str, str], run_dir: Path) -> dict[str, str]:
    """The job's environment: ``extra`` (config, numerics) and gitexp's variables."""
    return {
        **extra,
        "GITEXP_RUN_DIR": str(run_dir),
        "GITEXP_RUN_NAME": record.name,
        "GITEXP_SEED": str(record.seed),
        "PYTHONHASHSEED": str(record.seed),
        "GITEXP_PARAMS_FILE": str(run_dir / PARAMS_JSON),
        # the commit the snapshot came from, and whether uncommitted changes went in
        "GITEXP_BASELINE": record.baseline,
        "GITEXP_DIRTY": "1" if record.dirty else "0",
        "PYTHONUNBUFFERED": "1",
        # a run dir may sit below .git/ (reused slots): git in the script finds no repository
        "GIT_CEILING_DIRECTORIES": str(run_dir.parent),
    }
