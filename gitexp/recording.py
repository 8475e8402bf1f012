"""Record a finished run: its .gitexp/ files, the tree of its run dir, the final commit.

Recording must never lose a run. Every stage that can fail on what the
script left behind (reading metrics, storing artifacts in DVC, hashing the
run dir) degrades instead of failing: the error goes into run.json under
``record_errors`` and the commit still holds output.log and whatever
metrics were collected. Objects written here are unreachable until the ref
moves, so a concurrent `git gc --prune=now` can delete them: the ref moves
only to a commit whose new objects exist (checked before and after the
move), and a record that lost objects is written again, up to
``WRITE_ATTEMPTS`` times, re-hashing the files from disk.
"""

from __future__ import annotations

import json
import logging
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pygit2

from gitexp import store
from gitexp.errors import StoreError
from gitexp.record import RunRecord, commit_message
from gitexp.repo import Repo
from gitexp.snapshot import META_DIR, tree_with_files

log = logging.getLogger(__name__)
WRITE_ATTEMPTS = 3
OUTPUT_LOG = f"{META_DIR}/output.log"


@dataclass
class Partial:
    """What is known of a run so far, for a record cut short (gitexp crashed, or a
    second Ctrl-C while recording): the latest record and the .gitexp/ files."""

    record: RunRecord
    files: dict[str, bytes] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def note(self, stage: str, exc: BaseException) -> None:
        """Remember a failed recording stage; it goes into run.json."""
        message = f"{stage}: {type(exc).__name__}: {exc}"
        log.debug("recording failed at %s", stage, exc_info=exc)
        self.errors.append(message)

    def run_json(self, record: RunRecord | None = None) -> bytes:
        chosen = record or self.record
        if self.errors:
            chosen = chosen.replace(extra={**chosen.extra, "record_errors": list(self.errors)})
        return chosen.to_json()


def guarded(partial: Partial, stage: str, step: Callable[[], Any], fallback: Any) -> Any:
    """``step()``, or ``fallback`` with the error noted: a stage never sinks the record."""
    try:
        return step()
    except Exception as exc:
        partial.note(stage, exc)
        return fallback


def commit_record(
    repo: Repo,
    name: str,
    expected: pygit2.Oid,
    baseline: pygit2.Oid,
    known_tree: pygit2.Oid,
    build: Callable[[bool], tuple[pygit2.Oid, str]],
) -> pygit2.Oid:
    """Write the record and move the ref from ``expected``; returns the final commit.

    ``build(fresh)`` writes the tree and returns it with the commit message;
    ``fresh`` asks it to re-hash files rather than reuse blob ids (a retry
    after objects vanished).
    """
    problem = ""
    for attempt in range(WRITE_ATTEMPTS):
        try:
            tree, message = build(attempt > 0)
            commit = store.write_commit(repo, tree, baseline, message)
            missing = store.missing_objects(repo, commit, known_tree)
            if not missing:
                store.finalize(repo, name, expected, commit)
                missing = store.missing_objects(repo, commit, known_tree)
                expected = commit
            if not missing:
                return commit
            problem = f"objects vanished while recording ({', '.join(missing[:3])})"
        except pygit2.GitError as exc:
            problem = " ".join(str(exc).split())
        log.debug("recording %s, attempt %d: %s", name, attempt + 1, problem)
    raise StoreError(
        f"could not record experiment {name!r}: {problem}",
        "is `git gc --prune=now` running beside it? plain `git gc` is safe (docs/sharing.md)",
    )


def record_crash(
    repo: Repo,
    name: str,
    expected: pygit2.Oid,
    tree: pygit2.Oid,
    baseline: pygit2.Oid,
    partial: Partial,
    status: str,
    error: str,
) -> None:
    """The run was cut short: commit what is known (the run's own files are lost,
    its .gitexp/ files kept) so the ref never stays `running`."""
    record = partial.record.replace(
        name=name, status=status, ended=_now(), extra={**partial.record.extra, "error": error}
    )
    files = {**partial.files, store.RUN_JSON: partial.run_json(record)}

    def build(fresh: bool) -> tuple[pygit2.Oid, str]:
        metrics = _metrics(files.get(store.METRICS_JSON))
        return tree_with_files(repo, tree, files), commit_message(record, metrics)

    with _ignoring_interrupts():
        try:
            commit_record(repo, name, expected, baseline, tree, build)
        except Exception:  # the ref moved already, or the repository is gone
            log.debug("could not record the crash of %s", name, exc_info=True)


def _metrics(data: bytes | None) -> dict[str, Any]:
    try:
        value = json.loads(data) if data else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


@contextmanager
def finishing(name: str) -> Iterator[None]:
    """While recording: the first Ctrl-C (or SIGTERM) says the record is being
    finished; a second one aborts it (KeyboardInterrupt: a partial record)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pressed = []

    def handler(signum: int, frame: object) -> None:
        pressed.append(signum)
        if len(pressed) > 1:
            raise KeyboardInterrupt
        log.warning(
            "gitexp: finishing the record of %s (its command has ended); "
            "press Ctrl-C again to abort with a partial record",
            name,
        )

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@contextmanager
def _ignoring_interrupts() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _now() -> str:
    from datetime import datetime, timezone

    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")
