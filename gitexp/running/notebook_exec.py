"""Execute a notebook in place, headless: the process a notebook run's job starts.

``python -m gitexp.running.notebook_exec analysis.ipynb`` runs every cell with
the kernel the notebook names (``python3`` when it names none) through
papermill, in the notebook's folder, as Jupyter would; the notebook file is
rewritten with the outputs as cells finish, so even a failed or interrupted
run commits what it got to. Cell output streams to this process's stdout and
stderr, where the runner reads printed metrics. A cell that raises ends the
run with exit code 1 and one line naming the cell. The kernel inherits this
environment, so ``gitexp.log_metric`` in the notebook records into the run.
Imports nothing of gitexp: it runs in images where only the tracking library
is installed (docs/notebooks.md).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

DEFAULT_KERNEL = "python3"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m gitexp.running.notebook_exec NOTEBOOK.ipynb", file=sys.stderr)
        return 2
    try:
        import papermill
        from papermill.exceptions import PapermillExecutionError
    except ImportError:
        _error("papermill is not installed (hint: pip install 'gitexp[notebook]')")
        return 2
    path = Path(args[0]).resolve()
    try:
        papermill.execute_notebook(
            str(path),
            str(path),
            kernel_name=_kernel(path),
            cwd=str(path.parent),
            progress_bar=False,
            log_output=True,
            stdout_file=sys.stdout,
            stderr_file=sys.stderr,
        )
    except PapermillExecutionError as exc:
        _error(f"{args[0]}: {_cell(exc)} raised {exc.ename}: {_first_line(exc.evalue)}")
        return 1
    except Exception as exc:  # no such kernel, a dead kernel, an unreadable notebook
        _error(f"{args[0]}: {type(exc).__name__}: {_first_line(str(exc))}")
        return 1
    return 0


def _cell(exc: object) -> str:
    """Which cell failed, as a person finds it: its position and its In [n] label."""
    index = getattr(exc, "cell_index", None)
    count = getattr(exc, "exec_count", None)
    where = f"cell {index + 1}" if isinstance(index, int) else "a cell"
    return f"{where} (In [{count}])" if count is not None else where


def _kernel(path: Path) -> str | None:
    """The notebook's own kernel; ``python3`` for a notebook that names none."""
    try:
        meta = json.loads(path.read_text(encoding="utf-8")).get("metadata") or {}
    except (OSError, ValueError, AttributeError):
        return None  # papermill reports the notebook it cannot read
    return None if (meta.get("kernelspec") or {}).get("name") else DEFAULT_KERNEL


def _first_line(text: str) -> str:
    return (text or "").strip().splitlines()[0] if (text or "").strip() else ""


def _error(message: str) -> None:
    print(f"gitexp: error: {message}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
