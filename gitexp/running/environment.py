"""The environment a run executed in: installed packages, Python, platform, host.

Collected in a background thread while the command runs, so recording it
costs the run nothing it would notice.
"""

from __future__ import annotations

import json
import os
import platform
import socket
import sys
import threading
from pathlib import Path

from gitexp.common.layout import REQUIREMENTS_TXT, SYSTEM_JSON


def python_version() -> str:
    return platform.python_version()


# variables that change numerical results (threads, determinism, hashing)
NUMERICS_ENV = (
    "PYTHONHASHSEED",
    "CUBLAS_WORKSPACE_CONFIG",
    "TF_DETERMINISTIC_OPS",
    "TF_CUDNN_DETERMINISTIC",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "CUDA_VISIBLE_DEVICES",
    "KERAS_BACKEND",
)


def describe() -> dict[str, str | int | None]:
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "executable": sys.executable,
        "platform": platform.platform(),
        "machine": platform.machine(),
        "host": socket.gethostname(),
        "cpu_count": os.cpu_count(),
        "threads": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
    }


def gpus() -> str | None:
    """GPU models and driver, when nvidia-smi is there (in the probe's thread only)."""
    import shutil
    import subprocess

    exe = shutil.which("nvidia-smi")
    if exe is None:
        return None
    try:
        proc = subprocess.run(
            [exe, "--query-gpu=name,driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = [ln.strip() for ln in proc.stdout.splitlines() if ln.strip()]
    return "; ".join(lines) if proc.returncode == 0 and lines else None


def numerics_env(command_env: dict[str, str]) -> dict[str, str]:
    """The variables of NUMERICS_ENV the command sees (ours over the inherited ones)."""
    seen = {**os.environ, **command_env}
    return {k: seen[k] for k in NUMERICS_ENV if k in seen}


def freeze(cache: Path | None = None) -> str:
    """`pip freeze`-like lines of the interpreter gitexp runs in.

    Listing distributions costs ~0.1 s; the result is cached under ``cache``
    keyed by the interpreter and the mtimes of its sys.path folders, which
    every install or uninstall changes.
    """
    key = _freeze_key()
    if cache is not None:
        try:
            stored = json.loads(cache.read_text(encoding="utf-8"))
            if stored.get("key") == key:
                return str(stored["freeze"])
        except (OSError, ValueError, KeyError, AttributeError):
            pass
    text = _freeze()
    if cache is not None:
        try:
            cache.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps({"key": key, "freeze": text}), encoding="utf-8")
            tmp.replace(cache)
        except OSError:
            pass
    return text


def _freeze_key() -> list[object]:
    """The interpreter and its install folders' mtimes. The current directory (``''``
    for `python -m gitexp`) is left out: it is the user's repository, whose mtime
    every new file changes, not where packages are installed."""
    stamps: list[object] = [sys.executable]
    here = os.getcwd()
    for entry in sys.path:
        if not entry or os.path.abspath(entry) == here:
            continue
        try:
            stamps.append([entry, os.stat(entry or ".").st_mtime_ns])
        except OSError:
            continue
    return stamps


def _freeze() -> str:
    from importlib import metadata  # ~15 ms: only on a cache miss

    seen: dict[str, str] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name and name.lower() not in seen:
            seen[name.lower()] = f"{name}=={dist.version}"
    return "".join(line + "\n" for _, line in sorted(seen.items()))


class EnvironmentProbe:
    """Starts collecting at construction; ``files()`` waits and returns .gitexp/env/*."""

    def __init__(self, cache: Path | None = None) -> None:
        self._cache = cache
        self._result: dict[str, bytes] = {}
        self._thread = threading.Thread(target=self._collect, daemon=True)
        self._thread.start()

    def _collect(self) -> None:
        self._result = {
            REQUIREMENTS_TXT: freeze(self._cache).encode(),
            SYSTEM_JSON: (json.dumps({**describe(), "gpus": gpus()}, indent=2) + "\n").encode(),
        }

    def files(self) -> dict[str, bytes]:
        self._thread.join()
        return dict(self._result)
