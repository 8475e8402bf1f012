"""Which model tags travel with `gitexp push` / `gitexp pull`, and the hook's artifacts.

gitexp/sharing/remotes.py runs git; this decides. Only annotated tags whose
names are model tags (GTO's grammar) travel, never the user's other tags:
those of the experiments being moved, or every model tag when all
experiments are. A tag is never moved: one that differs on the two sides
(two clones registered the same version) is a conflict, left as it is.

A stage, deprecation or deregistration tag names a commit, and a reader
finds its version by that commit: sent without the version tag it refers
to, it would point the remote's stage at a commit with no version there.
``needs`` says which version tags each such tag depends on; ``held`` which
ones must stay behind because a version they need differs on the remote.
A pull mirrors it (``hold_back``): such a tag is not fetched when the version
it needs differs here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from gitexp.gitstore.repo import MISSING_OBJECT, Repo
from gitexp.registry import message, tagnames
from gitexp.registry.tagnames import TAG_PREFIX

PATTERN = TAG_PREFIX + "*"  # what `git ls-remote` is asked for, beside the experiments
PEELED = "^{}"


@dataclass(frozen=True)
class TagRef:
    oid: str  # the tag object
    commit: str  # the commit it points at


@dataclass(frozen=True)
class TagPlan:
    moving: list[str] = field(default_factory=list)
    same: list[str] = field(default_factory=list)
    differ: list[str] = field(default_factory=list)


def from_ls_remote(pairs: Iterable[tuple[str, str]]) -> dict[str, TagRef]:
    """Annotated model tags among ``(sha, ref)`` lines of `git ls-remote`."""
    objects, peeled = {}, {}
    for sha, ref in pairs:
        if not ref.startswith(TAG_PREFIX):
            continue
        if ref.endswith(PEELED):
            peeled[ref[len(TAG_PREFIX) : -len(PEELED)]] = sha
        elif tagnames.parse(ref) is not None:
            objects[ref[len(TAG_PREFIX) :]] = sha
    return {t: TagRef(oid, peeled[t]) for t, oid in objects.items() if t in peeled}


def local(repo: Repo) -> dict[str, TagRef]:
    """The repository's annotated model tags (lightweight ones are not model tags)."""
    found = {}
    for ref in repo.git.references.iterator():
        name = str(ref.name)
        if name.startswith(TAG_PREFIX) and tagnames.parse(name) is not None:
            obj: Any = repo.git.get(ref.target)
            if obj is not None and obj.type_str == "tag":
                found[name[len(TAG_PREFIX) :]] = TagRef(str(obj.id), str(obj.target))
    return found


def chosen(tags: dict[str, TagRef], commits: set[str] | None) -> list[str]:
    """The tags on these commits (all of them for None), sorted."""
    return sorted(t for t, ref in tags.items() if commits is None or ref.commit in commits)


def plan(names: list[str], source: dict[str, TagRef], dest: dict[str, TagRef]) -> TagPlan:
    out = TagPlan()
    for name in names:
        there = dest.get(name)
        if there is None:
            out.moving.append(name)
        elif there.oid == source[name].oid:
            out.same.append(name)
        else:
            out.differ.append(name)
    return out


def needs(tags: list[str], commit_of: Callable[[str], str | None]) -> dict[str, list[str]]:
    """Tag → the version tags among ``tags`` it refers to: those of its model on its
    commit (and, for a deregistration, the version it names). Tags needing none
    are left out; ``commit_of`` is asked only about the models that have both."""
    parsed = {t: p for t in tags if (p := tagnames.parse(t)) is not None}
    versions = {t: p for t, p in parsed.items() if p.action == tagnames.REGISTER}
    models = {p.model for p in versions.values()}
    found: dict[str, list[str]] = {}
    for tag, name in parsed.items():
        if name.action == tagnames.REGISTER or name.model not in models:
            continue
        commit = commit_of(tag)
        wanted = [
            v
            for v, p in versions.items()
            if p.model == name.model
            and (commit_of(v) == commit or (name.version is not None and p.version == name.version))
        ]
        if wanted:
            found[tag] = wanted
    return found


def held(
    needed: dict[str, list[str]], landed: set[str], same_there: Callable[[str], bool]
) -> dict[str, str]:
    """Tag → the first version tag it needs that is not on the remote with this
    repository's commit: neither ``landed`` (sent, or there already) nor one the
    remote has on the same commit (``same_there``)."""
    out = {}
    for tag, versions in needed.items():
        missing = [v for v in versions if v not in landed and not same_there(v)]
        if missing:
            out[tag] = missing[0]
    return out


def hold_back(
    tags: TagPlan, theirs: dict[str, TagRef], mine: dict[str, TagRef]
) -> tuple[TagPlan, dict[str, str]]:
    """For a pull: the plan without the stage (deregistration, deprecation) tags whose
    version would not be here on their commit afterwards, and those tags → that
    version. A version lands when it is fetched, or is here with the same commit
    (equal, or another tag object on that commit)."""
    needed = needs(tags.moving + tags.same + tags.differ, lambda t: theirs[t].commit)
    waiting = {t: versions for t, versions in needed.items() if t in tags.moving}

    def same_here(version: str) -> bool:
        return version in mine and mine[version].commit == theirs[version].commit

    out = held(waiting, set(tags.moving + tags.same), same_here)
    return replace(tags, moving=[t for t in tags.moving if t not in out]), out


def refspec(tag: str) -> str:
    return f"{TAG_PREFIX}{tag}:{TAG_PREFIX}{tag}"


def pushed_tags(lines: Iterable[str]) -> list[str]:
    """Tag objects of the model tags in pre-push's stdin (deletions skipped)."""
    found = []
    for line in lines:
        parts = line.split()
        if len(parts) == 4 and tagnames.is_model_tag(parts[2]) and set(parts[1]) != {"0"}:
            found.append(parts[1])
    return found


def dvc_records(repo: Repo, tag_objects: Iterable[str]) -> list[dict[str, Any]]:
    """The DVC objects the registrations among these tags recorded (path, md5, size)."""
    records = []
    for oid in tag_objects:
        try:
            obj: Any = repo.git[oid]
        except MISSING_OBJECT:
            continue
        if obj.type_str != "tag":
            continue
        found = message.parse(obj.message).model_file
        if found is not None and found.storage == "dvc" and found.md5:
            records.append({"path": found.path, "md5": found.md5, "size": found.size})
    return records
