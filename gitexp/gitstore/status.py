"""What differs between HEAD and the work tree, as `git status` sees it.

libgit2 answers first (no process to start). It refuses a work tree with a
folder nested more than 100 levels deep (``directory nesting too deep``),
which git itself handles; then `git status --porcelain -z` answers instead,
its codes mapped onto libgit2's flags so every caller reads one shape.
"""

from __future__ import annotations

import logging
import os
import subprocess

import pygit2

from gitexp.common.errors import WorkspaceError
from gitexp.common.paths import is_under
from gitexp.gitstore import gitenv
from gitexp.gitstore.repo import Repo

log = logging.getLogger(__name__)
_S = pygit2.enums.FileStatus
_INDEX = {
    "M": _S.INDEX_MODIFIED,
    "A": _S.INDEX_NEW,
    "D": _S.INDEX_DELETED,
    "T": _S.INDEX_TYPECHANGE,
}
_WORK = {"M": _S.WT_MODIFIED, "D": _S.WT_DELETED, "T": _S.WT_TYPECHANGE}
_UNMERGED = {"DD", "AU", "UD", "UA", "DU", "AA", "UU"}


def work_tree_status(repo: Repo) -> dict[str, int]:
    """{path: flags} of what differs from HEAD, untracked files listed one by one."""
    try:
        status: dict[str, int] = repo.git.status(untracked_files="all", ignored=False)
    except pygit2.GitError as exc:
        if "too deep" not in str(exc):
            raise
        log.debug("libgit2 status refused (%s): asking git", exc)
        return porcelain_status(repo)
    return status


def porcelain_status(repo: Repo) -> dict[str, int]:
    """The same answer from `git status` (which walks folders of any depth)."""
    argv = ["git", f"--git-dir={repo.git_dir}", f"--work-tree={repo.root}", "--no-optional-locks"]
    argv += ["status", "--porcelain=v1", "-z", "--untracked-files=all", "--no-renames"]
    env = gitenv.scrub(os.environ)  # the repository named above, whatever a hook set
    proc = subprocess.run(argv, cwd=repo.root, env=env, capture_output=True, check=False)
    if proc.returncode != 0:
        why = os.fsdecode(proc.stderr).strip().splitlines()
        raise WorkspaceError(
            "cannot read the work tree's status: " + (why[-1] if why else "git status failed")
        )
    return parse_porcelain(proc.stdout)


def parse_porcelain(out: bytes) -> dict[str, int]:
    """`git status --porcelain=v1 -z --no-renames` records as libgit2 status flags."""
    status: dict[str, int] = {}
    for record in out.split(b"\0"):
        if len(record) < 4:
            continue
        code, path = record[:2].decode("ascii", "replace"), os.fsdecode(record[3:])
        status[path] = _flags(code)
    return status


def _flags(code: str) -> int:
    if code == "??":
        return int(_S.WT_NEW)
    if code in _UNMERGED:
        return int(_S.CONFLICTED)
    return int(_INDEX.get(code[0], 0)) | int(_WORK.get(code[1], 0))


def ignore_rule(repo: Repo, rel: str) -> str | None:
    """Which rule ignores ``rel`` (``source: 'pattern'``), or None when git keeps it."""
    try:
        if not repo.git.path_is_ignored(rel):
            return None
    except pygit2.GitError:
        return None
    argv = ["git", f"--git-dir={repo.git_dir}", f"--work-tree={repo.root}"]
    argv += ["check-ignore", "-v", "-z", "--stdin"]
    env = gitenv.scrub(os.environ)
    given = os.fsencode(rel) + b"\0"
    proc = subprocess.run(
        argv, cwd=repo.root, env=env, input=given, capture_output=True, check=False
    )
    fields = os.fsdecode(proc.stdout).split("\0")
    if proc.returncode != 0 or len(fields) < 3 or not fields[0]:
        return "an ignore rule"
    source = fields[0]
    if os.path.isabs(source) and is_under(source, str(repo.root)):
        source = os.path.relpath(source, repo.root)
    return f"{source}: {fields[2]!r}"
