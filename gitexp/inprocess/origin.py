"""What ran an in-process experiment: a script, a notebook's kernel, or a prompt.

run.json records the command as for `gitexp run`, so `gitexp reproduce` can
run it again: the script's command line (``python train.py --epochs 3``),
the notebook's path (run headless, gitexp/running/notebooks.py), or nothing
for an interactive prompt. A kernel is not told which notebook it serves;
it is found, in this order, from VS Code's ``__vsc_ipynb_file__``, from
``JPY_SESSION_NAME`` (set by jupyter_server 2 for the kernels it starts:
JupyterLab, Notebook 7) and from the sessions of the Jupyter servers running
on this machine (classic Notebook, older servers). docs/notebooks.md.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
SERVER_TIMEOUT_S = 1.0


@dataclass(frozen=True)
class Origin:
    """``kind``: script, notebook or interactive; ``notebook``: its absolute path."""

    kind: str
    command: list[str]
    notebook: Path | None = None
    kernel: str | None = None

    def record(self, root: Path) -> dict[str, Any]:
        """run.json's ``in_process``: the notebook relative to the work tree."""
        out: dict[str, Any] = {"kind": self.kind}
        if self.notebook is not None:
            inside = self.notebook.is_relative_to(root)
            out["notebook"] = self.notebook.relative_to(root).as_posix() if inside else None
        if self.kernel is not None:
            out["kernel"] = self.kernel
        return out


def detect(root: Path, cwd: Path) -> Origin:
    """What this process is: a notebook's kernel, an interactive prompt, or a script."""
    shell = _kernel_shell()
    if shell is not None:
        return _from_kernel(shell, cwd)
    if _interactive():
        return Origin("interactive", [])
    return Origin("script", script_command(root, cwd))


def script_command(root: Path, cwd: Path) -> list[str]:
    """The command line as typed (``sys.orig_argv``); the interpreter as ``python`` and
    absolute paths inside the work tree made relative, so it runs again elsewhere."""
    argv = [str(a) for a in (getattr(sys, "orig_argv", None) or [sys.executable, *sys.argv])]
    if os.path.basename(argv[0]).startswith("python"):
        argv[0] = "python"
    return [argv[0], *(_relative(arg, root, cwd) for arg in argv[1:])]


def _relative(arg: str, root: Path, cwd: Path) -> str:
    path = Path(arg)
    if path.is_absolute() and path.is_relative_to(root) and path.exists():
        return os.path.relpath(path, cwd)
    return arg


def _interactive() -> bool:
    """A prompt (python, python -i, an IPython terminal): no command runs it again."""
    argv0 = sys.argv[0] if sys.argv else ""
    return hasattr(sys, "ps1") or bool(sys.flags.interactive) or argv0 in ("", "-")


def _kernel_shell() -> Any:
    """IPython's shell when this process is a Jupyter kernel (never imported here)."""
    ipython = sys.modules.get("IPython")
    if ipython is None or "ipykernel" not in sys.modules:
        return None
    shell = ipython.get_ipython()
    return shell if getattr(shell, "kernel", None) is not None else None


def _from_kernel(shell: Any, cwd: Path) -> Origin:
    path = notebook_path(shell, cwd)
    if path is None:
        _warn_once(
            "gitexp: warning: cannot tell which notebook this kernel runs, so its experiments "
            "record no command (supported: JupyterLab, Notebook, VS Code; docs/notebooks.md)"
        )
        return Origin("notebook", [])
    return Origin("notebook", [os.path.relpath(path, cwd)], path, _kernelspec(path))


_warned: set[str] = set()


def _warn_once(message: str) -> None:
    """Once per kernel: a loop of start_run calls would repeat it for every run."""
    if message not in _warned:
        _warned.add(message)
        log.warning(message)


def notebook_path(shell: Any, cwd: Path) -> Path | None:
    """The notebook file this kernel serves, or None when nothing tells."""
    named = [getattr(shell, "user_ns", {}).get("__vsc_ipynb_file__")]
    named.append(os.environ.get("JPY_SESSION_NAME"))
    for candidate in [*named, *_from_servers()]:
        found = _existing(candidate, cwd)
        if found is not None:
            return found
    return None


def _existing(candidate: object, cwd: Path) -> Path | None:
    """An existing .ipynb file; a relative name is tried against the kernel's folder."""
    if not isinstance(candidate, str) or not candidate.endswith(".ipynb"):
        return None
    path = Path(candidate).expanduser()
    for option in (path, cwd / path, cwd / path.name):
        if option.is_absolute() and option.is_file():
            return option.resolve()
    return None


def _kernelspec(path: Path) -> str | None:
    """The kernel the notebook asks for (its metadata), as papermill will start it."""
    try:
        meta = json.loads(path.read_text(encoding="utf-8")).get("metadata") or {}
        name = (meta.get("kernelspec") or {}).get("name")
    except (OSError, ValueError, AttributeError):
        return None
    return str(name) if name else None


def _from_servers() -> Iterator[str]:
    """Notebook paths of the running Jupyter servers' sessions that use this kernel."""
    kernel_id = _kernel_id()
    if kernel_id is None:
        return
    for info in _server_infos():
        root = str(info.get("root_dir") or info.get("notebook_dir") or "")
        for session in _sessions(info):
            kernel = session.get("kernel") or {}
            if kernel.get("id") == kernel_id:
                rel = session.get("path") or (session.get("notebook") or {}).get("path")
                if isinstance(rel, str):
                    yield os.path.join(root, rel)


def _kernel_id() -> str | None:
    """This kernel's id, from its connection file's name (``kernel-<id>.json``)."""
    try:
        from ipykernel.connect import get_connection_file

        name = Path(get_connection_file()).name
    except Exception:  # not an ipykernel, or one without a connection file
        return None
    if name.startswith("kernel-") and name.endswith(".json"):
        return name[len("kernel-") : -len(".json")]
    return None


def _server_infos() -> list[dict[str, Any]]:
    """What running Jupyter servers (jupyter_server, classic Notebook) say about themselves."""
    try:
        from jupyter_core.paths import jupyter_runtime_dir

        runtime = Path(jupyter_runtime_dir())
    except Exception:  # no jupyter_core: no server either
        return []
    infos = []
    for path in [*runtime.glob("jpserver-*.json"), *runtime.glob("nbserver-*.json")]:
        try:
            infos.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            continue
    return [info for info in infos if isinstance(info, dict)]


def _sessions(info: dict[str, Any]) -> list[dict[str, Any]]:
    """A server's sessions (its REST API, with its token); [] when it does not answer."""
    import urllib.request

    url = str(info.get("url") or "").rstrip("/") + "/api/sessions"
    request = urllib.request.Request(url, headers={"Authorization": f"token {info.get('token')}"})
    try:
        with urllib.request.urlopen(request, timeout=SERVER_TIMEOUT_S) as response:
            found = json.loads(response.read())
    except (OSError, ValueError):
        return []
    return [s for s in found if isinstance(s, dict)] if isinstance(found, list) else []
