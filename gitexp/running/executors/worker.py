"""The worker side of an executor that runs jobs on other machines (Ray).

What travels to the worker: a ``transport.pack`` archive of the whole run
dir and a ``Remote`` (the job, the executor that runs it there, its rank).
The worker needs gitexp and the script's own packages, never git or the
repository. ``serve`` unpacks the archive into a private folder, runs the
job with the inner executor (``local``, or ``docker`` on the worker's node),
and yields batches of messages while it runs: output chunks, the bytes the
tracking library appends to its live metrics file (rank 0 only), and last a
``Final`` with the exit code and the archive of what the run changed (rank
0 only: the other ranks' files stay on their workers). The folder is
removed afterwards.

A local command is tethered to the worker process: if the worker dies
(a lost node, a killed task), the command gets SIGTERM instead of running
on as an orphan. Nothing here imports Ray; the Ray task in
``raytasks.py`` yields these batches and supplies ``wait_stop``.
"""

from __future__ import annotations

import functools
import os
import queue
import shutil
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from gitexp.config.settings import Config
from gitexp.running.executors.base import ExecResult, Executor, Job, OutputSink
from gitexp.running.transport import pack, snapshot, unpack
from gitexp.tracking.wire import LIVE_DIR, METRICS_FILE

BATCH_S = 0.05  # output is gathered this long into one message batch
BATCH_BYTES = 1 << 20
TAIL_S = 0.2  # how often the live metrics file is read
# exec the command with a parent-death signal (Linux), so a dead worker leaves no orphan,
# and with every signal unblocked and Ctrl-C, SIGTERM at their defaults (a Ray worker
# blocks or ignores some; a child inherits both). argv[1] is the worker's pid: a worker
# that died before the signal was asked for is seen by the new parent pid, and nothing runs
TETHER = (
    "import os,signal,sys\n"
    "signal.pthread_sigmask(signal.SIG_SETMASK,[])\n"
    "for s in (signal.SIGINT,signal.SIGTERM,signal.SIGHUP,signal.SIGQUIT):\n"
    " signal.signal(s,signal.SIG_DFL)\n"
    "try:\n"
    " import ctypes;ctypes.CDLL(None).prctl(1,signal.SIGTERM)\n"
    "except Exception:\n"
    " pass\n"
    "if os.getppid()!=int(sys.argv[1]):\n"
    " sys.exit(143)\n"
    "a=sys.argv[2:]\n"
    "try:\n"
    " os.execvp(a[0],a)\n"
    "except OSError as e:\n"
    " print(f'gitexp: cannot start {a[0]!r}: {e}',file=sys.stderr)\n"
    " sys.exit(127 if isinstance(e,FileNotFoundError) else 126)\n"
)


@dataclass(frozen=True)
class Remote:
    """A job as it travels to a worker."""

    job: Job
    executor: str = "local"  # what runs it on the worker: local or docker
    config: Config | None = None  # gitexp.yaml, for the docker executor there
    rank: int = 0  # rank 0 streams its metrics and sends its files back
    env: dict[str, str] = field(default_factory=dict)  # more variables (torch.distributed)
    driver_host: str = ""  # a DVC remote that is a folder is the driver's, on its host


@dataclass(frozen=True)
class Final:
    """The job's end, the last message of a worker."""

    exit_code: int | None
    info: dict[str, Any]
    env_files: dict[str, bytes]
    returned: bytes | None
    artifacts: list[dict[str, Any]] = field(default_factory=list)  # pushed to the DVC remote

    def result(self) -> ExecResult:
        return ExecResult(
            self.exit_code, self.info, self.env_files, self.returned, list(self.artifacts)
        )


Message = tuple[str, str, bytes] | Final  # ("out", stream, data), ("metrics", "", data)
WaitStop = Callable[[Callable[[], bool]], bool]


class _QueueSink(OutputSink):
    """The inner executor's output, queued for the next batch."""

    def __init__(self, out: queue.Queue[Message]) -> None:
        super().__init__(0, echo=False)
        self.out = out

    def write(self, stream: str, data: bytes) -> None:
        self.out.put(("out", stream, data))

    def close(self) -> None:
        pass


def serve(remote: Remote, archive: bytes, wait_stop: WaitStop) -> Iterator[list[Message]]:
    """Run ``remote`` here from ``archive``; batches of messages, a ``Final`` last.

    ``wait_stop(done)`` blocks until the driver asks the job to stop (True)
    or ``done()`` is true (False).
    """
    folder = Path(tempfile.mkdtemp(prefix="gitexp-worker-"))
    try:
        run_dir = folder / "run"
        run_dir.mkdir()
        unpack(archive, run_dir)
        yield from _serve_in(remote, run_dir, wait_stop)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _serve_in(remote: Remote, run_dir: Path, wait_stop: WaitStop) -> Iterator[list[Message]]:
    before = snapshot(run_dir)
    job = _local_job(remote, run_dir)
    inner = _inner(remote)
    out: queue.Queue[Message] = queue.Queue()
    done = threading.Event()
    threading.Thread(target=_watch_stop, args=(inner, wait_stop, done), daemon=True).start()
    tail = None
    if remote.rank == 0:
        live = run_dir / LIVE_DIR / METRICS_FILE
        tail = threading.Thread(target=_tail, args=(live, out, done), daemon=True)
        tail.start()
    threading.Thread(target=_execute, args=(inner, job, out, done, tail), daemon=True).start()
    final: Final | None = None
    while final is None:
        batch = _batch(out)
        final = next((m for m in batch if isinstance(m, Final)), None)
        if final is not None:
            batch = [m for m in batch if not isinstance(m, Final)]
            final, note = _returned(final, remote, run_dir, before)
            batch += [("out", "stderr", note.encode())] if note else []
            batch.append(final)
        yield batch


