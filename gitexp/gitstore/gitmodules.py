"""Which submodules a tree has, and where their objects are.

The submodules of a tree are those its ``.gitmodules`` declares that the
tree holds as gitlinks, as `git submodule` knows them: one lookup each, so a
tree without ``.gitmodules`` costs one lookup. A gitlink that ``.gitmodules``
does not declare (an embedded repository someone `git add`-ed) is left as
it is. A submodule's objects are in its checkout's ``.git`` (a file naming
its git dir, or a folder), in ``<git dir>/modules/<name>`` (a linked worktree
has its own) or in the main repository's ``modules/<name>``; every place is
opened read-only, never through the submodule's work tree files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pygit2

from gitexp.common.errors import GitexpError, UsageError
from gitexp.gitstore import treewalk

GITMODULES = ".gitmodules"
_COMMIT = pygit2.enums.FileMode.COMMIT
_SECTION = re.compile(r'\s*\[\s*submodule\s+"((?:[^"\\]|\\.)*)"\s*\]', re.IGNORECASE)
_PATH_KEY = re.compile(r"\s*path\s*=(.*)$", re.IGNORECASE)


class DirtySubmoduleError(UsageError):
    """A submodule's work tree has changes its commit does not hold."""

    def __init__(self, path: str, changes: list[str], doing: str = "run") -> None:
        shown = ", ".join(sorted(changes)[:5]) + (", …" if len(changes) > 5 else "")
        super().__init__(
            f"refusing to {doing}: submodule {path!r} has uncommitted changes ({shown})",
            f"commit or stash them in the submodule first, e.g. `git -C {path} stash`",
        )
        self.path = path


class MissingSubmoduleError(GitexpError):
    """A gitlink's commit is not in any object store of the submodule here (exit 1:
    met while the run dir is written, after the experiment's ref exists)."""

    def __init__(self, path: str, commit: pygit2.Oid) -> None:
        super().__init__(
            f"submodule {path!r}: commit {str(commit)[:7]} is not in this repository",
            "run `git submodule update --init --recursive`, or fetch that commit in the submodule",
        )
        self.path = path


@dataclass(frozen=True)
class Link:
    """One submodule of a tree: its name (.gitmodules), path and gitlink commit."""

    name: str
    path: str
    commit: pygit2.Oid


# --- which submodules a tree has ------------------------------------------------------


def declared(text: str) -> dict[str, str]:
    """{path: name} of the submodules a .gitmodules text declares."""
    found: dict[str, str] = {}
    name: str | None = None
    for line in text.splitlines():
        section = _SECTION.match(line)
        if section:
            name = _value(section[1])
        elif line.lstrip().startswith("["):
            name = None
        elif name is not None and (key := _PATH_KEY.match(line)):
            found[_value(key[1]).rstrip("/")] = name
    return found


def _value(raw: str) -> str:
    """A git-config value: quotes removed, escapes undone, a trailing comment dropped."""
    out: list[str] = []
    quoted, chars = False, iter(raw)
    for c in chars:
        if c == "\\":
            nxt = next(chars, "")
            out.append({"n": "\n", "t": "\t"}.get(nxt, nxt))
        elif c == '"':
            quoted = not quoted
        elif c in "#;" and not quoted:
            break
        else:
            out.append(c)
    return "".join(out).strip()


def links(git: pygit2.Repository, tree: pygit2.Tree) -> list[Link]:
    """The submodules of ``tree``: declared in its .gitmodules and held as gitlinks."""
    text = _text(git, tree, GITMODULES)
    if text is None:
        return []
    found = []
    for path, name in declared(text).items():
        entry = _entry(tree, path)
        if entry is not None and entry.filemode == _COMMIT:
            found.append(Link(name, path, entry.id))
    return found


def _entry(tree: pygit2.Tree, path: str) -> pygit2.Object | None:
    try:
        return tree[path] if path and not treewalk.unsafe_path(path) else None
    except KeyError:
        return None


def _text(git: pygit2.Repository, tree: pygit2.Tree, path: str) -> str | None:
    entry = _entry(tree, path)
    blob = git.get(entry.id) if entry is not None else None
    return bytes(blob.data).decode("utf-8", "replace") if isinstance(blob, pygit2.Blob) else None


# --- where a submodule's objects are --------------------------------------------------


def checkout_of(work: Path) -> pygit2.Repository | None:
    """The submodule checked out at ``work`` (its ``.git`` file or folder), if any."""
    if not (work / ".git").exists():
        return None
    sub = _open(work)
    return sub if sub is not None and not sub.head_is_unborn else None


def head_id(sub: pygit2.Repository) -> pygit2.Oid:
    """The commit a checkout has at HEAD (a branch or detached)."""
    oid: pygit2.Oid = sub.head.peel(pygit2.Commit).id
    return oid


def _open(path: Path) -> pygit2.Repository | None:
    try:
        return pygit2.Repository(str(path), pygit2.enums.RepositoryOpenFlag.NO_SEARCH)
    except (pygit2.GitError, OSError, ValueError):
        return None


def store(git_dir: Path, work: Path | None, link: Link) -> pygit2.Repository | None:
    """A repository that holds ``link``'s commit: the checkout in the work tree,
    ``<git dir>/modules/<name>`` (a worktree has its own) or the main one's."""
    places = [work / link.path] if work is not None and (work / link.path / ".git").exists() else []
    if _safe_name(link.name):
        places += [git_dir / "modules" / link.name, _common(git_dir) / "modules" / link.name]
    for place in places:
        sub = _open(place)
        if sub is not None and isinstance(sub.get(link.commit), pygit2.Commit):
            return sub
    return None


def _safe_name(name: str) -> bool:
    """A submodule name git would accept as a folder below modules/ (no escape)."""
    parts = name.split("/")
    return bool(name) and "\\" not in name and not name.startswith("/") and ".." not in parts


def _common(git_dir: Path) -> Path:
    """The main repository's git dir (a linked worktree's git dir names it)."""
    try:
        return (git_dir / (git_dir / "commondir").read_text().strip()).resolve()
    except OSError:
        return git_dir
