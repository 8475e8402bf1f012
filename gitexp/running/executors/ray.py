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
group (gitexp/running/distributed.py).

Ray is started or joined once per process: no address starts a local Ray
instance for this process; ``auto`` joins the cluster this machine belongs
to (``RAY_ADDRESS`` or the one ``ray start`` made here).
"""

from __future__ import annotations

import dataclasses
import logging
import socket
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ray

from gitexp.common.errors import BackendError, UsageError
from gitexp.common.layout import LIVE_DIR, LIVE_METRICS
from gitexp.config.cluster import RaySettings, num_workers, ray_settings
from gitexp.config.settings import Config
from gitexp.running.distributed import RankSink, run_group, torch_env
from gitexp.running.executors.base import ExecResult, Executor, Job, OutputSink
from gitexp.running.executors.worker import Final, Remote
from gitexp.running.transport import pack

log = logging.getLogger(__name__)
PLACEMENT_TIMEOUT_S = 120.0
REACH_TIMEOUT_S = 10.0
CONNECT_HINT = "start one with `ray start --head --port=6379` (docs/distributed.md)"

_lock = threading.Lock()
_session: dict[str, Any] = {}  # the address this process joined, its stop board


def connect(settings: RaySettings) -> str:
    """Join (or start) Ray once per process; the address joined, for run.json."""
    wanted = settings.address or "local"
    with _lock:
        if "address" in _session:
            if _session["address"] != wanted:
                raise UsageError(
                    f"this process uses the Ray cluster {_session['address']!r} already, "
                    f"not {wanted!r}"
                )
            return wanted
        _check_reachable(wanted)
        try:
            ray.init(
                address=wanted,
                namespace="gitexp",
                logging_level=logging.ERROR,
                log_to_driver=False,
                include_dashboard=False if wanted == "local" else None,
            )
        except Exception as exc:  # ConnectionError, RuntimeError, ValueError: all one line
            text = " ".join(str(exc).split())[:300]
            raise BackendError(
                f"cannot join the Ray cluster at {wanted!r}: {text}", CONNECT_HINT
            ) from exc
        _session["address"] = wanted
        return wanted


def _check_reachable(address: str) -> None:
    """Ray retries an address that does not answer for minutes: one try first."""
    if address in ("local", "auto"):
        return
    host, _, port = address.rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=REACH_TIMEOUT_S).close()
    except OSError as exc:
        why = exc.strerror or type(exc).__name__
        raise BackendError(
            f"cannot reach the Ray cluster at {address!r}: {why}", CONNECT_HINT
        ) from exc


def board() -> Any:
    """This process's stop board (created on first use)."""
    from gitexp.running.executors.raytasks import StopBoard

    with _lock:
        if "board" not in _session:
            actor: Any = StopBoard  # ray.remote's class has no static type
            _session["board"] = actor.remote()
        return _session["board"]


def check_fits(settings: RaySettings, workers: int) -> None:
    """Refuse a request no node of the cluster can hold (it would wait forever)."""
    bundle = settings.bundle()
    if workers > 1 and not bundle:
        raise UsageError("each worker of a process group needs some --cpus or --gpus")
    listed: Any = ray.nodes  # untyped
    nodes = [n.get("Resources", {}) for n in listed() if n.get("Alive")]
    if _fits(bundle, workers, settings.placement, nodes):
        return
    have = "; ".join(f"{_amount(n.get('CPU'))} CPU, {_amount(n.get('GPU'))} GPU" for n in nodes)
    asked = ", ".join(f"{_amount(v)} {k}" for k, v in bundle.items())
    raise BackendError(
        f"the Ray cluster cannot hold {workers} x ({asked}); its nodes have: {have or 'none'}",
        "ask for less (--cpus, --gpus, --memory) or add nodes",
    )


def _fits(
    bundle: dict[str, float], workers: int, placement: str, nodes: list[dict[str, float]]
) -> bool:
    """Whether ``workers`` bundles can be placed, as far as the live nodes tell."""

    def holds(node: dict[str, float], times: int) -> bool:
        return all(node.get(k, 0) >= v * times for k, v in bundle.items())

    if workers == 1 or placement == "STRICT_PACK":
        return any(holds(n, workers) for n in nodes)
    if placement == "STRICT_SPREAD":
        return sum(holds(n, 1) for n in nodes) >= workers
    return sum(_how_many(bundle, n) for n in nodes) >= workers


def _how_many(bundle: dict[str, float], node: dict[str, float]) -> int:
    """Bundles that fit on one node."""
    counts = [int(node.get(k, 0) // v) for k, v in bundle.items() if v]
    return min(counts) if counts else 0


def _amount(value: Any) -> str:
    number = float(value or 0)
    return str(int(number)) if number.is_integer() else f"{number:g}"


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

    def stop(self) -> None:
        threading.Thread(target=_stop, args=(self.key,), daemon=True).start()


def _stop(key: str) -> None:
    try:
        board().stop.remote(key)
    except Exception as exc:  # Ray is shutting down: nothing left to stop
        log.debug("could not stop %s: %s", key, exc)


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
            _forget(self.key)

    def _single(self, job: Job, sink: OutputSink, archive: Any) -> ExecResult:
        rank = _Rank(self._remote(job, 0, {}), archive, self._options(), sink, self.key, _live(job))
        self.ranks = [rank]
        if self.stopping.is_set():
            rank.stop()
        return rank.run()

    def _group(self, job: Job, sink: OutputSink, archive: Any) -> ExecResult:
        from ray.util.placement_group import remove_placement_group

        group = _place(self.settings, self.workers)
        try:
            envs = _rendezvous(group, self.workers)
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
                _stop(self.key)
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

    def stop(self) -> None:
        self.stopping.set()
        threading.Thread(target=_stop, args=(self.key,), daemon=True).start()


def _live(job: Job) -> Path:
    return job.run_dir / LIVE_DIR / LIVE_METRICS


def _forget(key: str) -> None:
    try:
        board().forget.remote(key)
    except Exception as exc:
        log.debug("could not release %s: %s", key, exc)


def _place(settings: RaySettings, workers: int) -> Any:
    """A placement group of ``workers`` bundles, ready (or a one-line error)."""
    from ray.util.placement_group import placement_group, remove_placement_group

    group = placement_group([settings.bundle()] * workers, strategy=settings.placement)
    ready, _ = ray.wait([group.ready()], timeout=PLACEMENT_TIMEOUT_S)
    if not ready:
        remove_placement_group(group)
        raise BackendError(
            f"the Ray cluster could not place {workers} workers ({settings.placement}) "
            f"within {PLACEMENT_TIMEOUT_S:.0f} s",
            "ask for fewer workers or resources, or add nodes",
        )
    return group


def _rendezvous(group: Any, workers: int) -> list[dict[str, str]]:
    """The torch.distributed variables of every rank: where each bundle landed,
    rank 0's node and a free port there as the master."""
    from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

    from gitexp.running.executors.raytasks import where

    spots = ray.get(
        [
            where.options(
                scheduling_strategy=PlacementGroupSchedulingStrategy(
                    group, placement_group_bundle_index=i
                )
            ).remote()
            for i in range(workers)
        ]
    )
    nodes = list(dict.fromkeys(node for node, _, _ in spots))
    master = (spots[0][1], spots[0][2])
    envs = []
    for rank, (node, _, _) in enumerate(spots):
        same = [r for r, spot in enumerate(spots) if spot[0] == node]
        local = (same.index(rank), len(same))
        envs.append(torch_env(rank, workers, master, local, nodes.index(node)))
    return envs
