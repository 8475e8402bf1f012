"""One experiment, many processes: a torch.distributed process group, locally or on Ray.

`gitexp run --num-workers N` starts the command N times as one group, each
process with the environment ``torch.distributed`` (``init_process_group``
with ``init_method="env://"``), torchrun, Lightning and Accelerate read:
``MASTER_ADDR``, ``MASTER_PORT``, ``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``,
``LOCAL_WORLD_SIZE``, ``GROUP_RANK``/``NODE_RANK``. It stays one experiment:

- rank 0 is the run: its metrics (the tracking library of the other ranks
  writes to a scratch folder, never rank 0's live files) and the files it
  writes (on Ray, only rank 0's run dir comes back; locally every rank
  shares the run dir, as under torchrun, so only rank 0 should write);
- every rank's output is kept in the one log, the lines of rank K > 0
  prefixed ``[rank K]`` (rank 0's lines as they are, so metrics printed by
  rank 0 are read as from a plain run);
- the group fails if any rank fails: the first rank to end badly stops the
  others (as torchrun does), and its exit code is the run's;
- a stop (Ctrl-C, a pruning sweep) stops every rank.

``run_group`` is that logic over any kind of member; ``LocalGroupExecutor``
runs the members as local processes (rendezvous on 127.0.0.1), the Ray
executor as tasks in a placement group (gitexp/running/executors/ray.py).
"""

from __future__ import annotations

import queue
import shutil
import signal
import socket
import tempfile
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from gitexp.running.executors.base import ExecResult, Executor, Job, OutputSink
from gitexp.running.executors.local import LocalExecutor


def torch_env(
    rank: int, world: int, master: tuple[str, int], local: tuple[int, int], node_rank: int = 0
) -> dict[str, str]:
    """The variables of one rank: ``master`` is (address, port), ``local`` is
    (local rank, processes on this node)."""
    return {
        "MASTER_ADDR": master[0],
        "MASTER_PORT": str(master[1]),
        "RANK": str(rank),
        "WORLD_SIZE": str(world),
        "LOCAL_RANK": str(local[0]),
        "LOCAL_WORLD_SIZE": str(local[1]),
        "GROUP_RANK": str(node_rank),
        "NODE_RANK": str(node_rank),
    }


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on ``host`` now (rank 0 binds it moments later, as torchrun does)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def rank_prefix(rank: int) -> bytes:
    return b"" if rank == 0 else f"[rank {rank}] ".encode()


class RankSink(OutputSink):
    """One rank's view of the run's sink: whole lines, prefixed for ranks > 0; only
    rank 0's live metrics pass. ``close`` flushes this rank, not the run's sink."""

    def __init__(self, parent: OutputSink, rank: int) -> None:
        super().__init__(parent.max_bytes, echo=False)
        self.parent, self.rank, self.prefix = parent, rank, rank_prefix(rank)
        self.pending: dict[str, bytes] = {"stdout": b"", "stderr": b""}

    def write(self, stream: str, data: bytes) -> None:
        buf = self.pending.get(stream, b"") + data
        cut = buf.rfind(b"\n") + 1
        self.pending[stream] = buf[cut:]
        if cut:
            self._emit(stream, buf[:cut])

    def _emit(self, stream: str, data: bytes) -> None:
        if self.prefix:
            lines = data.splitlines(keepends=True)
            data = b"".join(self.prefix + line for line in lines)
        self.parent.write(stream, data)

    def metrics(self, data: bytes) -> None:
        if self.rank == 0:
            self.parent.metrics(data)

    def close(self) -> None:
        for stream, rest in self.pending.items():
            if rest:
                self._emit(stream, rest + b"\n")
        self.pending = {"stdout": b"", "stderr": b""}


class Member(Protocol):
    """One rank of a group, however it runs."""

    def run(self) -> ExecResult: ...

    def stop(self, signum: int = signal.SIGINT) -> None: ...


@dataclass(frozen=True)
class Ended:
    rank: int
    result: ExecResult | None
    error: Exception | None = None

    @property
    def bad(self) -> bool:
        return self.error is not None or (self.result is not None and self.result.exit_code != 0)


