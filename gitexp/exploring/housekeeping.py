"""Housekeeping on experiments: remove, rename, branch (apply: exploring/apply.py).

None of these touches the user's work tree, index or HEAD.
"""

from __future__ import annotations

from collections.abc import Iterable

from gitexp.common.errors import UsageError
from gitexp.exploring import envimages
from gitexp.exploring import readmodel as explore
from gitexp.gitstore import names, store
from gitexp.gitstore.repo import Repo


def select_for_removal(
    repo: Repo, specs: Iterable[str], failed: bool, baseline: str | None
) -> dict[str, str]:
    """{name: commit} chosen by names, by status failed, and/or by baseline. A ref
    that points at no commit (a tag pushed by mistake) may be named: it is deleted."""
    picked = (store.resolve(repo, s, any_object=True) for s in specs)
    chosen = {name: str(oid) for name, oid in picked}
    if failed or baseline is not None:
        base = store.resolve_rev(repo, baseline) if baseline is not None else None
        for s in explore.list_summaries(repo):
            if (failed and s.status == "failed") or (base is not None and s.baseline == base):
                chosen[s.name] = s.commit
    return chosen


def remove(repo: Repo, chosen: dict[str, str], force: bool = False) -> list[str]:
    """Delete the refs (all or none); a running experiment needs ``force``."""
    if not force:
        check_not_running(repo, chosen)
    used = envimages.referenced(repo, set(chosen.values()))
    if used:  # their images become `gitexp gc --images`'s to remove
        envimages.remember(repo, used)
    store.remove_refs(repo, chosen)
    return sorted(chosen)


def check_not_running(repo: Repo, chosen: dict[str, str]) -> None:
    """Refuse to remove running experiments (a ref to no commit is never one)."""
    commits = [n for n, c in chosen.items() if store.not_a_commit(repo, c) is None]
    running = [s.name for s in explore.get_summaries(repo, commits) if s.status == "running"]
    if running:
        raise UsageError(
            "refusing to remove running experiments: " + ", ".join(running),
            "wait for them to finish, or pass --force",
        )


def rename(repo: Repo, spec: str, new: str) -> tuple[str, str]:
    """Rename an experiment's ref; the commit (and its run.json) stays as it is."""
    names.validate(new)
    old, _ = store.resolve(repo, spec)
    if explore.get_summaries(repo, [old])[0].status == "running":
        raise UsageError(f"experiment {old!r} is still running", "rename it when it has finished")
    store.rename_ref(repo, old, new)
    return old, new


def branch(repo: Repo, spec: str, branch_name: str) -> tuple[str, str, str]:
    """Create refs/heads/BRANCH at the experiment commit: (experiment, ref, commit)."""
    name, oid = store.resolve(repo, spec)
    return name, store.create_branch(repo, branch_name, str(oid)), str(oid)
