"""Share experiments: refs/experiments/* through the `git` command line, artifacts through DVC.

Refs travel in ONE `git push` / `git fetch` process for all names, so the
user's remotes, credential helpers and SSH config work as with plain git. A
name present on both sides with different commits is a conflict, reported
and skipped (``force`` overwrites the other side, never silently). A push
lets git find out what is new in the push itself (sharing/pushing.py: no
second advertisement of the remote's refs); a pull asks `git ls-remote`
first, then fetches only the refs it wants (protocol v2 sends git only
those), so local work is proportional to what moves, not to the remote.

Model tags (gitexp/registry/travel.py decides which) go in the same
process: those of the experiments moved, or all of them when every
experiment is. A model tag is never overwritten, ``force`` or not, and a
stage never travels without its version: a push holds such a tag back when
its version differs on the remote (sharing/pushing.py), a pull when it
differs here (``travel.hold_back``).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from gitexp.common import suggest
from gitexp.common.errors import BackendError, ExperimentNameError, UsageError
from gitexp.dvcstore import transfer
from gitexp.gitstore import gitenv, names, refscan, store
from gitexp.gitstore.repo import Repo
from gitexp.queue import publishing
from gitexp.registry import tagnames, travel
from gitexp.registry.tagnames import TAG_PREFIX
from gitexp.registry.travel import TagPlan, TagRef
from gitexp.sharing import lfstransfer, pushing, refkinds
from gitexp.sharing.results import Conflict as Conflict
from gitexp.sharing.results import SyncResult as SyncResult

if TYPE_CHECKING:
    from gitexp.events.bus import EventBus

SKIP_HOOK_ENV = "GITEXP_SKIP_HOOK"  # our own push already sends artifacts


@dataclass(frozen=True)
class RemoteRefs:
    """The experiments a remote has; refs whose names gitexp would never create are
    kept apart (``invalid``, full ref names), never used."""

    refs: dict[str, str]
    invalid: list[str]
    tags: dict[str, TagRef] = field(default_factory=dict)  # its model tags
    not_commits: dict[str, str] = field(default_factory=dict)  # ref → "an annotated tag"
    tagged: dict[str, str] = field(default_factory=dict)  # name → sha of those (to delete)


def remote_refs(repo: Repo, remote: str) -> RemoteRefs:
    """name → commit of the experiments the remote has, and its model tags (one
    `git ls-remote`)."""
    out = _git(repo, "ls-remote", remote, store.REF_PREFIX + "*", travel.PATTERN, capture=True)
    pairs = [(sha, ref) for sha, _, ref in (line.partition("\t") for line in out.splitlines())]
    tags = refkinds.peeled(pairs)  # an annotated tag is no experiment (sharing/refkinds.py)
    refs, invalid = {}, []
    for sha, ref in pairs:
        if not ref.startswith(store.REF_PREFIX) or ref.endswith(refkinds.PEELED) or ref in tags:
            continue
        name = ref[len(store.REF_PREFIX) :]
        try:
            refs[names.validate(name)] = sha
        except ExperimentNameError:
            invalid.append(ref)
    mine = {ref: sha for sha, ref in pairs if ref in tags and ref.startswith(store.REF_PREFIX)}
    kinds = dict.fromkeys(sorted(mine), refkinds.TAG)
    tagged = {ref[len(store.REF_PREFIX) :]: sha for ref, sha in mine.items()}
    return RemoteRefs(refs, invalid, travel.from_ls_remote(pairs), kinds, tagged)


def local_refs(repo: Repo) -> dict[str, str]:
    return store.ref_targets(repo)


def _here(repo: Repo, wanted: list[str]) -> dict[str, str]:
    """The local commits of these names (one lookup each; absent ones left out)."""
    found = {name: store.lookup(repo, name) for name in wanted}
    return {name: str(oid) for name, oid in found.items() if oid is not None}


def select(
    available: dict[str, str], specs: Iterable[str], where: str, invalid: Iterable[str] = ()
) -> list[str]:
    """Names matching each spec exactly, as a group (``sweep`` → ``sweep/*``) or as a prefix.

    A spec that matches only a ref with an ``invalid`` name is an error.
    """
    chosen: list[str] = []
    for spec in specs:
        spec = spec.removeprefix(store.REF_PREFIX).rstrip("/")
        found = [n for n in available if n == spec or n.startswith(spec + "/")]
        if not found:
            found = [n for n in available if n.startswith(spec)]
            if len(found) > 1:
                raise ExperimentNameError(f"{spec!r} is ambiguous {where}: {', '.join(found[:8])}")
        if not found:
            _check_invalid(spec, invalid, where)
            raise ExperimentNameError(f"no experiment named {spec!r} {where}")
        chosen += [n for n in sorted(found) if n not in chosen]
    return chosen


def _check_invalid(spec: str, invalid: Iterable[str], where: str) -> None:
    for ref in invalid:
        if ref[len(store.REF_PREFIX) :].startswith(spec):
            raise ExperimentNameError(
                f"refusing {ref} {where}: not a valid experiment name",
                "gitexp never makes such a name; ask whoever pushed it to remove it",
            )


def _plan(
    names: list[str], source: dict[str, str], dest: dict[str, str], force: bool
) -> tuple[list[str], list[str], list[str]]:
    """(names to transfer, names already equal, names that differ on the two sides)."""
    moving, same, differ = [], [], []
    for name in names:
        there = dest.get(name)
        if there is None:
            moving.append(name)
        elif there == source[name]:
            same.append(name)
        else:
            differ.append(name)
            if force:
                moving.append(name)
    return moving, same, differ


def push(
    repo: Repo,
    remote: str,
    specs: list[str],
    *,
    force: bool = False,
    with_artifacts: bool = True,
    dvc_remote: str | None = None,
    bus: EventBus | None = None,
) -> SyncResult:
    """Push experiments (all when ``specs`` is empty) and their DVC artifacts in one
    `git push` (sharing/pushing.py); ``experiment_pushed`` for each one sent (on
    ``bus``, else gitexp.yaml's)."""
    check_remote(repo, remote)
    bus = bus or _bus(repo)  # before pushing: a broken callback stops us first
    local = chosen_here(repo, specs) if specs else store.ref_targets(repo)
    local, not_commits = refkinds.split(repo, local)  # never sent (sharing/refkinds.py)
    mine = model_tags(repo)
    tag_names = travel.chosen(mine, set(local.values()) if specs else None)
    if not_commits and not local and not tag_names:  # no refspec left: git would push HEAD
        return SyncResult(not_commits=not_commits, any_model_tags=bool(mine))
    args = pushing.arguments(sorted(local) if specs else None, tag_names, force, not_commits)
    target = _push_target(repo, remote)
    sent = None
    if _artifacts_first(repo, with_artifacts):  # they reach their remote before the refs
        plan = pushing.run(repo, target, args, _env(), dry_run=True)
        moving = plan.experiments(plan.new + plan.forced)
        again = plan.experiments(plan.same) if specs else []
        records = _artifact_records(repo, local, moving + again) if with_artifacts else []
        sent = transfer.push(repo.root, records, dvc_remote) if records else None
        lfstransfer.push(repo, remote, {n: local[n] for n in moving})
    outcome = pushing.run(repo, target, args, _env(), dry_run=False)
    result = pushing.result(repo, target, outcome, local, mine, sent)
    result = publishing.settle_push(repo, target, result)  # queued entries run elsewhere
    result = replace(result, any_model_tags=bool(mine), not_commits=not_commits)  # 0 tags too
    _announce(bus, remote, local, result)
    return result


def chosen_here(repo: Repo, specs: list[str]) -> dict[str, str]:
    """``select`` over the local experiments, reading only the refs under each spec."""
    chosen: dict[str, str] = {}
    for spec in specs:
        candidates = store.under(repo, spec.removeprefix(store.REF_PREFIX).rstrip("/"))
        for name in select(candidates, [spec], "here"):
            chosen[name] = candidates[name]
    return chosen


def model_tags(repo: Repo) -> dict[str, TagRef]:
    """``travel.local`` reading only refs/tags/ (not every ref of the repository)."""
    found = {}
    for tag, oid in refscan.under(repo, TAG_PREFIX, strip=len(TAG_PREFIX)).items():
        obj: Any = repo.git.get(oid)
        if obj is not None and obj.type_str == "tag" and tagnames.parse(tag) is not None:
            found[tag] = TagRef(str(obj.id), str(obj.target))
    return found


def _artifacts_first(repo: Repo, with_artifacts: bool) -> bool:
    """Whether artifacts may have to go first: DVC set up here (and wanted), or Git
    LFS objects stored here. Otherwise the push needs no plan (one `git push`)."""
    from gitexp.gitstore import lfs

    dvc = with_artifacts and (repo.root / ".dvc").is_dir()
    return dvc or (lfs.store_dir(repo) / "objects").is_dir()


def check_remote(repo: Repo, remote: str) -> None:
    """A remote is a configured name, a URL (``scheme://``, ``host:path``) or a path
    that exists; anything else is a typo, said in one line before git is asked."""
    from pathlib import Path

    configured = sorted(n for n in repo.git.remotes.names() if n)
    if remote in configured:
        return
    head = remote.split("/", 1)[0]
    if "://" in remote or ":" in head or (repo.root / Path(remote).expanduser()).exists():
        return
    known = ", ".join(configured) or "none"
    close = suggest.hint(remote, configured, "did you mean `{}`?")
    raise UsageError(
        f"no git remote named {remote!r} (this repository's remotes: {known})",
        close or "give a remote's name, a URL or a path; `git remote add NAME URL` adds one",
    )


def _push_target(repo: Repo, remote: str) -> str:
    """Where to push. A remote whose fetch refspecs map refs/experiments/ (plain git
    sharing, or a mirror) would give the lease an expected value: push to its URL."""
    from fnmatch import fnmatchcase

    try:
        fetch = repo.git.remotes[remote].fetch_refspecs
    except (KeyError, ValueError):
        return remote  # a URL or path
    sources = [spec.lstrip("+").partition(":")[0] for spec in fetch]
    if not any(fnmatchcase(store.REF_PREFIX + "x", src) for src in sources):
        return remote
    return _git(repo, "remote", "get-url", "--push", remote, capture=True).strip() or remote


def _env() -> dict[str, str]:
    return gitenv.for_git({SKIP_HOOK_ENV: "1", lfstransfer.SKIP_PUSH_ENV: "1"})


def _bus(repo: Repo) -> EventBus:
    from gitexp.config.settings import load_config
    from gitexp.events import bus_for

    return bus_for(load_config(repo.root), repo.root)


def _announce(bus: EventBus, remote: str, local: dict[str, str], result: SyncResult) -> None:
    """One ``experiment_pushed`` per experiment sent (gitexp/events/bus.py)."""
    import re

    shown = re.sub(r"(://)[^/@]*@", r"\1", remote)  # never a password from a URL
    sent = {**dict.fromkeys(result.transferred, False), **dict.fromkeys(result.forced, True)}
    for name, forced in sent.items():
        payload = {"name": name, "ref": store.ref_name(name), "commit": local[name]}
        bus.publish("experiment_pushed", {**payload, "remote": shown, "forced": forced})


def pull(
    repo: Repo,
    remote: str,
    specs: list[str],
    *,
    force: bool = False,
    with_artifacts: bool = False,
    dvc_remote: str | None = None,
) -> SyncResult:
    """Fetch experiments (all when ``specs`` is empty); optionally their artifacts."""
    check_remote(repo, remote)
    there = remote_refs(repo, remote)
    theirs = there.refs
    where = f"on {remote}"
    chosen = select(theirs, specs, where, there.invalid) if specs else sorted(theirs)
    mine = local_refs(repo) if not specs else _here(repo, chosen)
    moving, same, differ = _plan(chosen, theirs, mine, force)
    if not force:  # a queued entry another clone ran is no conflict (queue/publishing.py)
        differ, same = publishing.settle_pull(repo, remote, mine, theirs, differ, same)
    conflicts = [Conflict(n, mine[n], theirs[n]) for n in differ]
    my_tags = model_tags(repo)
    tags = _tag_plan(there.tags, my_tags, {theirs[n] for n in chosen} if specs else None)
    tags, held = travel.hold_back(tags, there.tags, my_tags)
    if moving or tags.moving:
        moving, dropped = _fetch(repo, remote, {n: theirs[n] for n in moving}, mine, force, tags)
        there = replace(there, not_commits={**there.not_commits, **dropped})
        lfstransfer.fetch(repo, remote, {n: theirs[n] for n in moving})
    fetched = None
    if with_artifacts:
        records = _artifact_records(repo, _here(repo, moving + same), moving + same)
        fetched = transfer.fetch(repo.root, records, dvc_remote) if records else None
    forced = [c.name for c in conflicts if c.name in moving] if force else []
    kept = [] if force else conflicts
    result = SyncResult(_minus(moving, forced), same, kept, forced, fetched, there.invalid)
    result = replace(result, not_commits=there.not_commits)
    result = replace(result, held_back=held, any_model_tags=bool(my_tags or there.tags))
    return _with_tags(result, tags, my_tags, there.tags)


def _fetch(
    repo: Repo,
    remote: str,
    moving: dict[str, str],
    mine: dict[str, str],
    force: bool,
    tags: TagPlan,
) -> tuple[list[str], dict[str, str]]:
    """One `git fetch` of the ``moving`` experiments (name → their sha) and model tags:
    (the experiments kept, {ref: what it points at} of those that are no commit:
    left out when the object is here already, else undone once fetched)."""
    wanted, known = refkinds.split(repo, moving)
    refspecs = [_refspec(n, force and n in mine) for n in wanted]
    refspecs += [travel.refspec(t) for t in tags.moving]
    if refspecs:
        _git(repo, "fetch", *_progress(), "--no-tags", "--no-write-fetch-head", remote, *refspecs)
    undone = refkinds.undo_fetched(repo, wanted, mine)  # a tree or a blob: not kept
    return [n for n in wanted if store.ref_name(n) not in undone], {**known, **undone}


def _tag_plan(
    source: dict[str, TagRef], dest: dict[str, TagRef], commits: set[str] | None
) -> TagPlan:
    """The model tags on these commits (all for None) against the other side."""
    return travel.plan(travel.chosen(source, commits), source, dest)


def _with_tags(
    result: SyncResult, tags: TagPlan, mine: dict[str, TagRef], theirs: dict[str, TagRef]
) -> SyncResult:
    conflicts = [Conflict(t, mine[t].oid, theirs[t].oid) for t in tags.differ]
    return replace(result, tags=tags.moving, tags_up_to_date=tags.same, tag_conflicts=conflicts)


def _minus(names: list[str], drop: list[str]) -> list[str]:
    return [n for n in names if n not in drop]


def _refspec(name: str, force: bool) -> str:
    ref = store.ref_name(name)
    return f"{'+' if force else ''}{ref}:{ref}"


def _progress() -> list[str]:
    return ["--progress"] if sys.stderr.isatty() else ["--quiet"]


def _artifact_records(repo: Repo, refs: dict[str, str], names: list[str]) -> list[dict[str, Any]]:
    """Artifacts and DVC inputs run.json lists for these experiments, one per object."""
    seen: dict[str, dict[str, Any]] = {}
    for name in names:
        if name not in refs or store.not_a_commit(repo, refs[name]) is not None:
            continue
        exp = store.load(repo, name, repo.git[refs[name]].id)
        listed = (exp.run.get("artifacts") or []) + (exp.run.get("dvc_inputs") or [])
        for record in listed:
            if isinstance(record, dict) and record.get("md5"):
                seen.setdefault(str(record["md5"]), record)
    return list(seen.values())


def artifact_records_for(repo: Repo, commits: dict[str, str]) -> list[dict[str, Any]]:
    """Public form of the lookup used by the pre-push hook (name → commit)."""
    return _artifact_records(repo, commits, list(commits))


def git_output(repo: Repo, *args: str) -> str:
    """What a git command prints; its failure one line (BackendError)."""
    return _git(repo, *args, capture=True)


def _git(repo: Repo, *args: str, capture: bool = False) -> str:
    """Run git in the work tree; its stderr (progress, errors) goes to the user."""
    env = _env()
    live = not capture and sys.stderr.isatty()  # progress bars straight to the terminal
    try:
        proc = subprocess.run(
            ["git", *args],
            cwd=repo.root,
            env=env,
            stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
            stderr=None if live else subprocess.PIPE,
            text=True,
            check=False,
        )
    except FileNotFoundError as exc:
        raise BackendError("git is not installed", "install git; gitexp pushes with it") from exc
    if proc.returncode != 0:
        detail = _last_error(proc.stderr or "") or f"exit code {proc.returncode}"
        raise BackendError(f"git {args[0]} failed: {detail}")
    return proc.stdout or ""


def _last_error(stderr: str) -> str:
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith(("fatal:", "error:", "!"))]
    return (errors or lines or [""])[-1]
