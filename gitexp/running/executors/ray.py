"""Run the job as a task on a Ray cluster (`--executor ray [--address HOST:PORT|auto]`).

The driver — this process, which owns the repository — keeps every git
write; the cluster only executes. The run dir travels as one archive
through Ray's object store (workers need gitexp and the script's packages,
no git and no checkout); the task (``raytasks.run_job``) streams output and
the live metrics bytes back while it runs, which this executor feeds to the
sink (``streams_metrics``: pruning, progress and events work as locally)
and mirrors into the local run dir (a lost worker still leaves the metrics
logged until then), and last the archive of what the run changed, which the
runner unpacks and records.

Resources come from ``ray:`` in gitexp.yaml or the flags (``cpus``,
``gpus``, ``memory``, ``resources``); a request no node can hold is refused
before the run starts. A stop (Ctrl-C, pruning) goes through the driver's
``StopBoard``: the command gets SIGINT on its worker and its results still
come back. A worker that dies (lost node, killed process) fails the run
with the reason (a ``BackendError``; the runner records it `failed`).
``--num-workers N`` places N ranks in a placement group and runs them as one
group (gitexp/running/distributed.py). Joining the cluster, what fits, stops
and placement are in ``raycluster.py``.
"""

from __future__ import annotations

import dataclasses
import signal
import socket
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ray

from gitexp.common.errors import BackendError
from gitexp.common.layout import LIVE_DIR, LIVE_METRICS
from gitexp.config.cluster import num_workers, ray_settings
from gitexp.config.settings import Config
from gitexp.running.distributed import RankSink, run_group
from gitexp.running.executors.base import ExecResult, Executor, Job, OutputSink
from gitexp.running.executors.raycluster import (
    board,
    check_fits,
    connect,
    forget_run,
    place,
    rendezvous,
    stop_run,
)
from gitexp.running.executors.worker import Final, Remote
from gitexp.running.transport import pack


@dataclass
class _Rank:
    """One rank (or the single task) of a run on Ray, consumed from a driver thread."""

    remote: Remote
    archive: Any  # ObjectRef of the archive
    options: dict[str, Any]
    sink: OutputSink
    key: str
    mirror: Path | None = None  # the local live metrics file (rank 0)

    def run(self) -> ExecResult:
        from gitexp.running.executors.raytasks import run_job

        task: Any = run_job.options(**self.options)
        gen = task.remote(self.remote, self.archive, board(), self.key)
        final = None
        try:
            for ref in gen:
                final = self._take(ray.get(ref)) or final
        except ray.exceptions.RayError as exc:
            self.sink.close()
            raise BackendError(_death(self.remote, exc)) from exc
        self.sink.close()
        if final is None:
            raise BackendError(f"the Ray task of {self.remote.job.name!r} ended without a result")
        return final.result()

    def _take(self, batch: list[Any]) -> Final | None:
        final = None
        for message in batch:
            if isinstance(message, Final):
                final = message
            elif message[0] == "out":
                self.sink.write(message[1], message[2])
            else:
                self.sink.metrics(message[2])
                self._mirror(message[2])
        return final

    def _mirror(self, data: bytes) -> None:
        if self.mirror is None:
            return
        self.mirror.parent.mkdir(parents=True, exist_ok=True)
        with self.mirror.open("ab") as f:
            f.write(data)

    def stop(self, signum: int = signal.SIGINT) -> None:  # the worker stops it as Ctrl-C
        threading.Thread(target=stop_run, args=(self.key,), daemon=True).start()


def _death(remote: Remote, exc: Exception) -> str:
    """Why a rank produced no result, in one line."""
    who = f"rank {remote.rank} of " if remote.rank else ""
    if isinstance(exc, ray.exceptions.RayTaskError):
        cause = exc.cause if exc.cause is not None else exc
        return f"the Ray task of {who}{remote.job.name!r} failed: {type(cause).__name__}: {cause}"
    first = str(exc).strip().split("\n")[0].split(". ")[0]
    return f"the Ray worker running {who}{remote.job.name!r} died ({type(exc).__name__}: {first})"


class RayExecutor(Executor):
    name = "ray"
    checks_host_path = False  # the command runs on a worker, with its PATH
    streams_metrics = True

    def __init__(self, config: Config) -> None:
        self.config = config
        self.settings = ray_settings(config)
        self.workers = num_workers(config)
        self.key = uuid.uuid4().hex
        self.stopping = threading.Event()
        self.ranks: list[_Rank] = []
        # before anything is written: a wrong address or a request too big fails here
        self.address = connect(self.settings)
        check_fits(self.settings, self.workers)

    def prepare(self, job: Job) -> dict[str, Any]:
        described: dict[str, Any] = {
            "address": self.address,
            "cpus": self.settings.cpus,
            "gpus": self.settings.gpus,
            "worker_executor": self.settings.executor,
        }
        if self.settings.memory:
            described["memory"] = self.settings.memory
        return {"ray": described}

    def execute(self, job: Job, sink: OutputSink) -> ExecResult:
        archive = ray.put(pack(job.run_dir, {}))
        try:
            if self.workers == 1:
                return self._single(job, sink, archive)
            return self._group(job, sink, archive)
        finally:
            forget_run(self.key)

    def _single(self, job: Job, sink: OutputSink, archive: Any) -> ExecResult:
        rank = _Rank(self._remote(job, 0, {}), archive, self._options(), sink, self.key, _live(job))
        self.ranks = [rank]
        if self.stopping.is_set():
            rank.stop()
        return rank.run()

    def _group(self, job: Job, sink: OutputSink, archive: Any) -> ExecResult:
        from ray.util.placement_group import remove_placement_group

        group = place(self.settings, self.workers)
        try:
            envs = rendezvous(group, self.workers)
            self.ranks = [
                _Rank(
                    self._remote(job, rank, envs[rank]),
                    archive,
                    self._options(group, rank),
                    RankSink(sink, rank),
                    self.key,
                    _live(job) if rank == 0 else None,
                )
                for rank in range(self.workers)
            ]
            if self.stopping.is_set():
                stop_run(self.key)
            result = run_group(self.ranks, self.stopping)
        finally:
            remove_placement_group(group)
        sink.close()
        return result

    def _remote(self, job: Job, rank: int, env: dict[str, str]) -> Remote:
        # each rank is one process on its worker: the group is formed here, not there
        sections = {k: v for k, v in self.config.sections.items() if k != "distributed"}
        config = dataclasses.replace(self.config, sections=sections)
        return Remote(job, self.settings.executor, config, rank, env, socket.gethostname())

    def _options(self, group: Any = None, rank: int = 0) -> dict[str, Any]:
        options = {**self.settings.task_options(), "max_retries": 0}
        if self.settings.runtime_env:
            options["runtime_env"] = self.settings.runtime_env
        if group is not None:
            from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

            options["scheduling_strategy"] = PlacementGroupSchedulingStrategy(
                group, placement_group_bundle_index=rank
            )
        return options

    def stop(self, signum: int = signal.SIGINT) -> None:  # the worker stops it as Ctrl-C
        self.stopping.set()
        threading.Thread(target=stop_run, args=(self.key,), daemon=True).start()


def _live(job: Job) -> Path:
    return job.run_dir / LIVE_DIR / LIVE_METRICS
