"""A claimed entry's run goes back to the remote it was claimed on, over its claim.

`gitexp queue run` publishes each run it claimed on a remote as soon as it is
recorded (gitexp/queue/shared.py); `gitexp push` does the same for a run whose
publication failed then (the network went away), and `gitexp push` / `gitexp
pull` in another clone take the remote's run in place of their stale queued
entry (``settle_push``, ``settle_pull``). Neither is a conflict: a queued
entry run by the clone that claimed it is the entry's next state.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from gitexp.common.errors import BackendError, GitexpError
from gitexp.gitstore import store
from gitexp.gitstore.repo import Repo
from gitexp.queue import shared
from gitexp.queue.shared import Claim

if TYPE_CHECKING:
    from gitexp.sharing.results import SyncResult

QUEUED, RUNNING = "queued", "running"  # a running claimed run is published when it ends


def publish(repo: Repo, claim: Claim) -> str | None:
    """Send the run now at the entry's ref (and its artifacts) over the claim on the
    remote; None when it went, else why not."""
    final = store.lookup(repo, claim.name)
    if final is None or str(final) == claim.queued:
        return f"{claim.name} is no longer here"
    try:
        _artifacts(repo, claim.remote, claim.name, str(final))
        if shared.lease_push(repo, claim.remote, claim.name, claim.commit, str(final)):
            return None
    except GitexpError as exc:
        return str(exc)
    return f"{claim.remote} no longer holds this clone's claim of {claim.name}"


def _artifacts(repo: Repo, remote: str, name: str, commit: str) -> None:
    """Its DVC and Git LFS objects first, as `gitexp push` sends them."""
    from gitexp.sharing import lfstransfer, remotes

    records = remotes.artifact_records_for(repo, {name: commit})
    if records and (repo.root / ".dvc").is_dir():
        from gitexp.config.settings import load_config
        from gitexp.dvcstore import transfer
        from gitexp.dvcstore.settings import artifacts_settings

        dvc_remote = artifacts_settings(load_config(repo.root)).remote
        sent = transfer.push(repo.root, records, dvc_remote)
        if sent.failed:
            raise BackendError(f"artifacts not sent to DVC: {', '.join(sent.failed[:5])}")
    lfstransfer.push(repo, remote, {name: commit})


def settle_pull(
    repo: Repo,
    remote: str,
    mine: dict[str, str],
    theirs: dict[str, str],
    differ: list[str],
    same: list[str],
) -> tuple[list[str], list[str]]:
    """(differ, same) once queued entries the remote's clones ran are taken here
    (now the same) and runs of ours awaiting publication are left out (pushed next)."""
    if not differ:
        return differ, same
    adopted, ahead = _settle(repo, remote, mine, theirs, differ)
    rest = [n for n in differ if n not in adopted and n not in ahead]
    return rest, same + adopted


def settle_push(repo: Repo, remote: str, result: SyncResult) -> SyncResult:
    """The push's conflicts less those that are a queued entry's next state: a run of
    ours over our claim is published, a stale queued entry takes the remote's run."""
    if not result.conflicts:
        return result
    mine = {c.name: c.local for c in result.conflicts}
    theirs = {c.name: c.remote for c in result.conflicts}
    adopted, ahead = _settle(repo, remote, mine, theirs, list(mine))
    published = [n for n in ahead if _publish_over(repo, remote, n, mine[n], theirs[n])]
    settled = set(adopted) | set(published)
    return replace(
        result,
        conflicts=[c for c in result.conflicts if c.name not in settled],
        transferred=result.transferred + published,
        up_to_date=result.up_to_date + adopted,
    )


def _settle(
    repo: Repo, remote: str, mine: dict[str, str], theirs: dict[str, str], names: list[str]
) -> tuple[list[str], list[str]]:
    """(names whose stale queued entry, or claim of another clone, took the remote's
    claim or run here; names whose run here is the run of the remote's claim)."""
    adopted, ahead = [], []
    for name in names:
        here, there = mine.get(name, "?"), theirs.get(name, "?")
        if "?" in (here, there):
            continue
        status = shared.status_of(repo, here)
        if status not in (QUEUED, RUNNING) and shared.claim_of(repo, here).get("commit") == there:
            ahead.append(name)
        elif status in (QUEUED, RUNNING) and _adopted(repo, remote, name, here, there):
            adopted.append(name)
    return adopted, ahead


def _adopted(repo: Repo, remote: str, name: str, here: str, there: str) -> bool:
    try:
        return shared.adopt(repo, remote, name, here, there)
    except GitexpError:
        return False  # left a conflict, as before


def _publish_over(repo: Repo, remote: str, name: str, here: str, there: str) -> bool:
    claim = shared.claim_of(repo, here)
    found = Claim(remote, name, str(claim.get("queued") or ""), there)
    return publish(repo, found) is None
