"""What every executor receives and returns, and where output goes."""

from __future__ import annotations

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


@dataclass(frozen=True)
class ExecResult:
    """The exit code (negative: killed by that signal) and fields for run.json."""

    exit_code: int | None
    info: dict[str, Any] = field(default_factory=dict)


class Executor(ABC):
    name: str = "abstract"
    #: whether argv[0] must exist on this host's PATH before the run starts
    checks_host_path: bool = True

    def prepare(self, job: Job) -> dict[str, Any]:
        """Work before the clock starts (e.g. an image build); fields for run.json."""
        return {}

    @abstractmethod
    def execute(self, job: Job, sink: OutputSink) -> ExecResult:
        """Run the job to completion, streaming its output into ``sink``."""

    @abstractmethod
    def stop(self) -> None:
        """Ask the running job to stop (Ctrl-C, SIGTERM, pruning); idempotent."""

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

    def write(self, stream: str, data: bytes) -> None:
        with self.lock:
            if self.echo:
                _terminal(stream).write(data)
                _terminal(stream).flush()
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
