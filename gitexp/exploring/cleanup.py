"""`gitexp gc`: give back what git and gitexp keep, safely beside running experiments.

- git packs refs and objects (`git gc`: ``pack-refs --all``, a repack, and a
  prune of loose objects older than ``gc.pruneExpire``, two weeks by default;
  never ``--prune=now``, which deletes the objects a run wrote a moment ago
  before its ref reaches them). A run that meets git's lock files retries.
  The report counts what git will change, by git's own rules: loose refs
  (not symbolic or per-worktree ones), loose objects reachable from a ref, a
  reflog or the index (packed), unreachable ones older than the expiry
  (pruned); younger unreachable ones stay, and are counted as such.
- Rows of the summary cache whose commit no experiment ref points at are
  dropped (the cache is keyed by commit id, so packing never invalidates it).
- Idle run directories are removed: the reusable slots of the pool
  (gitexp/running/workdirs.py), a killed run's among them, with their lease
  files (a lease file whose folder is already gone is counted apart). A
  running experiment holds its slot's lock, so its directory is never touched.
- Temporary object files a killed writer left in ``.git/objects``
  (``tmp_object_git2_*``, ``tmp_obj_*``, ``incoming-*``) go once nothing has
  touched them for a while (tempobjects.py says how long, and why that is safe).
- Containers a killed `gitexp run --docker` left (stopped, or still running
  with no gitexp to record them) are removed (containers.py says how it knows
  one is an orphan of this repository); an older gitexp's are listed.
- With ``images``: `gitexp-env` images experiments of this repository once
  named and none names now are removed (envimages.py says how it knows), but
  only while none of its experiments runs (a run records its image when it
  ends) and never by force.

``dry_run`` counts everything and changes nothing.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from gitexp.common.errors import BackendError
from gitexp.config.settings import Config
from gitexp.exploring import containers, envimages, tempobjects
from gitexp.exploring import summary_cache as index
from gitexp.gitstore import gitenv, refscan, store
from gitexp.gitstore.record import observed_status
from gitexp.gitstore.repo import Repo

DEFAULT_EXPIRE = "2.weeks.ago"  # git's gc.pruneExpire when unset
_LOOSE_NAME = re.compile(r"[0-9a-f]{38}([0-9a-f]{24})?")


@dataclass
class Report:
    """What `gitexp gc` did, or with ``dry_run`` would do."""

    dry_run: bool
    loose_refs: int = 0
    #: loose objects git gc packs (reachable) or prunes (unreachable, expired)
    loose_objects: int = 0
    pruned_objects: int = 0
    #: unreachable loose objects younger than ``prune_expire``: git keeps them
    kept_objects: int = 0
    prune_expire: str = DEFAULT_EXPIRE
    cache_rows: int = 0
    workdirs: list[tuple[Path, int]] = field(default_factory=list)
    stale_leases: int = 0
    #: temporary object files removed (or to remove), their bytes; younger ones kept
    temp_objects: int = 0
    temp_bytes: int = 0
    temp_kept: int = 0
    #: orphaned containers removed (or to remove): (short id, experiment, was running)
    containers: list[tuple[str, str, bool]] = field(default_factory=list)
    #: an older gitexp's containers of experiments no longer running: (short id, experiment)
    old_containers: list[tuple[str, str]] = field(default_factory=list)
    unreferenced_images: list[str] = field(default_factory=list)
    images_removed: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def collect(repo: Repo, config: Config, dry_run: bool = False, images: bool = False) -> Report:
    """Run every step of `gitexp gc` (see the module's doc) and say what it did."""
    report = Report(dry_run)
    refs = store.ref_targets(repo)
    live = set(refs.values())
    report.cache_rows = index.drop_unreferenced(repo, live, dry_run)
    _containers(repo, refs, report)  # first: a running orphan writes into its run directory
    _workdirs(repo, config, report)
    _images(repo, refs, report, images)
    _temp_objects(repo, refs, report)
    report.loose_refs = _loose_refs(repo)
    _loose_objects(repo, report)
    if not dry_run:
        _git(repo, "gc", "--quiet")
    return report


def _workdirs(repo: Repo, config: Config, report: Report) -> None:
    from gitexp.running import workdirs

    root = config.run_root or os.environ.get("GITEXP_RUN_ROOT") or None
    tidied = workdirs.tidy(repo, root, report.dry_run)
    report.workdirs, report.stale_leases = tidied.dirs, tidied.stale_leases


def _temp_objects(repo: Repo, refs: dict[str, str], report: Report) -> None:
    found = tempobjects.find(refscan.refs_dir(repo) / "objects")
    if not found:
        return
    doomed = tempobjects.removable(found, running=_running(repo, refs) > 0)
    report.temp_objects, report.temp_kept = len(doomed), len(found) - len(doomed)
    if report.dry_run:
        report.temp_bytes = sum(item.size for item in doomed)
    else:
        report.temp_bytes = tempobjects.remove(doomed)


def _containers(repo: Repo, refs: dict[str, str], report: Report) -> None:
    """Remove the containers a killed gitexp left for experiments here."""
    if not envimages.docker_available():
        return
    try:
        found = containers.listed()
    except RuntimeError as exc:
        report.notes.append(f"containers left as they are: {exc}")
        return
    if not found:
        return
    runs = {name: e for name, _, e in index.ordered(repo, refs)}
    ended = {
        n for n, e in runs.items() if observed_status(e.status, e.host, e.pid, e.lease) != "running"
    }
    report.old_containers = [(c.id[:12], c.run) for c in containers.unlabelled(found, ended)]
    for c in containers.orphaned(found, runs):
        refused = None if report.dry_run else containers.remove(c)
        if refused is None:
            report.containers.append((c.id[:12], c.run, c.running))
        else:
            report.notes.append(f"container {c.id[:12]} of {c.run} kept: {refused}")


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


PER_WORKTREE = ("refs/bisect", "refs/worktree", "refs/rewritten")  # pack-refs leaves them


def _loose_refs(repo: Repo) -> int:
    """Loose refs `git pack-refs --all` packs: not symbolic, not per-worktree."""
    root = refscan.refs_dir(repo)
    count = 0
    for folder, dirs, files in os.walk(root / "refs"):
        if Path(folder).relative_to(root).as_posix() in PER_WORKTREE:
            dirs.clear()
            continue
        count += sum(_packable(Path(folder, f)) for f in files if not f.endswith(".lock"))
    return count


def _packable(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            return not f.read(5).startswith(b"ref:")
    except OSError:
        return False


def _loose_objects(repo: Repo, report: Report) -> None:
    """Sort the loose objects as git gc will: reachable ones are packed; unreachable
    ones older than gc.pruneExpire are pruned, the others kept."""
    loose = _loose_files(refscan.refs_dir(repo) / "objects")
    if not loose:
        return
    reachable = loose.keys() & _reachable_unpacked(repo)
    unreachable = [oid for oid in loose if oid not in reachable]
    report.prune_expire = _git(repo, "config", "--default", DEFAULT_EXPIRE, "gc.pruneExpire")
    report.prune_expire = report.prune_expire.strip() or DEFAULT_EXPIRE
    cutoff = _cutoff(repo, report.prune_expire) if unreachable else 0
    old = {oid for oid in unreachable if loose[oid] <= cutoff}
    old -= _reached(repo, [oid for oid in unreachable if oid not in old], old)
    report.loose_objects = len(reachable)
    report.pruned_objects = len(old)
    report.kept_objects = len(unreachable) - len(old)


def _loose_files(objects: Path) -> dict[str, float]:
    """{object id: mtime} of every loose object."""
    found: dict[str, float] = {}
    for sub in os.scandir(objects) if objects.is_dir() else []:
        if len(sub.name) != 2 or not sub.is_dir(follow_symlinks=False):
            continue
        for entry in os.scandir(sub.path):
            if _LOOSE_NAME.fullmatch(entry.name):
                try:
                    found[sub.name + entry.name] = entry.stat(follow_symlinks=False).st_mtime
                except FileNotFoundError:
                    pass  # packed or pruned meanwhile
    return found


def _reachable_unpacked(repo: Repo) -> set[str]:
    """Objects git gc keeps, those of packed commits left out (they are packed): the
    commits and trees of loose commits are walked, never a blob read, nothing fetched."""
    out = _git(repo, "rev-list", "--objects", "--all", "--reflog", "--indexed-objects",
               "--unpacked", "--no-object-names", "--missing=allow-any")  # fmt: skip
    return set(out.split())


def _reached(repo: Repo, recent: list[str], old: set[str]) -> set[str]:
    """Which of the ``old`` objects the ``recent`` unreachable ones reach: git keeps
    those too (a recent commit's older tree stays with it)."""
    if not recent or not old:
        return set()
    out = _git(repo, "rev-list", "--objects", "--no-object-names", "--missing=allow-any",
               "--stdin", "--not", "--all", stdin="\n".join(recent))  # fmt: skip
    return old & set(out.split())


def _cutoff(repo: Repo, expire: str) -> float:
    """gc.pruneExpire as a time: git's own reading of it ("never" is 0)."""
    out = _git(repo, "rev-parse", f"--since={expire}")
    _, _, value = out.strip().partition("--max-age=")
    return float(value) if value.isdigit() else 0.0


def _git(repo: Repo, *args: str, stdin: str | None = None) -> str:
    try:
        proc = subprocess.run(
            ["git", *args], cwd=repo.root, env=gitenv.for_git(), input=stdin,
            capture_output=True, text=True, check=False,
        )  # fmt: skip
    except FileNotFoundError as exc:
        raise BackendError("git is not installed", "install git; gitexp gc runs it") from exc
    if proc.returncode != 0:
        lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
        raise BackendError(f"git {args[0]} failed: {lines[-1] if lines else proc.returncode}")
    return proc.stdout
