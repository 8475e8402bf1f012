"""The output of an in-process run: what Python prints goes on as before, and into
the run's log (output.log, and the printed metric lines gitexp.yaml asks for).

Only Python-level writes to ``sys.stdout``/``sys.stderr`` are seen, not what a
C library writes to the file descriptors. The streams are wrapped, never
replaced: every other attribute (a Jupyter kernel's ``set_parent``, ``fileno``)
reaches the stream underneath.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO, cast

from gitexp.running.executors import OutputSink


class _Tee:
    """A text stream that also hands what is written to the run's sink."""

    def __init__(self, stream: TextIO, name: str, sink: OutputSink) -> None:
        self._stream = stream
        self._name = name
        self._sink: OutputSink | None = sink

    def write(self, text: str) -> int:
        written = self._stream.write(text)
        sink = self._sink
        if sink is not None and isinstance(text, str):
            sink.write(self._name, text.encode("utf-8", "replace"))
        return written

    def writelines(self, lines: list[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        self._stream.flush()

    def detach_sink(self) -> TextIO:
        """Stop teeing (a stream that wrapped this one keeps working); the stream below."""
        self._sink = None
        return self._stream

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class Capture:
    """Tees ``sys.stdout`` and ``sys.stderr`` into ``sink`` between start and stop."""

    def __init__(self, sink: OutputSink) -> None:
        self.sink = sink
        self.tees: dict[str, _Tee] = {}

    def start(self) -> Capture:
        for name in ("stdout", "stderr"):
            stream = getattr(sys, name)
            if stream is not None:
                self.tees[name] = _Tee(stream, name, self.sink)
                setattr(sys, name, cast(TextIO, self.tees[name]))
        return self

    def stop(self) -> None:
        """Put the streams back, unless someone replaced ours meanwhile (then it only
        stops teeing, and passes writes through)."""
        for name, tee in self.tees.items():
            try:
                tee.flush()
            except (OSError, ValueError):
                pass
            original = tee.detach_sink()
            if getattr(sys, name) is tee:
                setattr(sys, name, original)
        self.tees = {}
