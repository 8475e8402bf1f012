"""`gitexp model pull MODEL --take-remote`: the way out of a split registry.

Two clones that register the same version (``churn@v0.0.1`` on two different
experiments) and push one of them have a model tag that differs on the two
sides. Tags are never moved by push or pull, so every later push and pull
reports it (and holds back the stages that need it). This replaces, for the
models named, each local tag that differs on the remote with the remote's,
and drops the local tags that only meant something with the dropped
versions (a stage, deregistration or deprecation on their commit). Nothing
is lost: each replaced or dropped tag is kept under ``refs/gitexp/dropped-tags/``
(`git tag`-like refs GTO and push ignore), and each dropped registration
comes back with the exact `gitexp model register ... --bump patch` that
registers its experiment again as the model's next version.

Without ``take_remote``, the model's tags that are new on the remote come
(as `gitexp pull` brings them) and the differing ones are only reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gitexp.gitstore.repo import Repo
from gitexp.registry import message, tagnames, travel, writing
from gitexp.registry.tagnames import TAG_PREFIX
from gitexp.registry.travel import TagRef

BACKUP_PREFIX = "refs/gitexp/dropped-tags/"


@dataclass(frozen=True)
class Dropped:
    """A local registration given up for the remote's: how to register it again."""

    tag: str
    experiment: str | None
    again: str  # the command that registers it as the next version


@dataclass
class Resolved:
    fetched: list[str] = field(default_factory=list)  # tags new here, or the remote's now
    replaced: list[str] = field(default_factory=list)  # local tags the remote's replaced
    dropped: list[str] = field(default_factory=list)  # local tags that needed those
    again: list[Dropped] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)  # differing, left (no take_remote)


def way_out(tag: str, remote: str) -> str:
    """The exact command that ends a model tag conflict with ``remote``."""
    parsed = tagnames.parse(tag)
    model = parsed.model if parsed is not None else tag
    return f"`gitexp model pull {model} --remote {remote} --take-remote` takes {remote}'s"


def pull_models(repo: Repo, remote: str, models: list[str], take_remote: bool) -> Resolved:
    """Bring the remote's tags of ``models``; with ``take_remote`` theirs win here."""
    from gitexp.sharing.remotes import check_remote

    check_remote(repo, remote)
    for model in models:
        tagnames.check_model(model)
    theirs = _of(_remote_tags(repo, remote), models)
    mine = _of(travel.local(repo), models)
    differ = [t for t in sorted(theirs) if t in mine and mine[t].oid != theirs[t].oid]
    out = Resolved()
    if not take_remote:
        out.conflicts = differ
        plan = travel.plan(sorted(theirs), theirs, mine)
        wanted, _ = travel.hold_back(plan, theirs, mine)
        out.fetched = wanted.moving
    else:
        out.replaced = differ
        out.dropped = _dependents(repo, mine, theirs, differ)
        out.fetched = [t for t in sorted(theirs) if t not in mine or t in differ]
        _back_up(repo, mine, out.replaced + out.dropped)
        out.again = [_again(repo, t, remote) for t in out.replaced + out.dropped]
        out.again = [a for a in out.again if a.again]
    _fetch(repo, remote, out.fetched)
    _delete(repo, out.dropped)
    return out


def _of(tags: dict[str, TagRef], models: list[str]) -> dict[str, TagRef]:
    wanted = set(models)
    return {t: ref for t, ref in tags.items() if (p := tagnames.parse(t)) and p.model in wanted}


def _remote_tags(repo: Repo, remote: str) -> dict[str, TagRef]:
    from gitexp.sharing.remotes import git_output

    out = git_output(repo, "ls-remote", remote, travel.PATTERN)
    pairs = [(sha, ref) for sha, _, ref in (line.partition("\t") for line in out.splitlines())]
    return travel.from_ls_remote(pairs)


def _dependents(
    repo: Repo, mine: dict[str, TagRef], theirs: dict[str, TagRef], replaced: list[str]
) -> list[str]:
    """Local-only tags that refer to a replaced version (its commit here, or its name)."""
    versions = {t for t in replaced if _action(t) == tagnames.REGISTER}
    needed = travel.needs(sorted(mine), lambda t: mine[t].commit if t in mine else None)
    return sorted(
        t for t, wanted in needed.items() if t not in theirs and versions.intersection(wanted)
    )


def _action(tag: str) -> str | None:
    parsed = tagnames.parse(tag)
    return parsed.action if parsed is not None else None


def _back_up(repo: Repo, mine: dict[str, TagRef], tags: list[str]) -> None:
    """Each tag object under refs/gitexp/dropped-tags/TAG (TAG.2, ... when taken)."""
    refs = repo.git.references
    for tag in tags:
        name, n = BACKUP_PREFIX + tag, 1
        while name in refs:
            n += 1
            name = f"{BACKUP_PREFIX}{tag}.{n}"
        refs.create(name, repo.git[mine[tag].oid].id)


def _again(repo: Repo, tag: str, remote: str) -> Dropped:
    """The registration command for a dropped version tag ('' for other tags)."""
    parsed = tagnames.parse(tag)
    if parsed is None or parsed.action != tagnames.REGISTER:
        return Dropped(tag, None, "")
    obj: Any = repo.git.revparse_single(TAG_PREFIX + tag)
    details = message.parse(obj.message)
    experiment = writing.experiment_at(repo, str(obj.target), details.experiment)
    if experiment is None:
        return Dropped(tag, None, "")
    path = f" --path {details.model_file.path}" if details.model_file else ""
    command = f"gitexp model register {parsed.model} --from {experiment}{path} --bump patch"
    return Dropped(tag, experiment, command)


def _fetch(repo: Repo, remote: str, tags: list[str]) -> None:
    if not tags:
        return
    from gitexp.sharing.remotes import git_output

    specs = ["+" + travel.refspec(t) for t in tags]
    git_output(repo, "fetch", "--quiet", "--no-tags", "--no-write-fetch-head", remote, *specs)


def _delete(repo: Repo, tags: list[str]) -> None:
    for tag in tags:
        ref = repo.git.references.get(TAG_PREFIX + tag)
        if ref is not None:
            ref.delete()
