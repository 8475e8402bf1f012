"""Run the job as a subprocess on this machine (the default executor)."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from typing import IO

from gitexp.executors.base import ExecResult, Executor, Job, OutputSink

GRACE_S = 10.0  # after a polite signal, wait this long before SIGKILL


class LocalExecutor(Executor):
    name = "local"

    def __init__(self) -> None:
        self.proc: subprocess.Popen[bytes] | None = None
        self.stopping = False

    def execute(self, job: Job, sink: OutputSink) -> ExecResult:
        env = {**os.environ, **job.env}
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
        readers = [
            threading.Thread(target=_pump, args=(self.proc.stdout, "stdout", sink)),
            threading.Thread(target=_pump, args=(self.proc.stderr, "stderr", sink)),
        ]
        for t in readers:
            t.start()
        code = self.proc.wait()
        for t in readers:
            t.join()
        sink.close()
        return ExecResult(code)

    def stop(self) -> None:
        """SIGINT first (Python scripts flush and exit), SIGTERM, then SIGKILL."""
        proc = self.proc
        if proc is None or proc.poll() is not None or self.stopping:
            return
        self.stopping = True
        _signal_group(proc, signal.SIGINT)
        threading.Thread(target=self._escalate, args=(proc,), daemon=True).start()

    def _escalate(self, proc: subprocess.Popen[bytes]) -> None:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                proc.wait(GRACE_S / 2)
                return
            except subprocess.TimeoutExpired:
                _signal_group(proc, sig)


def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _pump(pipe: IO[bytes] | None, stream: str, sink: OutputSink) -> None:
    if pipe is None:
        return
    fd = pipe.fileno()
    while chunk := os.read(fd, 65536):
        sink.write(stream, chunk)
    pipe.close()
