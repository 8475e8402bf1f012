"""Names a snapshot may not hold, refused before an experiment's name is reserved.

Git on Linux stores a file called ``new\\nline.txt``, ``a\\b.txt`` or
``git~1``; gitexp never writes such a name into a run directory
(`treewalk`'s rules, the same for every tree it writes). Found only when
the run directory is written, the run would already own its name and leave
a `failed` experiment behind. So the snapshot's names are checked first:

- what `git status` lists (untracked and changed files), every run: cheap;
- the committed tree (HEAD's), in full, once per tree id: the ids found safe
  are remembered in ``.git/gitexp/safe-trees`` (derived data: deleting it
  only costs one walk).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

import pygit2

from gitexp.common.errors import UsageError
from gitexp.common.paths import under_any
from gitexp.gitstore import treewalk
from gitexp.gitstore.repo import Repo

log = logging.getLogger(__name__)
_REMEMBERED = 64  # tree ids kept in safe-trees
_NEW, _GONE = pygit2.enums.FileStatus.WT_NEW, pygit2.enums.FileStatus.WT_DELETED


class UnsafeNameError(UsageError):
    """A file of the work tree has a name gitexp cannot write back; nothing was run."""

    def __init__(self, paths: list[str], hint: str) -> None:
        first = paths[0]
        more = f" (and {len(paths) - 1} more)" if len(paths) > 1 else ""
        why = treewalk.why_unsafe(first) or "it is not a file gitexp can write"
        super().__init__(
            f"cannot snapshot {first!r}{more}: {why}, so gitexp never writes it into a "
            "run directory (nothing was run or written)",
            hint,
        )
        self.paths = paths


def refuse_in_status(status: Mapping[str, int], skip: Iterable[str] = ()) -> None:
    """Refuse unsafe names among what `git status` lists (``skip``: left out anyway)."""
    left_out = tuple(skip)
    bad = {
        path.rstrip("/"): flags  # a nested repository is one entry: "vendor/"
        for path, flags in status.items()
        if not flags & _GONE and not under_any(path, left_out)
    }
    unsafe = sorted(path for path in bad if treewalk.why_unsafe(path))
    if not unsafe:
        return
    untracked = all(bad[path] & _NEW for path in unsafe)
    raise UnsafeNameError(unsafe, _UNTRACKED_HINT if untracked else _TRACKED_HINT)


_UNTRACKED_HINT = "rename the file, or add it to .gitignore"
_TRACKED_HINT = (
    "rename it with `git mv` and commit, or `git rm --cached` it and add it to .gitignore"
)


def refuse_in_commit(repo: Repo, tree_id: pygit2.Oid) -> None:
    """Refuse a committed tree holding an unsafe name; each tree id is walked once."""
    known = _safe_trees(repo)
    if str(tree_id) in known:
        return
    try:
        treewalk.check(repo.git, tree_id)
    except treewalk.UnsafeTreeError as exc:
        raise UnsafeNameError([exc.path], _TRACKED_HINT) from None
    _remember(repo, str(tree_id), known)


def _safe_trees(repo: Repo) -> list[str]:
    try:
        text = (repo.state_dir / "safe-trees").read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError):
        return []
    return text.split()


def _remember(repo: Repo, tree_id: str, known: list[str]) -> None:
    """Keep the last ids, written whole (a reader never sees half a file)."""
    path = repo.state_dir / "safe-trees"
    lines = [*known[-(_REMEMBERED - 1) :], tree_id]
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_whole(path, "".join(f"{line}\n" for line in lines))
    except OSError as exc:  # a read-only .git: the walk is repeated next time
        log.debug("cannot remember safe tree %s: %s", tree_id, exc)


def _write_whole(path: Path, text: str) -> None:
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="ascii")
    os.replace(tmp, path)
