"""The gitexp.yaml `gitexp init` writes: every key present and commented, the
values `init` found or was given, written whole (a full disk leaves no half file).
Reading and checking the file is settings.py's job."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from gitexp.config.settings import CONFIG_FILE, DEFAULT_PARAMS


def write_default_config(
    root: Path,
    command: str | None,
    metrics: list[str] | None = None,
    links: list[str] | None = None,
) -> Path:
    """The file `gitexp init` writes: every key present, commented; ``command``,
    ``metrics`` and ``links`` as found (gitexp.detect) or given, never a guess that
    would fail."""
    path = root / CONFIG_FILE
    cmd = _yaml_scalar(command) if command else "null"
    cmd_note = "what `gitexp run` runs" if command else "none found: e.g. python train.py"
    found = [name for name in DEFAULT_PARAMS if (root / name).is_file()]
    params = "[" + ", ".join(found) + "]"
    files = "[" + ", ".join(_yaml_scalar(m) for m in metrics or []) + "]"
    linked = "[" + ", ".join(_yaml_scalar(f"{p}/") for p in links or []) + "]"
    _write_atomically(
        path,
        f"""# gitexp configuration (docs/configuration.md)
command: {cmd}          # {cmd_note}
params: {params}   # params files (YAML or JSON); -p key=value edits them per run
metrics: {files}             # files the script writes: JSON/YAML (final values), CSV/TSV (series)
metrics_from_output: true  # read printed `name: number` lines (`Mean squared error: 2548.07`)
seed: random            # or an integer: the seed every run gets unless --seed is given
link: {linked}                # ignored data paths made available to runs, e.g. [data/]
outputs: []             # output files always recorded with the experiment
""",
    )
    return path


def _write_atomically(path: Path, text: str) -> None:
    """All or nothing: a full disk must not leave a truncated gitexp.yaml behind."""
    import os
    import tempfile

    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, 0o644)  # as an editor would create it, not mkstemp's 0600
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def _yaml_scalar(text: str) -> str:
    """``text`` as it can stand after ``key: `` (quoted when YAML would misread it)."""
    try:
        plain_ok = yaml.safe_load(f"k: {text}") == {"k": text}
    except yaml.YAMLError:
        plain_ok = False
    return text if plain_ok else json.dumps(text)