def run_group(members: Sequence[Member], stopping: threading.Event) -> ExecResult:
    """Run every member to its end; the first to end badly stops the others.

    Returns rank 0's result with the group's exit code (the first failure's)
    and ``num_workers``/``failed_rank`` in its info; re-raises the error of a
    member that could not run (a lost worker) when that was the first failure.
    """
    ended: queue.Queue[Ended] = queue.Queue()
    for rank, member in enumerate(members):
        threading.Thread(
            target=_run_member, args=(rank, member, ended), name=f"gitexp-rank-{rank}", daemon=True
        ).start()
    results: dict[int, Ended] = {}
    first_bad: Ended | None = None
    while len(results) < len(members):
        done = ended.get()
        results[done.rank] = done
        if done.bad and first_bad is None and not stopping.is_set():
            first_bad = done
            _stop_all(members)
    return _group_result(results, first_bad, len(members))


def _run_member(rank: int, member: Member, ended: queue.Queue[Ended]) -> None:
    try:
        ended.put(Ended(rank, member.run()))
    except Exception as exc:
        ended.put(Ended(rank, None, exc))


def _stop_all(members: Sequence[Member]) -> None:
    for member in members:
        member.stop()


def _group_result(results: dict[int, Ended], first_bad: Ended | None, size: int) -> ExecResult:
    zero = results[0]
    base = zero.result or ExecResult(None)
    info = {**base.info, "num_workers": size}
    if first_bad is None:
        if zero.error is not None:
            raise zero.error
        return ExecResult(base.exit_code, info, base.env_files, base.returned)
    if first_bad.error is not None:
        raise first_bad.error
    assert first_bad.result is not None
    info["failed_rank"] = first_bad.rank
    return ExecResult(first_bad.result.exit_code, info, base.env_files, base.returned)


class _LocalRank:
    """One rank as a local process (the local executor, with its own stop ladder)."""

    def __init__(self, job: Job, sink: OutputSink) -> None:
        self.job, self.sink = job, sink
        self.executor = LocalExecutor()

    def run(self) -> ExecResult:
        return self.executor.execute(self.job, self.sink)

    def stop(self, signum: int = signal.SIGINT) -> None:
        self.executor.stop(signum)


class LocalGroupExecutor(Executor):
    """`--num-workers N` on this machine: N processes, torchrun-style, one run."""

    name = "local"

    def __init__(self, workers: int, port: Callable[[], int] = free_port) -> None:
        self.workers = workers
        self.port = port
        self.ranks: list[_LocalRank] = []
        self.stopping = threading.Event()

    def execute(self, job: Job, sink: OutputSink) -> ExecResult:
        master = ("127.0.0.1", self.port())
        scratch = [tempfile.mkdtemp(prefix=f"gitexp-rank{r}-") for r in range(1, self.workers)]
        try:
            self.ranks = [
                _LocalRank(self._rank_job(job, rank, master, scratch), RankSink(sink, rank))
                for rank in range(self.workers)
            ]
            if self.stopping.is_set():
                return ExecResult(None, {"num_workers": self.workers})
            result = run_group(self.ranks, self.stopping)
        finally:
            for path in scratch:
                shutil.rmtree(path, ignore_errors=True)
        sink.close()
        return result

    def _rank_job(self, job: Job, rank: int, master: tuple[str, int], scratch: list[str]) -> Job:
        env = {**job.env, **torch_env(rank, self.workers, master, (rank, self.workers))}
        if rank > 0:  # its tracking calls go to a scratch folder: rank 0 is the record
            env["GITEXP_RUN_DIR"] = scratch[rank - 1]
        return Job(job.name, job.argv, job.run_dir, job.cwd, env, job.links, job.pinned)

    def stop(self, signum: int = signal.SIGINT) -> None:
        self.stopping.set()
        for rank in self.ranks:
            rank.stop(signum)

    def command_running(self) -> bool:
        return not self.ranks or any(r.executor.command_running() for r in self.ranks)
