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
from importlib import metadata


def python_version() -> str:
    return platform.python_version()


def describe() -> dict[str, str | int | None]:
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "executable": sys.executable,
        "platform": platform.platform(),
        "machine": platform.machine(),
        "host": socket.gethostname(),
        "cpu_count": os.cpu_count(),
    }


def freeze() -> str:
    """`pip freeze`-like lines of the interpreter gitexp runs in."""
    seen: dict[str, str] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name and name.lower() not in seen:
            seen[name.lower()] = f"{name}=={dist.version}"
    return "".join(line + "\n" for _, line in sorted(seen.items()))


class EnvironmentProbe:
    """Starts collecting at construction; ``files()`` waits and returns .gitexp/env/*."""

    def __init__(self) -> None:
        self._result: dict[str, bytes] = {}
        self._thread = threading.Thread(target=self._collect, daemon=True)
        self._thread.start()

    def _collect(self) -> None:
        self._result = {
            ".gitexp/env/requirements.txt": freeze().encode(),
            ".gitexp/env/system.json": (json.dumps(describe(), indent=2) + "\n").encode(),
        }

    def files(self) -> dict[str, bytes]:
        self._thread.join()
        return dict(self._result)
