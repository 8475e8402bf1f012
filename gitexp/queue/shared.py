"""Queued entries shared through a remote: claimed ON the remote before they run.

A queue pushed to a remote is in every clone that pulls it, and each clone's
`gitexp queue run` would run it (the local compare-and-swap, gitstore/claims.py,
only stops two runners of one repository). So `queue run` first asks the
remote (one `git ls-remote` of the queued names, ``SharedQueue.open``):

- an entry the remote does not have is local: it runs as before;
- an entry the remote has on its queued commit Q is claimed there: a *claim
  commit* C (Q's tree, run.json `running`, ``claimed`` saying by whom) is
  pushed over Q with ``--force-with-lease=REF:Q``. Git's receive-pack updates
  the ref under its lock only if it still points at Q: of two clones claiming
  at once exactly one wins. When the run is recorded, its final commit F
  (run.json ``claimed``: remote, Q, C) is published over C with a lease on C,
  with its artifacts, so the remote says `succeeded` (no --force, no conflict);
- an entry the remote has moved on from Q was claimed by another clone: its
  claim or result is fetched and takes the entry's place here (``adopt``);
- an entry the remote has as another commit that no claim of Q made is
  someone else's experiment of that name: not run, left queued.

Unreachable remote: `queue run` refuses before running anything, unless
``--offline`` (then entries run here only, and a clone that pulled them
may run them too). See docs/distributed.md.
"""

from __future__ import annotations

import json
import socket
import subprocess
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from gitexp.common.errors import BackendError, GitexpError
from gitexp.common.layout import RUN_JSON, RUN_JSON_NAME
from gitexp.gitstore import claims, gitenv, store
from gitexp.gitstore.repo import Repo
from gitexp.gitstore.trees import read_json

CLAIMED = "claimed"  # run.json's key on a claim commit and on the run that follows it
DEFAULT_REMOTE = "origin"  # as `gitexp push` / `gitexp pull`
MAX_ASKED = 200  # names asked one by one; more: the whole folder


class QueueRemoteError(GitexpError):
    """The remote the queue is shared through cannot be asked."""


class NotOurs(GitexpError):
    """The entry is not for this clone to run: ``how`` is ``taken`` (another clone
    claimed it) or ``queued`` (the remote has another experiment of that name)."""

    def __init__(self, message: str, how: str) -> None:
        super().__init__(message)
        self.how = how


@dataclass(frozen=True)
class Claim:
    """This clone's claim of ``name`` on ``remote``: ``commit`` (C) replaced ``queued`` (Q)."""

    remote: str
    name: str
    queued: str
    commit: str

    def recorded(self) -> dict[str, Any]:
        """What the run's record keeps of it (run.json ``claimed``)."""
        return {"remote": self.remote, "queued": self.queued, "commit": self.commit}


@dataclass
class SharedQueue:
    """The remote a `queue run` shares its entries through, as it was asked at start."""

    repo: Repo
    remote: str
    known: dict[str, str]  # name → commit on the remote (queued names only)

    @classmethod
    def open(cls, repo: Repo, remote: str, names: list[str]) -> SharedQueue:
        """Ask the remote about the queued ``names`` (refused when it cannot be reached)."""
        try:
            known = ls_remote(repo, remote, names)
        except BackendError as exc:
            raise QueueRemoteError(
                f"cannot reach {remote!r} to claim queued runs there: {exc}",
                "pass --offline to run them here only (a clone that pulled them may run "
                "them too), or --remote NAME",
            ) from exc
        return cls(repo, remote, known)

    def claim(self, name: str, queued: str) -> Claim | None:
        """Claim the entry here, then on the remote (None: the remote does not have it,
        run it freely); NotOurs when another runner was first or the name is another's."""
        there = self.known.get(name)
        if there is None:
            there = ls_remote(self.repo, self.remote, [name]).get(name)  # pushed meanwhile?
        if there is None:
            return None
        if there != queued:
            raise self._not_ours(name, queued, there)
        repo = self.repo.reopen()
        commit = claim_commit(repo, queued, self.remote)
        if not claims.take_over(repo, name, queued, _oid(repo, commit)):  # here first
            raise NotOurs(f"{name} was taken by another queue runner", "taken")
        try:
            won = lease_push(repo, self.remote, name, queued, commit)
        except GitexpError:
            claims.take_over(repo, name, commit, _oid(repo, queued))
            raise
        if not won:
            claims.take_over(repo, name, commit, _oid(repo, queued))
            raise self._not_ours(name, queued, ls_remote(repo, self.remote, [name]).get(name))
        return Claim(self.remote, name, queued, commit)

    def _not_ours(self, name: str, queued: str, there: str | None) -> NotOurs:
        if there is None:
            return NotOurs(f"{name} was removed from {self.remote} meanwhile", "queued")
        if adopt(self.repo, self.remote, name, queued, there):
            repo = self.repo.reopen()
            who, now = claim_of(repo, there).get("host"), status_of(repo, there)
            return NotOurs(
                f"{name} was claimed on {self.remote} by another clone ({who}): "
                f"{now} there, and here now",
                "taken",
            )
        return NotOurs(
            f"{name} is another experiment on {self.remote} ({there[:10]}): not run here", "queued"
        )

    def release(self, claim: Claim) -> None:
        """Put the queued commit back, there and here (the entry could not start)."""
        lease_push(self.repo, claim.remote, claim.name, claim.commit, claim.queued)
        repo = self.repo.reopen()
        claims.take_over(repo, claim.name, claim.commit, _oid(repo, claim.queued))

    def publish(self, claim: Claim) -> str | None:
        """Send the entry's recorded run over the claim; None, or why it did not go."""
        from gitexp.queue.publishing import publish

        return publish(self.repo.reopen(), claim)


