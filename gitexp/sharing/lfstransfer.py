"""Git LFS objects travel with the experiments that need them.

`gitexp push` sends the LFS objects of the experiments it pushes with one
`git lfs push <remote> <commits>` *before* the refs (as `git lfs pre-push`
would: what those commits reach that the remote's branches do not), so a
colleague never gets an experiment whose data is not there yet. The refs'
own `git push` then runs with ``GIT_LFS_SKIP_PUSH=1``: an installed LFS
pre-push hook would only scan the same commits again (and, for a remote
given as a plain path, fail). `gitexp pull` fetches, with `git lfs fetch
<remote> <commits>`, the objects of the experiments it brought in;
`gitexp reproduce` fetches those of the experiment it reruns from the
default remote. Whatever is still missing when a run dir is written is
fetched one object at a time by `git-lfs smudge` (gitstore/lfs.py).

A repository whose experiments use no LFS starts no process here: pushing
looks for a local LFS store, pulling for ``filter=lfs`` in each pulled
commit's top-level .gitattributes (or ``info/attributes``).
"""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path

import pygit2

from gitexp.common.errors import BackendError
from gitexp.gitstore import gitenv, lfs
from gitexp.gitstore.attributes import FILE
from gitexp.gitstore.repo import Repo

SKIP_PUSH_ENV = "GIT_LFS_SKIP_PUSH"  # git-lfs's own switch for its pre-push hook
CHUNK = 500  # commits per git-lfs command line
log = logging.getLogger(__name__)


def using_lfs(repo: Repo, commits: dict[str, str]) -> dict[str, str]:
    """The experiments (name → commit) whose top-level .gitattributes, or
    info/attributes, mentions filter=lfs."""
    if lfs.MARK in (lfs.info_attributes(repo) or b""):
        return dict(commits)
    return {name: sha for name, sha in commits.items() if _mentions_lfs(repo, sha)}


def _mentions_lfs(repo: Repo, commit: str) -> bool:
    try:
        blob = repo.git.revparse_single(f"{commit}:{FILE}")
    except (KeyError, ValueError, pygit2.GitError):
        return False
    return isinstance(blob, pygit2.Blob) and lfs.MARK in blob.data


def push(repo: Repo, remote: str, commits: dict[str, str]) -> None:
    """Upload the LFS objects of these experiments (name → commit) to ``remote``."""
    if not (lfs.store_dir(repo) / "objects").is_dir():
        return  # nothing was ever stored in LFS here: nothing to send
    wanted = using_lfs(repo, commits)
    if wanted:
        exe = lfs.program(f"data of experiment {next(iter(wanted))!r}")
        _run(repo, exe, "push", remote, list(wanted.values()))


def fetch(repo: Repo, remote: str, commits: dict[str, str]) -> None:
    """Download the LFS objects these experiments' trees name (name → commit)."""
    wanted = using_lfs(repo, commits)
    if wanted:
        exe = lfs.program(f"data of experiment {next(iter(wanted))!r}")
        _run(repo, exe, "fetch", remote, list(wanted.values()))


def prefetch(repo: Repo, name: str, commit: str) -> None:
    """Before a rerun: fetch the experiment's LFS objects from the default remote. A
    failure is only a warning: what is missing is fetched, or refused, per file later."""
    remote = default_remote(repo)
    if remote is None or not using_lfs(repo, {name: commit}):
        return
    exe = lfs.program(f"data of experiment {name!r}")
    try:
        _run(repo, exe, "fetch", remote, [commit])
    except BackendError as exc:
        log.warning("%s", exc)


def default_remote(repo: Repo) -> str | None:
    """The remote git-lfs would use: the branch's, else origin, else the only one."""
    names = list(repo.git.remotes.names())
    if not repo.git.head_is_unborn and not repo.git.head_is_detached:
        try:
            return str(repo.git.config[f"branch.{repo.git.head.shorthand}.remote"])
        except KeyError:
            pass
    if "origin" in names:
        return "origin"
    return str(names[0]) if len(names) == 1 else None


def _run(repo: Repo, exe: str, verb: str, remote: str, commits: list[str]) -> None:
    where = _endpoint(repo, remote)
    for start in range(0, len(commits), CHUNK):
        proc = subprocess.run(
            [exe, verb, where, *commits[start : start + CHUNK]],
            cwd=repo.root,
            env=gitenv.for_git(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        if proc.returncode != 0:
            detail = lfs.detail(proc.stderr)
            raise BackendError(
                f"git lfs {verb} {remote} failed: {detail}",
                "check the remote's LFS storage (lfs.url) and `git lfs env`",
            )


def _endpoint(repo: Repo, remote: str) -> str:
    """A remote git-lfs understands: a name or URL as given, a local path as file://
    (git-lfs 3 takes a bare path for a server and fails)."""
    if remote in repo.git.remotes.names() or "://" in remote:
        return remote
    path = Path(remote) if Path(remote).is_absolute() else repo.root / remote
    return path.resolve().as_uri() if path.is_dir() else remote
