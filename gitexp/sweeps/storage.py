"""Where a sweep lives: ``.git/gitexp/sweeps/NAME/`` and the Optuna storage it names.

- ``journal.log``: the Optuna study, a ``JournalStorage`` file Optuna opens
  itself (``optuna-dashboard .git/gitexp/sweeps/NAME/journal.log``), unless the
  sweep names an RDB URL (``storage: postgresql://...``) for a team;
- ``sweep.json``: the sweep as defined (spaces, objectives, sampler, budget,
  storage), so ``--resume`` and ``gitexp sweep show`` need nothing retyped;
- ``lock``: held (flock) by the one process driving the sweep.

The trials themselves are experiments (refs); this folder is the search's
state, derived from nothing else, so it is not pushed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitexp.common.errors import UsageError
from gitexp.gitstore.repo import Repo
from gitexp.sweeps import spec as specs
from gitexp.sweeps.spec import SweepSpec

SWEEPS_DIR = "sweeps"
JOURNAL = "journal.log"
MANIFEST = "sweep.json"


@dataclass(frozen=True)
class SweepHome:
    root: Path

    @property
    def journal(self) -> Path:
        return self.root / JOURNAL

    @property
    def manifest(self) -> Path:
        return self.root / MANIFEST

    def exists(self) -> bool:
        return self.manifest.is_file()


def home(repo: Repo, name: str) -> SweepHome:
    return SweepHome(repo.state_dir / SWEEPS_DIR / name)


def location(sweep: SweepHome, spec: SweepSpec) -> str:
    """What to hand Optuna (or optuna-dashboard): the RDB URL, or the journal's path."""
    return spec.storage or str(sweep.journal)


def open_storage(url: str) -> Any:
    """An Optuna storage: an RDB URL as Optuna takes it, else a journal file."""
    if "://" in url:
        return url
    from optuna.storages import JournalStorage

    return JournalStorage(_journal_backend(url))


def _journal_backend(path: str) -> Any:
    """Optuna's journal file, written without an fsync per record.

    Optuna syncs every record (a trial is ~6 of them: 20 ms a trial on a common
    disk, a fifth of a trivial trial's cost). Without it a crash of gitexp
    loses nothing (the kernel holds the bytes); a power cut may cost the last
    records, and the trials themselves are in git. Same file format and lock:
    Optuna and optuna-dashboard read it as any journal.
    """
    from optuna.storages.journal import JournalFileBackend

    try:
        from optuna.storages.journal._file import get_lock_file
    except ImportError:  # another Optuna layout: its own (syncing) backend
        return JournalFileBackend(path)

    class Unsynced(JournalFileBackend):
        def append_logs(self, logs: list[dict[str, Any]]) -> None:
            text = "".join(json.dumps(log, separators=(",", ":")) + "\n" for log in logs)
            with get_lock_file(self._lock), open(self._file_path, "ab") as f:
                f.write(text.encode("utf-8"))

    return Unsynced(path)


def save(sweep: SweepHome, spec: SweepSpec, tree: str) -> None:
    """The manifest: the sweep as defined, and the snapshot its trials run."""
    sweep.root.mkdir(parents=True, exist_ok=True)
    data = {"spec": specs.to_json(spec), "tree": tree, "storage": location(sweep, spec)}
    tmp = sweep.manifest.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str) + "\n", "utf-8")
    os.replace(tmp, sweep.manifest)


def load(sweep: SweepHome) -> tuple[SweepSpec, str | None]:
    """The sweep's spec and snapshot tree, or one line saying there is no such sweep."""
    name = sweep.root.name
    try:
        data = json.loads(sweep.manifest.read_text("utf-8"))
        return specs.from_json(data["spec"]), data.get("tree")
    except FileNotFoundError:
        raise UsageError(
            f"no sweep named {name!r} in this repository",
            "list them with `gitexp show`; a sweep's state is not pushed or pulled",
        ) from None
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise UsageError(f"sweep {name!r}: cannot read {sweep.manifest}: {exc}") from exc


def names(repo: Repo) -> list[str]:
    folder = repo.state_dir / SWEEPS_DIR
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if (p / MANIFEST).is_file())


@contextmanager
def driving(sweep: SweepHome) -> Iterator[None]:
    """Hold the sweep's lock: one process owns the study and writes its trials."""
    import fcntl

    sweep.root.mkdir(parents=True, exist_ok=True)
    lock = sweep.root / "lock"
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UsageError(
                f"sweep {sweep.root.name!r} is being driven by another gitexp process",
                "wait for it, or raise its -j instead of starting a second driver",
            ) from None
        yield
    finally:
        if not sweep.exists():  # refused before it started: leave no trace
            _remove_empty(sweep.root, lock)
        os.close(fd)


def _remove_empty(root: Path, lock: Path) -> None:
    try:
        lock.unlink()
        root.rmdir()
    except OSError:  # something else is in there: keep it
        pass
