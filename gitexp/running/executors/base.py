"""The executor contract: what every executor receives and returns, and where output goes.

The runner owns the lifecycle and the experiment's `running` record: it
snapshots, reserves the ref, materializes the run dir, renews the lease and
records. An executor only executes, in this order:

0. ``preflight(pinned, read)``: cheap checks of this host that need no run
   dir (a base image that is not here), called while the runner prepares,
   before the name is reserved; ``read(path)`` gives a file of the tree the
   run will get (None when absent). A ``GitexpError`` here records nothing.
1. ``prepare(job)``: work before the clock starts (an image build); returns
   fields for run.json. It may raise a ``GitexpError``: the run is recorded
   as failed with that message.
2. ``execute(job, sink)``: run ``job.argv`` with ``job.env`` in
   ``job.run_dir / job.cwd`` (or a copy of it elsewhere), stream stdout and
   stderr into ``sink.write`` as they come, and return an ``ExecResult``:
   the exit code (negative: killed by that signal), fields for run.json,
   files for ``.gitexp/env/`` (a Dockerfile, the package list of the
   environment the command ran in), and — for an executor that ran the job
   away from ``job.run_dir`` — ``returned``, the archive of what the run
   changed (gitexp/running/transport.py ``pack``), which the runner unpacks
   into the run dir before recording, and ``artifacts``, the run.json
   records of outputs it pushed to the DVC remote itself instead of sending
   them back (gitexp/running/executors/offload.py). Such an executor sets
   ``streams_metrics`` and passes the bytes the library appends to its live
   metrics file to ``sink.metrics`` while the job runs; for the others the
   runner follows the file in the run dir itself. Paths in ``job.env`` that
   start with ``job.run_dir`` are to be rewritten to where the run dir is
   for the command (``Job.env_at``).
3. ``stop()``: may come at any time from another thread (a signal handler,
   a sweep pruning a trial); it asks the job to end and returns at once.

Threads: one executor instance runs one job. ``OutputSink`` is
thread-safe; the runner may be called from several driver threads at once,
each with its own executor and sink.
"""

from __future__ import annotations

import signal
import sys
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any


@dataclass(frozen=True)
class Job:
    """A command ready to run in a materialized workspace.

    ``env`` holds only what gitexp sets (GITEXP_*, PYTHONHASHSEED); the
    executor decides what else the process inherits. ``links`` maps paths in
    the run dir to host paths of read-only inputs.
    """

    name: str
    argv: list[str]
    run_dir: Path
    cwd: str
    env: dict[str, str]
    links: dict[str, Path] = field(default_factory=dict)
    #: what a reproduction must reuse from the original run (e.g. ``dockerfile``
    #: text, ``image_id``); empty for a fresh run
    pinned: dict[str, Any] = field(default_factory=dict)

    def env_at(self, where: str) -> dict[str, str]:
        """``env`` with run-dir paths moved to ``where`` (a mount, a remote copy)."""
        root = str(self.run_dir)
        return {k: where + v[len(root) :] if v.startswith(root) else v for k, v in self.env.items()}


@dataclass(frozen=True)
class ExecResult:
    """How the job ended and what comes back from it (see the module doc)."""

    exit_code: int | None
    info: dict[str, Any] = field(default_factory=dict)
    #: files for .gitexp/env/ by name: ``Dockerfile``, ``requirements.txt``
    env_files: dict[str, bytes] = field(default_factory=dict)
    #: a transport.pack archive of the run dir's changes, when the job ran elsewhere
    returned: bytes | None = None
    #: outputs already pushed to the DVC remote from where the job ran (not in ``returned``)
    artifacts: list[dict[str, Any]] = field(default_factory=list)


