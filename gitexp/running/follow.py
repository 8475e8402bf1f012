"""Recording metrics while the command runs: the live file read as it grows.

A script logging ten million points keeps the library busy for seconds and
leaves a 450 MB ``metrics.tsv``; parsing it only after the command ended
would double the wait. From ``run_started`` on, a ``HistoryFollower`` thread
reads whole lines as they are appended (``LiveReader``: a bounded block at
a time, from where the last read stopped) into the run's ``HistoryWriter``,
so when the command ends only the tail is left for recording.

What was read is trusted only if the file still holds it: the library cuts a
failed append back and writes the batch again (a full disk), so before
recording goes on from the follower, ``LiveReader.intact`` checks the CRC of
everything read so far; on any doubt (a changed file, an error in the
thread) recording reads the file from the start, as it would have anyway.
"""

from __future__ import annotations

import logging
import threading
import zlib
from collections.abc import Callable
from pathlib import Path
from threading import Event

from gitexp.running.histwriter import HistoryWriter
from gitexp.running.liveparse import BLOCK_BYTES, Columns, parse_block, resolve_steps

log = logging.getLogger(__name__)
POLL_S = 0.1  # an idle poll is an open and a seek


class LiveReader:
    """Whole lines of a growing file, from ``offset`` on, parsed a block at a time."""

    def __init__(self, path: Path, block_bytes: int = BLOCK_BYTES) -> None:
        self.path = path
        self.block_bytes = block_bytes
        self.offset = 0  # at the start of a line, unless skipping one
        self.crc = 0  # of the bytes before offset
        self.skipping = False

    def read(self, take: Callable[[list[Columns]], None], stop: Event | None = None) -> None:
        """Feed every whole line appended so far to ``take``; a line longer than a
        block is malformed and skipped; an unfinished last line waits."""
        try:
            f = self.path.open("rb")
        except OSError:  # not written yet
            return
        with f:
            f.seek(self.offset)
            while (stop is None or not stop.is_set()) and (data := f.read(self.block_bytes)):
                if self.skipping:  # the rest of a line longer than a block
                    end = data.find(b"\n") + 1
                    self.skipping = not end
                    self._consumed(data[:end] if end else data)
                elif cut := data.rfind(b"\n") + 1:
                    self._consumed(data[:cut])
                    take(parse_block(data[:cut]))
                elif len(data) < self.block_bytes:
                    return  # the line is not finished yet
                else:
                    self.skipping = True
                    self._consumed(data)
                f.seek(self.offset)

    def _consumed(self, data: bytes) -> None:
        self.offset += len(data)
        self.crc = zlib.crc32(data, self.crc)

    def intact(self) -> bool:
        """Whether the file still starts with exactly the bytes read so far."""
        crc, left = 0, self.offset
        try:
            with self.path.open("rb") as f:
                while left and (data := f.read(min(left, self.block_bytes))):
                    crc, left = zlib.crc32(data, crc), left - len(data)
        except OSError:
            return self.offset == 0
        return left == 0 and crc == self.crc


def feed(writer: HistoryWriter, block: list[Columns]) -> None:
    """Points of one block into the writer, a missing step continuing its series."""
    for cols in block:
        steps = resolve_steps(cols.steps, writer.last_step(cols.name))
        writer.extend(cols.name, steps, cols.values, cols.times)


class HistoryFollower:
    """A thread feeding the live file into a history writer until ``stop``."""

    def __init__(self, path: Path, writer: HistoryWriter) -> None:
        self.reader = LiveReader(path)
        self.writer = writer
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="gitexp-history", daemon=True)

    def start(self) -> HistoryFollower:
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            while not self._stop.wait(POLL_S):
                self.reader.read(lambda block: feed(self.writer, block), self._stop)
        except Exception as exc:  # recording then reads the file itself
            log.debug("following %s failed", self.reader.path, exc_info=True)
            self.error = exc

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def trusted(self) -> bool:
        """Stopped, and recording may go on from here (see the module doc)."""
        self.stop()
        return self.error is None and self.reader.intact()
