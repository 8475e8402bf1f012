"""Notebooks as commands: `gitexp run analysis.ipynb -p lr=0.1`.

A command whose program is a ``.ipynb`` file is a notebook run. Its params
come from the cell tagged ``parameters`` (papermill's convention): each
``name = <literal>`` there is a param, and the notebook is the run's first
params file, so a bare ``-p lr=0.1`` sets it (``-p params.yaml:k=v`` still
reaches params.yaml). Overridden values are written into a cell tagged
``injected-parameters`` right after it (replacing an earlier one) when the
params are applied, so the experiment's snapshot holds the notebook as it
will run. The job then executes the notebook in place, headless, with its
kernel (gitexp/running/notebook_exec.py, through papermill); the executed
notebook, outputs included, is what the experiment commits, and a cell that
raised there, or that the kernel died in, is run.json's ``error``
(``cell_error``). Only Python notebooks
take values. Stdlib only: reading and writing cells needs no Jupyter package;
executing one does. docs/notebooks.md.
"""

from __future__ import annotations

import ast
import json
import math
import os
import shlex
import sys
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gitexp.common.errors import BackendError, ConfigError, UsageError
from gitexp.running.notebook_exec import describe

if TYPE_CHECKING:
    import pygit2

    from gitexp.config.settings import Config
    from gitexp.gitstore.record import RunRecord
    from gitexp.gitstore.repo import Repo

PARAMETERS = "parameters"
INJECTED = "injected-parameters"
EXEC_MODULE = "gitexp.running.notebook_exec"
INSTALL_HINT = "pip install 'gitexp[notebook]'"
#: the cells papermill adds to an executed notebook to point at the failure
ERROR_MARKER = "papermill-error-cell-tag"


def is_notebook(argv: Sequence[str]) -> bool:
    return bool(argv) and str(argv[0]).endswith(".ipynb")


def notebook_of(command: Sequence[str] | str | None, cwd: str) -> str | None:
    """The work-tree path of the notebook a command runs, or None for other commands."""
    if isinstance(command, str):
        try:
            command = shlex.split(command)
        except ValueError:
            return None
    if not command or not is_notebook(command):
        return None
    return os.path.normpath(os.path.join(cwd, str(command[0]))).replace(os.sep, "/")


def params_config(
    repo: Repo, tree: pygit2.Oid, config: Config, command: Sequence[str] | str | None, cwd: str
) -> Config:
    """The config with the run's notebook as its first params file, when the command is
    a notebook with a ``parameters`` cell (last under composed params, which own the
    first file)."""
    from dataclasses import replace

    from gitexp.gitstore.trees import read_blob

    path = notebook_of(command or config.command, cwd)
    data = read_blob(repo, tree, path) if path else None
    if path is None or data is None or not _tagged(_cells(path, data.decode("utf-8", "replace"))):
        return config
    rest = tuple(f for f in config.params_files if f != path)
    files = (*rest, path) if config.params_compose else (path, *rest)
    return replace(config, params_files=files)


def check(repo: Repo, tree: pygit2.Oid, argv: Sequence[str], cwd: str) -> None:
    """Before anything is written: the notebook is in the snapshot and can be executed."""
    from gitexp.gitstore.trees import read_blob

    rel = notebook_of(argv, cwd) or ""
    if read_blob(repo, tree, rel) is None:
        raise UsageError(
            f"notebook {argv[0]!r} not found in the work tree",
            "give its path from the current directory; untracked files count, ignored ones not",
        )
    if len(argv) > 1:
        raise UsageError(
            f"a notebook takes no arguments, got {shlex.join(argv[1:])!r}",
            "pass values with -p key=value (its `parameters` cell); gitexp's other "
            "options go before the notebook",
        )
    import importlib.util

    if importlib.util.find_spec("papermill") is None:
        raise BackendError("papermill is not installed (it runs notebooks)", INSTALL_HINT)


def job_argv(argv: list[str], executor: str) -> list[str]:
    """What the job executes for a notebook command: gitexp's notebook runner, with this
    Python for the local executor and the image's or worker's `python` elsewhere."""
    if not is_notebook(argv):
        return argv
    python = sys.executable if executor == "local" else "python"
    return [python, "-m", EXEC_MODULE, *argv]


def cell_error(run_dir: Path, record: RunRecord) -> dict[str, str]:
    """run.json's ``error`` of a notebook run that failed in a cell: the words of
    the job's last line, read from the executed notebook in the run dir; ``{}``
    for other runs. An in-process run's notebook was saved by a person, not
    executed by the run, so it says nothing. Never raises: a notebook the run
    left unreadable costs the record only this line."""
    rel = notebook_of(record.command, record.cwd)
    if rel is None or record.status != "failed" or {"error", "in_process"} & set(record.extra):
        return {}
    path = run_dir / rel
    try:
        if not path.resolve().is_relative_to(run_dir.resolve()):
            return {}
        found = failed_cell(rel, path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError, ConfigError):
        return {}
    return {"error": found} if found else {}


def failed_cell(name: str, text: str) -> str | None:
    """The first cell of an executed notebook with an error output, described as
    notebook_exec names it (papermill's marker cells do not count)."""
    cells = [c for c in _cells(name, text) if ERROR_MARKER not in _tags(c)]
    for index, cell in enumerate(cells):
        error = _raised(cell)
        if error is not None:
            ename, evalue = str(error.get("ename") or "an exception"), error.get("evalue")
            return describe(index, cell.get("execution_count"), ename, str(evalue or ""))
    return None


