"""How `gitexp push WORD` and `gitexp pull WORD` read their first word.

The grammar is `push [REMOTE] [NAMES...]`, as git's; but `gitexp push e1` is
plainly "push experiment e1", so a lone word that is no remote, no URL, no path
and not close to a remote's name (a typo keeps its did-you-mean) is a name, and
the remote is origin."""

from __future__ import annotations

from pathlib import Path

from gitexp.common import suggest
from gitexp.gitstore.repo import Repo

DEFAULT_REMOTE = "origin"


def remote_and_names(repo: Repo, first: str, names: list[str]) -> tuple[str, list[str]]:
    """The remote and the names meant by ``first`` and ``names`` (see the module)."""
    if names or first == DEFAULT_REMOTE:
        return first, names
    configured = [n for n in repo.git.remotes.names() if n]
    if DEFAULT_REMOTE not in configured or _is_remote(repo, first, configured):
        return first, names
    if suggest.closest(first, configured) is not None:
        return first, names
    return DEFAULT_REMOTE, [first]


def _is_remote(repo: Repo, word: str, configured: list[str]) -> bool:
    head = word.split("/", 1)[0]
    if word in configured or "://" in word or ":" in head:
        return True
    return (repo.root / Path(word).expanduser()).exists()
