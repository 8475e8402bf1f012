"""Repository discovery and identity: the one entry point to pygit2.

Only the repository layer (repo, snapshot, store) imports pygit2; git
errors are translated into gitexp errors here, at the boundary.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pygit2

from gitexp.common.errors import NoCommitsError, UsageError
from gitexp.gitstore import gitenv

# what reading an object that is not (or no longer) in the object store raises
MISSING_OBJECT = (KeyError, ValueError, pygit2.GitError)


@dataclass(frozen=True)
class Repo:
    """An opened repository: the pygit2 handle, its work tree and git dir."""

    git: pygit2.Repository
    root: Path
    git_dir: Path

    @property
    def state_dir(self) -> Path:
        """Where gitexp keeps derived data (caches, studies, run dirs) inside .git: the
        common git dir, so every worktree of a repository shares them."""
        common = self.git_dir / "commondir"  # a worktree's git dir points at it
        if common.is_file():
            shared = (self.git_dir / common.read_text(encoding="utf-8").strip()).resolve()
            return shared / "gitexp"
        return self.git_dir / "gitexp"

    def reopen(self) -> Repo:
        """A new handle on the same repository (one per thread: libgit2's are not shared)."""
        return Repo(pygit2.Repository(str(self.git_dir)), self.root, self.git_dir)

    def head_commit(self) -> pygit2.Commit:
        if self.git.head_is_unborn:
            raise NoCommitsError()
        commit = self.git.head.peel(pygit2.Commit)
        return commit

    def signature(self) -> pygit2.Signature:
        """The user's git identity, as `git commit` would use it."""
        return _signature(self.git, "AUTHOR")

    def committer(self) -> pygit2.Signature:
        return _signature(self.git, "COMMITTER")

    def relative_cwd(self, cwd: Path | None = None) -> str:
        """The current directory relative to the work tree ('' at the top)."""
        here = (cwd or Path.cwd()).resolve()
        try:
            rel = here.relative_to(self.root)
        except ValueError:
            return ""
        return "" if str(rel) == "." else rel.as_posix()


def open_repo(path: str | os.PathLike[str] = ".") -> Repo:
    """Discover the repository containing ``path``; refuse bare repositories.

    pygit2 opens from ``path`` (not from the git dir it finds), so a work tree
    whose ``.git`` is a file pointing elsewhere (``git init --separate-git-dir``)
    keeps its own root. A work tree opened once in this process is reopened by
    its git dir: with ``core.worktree`` it has no ``.git`` to find it by.
    """
    start = Path(os.path.abspath(path))
    git = _known(start) or _discover(start)
    if git.is_bare or git.workdir is None:
        raise UsageError(f"repository at {git.path} is bare", "run gitexp in a work tree")
    repo = Repo(git, Path(git.workdir).resolve(), Path(git.path).resolve())
    gitenv.check(repo.root, repo.git_dir, start)
    _OPENED[repo.root] = repo.git_dir
    return repo


# work tree -> git dir of every repository this process opened (see open_repo)
_OPENED: dict[Path, Path] = {}


def _known(start: Path) -> pygit2.Repository | None:
    """The repository opened before at exactly this work tree, when ``start`` has no
    ``.git`` of its own that says so."""
    git_dir = _OPENED.get(start.resolve())
    if git_dir is None or (start / ".git").exists():
        return None
    try:
        return pygit2.Repository(str(git_dir))
    except pygit2.GitError:
        return None


def _discover(start: Path) -> pygit2.Repository:
    if pygit2.discover_repository(str(start)) is None:
        raise gitenv.not_found(start)
    try:
        return pygit2.Repository(str(start))
    except pygit2.GitError as exc:
        raise gitenv.open_failed(start, exc) from exc


def _signature(git: pygit2.Repository, role: str) -> pygit2.Signature:
    name = os.environ.get(f"GIT_{role}_NAME") or _config(git, "user.name") or "gitexp"
    email = os.environ.get(f"GIT_{role}_EMAIL") or _config(git, "user.email") or "gitexp@localhost"
    return pygit2.Signature(name, email)


def _config(git: pygit2.Repository, key: str) -> str | None:
    try:
        value = git.config[key]
    except KeyError:
        return None
    return str(value) if value else None
