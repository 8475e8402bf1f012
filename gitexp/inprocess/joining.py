"""``start_run`` inside `gitexp run`: the script's defaults under the CLI's params.

`gitexp run -p lr=0.5 -- python train.py` (or a sweep's trial) already runs
the experiment, so a ``start_run(params=defaults)`` in train.py joins it. The
params the script sees (``gitexp.params()``) and those the record holds are
one and the same, layered as W&B layers ``wandb.init(config=defaults)``
under a sweep: start_run's ``params=`` <- the params files <- the `-p`
overrides. The runner wrote the CLI's part to ``GITEXP_PARAMS_FILE``; it is
rewritten here with the defaults under it, and the defaults the CLI did not
set are logged (``params.jsonl``), so recording merges the same view.

Without any params file the `-p` values arrive alone (gitexp/running/params.py
passes them through); one that names a key the defaults lack is most likely
a typo, and is warned about here, from inside the script.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from gitexp.common import suggest
from gitexp.common.mappings import deep_merge, flatten
from gitexp.tracking import recorder


def join(given: dict[str, Any]) -> dict[str, Any]:
    """The merged params of the joined run (also what ``gitexp.params()`` returns now)."""
    path = os.environ.get("GITEXP_PARAMS_FILE") or ""
    cli = _read(path)
    merged = deep_merge([given, cli])
    recorder.mark_params_read()
    if not given:
        return merged
    for warning in typos(given, cli, os.environ.get("GITEXP_RUN_DIR") or ""):
        print(f"gitexp: warning: {warning}", file=sys.stderr)
    if path:
        _write(Path(path), merged)
    missing = only_in(given, cli)
    if missing:
        recorder.log_params(missing)
    return merged


def only_in(given: dict[str, Any], cli: dict[str, Any]) -> dict[str, Any]:
    """The part of ``given`` that ``cli`` does not set (nested keys one by one)."""
    out: dict[str, Any] = {}
    for key, value in given.items():
        other = cli.get(key)
        if key not in cli:
            out[key] = value
        elif isinstance(value, dict) and isinstance(other, dict):
            rest = only_in(value, other)
            if rest:
                out[key] = rest
    return out


def typos(given: dict[str, Any], cli: dict[str, Any], run_dir: str) -> list[str]:
    """Passed-through `-p` keys (no params file) that the defaults do not have."""
    if not cli or not run_dir or _has_params_file(Path(run_dir)):
        return []
    known = flatten(given)
    found = []
    for key in flatten(cli):
        if key not in known and not any(k.startswith(f"{key}.") for k in known):
            hint = suggest.hint(key, known, "did you mean `{}`?") or (
                "add it to start_run(params=...) if it is meant"
            )
            found.append(f"-p sets {key!r}, which start_run(params=...) does not have; {hint}")
    return found


def _has_params_file(run_dir: Path) -> bool:
    """Whether the run has a params file (then its keys, not the defaults', are the
    reference, and `gitexp run` checked the overrides against them)."""
    from gitexp.common.errors import GitexpError
    from gitexp.config.settings import load_config

    try:
        files = load_config(run_dir).params_files
    except (GitexpError, OSError):
        return True  # cannot tell: warn about nothing
    return any((run_dir / name).is_file() for name in files)


def _read(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write(path: Path, params: dict[str, Any]) -> None:
    """Replace the params file whole (a reader never sees half of it)."""
    part = path.with_name(f"{path.name}.{os.getpid()}.part")
    part.write_text(json.dumps(params, indent=2, default=str), encoding="utf-8")
    os.replace(part, path)
