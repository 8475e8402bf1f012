"""What `gitexp init` can tell about a repository: its training command and metrics files.

A first run that records nothing teaches a newcomer that the tool does not
work; a guessed `command:` that names a missing script fails the same way.
So init proposes only what it finds: a training script that exists, and
metrics files that exist or that a Python file of the repository names in
a string literal (``json.dump(m, open("metrics.json", "w"))``). With no
script, a notebook is the command (`gitexp run analysis.ipynb`; its
``parameters`` cell holds its params): the one notebook with such a cell, or
the only notebook; several leave the choice to the user (``notebooks``).
"""

from __future__ import annotations

import json
import os
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from gitexp.common.layout import META_DIR

SCRIPTS = (
    "train.py",
    "main.py",
    "run.py",
    "src/train.py",
    "scripts/train.py",
    "training/train.py",
)
METRIC_NAMES = re.compile(r"(metric|score|result|eval)", re.IGNORECASE)
METRIC_SUFFIXES = (".json", ".yaml", ".yml", ".csv", ".tsv")
_LITERAL = re.compile(r"""["']([\w./-]+\.(?:json|ya?ml|csv|tsv))["']""")
SKIP_DIRS = {".git", ".dvc", ".venv", "venv", "node_modules", "__pycache__", ".tox", META_DIR}
MAX_SOURCES = 200  # Python files read, so init stays instant in a large repository
MAX_SOURCE_BYTES = 1_000_000


@dataclass(frozen=True)
class Detected:
    """The command and metrics files found, with where each came from."""

    command: str | None = None
    command_source: str | None = None
    metrics: list[str] = field(default_factory=list)
    metrics_sources: dict[str, str] = field(default_factory=dict)
    #: top-level folders a Python file names in a string literal (``"data/train.csv"``):
    #: `link:` candidates once the caller knows git ignores them
    data_dirs: dict[str, str] = field(default_factory=dict)
    #: notebooks that could be the command when none was picked (several, no script)
    notebooks: list[str] = field(default_factory=list)


def detect(root: Path) -> Detected:
    sources = _python_files(root)
    named = next((s for s in SCRIPTS if (root / s).is_file()), None)
    notebooks = [] if named else _files(root, ".ipynb")
    notebook = _tagged_notebook(root, notebooks)
    script = named or (None if notebook else _only_script(sources))
    if not (script or notebook) and len(notebooks) == 1:
        notebook = notebooks[0]
    found: dict[str, str] = {}
    for rel in _existing_metrics(root):
        found.setdefault(rel, "exists")
    ordered = ([script] if script else []) + [s for s in sources if s != script]
    for rel in ordered:
        for name in _named_metrics(root / rel):
            found.setdefault(name, rel)
    command = f"python {script}" if script else (shlex.quote(notebook) if notebook else None)
    left = [] if command else notebooks
    return Detected(
        command, script or notebook, sorted(found), found, _data_dirs(root, ordered), left
    )


def _tagged_notebook(root: Path, notebooks: list[str]) -> str | None:
    """The one notebook with a ``parameters`` cell: made to be run with `-p`."""
    tagged = [n for n in notebooks if has_parameters_cell(root / n)]
    return tagged[0] if len(tagged) == 1 else None


def has_parameters_cell(path: Path) -> bool:
    """Whether a notebook has a cell tagged ``parameters`` (papermill's convention), which
    makes it a params file for `-p`; False for a file that is no readable notebook."""
    try:
        cells = json.loads(_source_text(path)).get("cells")
    except (ValueError, AttributeError):
        return False
    if not isinstance(cells, list):
        return False
    return any(_tagged(cell) for cell in cells if isinstance(cell, dict))


def _tagged(cell: dict[str, object]) -> bool:
    meta = cell.get("metadata")
    tags = meta.get("tags") if isinstance(meta, dict) else None
    return isinstance(tags, list) and "parameters" in tags


_FOLDER_LITERAL = re.compile(r"""["'](?:\./)?([\w.-]+)/""")
# inputs only: a linked folder is written through to the work tree and never recorded,
# so an ignored `models/` or `outputs/` must not be proposed
_INPUT_DIRS = re.compile(r"(data|dataset|input|raw|corpus|images)", re.IGNORECASE)


def _data_dirs(root: Path, sources: list[str]) -> dict[str, str]:
    """{folder: the Python file naming it} for top-level folders that exist."""
    found: dict[str, str] = {}
    for rel in sources:
        for name in _folder_literals(root / rel):
            if _INPUT_DIRS.search(name) and not name.startswith(".") and (root / name).is_dir():
                found.setdefault(name, rel)
    return found


def _folder_literals(path: Path) -> list[str]:
    return [m.group(1) for m in _FOLDER_LITERAL.finditer(_source_text(path))]


def _source_text(path: Path) -> str:
    """A Python file's text; empty past MAX_SOURCE_BYTES (init stays instant) or unreadable."""
    try:
        if path.stat().st_size > MAX_SOURCE_BYTES:
            return ""
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _only_script(sources: list[str]) -> str | None:
    """The one Python file at the top of the repository, if there is exactly one
    (a gallery example, `plot_ols.py`): it can only be the thing to run."""
    top = [s for s in sources if "/" not in s and not s.startswith(("test_", "setup", "conftest"))]
    return top[0] if len(top) == 1 else None


def _python_files(root: Path) -> list[str]:
    return _files(root, ".py")


def _files(root: Path, suffix: str) -> list[str]:
    """The repository's files ending in ``suffix`` (at most MAX_SOURCES), hidden and
    tool folders skipped (``.ipynb_checkpoints``, ``.venv``)."""
    out: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.startswith("."))
        base = Path(dirpath)
        for name in sorted(filenames):
            if name.endswith(suffix):
                out.append((base / name).relative_to(root).as_posix())
                if len(out) >= MAX_SOURCES:
                    return out
    return out


def _existing_metrics(root: Path) -> list[str]:
    """Metrics-like files at the top or one folder down (``eval/metrics.json``)."""
    out = []
    for path in sorted([*root.glob("*"), *root.glob("*/*")]):
        rel = path.relative_to(root)
        if any(part in SKIP_DIRS or part.startswith(".") for part in rel.parts):
            continue
        if path.is_file() and _metrics_like(rel.as_posix()):
            out.append(rel.as_posix())
    return out


def _named_metrics(path: Path) -> list[str]:
    names = [m.group(1) for m in _LITERAL.finditer(_source_text(path))]
    return [os.path.normpath(n) for n in names if _metrics_like(n) and not n.startswith("/")]


def _metrics_like(rel: str) -> bool:
    name = rel.rsplit("/", 1)[-1]
    if ".." in rel.split("/") or not name.endswith(METRIC_SUFFIXES):
        return False
    return bool(METRIC_NAMES.search(name)) and name not in ("params.yaml", "gitexp.yaml")
