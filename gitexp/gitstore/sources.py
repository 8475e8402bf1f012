"""The Python sources of an experiment's tree, read for what they import.

A failed reproduction names the sources of randomness the script did not
control; what the code imports says that better than what is installed.
Reading is bounded (files and bytes), so a repository of vendored code
costs a few milliseconds, not a read of everything.
"""

from __future__ import annotations

import pygit2

from gitexp.common.layout import META_DIR
from gitexp.gitstore.repo import Repo
from gitexp.gitstore.trees import blobs, without_meta

SUFFIXES = (".py", ".ipynb")
MAX_FILES = 400
MAX_BYTES = 4 << 20


def python_sources(repo: Repo, commit: str) -> dict[str, bytes] | None:
    """The tree's Python files and notebooks by path (gitexp's own record left
    out); None when there are more than the bounds allow."""
    tree = without_meta(repo, repo.git.revparse_single(f"{commit}^{{tree}}").peel(pygit2.Tree).id)
    found: dict[str, bytes] = {}
    size = 0
    for path, oid, _ in blobs(repo, tree):
        if not path.endswith(SUFFIXES) or path.startswith(META_DIR + "/"):
            continue
        data = bytes(repo.git[oid].peel(pygit2.Blob).data)
        size += len(data)
        found[path] = data
        if len(found) > MAX_FILES or size > MAX_BYTES:
            return None
    return found
