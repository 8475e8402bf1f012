"""`gitexp gc`: give back what git and gitexp keep, safely beside running experiments.

- git packs refs and objects (`git gc`: ``pack-refs --all``, a repack, and a
  prune of loose objects older than ``gc.pruneExpire``, two weeks by default;
  never ``--prune=now``, which deletes the objects a run wrote a moment ago
  before its ref reaches them). A run that meets git's lock files retries.
- Rows of the summary cache whose commit no experiment ref points at are
  dropped (the cache is keyed by commit id, so packing never invalidates it).
- Idle run directories are removed: the reusable slots of the pool
  (gitexp/running/workdirs.py), a killed run's among them. A running
  experiment holds its slot's lock, so its directory is never touched.
- With ``images``: `gitexp-env` images experiments of this repository once
  named and none names now are removed (envimages.py says how it knows), but
  only while none of its experiments runs (a run records its image when it
  ends) and never by force.

``dry_run`` counts everything and changes nothing.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from gitexp.common.errors import BackendError
from gitexp.config.settings import Config
from gitexp.exploring import envimages
from gitexp.exploring import summary_cache as index
from gitexp.gitstore import refscan, store
from gitexp.gitstore.record import observed_status
from gitexp.gitstore.repo import Repo


@dataclass
class Report:
    """What `gitexp gc` did, or with ``dry_run`` would do."""

    dry_run: bool
    loose_refs: int = 0
    loose_objects: int = 0
    cache_rows: int = 0
    workdirs: list[tuple[Path, int]] = field(default_factory=list)
    unreferenced_images: list[str] = field(default_factory=list)
    images_removed: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def collect(repo: Repo, config: Config, dry_run: bool = False, images: bool = False) -> Report:
    """Run every step of `gitexp gc` (see the module's doc) and say what it did."""
    report = Report(dry_run)
    refs = store.ref_targets(repo)
    live = set(refs.values())
    report.cache_rows = index.drop_unreferenced(repo, live, dry_run)
    report.workdirs = _workdirs(repo, config, dry_run)
    _images(repo, refs, report, images)
    report.loose_refs = _loose_refs(repo)
    report.loose_objects = _loose_objects(repo)
    if not dry_run:
        _git(repo, "gc", "--quiet")
    return report


def _workdirs(repo: Repo, config: Config, dry_run: bool) -> list[tuple[Path, int]]:
    from gitexp.running import workdirs

    root = config.run_root or os.environ.get("GITEXP_RUN_ROOT") or None
    if not dry_run:
        return workdirs.clean(repo, root)
    return [(slot, _size(slot)) for slot in _idle_slots(workdirs.pool_dir(repo, root))]


def _idle_slots(pool: Path) -> list[Path]:
    """Slots no run holds (their lock is free), looked at without removing them."""
    idle = []
    for lease in sorted(pool.glob("slot-*.lease")) if pool.is_dir() else []:
        fd = os.open(lease, os.O_RDWR | os.O_NOFOLLOW)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            idle.append(lease.with_suffix(""))
        except BlockingIOError:
            pass  # a run holds it
        finally:
            os.close(fd)
    return idle


def _size(path: Path) -> int:
    total = 0
    for folder, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(folder, name)).st_size
            except OSError:
                pass
    return total


def _images(repo: Repo, refs: dict[str, str], report: Report, remove: bool) -> None:
    """Find the unreferenced `gitexp-env` images; remove them when asked and safe."""
    if not envimages.docker_available():
        return
    try:
        found = envimages.listed()
    except RuntimeError as exc:
        report.notes.append(f"images left as they are: {exc}")
        return
    if not found:
        return
    used = envimages.referenced(repo, set(refs.values()))
    doomed = envimages.removable(found, used, envimages.known(repo) | used)
    if not report.dry_run:
        envimages.remember(repo, used)
    report.unreferenced_images = [i.tags[0] for i in doomed]
    if not remove or report.dry_run or not doomed:
        return
    running = _running(repo, refs)
    if running:
        report.notes.append(f"images kept: {running} experiment(s) running; run gc again later")
        return
    for image in doomed:
        refused = envimages.remove(image)
        if refused is None:
            report.images_removed.append(image.tags[0])
        else:
            report.notes.append(f"image {image.tags[0]} kept: {refused}")


def _running(repo: Repo, refs: dict[str, str]) -> int:
    """How many of these experiments are running now (their process is alive)."""
    count = 0
    for _, _, e in index.ordered(repo, refs):
        if e.status == "running" and observed_status(e.status, e.host, e.pid, e.lease) == "running":
            count += 1
    return count


def _loose_refs(repo: Repo) -> int:
    return sum(len(files) for _, _, files in os.walk(refscan.refs_dir(repo) / "refs"))


def _loose_objects(repo: Repo) -> int:
    for line in _git(repo, "count-objects", "-v").splitlines():
        key, _, value = line.partition(":")
        if key == "count":
            return int(value.strip() or 0)
    return 0


def _git(repo: Repo, *args: str) -> str:
    try:
        proc = subprocess.run(
            ["git", *args], cwd=repo.root, capture_output=True, text=True, check=False
        )
    except FileNotFoundError as exc:
        raise BackendError("git is not installed", "install git; gitexp gc runs it") from exc
    if proc.returncode != 0:
        lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
        raise BackendError(f"git {args[0]} failed: {lines[-1] if lines else proc.returncode}")
    return proc.stdout
