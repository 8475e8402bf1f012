"""What an in-process run wrote into the work tree, gathered for recording.

A `gitexp run` records its private run dir; an in-process run has none: its
code writes into the user's own directory. So the experiment is the snapshot
taken at the start plus the files that changed while the run was active:
what `git status` lists (changed or untracked, not ignored) with a stat
different from the start, the files ``log_artifact`` named, and the metrics
files and ``outputs:`` of gitexp.yaml even when git ignores them. Those are
linked (or copied) into a scratch run dir, which the runner's recording
(gitexp/running/recording.py) turns into the commit as for any run. Files
deleted meanwhile stay in the experiment as they were at the start, and the
running notebook keeps its snapshot (its autosaves are not the code that ran).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable
from pathlib import Path

from gitexp.common.layout import LIVE_ARTIFACTS, LIVE_DIR, META_DIR
from gitexp.common.paths import is_under, under_any
from gitexp.config.settings import Config
from gitexp.gitstore.repo import Repo
from gitexp.gitstore.status import work_tree_status

Stat = tuple[int, int, int]  # mode, size, mtime_ns


class Watch:
    """The stat of every candidate file when the run starts, to compare at its end."""

    def __init__(self, repo: Repo, config: Config, keep_as_snapshot: Iterable[str] = ()) -> None:
        self.root = repo.root
        self.config = config
        self.skip = (META_DIR, *config.links, *keep_as_snapshot)
        self.before = self._stats(repo)

    def written(self, repo: Repo) -> list[str]:
        """Files new or changed since the start (paths relative to the work tree)."""
        now = self._stats(repo)
        return sorted(rel for rel, st in now.items() if self.before.get(rel) != st)

    def _stats(self, repo: Repo) -> dict[str, Stat]:
        candidates = [*work_tree_status(repo), *self.config.metrics_files, *self._outputs()]
        found = {}
        for rel in candidates:
            if under_any(rel, self.skip) or is_under(rel, META_DIR):
                continue
            st = _stat(self.root / rel)
            if st is not None:
                found[Path(rel).as_posix()] = st
        return found

    def _outputs(self) -> list[str]:
        """Files matching ``outputs:`` patterns, ignored ones included (as a run keeps)."""
        found = []
        for pattern in self.config.outputs:
            found += [p.relative_to(self.root).as_posix() for p in self.root.glob(pattern)]
        return found


def _stat(path: Path) -> Stat | None:
    try:
        st = path.lstat()
    except OSError:
        return None
    if not (os.path.isfile(path) or os.path.islink(path)):
        return None
    return st.st_mode, st.st_size, st.st_mtime_ns


def logged_artifacts(run_dir: Path, root: Path, cwd: Path) -> list[str]:
    """Work-tree paths given to ``log_artifact``, the live file rewritten to point at their
    copies in the run dir; a path outside the work tree is left for recording to refuse."""
    live = run_dir / LIVE_DIR / LIVE_ARTIFACTS
    if not live.exists():
        return []
    found, lines = [], []
    for line in live.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
            path = Path(os.path.normpath(cwd / str(entry["path"])))
        except (ValueError, KeyError, TypeError):
            continue
        if path.is_relative_to(run_dir):  # autolog's models: in the run dir already
            pass
        elif path.is_relative_to(root) and path != root and path.exists():
            rel = path.relative_to(root).as_posix()
            found.append(rel)
            entry["path"] = str(run_dir / rel)
        lines.append(json.dumps(entry) + "\n")
    live.write_text("".join(lines), encoding="utf-8")
    return found


def gather(root: Path, run_dir: Path, paths: Iterable[str]) -> None:
    """Put the work tree's ``paths`` into the run dir: hard links where the file system
    allows (no copy of a large model), copies otherwise; symlinks as symlinks."""
    for rel in dict.fromkeys(paths):
        source, target = root / rel, run_dir / rel
        if target.exists() or target.is_symlink():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            os.symlink(os.readlink(source), target)
        elif source.is_dir():
            shutil.copytree(source, target, symlinks=True, copy_function=_link_or_copy)
        elif source.is_file():
            _link_or_copy(str(source), str(target))


def _link_or_copy(source: str, target: str) -> str:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)
    return target