def _raised(cell: dict[str, Any]) -> dict[str, Any] | None:
    """The cell's error output (``sys.exit()`` and ``sys.exit(0)`` are none, as for
    papermill)."""
    outputs = cell.get("outputs")
    for out in outputs if isinstance(outputs, list) else []:
        if not isinstance(out, dict) or out.get("output_type") != "error":
            continue
        if not (out.get("ename") == "SystemExit" and out.get("evalue") in ("", "0")):
            return out
    return None


def read_parameters(name: str, text: str) -> dict[str, Any]:
    """The notebook's params: literal assignments of its ``parameters`` cell, then of
    its ``injected-parameters`` cell (values a run set)."""
    values: dict[str, Any] = {}
    for cell in _cells(name, text):
        tags = _tags(cell)
        if PARAMETERS in tags or INJECTED in tags:
            values.update(_assignments(_source(cell)))
    return values


def with_parameters(name: str, original: str, values: Mapping[str, Any]) -> bytes:
    """The notebook with ``values`` that differ from its own in an injected cell."""
    nb = _notebook(name, original)
    _python_only(name, nb)
    defaults = read_parameters(name, original)
    injected = _injected_values(nb)
    injected.update({k: v for k, v in values.items() if k not in defaults or defaults[k] != v})
    cells = [c for c in nb["cells"] if INJECTED not in _tags(c)]
    at = next((i + 1 for i, c in enumerate(cells) if PARAMETERS in _tags(c)), 0)
    cells.insert(at, _injected_cell(nb, injected))
    nb["cells"] = cells
    return (json.dumps(nb, indent=1, ensure_ascii=False) + "\n").encode()


def _injected_values(nb: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for cell in nb["cells"]:
        if INJECTED in _tags(cell):
            values.update(_assignments(_source(cell)))
    return values


def _injected_cell(nb: dict[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    lines = ["# Parameters (injected by gitexp run -p)"]
    lines += [f"{key} = {python_literal(value)}" for key, value in values.items()]
    cell: dict[str, Any] = {
        "cell_type": "code",
        "execution_count": None,
        "metadata": {"tags": [INJECTED]},
        "outputs": [],
        "source": "\n".join(lines) + "\n",
    }
    if (nb.get("nbformat"), nb.get("nbformat_minor", 0)) >= (4, 5):
        cell["id"] = uuid.uuid4().hex[:8]
    return cell


def python_literal(value: Any) -> str:
    """Python source for a param value (what papermill's Python translator writes)."""
    if isinstance(value, float) and not math.isfinite(value):
        return f"float({str(value)!r})"
    if isinstance(value, Mapping):
        items = ", ".join(f"{python_literal(k)}: {python_literal(v)}" for k, v in value.items())
        return "{" + items + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(python_literal(v) for v in value) + "]"
    if value is None or isinstance(value, bool | int | float | str):
        return repr(value)
    return repr(str(value))  # a date from YAML: as text


def _assignments(source: str) -> dict[str, Any]:
    """``name = literal`` statements of a cell; magics, calls and the rest are skipped."""
    kept = "\n".join(
        line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))
    )
    try:
        body = ast.parse(kept).body
    except SyntaxError:
        return {}
    values: dict[str, Any] = {}
    for node in body:
        target, value = _target(node)
        if target is None or value is None:
            continue
        try:
            values[target] = ast.literal_eval(value)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            continue
    return values


def _target(node: ast.stmt) -> tuple[str | None, ast.expr | None]:
    if isinstance(node, ast.Assign) and len(node.targets) == 1:
        target = node.targets[0]
        return (target.id, node.value) if isinstance(target, ast.Name) else (None, None)
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return node.target.id, node.value
    return None, None


def _notebook(name: str, text: str) -> dict[str, Any]:
    try:
        nb = json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"cannot read notebook {name}: not JSON ({exc})") from exc
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise ConfigError(f"cannot read notebook {name}: no cells (nbformat 4 expected)")
    return nb


def _cells(name: str, text: str) -> list[dict[str, Any]]:
    return [c for c in _notebook(name, text)["cells"] if isinstance(c, dict)]


def _tagged(cells: list[dict[str, Any]]) -> bool:
    return any(PARAMETERS in _tags(c) for c in cells)


def _tags(cell: dict[str, Any]) -> list[str]:
    tags = (cell.get("metadata") or {}).get("tags") or []
    return [str(t) for t in tags] if isinstance(tags, list) else []


def _source(cell: dict[str, Any]) -> str:
    source = cell.get("source") or ""
    return "".join(source) if isinstance(source, list) else str(source)


def _python_only(name: str, nb: dict[str, Any]) -> None:
    meta = nb.get("metadata") or {}
    language = (meta.get("kernelspec") or {}).get("language") or (
        meta.get("language_info") or {}
    ).get("name")
    if language not in (None, "python"):
        raise UsageError(
            f"notebook {name} runs {language}: -p values can be injected into Python "
            "notebooks only",
            "run it without -p, or set its values in a params file it reads",
        )
