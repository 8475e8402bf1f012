"""Executors run a prepared job somewhere: a subprocess, a container, a cluster.

The runner owns the lifecycle (snapshot, ref, record); an executor only
executes. ``get_executor`` imports backends lazily so docker or ray are
loaded only by runs that ask for them.
"""

from __future__ import annotations

from gitexp.common.errors import UsageError
from gitexp.config.settings import Config
from gitexp.running.executors.base import ExecResult, Executor, Job, OutputSink

__all__ = ["ExecResult", "Executor", "Job", "OutputSink", "get_executor"]

NAMES = ("local", "docker")


def get_executor(name: str, config: Config) -> Executor:
    """The executor called ``name``, configured from gitexp.yaml."""
    if name == "local":
        from gitexp.running.executors.local import LocalExecutor

        return LocalExecutor()
    if name == "docker":
        from gitexp.running.executors.docker import DockerExecutor

        executor: Executor = DockerExecutor(config)
        return executor
    raise UsageError(f"unknown executor {name!r}", f"choose one of: {', '.join(NAMES)}")
