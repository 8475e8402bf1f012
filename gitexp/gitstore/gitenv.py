"""The GIT_* variables that say which repository git acts on, and gitexp's answer.

A git hook, ``git rebase -x``, a bare "dotfiles" setup or a submodule's
command may leave ``GIT_DIR``, ``GIT_WORK_TREE``, ``GIT_INDEX_FILE``...
in the environment (a pre-commit hook of `git commit -a` gets a temporary
index). Three rules follow from them:

- A run's command never sees them (``scrub``): its git commands would act on
  the user's repository (commit to the checked-out branch, replace its
  index) instead of finding none in the isolated run directory.
- gitexp's own git commands (status, ls-files, stash, gc, push, fetch...)
  get ``for_git()``: the same variables removed, so git finds the repository
  from the directory it runs in, as libgit2 does, and reads its real index
  (not a hook's temporary one: `git gc` would prune what only the real index
  holds). ``git -c`` settings (``GIT_CONFIG_PARAMETERS``, ``GIT_CONFIG_COUNT``)
  stay: they are the user's choices for git (credentials, proxies), not a
  repository.
- gitexp finds its repository from the current directory. It follows
  ``GIT_DIR`` / ``GIT_WORK_TREE`` when they name that same repository (a hook
  sets ``GIT_DIR=.git``) and refuses, in one line, when they name another
  (``check``): it does not open a repository only the environment points at.

No pygit2 here: the executors (a Ray worker too) import this module.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from gitexp.common.errors import GitexpError, NotARepositoryError, UsageError

# `git rev-parse --local-env-vars` (what git clears before it enters a submodule), and
# GIT_NAMESPACE / GIT_QUARANTINE_PATH, which also point git at one repository's refs
REPO_LOCATING = (
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_CONFIG",
    "GIT_CONFIG_PARAMETERS",
    "GIT_CONFIG_COUNT",
    "GIT_OBJECT_DIRECTORY",
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_IMPLICIT_WORK_TREE",
    "GIT_GRAFT_FILE",
    "GIT_INDEX_FILE",
    "GIT_NO_REPLACE_OBJECTS",
    "GIT_REPLACE_REF_BASE",
    "GIT_PREFIX",
    "GIT_INTERNAL_SUPER_PREFIX",
    "GIT_SHALLOW_FILE",
    "GIT_COMMON_DIR",
    "GIT_NAMESPACE",
    "GIT_QUARANTINE_PATH",
)
# `git -c` and GIT_CONFIG_COUNT/KEY_n/VALUE_n: settings, not a repository (see for_git)
_USER_CONFIG = frozenset({"GIT_CONFIG_PARAMETERS", "GIT_CONFIG_COUNT"})
UNSET_HINT = "gitexp finds the repository from the current directory: cd into its work tree"
_NOT_OWNED = re.compile(r"repository path '([^']*)' is not owned by current user")


def scrub(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` without the variables that point git at a repository."""
    return {key: value for key, value in env.items() if key not in REPO_LOCATING}


def for_git(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a git command gitexp runs itself (every one of them: see the
    module doc), plus ``extra``; run it with ``cwd`` in the repository."""
    env = {k: v for k, v in os.environ.items() if k not in REPO_LOCATING or k in _USER_CONFIG}
    return {**env, **(extra or {})}


def check(root: Path, git_dir: Path, start: Path) -> None:
    """Refuse a ``GIT_DIR`` / ``GIT_WORK_TREE`` that names another repository than
    the one found from ``start``."""
    for key, found in (("GIT_DIR", git_dir), ("GIT_WORK_TREE", root)):
        named = _named(key)
        if named is not None and named != found:
            raise UsageError(
                f"{key}={os.environ[key]} is not the repository at {start} ({found})",
                f"{UNSET_HINT}, and unset {key}",
            )


def not_found(start: Path) -> GitexpError:
    """No repository contains ``start``: say so, naming a GIT_DIR that was ignored."""
    for key in ("GIT_DIR", "GIT_WORK_TREE"):
        if os.environ.get(key):
            return UsageError(
                f"not a git repository: {start} ({key}={os.environ[key]} is not followed)",
                UNSET_HINT,
            )
    return NotARepositoryError(str(start))


def open_failed(start: Path, exc: Exception) -> GitexpError:
    """libgit2 found a repository and would not open it: the reason in one line."""
    owned = _NOT_OWNED.search(str(exc))
    if owned:
        where = owned.group(1)
        return GitexpError(
            f"the repository at {where} is owned by another user; git refuses it",
            f"if you trust it: git config --global --add safe.directory {where}",
        )
    return GitexpError(f"cannot open the repository at {start}: {exc}")


def _named(key: str) -> Path | None:
    value = os.environ.get(key)
    return Path(os.path.abspath(value)).resolve() if value else None
