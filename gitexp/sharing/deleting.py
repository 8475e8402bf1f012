"""`gitexp remove NAME --remote REMOTE`: delete experiments on a git remote too.

`gitexp remove` deletes refs here only: a remote that still has the
experiment gives it back on the next `gitexp pull`. With ``--remote`` the
names are looked up on the remote (`git ls-remote`, as a pull does: exact
name, group or unique prefix) and deleted there in one `git push`, each with
a lease on the commit the remote was seen with, atomically: when a colleague
pushed one of them again meanwhile, nothing is deleted. An experiment is one ref,
refs/experiments/NAME; the model tags on its commit are the registry's and
stay (`gitexp model` deprecates a version).
"""

from __future__ import annotations

from dataclasses import dataclass

from gitexp.common.errors import BackendError
from gitexp.gitstore import store
from gitexp.gitstore.repo import Repo
from gitexp.sharing.pushing import NO_ATOMIC
from gitexp.sharing.remotes import check_remote, git_output, remote_refs, select


@dataclass(frozen=True)
class Deletion:
    """What ``--remote`` deletes: name → sha on the remote, and name → commit here."""

    remote: str
    there: dict[str, str]
    here: dict[str, str]


def plan(repo: Repo, remote: str, specs: list[str]) -> Deletion:
    """The experiments ``specs`` name on ``remote`` (one `git ls-remote`), and the
    local refs of the same names."""
    check_remote(repo, remote)
    found = remote_refs(repo, remote)
    available = {**found.refs, **found.tagged}  # a ref to a tag pushed by mistake goes too
    chosen = select(available, specs, f"on {remote}", found.invalid)
    here = {n: str(oid) for n in chosen if (oid := store.lookup(repo, n)) is not None}
    return Deletion(remote, {n: available[n] for n in chosen}, here)


def delete_there(repo: Repo, deletion: Deletion) -> None:
    """One `git push --atomic REMOTE :refs/experiments/NAME...`, each ref leased on
    its sha: one that moved meanwhile fails the whole push (a remote that cannot
    push atomically deletes the others)."""
    refs = {store.ref_name(n): sha for n, sha in deletion.there.items()}
    leases = [f"--force-with-lease={ref}:{sha}" for ref, sha in refs.items()]
    deletes = [f":{ref}" for ref in refs]
    try:
        git_output(repo, "push", "--porcelain", "--atomic", *leases, deletion.remote, *deletes)
    except BackendError as exc:
        if NO_ATOMIC not in exc.message:
            raise
        git_output(repo, "push", "--porcelain", *leases, deletion.remote, *deletes)