def remote_for(repo: Repo, remote: str | None, offline: bool) -> str | None:
    """The remote `queue run` claims entries on: ``remote`` as given, else `origin`
    when configured; None with ``offline`` or when there is no such remote."""
    if offline:
        return None
    if remote is not None:
        from gitexp.sharing.remotes import check_remote

        check_remote(repo, remote)
        return remote
    return DEFAULT_REMOTE if DEFAULT_REMOTE in repo.git.remotes.names() else None


def has_remote(repo: Repo) -> bool:
    return any(repo.git.remotes.names())


def _oid(repo: Repo, commit: str) -> Any:
    return repo.git[commit].id


def ls_remote(repo: Repo, remote: str, names: list[str]) -> dict[str, str]:
    """name → commit of these experiments on the remote (one `git ls-remote`)."""
    refs = [store.ref_name(n) for n in names]
    asked = refs if 0 < len(refs) <= MAX_ASKED else [store.REF_PREFIX + "*"]  # none: reachable?
    out = git(repo, "ls-remote", remote, *asked)
    found = {}
    for line in out.splitlines():
        sha, _, ref = line.partition("\t")
        if ref in refs:
            found[ref[len(store.REF_PREFIX) :]] = sha
    return found


def claim_commit(repo: Repo, queued: str, remote: str) -> str:
    """C: the queued commit's tree with run.json saying `running`, claimed by this host."""
    commit: Any = repo.git[queued]
    run = read_json(repo, commit.tree_id, RUN_JSON)
    host = socket.gethostname()
    at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    run.update(status="running", host=host, pid=0)
    token = uuid.uuid4().hex  # two clones claiming in one second make two commits
    run[CLAIMED] = {"remote": remote, "queued": queued, "host": host, "at": at, "token": token}
    data = (json.dumps(run, indent=2, sort_keys=True, default=str) + "\n").encode()
    tree = store.with_meta_file(repo, commit.tree_id, RUN_JSON_NAME, data)
    message = f"gitexp: {run.get('name')} claimed on {remote} by {host}\n"
    return str(store.write_commit(repo, tree, commit.parent_ids[0], message))


def claim_of(repo: Repo, commit: str) -> dict[str, Any]:
    """run.json's ``claimed`` of a commit here ({} when it has none)."""
    found = _run_json(repo, commit).get(CLAIMED)
    return found if isinstance(found, dict) else {}


def status_of(repo: Repo, commit: str) -> str:
    return str(_run_json(repo, commit).get("status") or "")


def _run_json(repo: Repo, commit: str) -> dict[str, Any]:
    try:
        obj: Any = repo.git[commit]
        return read_json(repo, obj.tree_id, RUN_JSON, lost_ok=True)
    except (KeyError, ValueError, AttributeError):
        return {}


def adopt(repo: Repo, remote: str, name: str, here: str, there: str) -> bool:
    """When the remote's commit is the next state of ``here`` (it claimed our queued
    entry, or it is the run of the claim we have): make it ours here too
    (compare-and-swap from ``here``). False when it is unrelated."""
    git(
        repo, "fetch", "--quiet", "--no-tags", "--no-write-fetch-head", remote, store.ref_name(name)
    )
    fresh = repo.reopen()
    claimed = claim_of(fresh, there)
    if here not in (claimed.get("queued"), claimed.get("commit")):
        return False
    return claims.take_over(fresh, name, here, fresh.git[there].id)


def lease_push(repo: Repo, remote: str, name: str, expected: str, new: str) -> bool:
    """Point the remote's ref at ``new`` if it is at ``expected`` (git's lease, checked
    again by the remote under its ref lock); False when it was not."""
    from gitexp.sharing.pushing import parse

    ref = store.ref_name(name)
    args = ["push", "--porcelain", f"--force-with-lease={ref}:{expected}", remote, f"{new}:{ref}"]
    proc = _run(repo, args)
    outcome = parse(proc.stdout)
    if ref in outcome.forced or ref in outcome.new or ref in outcome.same:
        return True
    if ref in outcome.rejected and "stale info" in outcome.rejected[ref]:
        return False  # git saw another commit there first
    if ls_remote(repo, remote, [name]).get(name) != expected:
        return False  # the remote's ref lock saw it: another push won meanwhile
    raise BackendError(f"git push failed: {_last(proc.stderr, proc.returncode)}")


def git(repo: Repo, *args: str) -> str:
    proc = _run(repo, list(args))
    if proc.returncode != 0:
        raise BackendError(f"git {args[0]} failed: {_last(proc.stderr, proc.returncode)}")
    return proc.stdout


def _run(repo: Repo, args: list[str]) -> subprocess.CompletedProcess[str]:
    from gitexp.sharing.lfstransfer import SKIP_PUSH_ENV
    from gitexp.sharing.remotes import SKIP_HOOK_ENV

    env = gitenv.for_git({SKIP_HOOK_ENV: "1", SKIP_PUSH_ENV: "1"})
    try:
        return subprocess.run(
            ["git", *args], cwd=repo.root, env=env, capture_output=True, text=True, check=False
        )
    except FileNotFoundError as exc:
        raise BackendError("git is not installed", "install git; gitexp pushes with it") from exc


def _last(stderr: str, code: int) -> str:
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith(("fatal:", "error:"))]
    return (errors or lines or [f"exit code {code}"])[-1]