class Executor(ABC):
    name: str = "abstract"
    #: whether argv[0] must exist on this host's PATH before the run starts
    checks_host_path: bool = True
    #: whether execute() streams the live metrics file through sink.metrics itself
    streams_metrics: bool = False

    def preflight(self, pinned: dict[str, Any], read: Callable[[str], bytes | None]) -> None:
        """Fail before the experiment's name is taken when this host cannot run it
        (see the module doc); most executors have nothing to check."""
        return None

    def prepare(self, job: Job) -> dict[str, Any]:
        """Work before the clock starts (e.g. an image build); fields for run.json."""
        return {}

    @abstractmethod
    def execute(self, job: Job, sink: OutputSink) -> ExecResult:
        """Run the job to completion, streaming its output into ``sink``."""

    @abstractmethod
    def stop(self, signum: int = signal.SIGINT) -> None:
        """Ask the running job to stop (Ctrl-C, SIGTERM, pruning); idempotent.
        ``signum``: what gitexp received, so a script sees the signal it would
        have seen without gitexp (a SIGTERM handler that checkpoints still runs)."""

    def command_running(self) -> bool:
        """False once the command has ended (a Ctrl-C then no longer interrupts it,
        e.g. while its last output is drained); executors that cannot tell say True."""
        return True


LineListener = Callable[[str, str], None]
LOG_PARTIAL_MAX = 65536  # bytes of an unfinished line held back from the log


class OutputSink:
    """Tees output to the terminal and a capped log; feeds whole lines to listeners.

    The log keeps the first and last halves of ``max_bytes`` so both the
    start-up and the final error survive a chatty run.
    """

    def __init__(
        self,
        max_bytes: int,
        echo: bool = True,
        listeners: list[LineListener] | None = None,
    ) -> None:
        self.max_bytes = max_bytes
        self.echo = echo
        self.listeners = listeners or []
        self.head = bytearray()
        self.tail = bytearray()
        self.dropped = 0
        self.partial: dict[str, bytes] = {"stdout": b"", "stderr": b""}
        self.log_partial: dict[str, bytes] = {"stdout": b"", "stderr": b""}
        self.lock = threading.Lock()
        #: receives the live metrics bytes a remote executor streams back
        self.on_metrics: Callable[[bytes], None] | None = None

    def metrics(self, data: bytes) -> None:
        """Bytes the library appended to the live metrics file, from a remote run."""
        if self.on_metrics is not None:
            self.on_metrics(data)

    def write(self, stream: str, data: bytes) -> None:
        with self.lock:
            if self.echo:
                _terminal(stream).write(data)
                _terminal(stream).flush()
            self._log(stream, data)
            self._lines(stream, data)

    def log_only(self, stream: str, data: bytes) -> None:
        """Into the log (and its listeners), not onto the terminal: for what gitexp
        itself reports on the terminal in its own words (an executor's error)."""
        with self.lock:
            self._log(stream, data)
            self._lines(stream, data)

    def _log(self, stream: str, data: bytes) -> None:
        """Log whole lines only, so stdout and stderr never interleave inside a line
        (an unbuffered ``print`` writes the text and its newline separately)."""
        buf = self.log_partial[stream] + data
        end = max(buf.rfind(b"\n"), buf.rfind(b"\r")) + 1
        if len(buf) - end > LOG_PARTIAL_MAX:  # no newline for long: keep it anyway
            end = len(buf)
        if end:
            self._keep(buf[:end])
        self.log_partial[stream] = buf[end:]

    def _flush_log(self) -> None:
        for rest in self.log_partial.values():
            if rest:
                self._keep(rest)
        self.log_partial = {"stdout": b"", "stderr": b""}

    def _keep(self, data: bytes) -> None:
        half = self.max_bytes // 2
        room = half - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        self.tail += data
        if len(self.tail) > half:
            cut = len(self.tail) - half
            self.dropped += cut
            del self.tail[:cut]

    def _lines(self, stream: str, data: bytes) -> None:
        if not self.listeners:
            return
        buf = self.partial[stream] + data
        *lines, self.partial[stream] = buf.split(b"\n")
        for raw in lines:
            text = raw.decode("utf-8", errors="replace").rstrip("\r")
            for listener in self.listeners:
                listener(stream, text)

    def close(self) -> None:
        for stream, rest in self.partial.items():
            if rest and self.listeners:
                for listener in self.listeners:
                    listener(stream, rest.decode("utf-8", errors="replace"))
        self.partial = {"stdout": b"", "stderr": b""}

    def log_bytes(self) -> bytes:
        with self.lock:
            self._flush_log()
        if not self.dropped:
            return bytes(self.head + self.tail)
        marker = f"\n[gitexp: {self.dropped} bytes of output cut here]\n".encode()
        return bytes(self.head) + marker + bytes(self.tail)


def _terminal(stream: str) -> IO[bytes]:
    return sys.stderr.buffer if stream == "stderr" else sys.stdout.buffer
