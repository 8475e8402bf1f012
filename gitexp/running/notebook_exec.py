"""Execute a notebook in place, headless: the process a notebook run's job starts.

``python -m gitexp.running.notebook_exec analysis.ipynb`` runs every cell with
the kernel the notebook names (``python3`` when it names none) through
papermill, in the notebook's folder, as Jupyter would; the notebook file is
rewritten with the outputs as cells finish, so even a failed or interrupted
run commits what it got to. Cell output streams to this process's stdout and
stderr, where the runner reads printed metrics. A cell that raises ends the
run with exit code 1 and one line naming the cell (``describe``; the runner
reads the same words from the executed notebook into run.json's ``error``,
gitexp/running/notebooks.py). A kernel that dies (``os._exit``, a crash, the
OOM killer) raises in no cell, so the cell it died in gets an error output
``DeadKernelError`` saying how it ended, and the same line follows
(``the kernel died in cell 2 (In [2]): killed by SIGKILL, out of memory?``).
There is no cell timeout: a kernel that hangs runs until Ctrl-C, which
records the run `interrupted`. The kernel inherits this environment, so
``gitexp.log_metric`` in the notebook records into the run; in zero-code mode
(``--autolog``, ``seed.auto``) the startup hook's folder goes back on the
kernel's ``PYTHONPATH`` (``zero_code_env``): the hook took it off for the
processes this one starts, and the kernel, not this process, runs the
notebook's code, so it seeds and autologs there as in a script. Imports nothing
of gitexp: it runs in images and on workers that may hold only what the
tracking library needs (docs/notebooks.md).
"""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

DEFAULT_KERNEL = "python3"
DEAD_KERNEL = "DeadKernelError"  # nbclient's name, the error output's ``ename``
#: gitexp/integrations/zerocode.py's variables, and the folder of its startup hook
ZERO_CODE_VARS = ("GITEXP_AUTOLOG", "GITEXP_AUTOSEED")
STARTUP_DIR = Path(__file__).resolve().parent.parent / "integrations" / "startup"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m gitexp.running.notebook_exec NOTEBOOK.ipynb", file=sys.stderr)
        return 2
    try:
        import papermill
        from nbclient.exceptions import DeadKernelError
        from papermill.exceptions import PapermillExecutionError
    except ImportError:
        _error("papermill is not installed (hint: pip install 'gitexp[notebook]')")
        return 2
    path, exits = Path(args[0]).resolve(), list[int]()
    os.environ.update(zero_code_env(os.environ))  # the kernel inherits it
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
            kernel_manager_class=_watching_manager(exits),
            **kernel_options(),
        )
    except PapermillExecutionError as exc:
        _error(f"{args[0]}: {describe(exc.cell_index, exc.exec_count, exc.ename, exc.evalue)}")
        return 1
    except DeadKernelError:
        _error(f"{args[0]}: {mark_death(path, exits[0] if exits else None)}")
        return 1
    except Exception as exc:  # no such kernel, a dead kernel, an unreadable notebook
        _error(f"{args[0]}: {type(exc).__name__}: {_first_line(str(exc))}")
        return 1
    return 0


