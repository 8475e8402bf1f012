"""Executors run a prepared job somewhere: a subprocess, a container, a cluster.

The runner owns the lifecycle (snapshot, ref, record); an executor only
executes. ``get_executor`` imports backends lazily so docker or ray are
loaded only by runs that ask for them.
"""

from __future__ import annotations

from gitexp.common.errors import BackendError, UsageError
from gitexp.config.settings import Config
from gitexp.running.executors.base import ExecResult, Executor, Job, OutputSink

__all__ = ["ExecResult", "Executor", "Job", "OutputSink", "get_executor"]

NAMES = ("local", "docker", "ray")


def get_executor(name: str, config: Config) -> Executor:
    """The executor called ``name``, configured from gitexp.yaml."""
    if name == "local":
        from gitexp.config.cluster import num_workers
        from gitexp.running.executors.local import LocalExecutor

        workers = num_workers(config)
        if workers > 1:  # a torch.distributed group on this machine
            from gitexp.running.distributed import LocalGroupExecutor

            return LocalGroupExecutor(workers)
        return LocalExecutor()
    if name == "ray":
        return _ray(config)
    if name == "docker":
        from gitexp.running.executors.docker import DockerExecutor

        executor: Executor = DockerExecutor(config)
        return executor
    raise UsageError(f"unknown executor {name!r}", f"choose one of: {', '.join(NAMES)}")


def _ray(config: Config) -> Executor:
    """Ray is imported only by runs that ask for it; a one-line error without it."""
    try:
        from gitexp.running.executors.ray import RayExecutor
    except ImportError as exc:
        if exc.name != "ray" and not str(exc.name or "").startswith("ray."):
            raise
        raise BackendError("Ray is not installed", "pip install 'gitexp[ray]'") from exc
    return RayExecutor(config)