def _local_job(remote: Remote, run_dir: Path) -> Job:
    """The job with its paths moved here; a local command tethered to this worker."""
    job = remote.job
    env = {**job.env_at(str(run_dir)), **remote.env, "GIT_CEILING_DIRECTORIES": str(run_dir.parent)}
    argv = job.argv
    if remote.executor == "local":
        argv = [sys.executable, "-S", "-c", TETHER, str(os.getpid()), *argv]
    return replace(job, argv=argv, run_dir=run_dir, env=env)


def _inner(remote: Remote) -> Executor:
    from gitexp.running.executors import get_executor

    return get_executor(remote.executor, remote.config or Config())


def _execute(
    inner: Executor,
    job: Job,
    out: queue.Queue[Message],
    done: threading.Event,
    tail: threading.Thread | None,
) -> None:
    """Run the job (in a thread: the task keeps yielding); always ends with a Final,
    queued after the last metrics bytes."""
    info: dict[str, Any] = {"ran_on": socket.gethostname()}
    try:
        info.update(inner.prepare(job))
        result = inner.execute(job, _QueueSink(out))
        env_files = {"requirements.txt": _packages().encode(), **result.env_files}
        final = Final(result.exit_code, {**info, **result.info}, env_files, None)
    except Exception as exc:  # an image build on the node, a lost daemon
        out.put(("out", "stderr", f"gitexp: on the worker: {exc}\n".encode()))
        final = Final(None, {**info, "error": str(exc)}, {}, None)
    done.set()
    if tail is not None:
        tail.join()
    out.put(final)


@functools.cache
def _packages() -> str:
    """The worker's installed packages (its .gitexp/env/requirements.txt), once per process."""
    from gitexp.running.environment import freeze

    return freeze()


def _watch_stop(inner: Executor, wait_stop: WaitStop, done: threading.Event) -> None:
    """Stop the job when the driver asks; again until it has started (a stop that
    came before the process existed would otherwise be lost)."""
    if not wait_stop(done.is_set):
        return
    while not done.is_set():
        inner.stop()
        if getattr(inner, "proc", True) is not None:
            return
        done.wait(0.1)


def _tail(path: Path, out: queue.Queue[Message], done: threading.Event) -> None:
    """The live metrics bytes as the library appends them, until the job has ended."""
    offset = 0
    while True:
        finished = done.is_set()
        data = _read_from(path, offset)
        offset += len(data)
        if data:
            out.put(("metrics", "", data))
        if finished:
            return
        done.wait(TAIL_S)


def _read_from(path: Path, offset: int) -> bytes:
    try:
        with path.open("rb") as f:
            f.seek(offset)
            return f.read()
    except FileNotFoundError:
        return b""


def _batch(out: queue.Queue[Message]) -> list[Message]:
    """What came within BATCH_S of the first message (one object per batch for Ray)."""
    batch = [out.get()]
    size = 0
    deadline = _now() + BATCH_S
    while size < BATCH_BYTES and not isinstance(batch[-1], Final):
        left = deadline - _now()
        if left <= 0:
            break
        try:
            message = out.get(timeout=left)
        except queue.Empty:
            break
        batch.append(message)
        size += len(message[2]) if not isinstance(message, Final) else 0
    return batch


def _returned(
    final: Final, remote: Remote, run_dir: Path, before: dict[str, Any]
) -> tuple[Final, str]:
    """Rank 0 sends back what the run changed (named outputs pushed to the DVC
    remote from here, when it can); the metrics tail has flushed by now."""
    if remote.rank != 0:
        return final, ""
    from gitexp.running.executors.offload import offload

    config = remote.config or Config()
    pushed = offload(run_dir, remote.job.cwd, config, before, remote.driver_host)
    sent = replace(final, returned=pack(run_dir, _as_unchanged(run_dir, before, pushed.paths)))
    note = f"gitexp: on the worker: {pushed.note}\n" if pushed.note else ""
    return replace(sent, artifacts=pushed.records), note


def _as_unchanged(run_dir: Path, before: dict[str, Any], paths: list[str]) -> dict[str, Any]:
    """``before`` with the pushed files as they are now: ``pack`` leaves them out."""
    now = dict(before)
    for rel in paths:
        top = run_dir / rel
        for path in [top] if top.is_file() else [p for p in top.rglob("*") if p.is_file()]:
            st = path.lstat()
            now[path.relative_to(run_dir).as_posix()] = (st.st_size, st.st_mtime_ns)
    return now


def _now() -> float:
    return time.monotonic()
