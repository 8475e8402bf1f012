"""The Python sources of an experiment's tree, read for what they import.

A failed reproduction names the sources of randomness the script did not
control; what the code imports says that better than what is installed.
Reading is bounded (files and bytes), so a repository of vendored code
costs a few milliseconds, not a walk of everything.
"""

from __future__ import annotations

import posixpath

import pygit2

from gitexp.common.layout import META_DIR
from gitexp.gitstore.repo import Repo

SUFFIXES = (".py", ".ipynb")
MAX_FILES = 400
MAX_BYTES = 4 << 20


def python_sources(repo: Repo, commit: str) -> dict[str, bytes] | None:
    """The tree's Python files and notebooks by path (gitexp's own metadata left
    out); None when there are more than the bounds allow."""
    tree = repo.git.revparse_single(f"{commit}^{{tree}}").peel(pygit2.Tree)
    found: dict[str, bytes] = {}
    size = 0
    stack: list[tuple[str, pygit2.Tree]] = [("", tree)]
    while stack:
        prefix, folder = stack.pop()
        for entry in folder:
            path = posixpath.join(prefix, entry.name or "")
            if entry.type_str == "tree" and path != META_DIR:
                stack.append((path, repo.git[entry.id].peel(pygit2.Tree)))
            elif entry.type_str == "blob" and path.endswith(SUFFIXES):
                data = bytes(repo.git[entry.id].peel(pygit2.Blob).data)
                size += len(data)
                found[path] = data
                if len(found) > MAX_FILES or size > MAX_BYTES:
                    return None
    return found