def zero_code_env(environ: Mapping[str, str]) -> dict[str, str]:
    """The kernel's ``PYTHONPATH`` with the zero-code startup hook first, when the run
    is in zero-code mode and the hook is there; ``{}`` otherwise."""
    wanted = environ.get("GITEXP_AUTOLOG") or environ.get("GITEXP_AUTOSEED") == "1"
    if not wanted or not environ.get("GITEXP_RUN_DIR") or not STARTUP_DIR.is_dir():
        return {}
    paths = [p for p in environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    return {"PYTHONPATH": os.pathsep.join([str(STARTUP_DIR), *paths])}


def describe(index: object, count: object, ename: str, evalue: str) -> str:
    """A failed cell as a person finds it: its position (from 1, every cell counted),
    its In [n] label and the exception's first line, e.g. ``cell 4 (In [4]) raised
    ValueError: bad lr``."""
    where = f"cell {index + 1}" if isinstance(index, int) else "a cell"
    if count is not None:
        where += f" (In [{count}])"
    line = _first_line(evalue)
    if ename == DEAD_KERNEL:
        return f"the kernel died in {where}: {line}" if line else f"the kernel died in {where}"
    return f"{where} raised {ename}: {line}" if line else f"{where} raised {ename}"


def how_it_ended(code: int | None) -> str:
    """The kernel's exit status in words; SIGKILL is most often the OOM killer."""
    if code is None:
        return ""
    if code >= 0:
        return f"exit code {code}"
    try:
        name = signal.Signals(-code).name
    except ValueError:
        name = f"signal {-code}"
    return f"killed by {name}, out of memory?" if -code == signal.SIGKILL else f"killed by {name}"


def mark_death(path: Path, code: int | None) -> str:
    """Put a ``DeadKernelError`` output in the cell the kernel died in (the last one
    papermill started) of the saved notebook; its description. Never raises: an
    unreadable notebook still gets the line."""
    evalue = how_it_ended(code)
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
        cells = [c for c in nb["cells"] if isinstance(c, dict)]
        started = [i for i, c in enumerate(cells) if _papermill(c).get("start_time")]
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return describe(None, None, DEAD_KERNEL, evalue)
    if not started:
        return describe(None, None, DEAD_KERNEL, evalue)
    cell = cells[started[-1]]
    cell.setdefault("outputs", []).append(_death_output(evalue))
    _papermill(cell).update(status="failed", exception=True)
    try:
        path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    except OSError:
        pass  # the line below still says it
    return describe(started[-1], cell.get("execution_count"), DEAD_KERNEL, evalue)


def _death_output(evalue: str) -> dict[str, Any]:
    text = "the kernel died while this cell ran" + (f" ({evalue})" if evalue else "")
    return {"output_type": "error", "ename": DEAD_KERNEL, "evalue": evalue, "traceback": [text]}


def _papermill(cell: dict[str, Any]) -> dict[str, Any]:
    meta = cell.get("metadata")
    found = meta.get("papermill") if isinstance(meta, dict) else None
    return found if isinstance(found, dict) else {}


def _watching_manager(exits: list[int]) -> type[Any]:
    """nbclient's kernel manager, noting the kernel's exit status into ``exits`` when it
    finds the process gone (a dead kernel is only ``DeadKernelError: Kernel died``)."""
    from jupyter_client.manager import AsyncKernelManager

    class Watching(AsyncKernelManager):
        async def _async_is_alive(self) -> bool:
            provisioner = getattr(self, "provisioner", None)  # jupyter_client 7+
            if provisioner is not None and self.has_kernel:
                code = await provisioner.poll()
                if code is not None:
                    exits.append(code)
            alive: bool = await super()._async_is_alive()
            return alive

        is_alive = _async_is_alive

    return Watching


def kernel_options() -> dict[str, Any]:
    """Have the kernel manager provision CurveZMQ keys for a kernel whose kernelspec
    says it takes them (ipykernel 7 does), so the kernel's TCP sockets are encrypted.

    ipykernel 7 otherwise logs "Kernel is running over TCP without encryption..." on
    its stderr, which papermill passes into every run's output; the warning is right,
    and this is the setting it asks for (jupyter_client's
    ``KernelManager.transport_encryption``). A jupyter_client without that setting,
    or a pyzmq built without CurveZMQ, runs the kernel as before.
    """
    try:
        import zmq
        from jupyter_client.manager import KernelManager
        from traitlets.config import Config
    except ImportError:
        return {}
    if not zmq.has("curve") or "transport_encryption" not in KernelManager.class_trait_names():
        return {}
    return {"config": Config({"KernelManager": {"transport_encryption": "auto"}})}


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
    """The command's own line (gitexp's final error line repeats the cell, so this one
    is not `gitexp: error:`: exit-codes.md's one error line)."""
    print(f"gitexp: {message}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
