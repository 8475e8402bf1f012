"""Run the job as a subprocess on this machine (the default executor).

The run ends when its command ends, not when its output pipes close: a
background child that inherited stdout (``server &``, a dataloader worker
left behind) would otherwise hold the run open. After the command exits,
the output still in the pipes is drained for a moment; then whatever the
command left running in its process group is stopped (SIGTERM, then
SIGKILL), and the log says so.

The command gets this process's environment less the variables that point
git at a repository (``GIT_DIR``, ``GIT_WORK_TREE``, ``GIT_INDEX_FILE``...:
gitstore/gitenv.py), plus the job's.
"""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import threading
from typing import IO

from gitexp.gitstore import gitenv
from gitexp.running.executors.base import ExecResult, Executor, Job, OutputSink

GRACE_S = 10.0  # after a polite signal, wait this long before SIGKILL
DRAIN_S = 0.5  # after the command exits, how long its output may still flow
LEFTOVER_GRACE_S = 2.0  # SIGTERM to what it left behind, then SIGKILL


class LocalExecutor(Executor):
    name = "local"

    def __init__(self) -> None:
        self.proc: subprocess.Popen[bytes] | None = None
        self.stopping = False
        self.pump: _Pump | None = None

    def execute(self, job: Job, sink: OutputSink) -> ExecResult:
        env = {**gitenv.scrub(os.environ), **job.env}  # git in the script: no user repo
        try:
            self.proc = subprocess.Popen(
                job.argv,
                cwd=job.run_dir / job.cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,  # our own process group: we decide how it stops
            )
        except OSError as exc:
            sink.write("stderr", f"gitexp: cannot start {job.argv[0]!r}: {exc}\n".encode())
            return ExecResult(127 if isinstance(exc, FileNotFoundError) else 126)
        self.pump = _Pump(self.proc, sink).start()
        code = self.proc.wait()
        if not self.pump.finish(DRAIN_S) or _group_alive(self.proc.pid):
            self._stop_leftovers(sink)
        sink.close()
        return ExecResult(code)

    def _stop_leftovers(self, sink: OutputSink) -> None:
        """The command exited but left processes behind (holding its output, maybe)."""
        assert self.proc is not None and self.pump is not None
        pgid = self.proc.pid
        _signal_pgid(pgid, signal.SIGTERM)
        if not self.pump.finish(LEFTOVER_GRACE_S) or _group_alive(pgid):
            _signal_pgid(pgid, signal.SIGKILL)
        self.pump.abandon()
        note = "gitexp: the command exited; stopped the processes it left running\n"
        sink.write("stderr", note.encode())

    def command_running(self) -> bool:
        return self.proc is None or self.proc.poll() is None

    def stop(self, signum: int = signal.SIGINT) -> None:
        """``signum`` first (SIGINT: Python scripts flush and exit), then SIGTERM,
        then SIGKILL, to the command's process group."""
        proc = self.proc
        if proc is not None and proc.poll() is not None and self.pump is not None:
            self.pump.abandon(wait=False)  # Ctrl-C while draining: stop waiting for output
            return
        if proc is None or self.stopping:
            return
        self.stopping = True
        _signal_pgid(proc.pid, signum)
        threading.Thread(target=self._escalate, args=(proc, signum), daemon=True).start()

    def _escalate(self, proc: subprocess.Popen[bytes], first: int) -> None:
        for sig in [s for s in (signal.SIGTERM, signal.SIGKILL) if s != first]:
            try:
                proc.wait(GRACE_S / 2)
                return
            except subprocess.TimeoutExpired:
                _signal_pgid(proc.pid, sig)


def _signal_pgid(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class _Pump:
    """One thread that copies both pipes into the sink until EOF or ``abandon``."""

    def __init__(self, proc: subprocess.Popen[bytes], sink: OutputSink) -> None:
        self.pipes: dict[int, tuple[str, IO[bytes]]] = {}
        for stream, pipe in (("stdout", proc.stdout), ("stderr", proc.stderr)):
            if pipe is not None:
                self.pipes[pipe.fileno()] = (stream, pipe)
        self.sink = sink
        self.abandoned = threading.Event()
        self.thread = threading.Thread(target=self._run, name="gitexp-output", daemon=True)

    def start(self) -> _Pump:
        self.thread.start()
        return self

    def finish(self, timeout: float) -> bool:
        """Wait up to ``timeout`` for EOF on both pipes; True when it came."""
        self.thread.join(timeout)
        return not self.thread.is_alive()

    def abandon(self, wait: bool = True) -> None:
        """Stop reading (what is still unread is lost); the thread closes the pipes.

        ``wait=False`` from a signal handler: joining there could wait on a sink
        lock the interrupted code holds.
        """
        self.abandoned.set()
        if wait:
            self.thread.join()

    def _run(self) -> None:
        with selectors.DefaultSelector() as selector:
            for fd, (stream, _) in self.pipes.items():
                selector.register(fd, selectors.EVENT_READ, stream)
            while selector.get_map() and not self.abandoned.is_set():
                for key, _ in selector.select(timeout=0.1):
                    chunk = os.read(key.fd, 65536)
                    if chunk:
                        self.sink.write(key.data, chunk)
                    else:
                        selector.unregister(key.fd)
        for _, pipe in self.pipes.values():
            pipe.close()
