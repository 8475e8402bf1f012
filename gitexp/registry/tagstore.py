"""The model tags of a repository: read them all, create one "fail if it exists".

Tags go through the repository's pygit2 handle (``repo.git``), like refs in
gitexp/gitstore/store.py. Creating ``refs/tags/<tag>`` never overwrites:
libgit2 takes the ref's lock file and refuses a name that exists, so of two
processes creating the same tag exactly one succeeds and the other is told
(``False``), which is how concurrent registrations get different versions.
Lightweight tags are not model tags (GTO ignores them too).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from gitexp.common.errors import StoreError
from gitexp.gitstore.repo import Repo
from gitexp.gitstore.store import ATTEMPTS, GC_HINT, TRANSIENT, backoff
from gitexp.registry import tagnames
from gitexp.registry.tagnames import TAG_PREFIX, TagName


@dataclass(frozen=True)
class ModelTag:
    """One annotated model tag: what its name says, who made it when, on which commit."""

    tag: str  # the name without refs/tags/
    name: TagName
    commit: str
    tagger: str
    email: str
    time: int  # seconds since the epoch (the tagger's)
    offset: int  # the tagger's time zone, minutes east of UTC
    message: str

    @property
    def order(self) -> tuple[int, int]:
        """GTO orders events by time; the counter breaks ties within a second."""
        return self.time, self.name.counter or 0


def read_tags(repo: Repo) -> list[ModelTag]:
    """Every annotated model tag, oldest first."""
    found = []
    for ref in repo.git.references.iterator():
        name = str(ref.name)
        parsed = tagnames.parse(name) if name.startswith(TAG_PREFIX) else None
        if parsed is not None:
            tag = _annotated(repo, name[len(TAG_PREFIX) :], parsed, ref.target)
            if tag is not None:
                found.append(tag)
    return sorted(found, key=lambda t: (*t.order, t.tag))


def _annotated(repo: Repo, short: str, parsed: TagName, target: Any) -> ModelTag | None:
    obj: Any = repo.git.get(target) if not isinstance(target, str) else None
    if obj is None or obj.type_str != "tag":
        return None
    who = obj.tagger
    if who is None:
        return None
    return ModelTag(
        short, parsed, str(obj.target), who.name, who.email, who.time, who.offset, obj.message
    )


def exists(repo: Repo, tag: str) -> bool:
    return TAG_PREFIX + tag in repo.git.references


def create(repo: Repo, tag: str, commit: str, message: str, when: int) -> bool:
    """Create the annotated tag ``tag`` on ``commit``, tagged at ``when``; False when
    the tag exists (made meanwhile by another process, or long ago)."""
    target: Any = repo.git[commit]
    me: Any = repo.committer()
    tagger = type(me)(me.name, me.email, when, me.offset)  # a Signature at that time
    for attempt in range(ATTEMPTS):
        try:
            repo.git.create_tag(tag, target.id, target.type, tagger, message)
            return True
        except (ValueError, *TRANSIENT) as exc:  # exists, or a lock held beside us
            if exists(repo, tag):
                return False
            problem = exc
            time.sleep(backoff(attempt))
    raise StoreError(f"cannot create tag {tag!r}: {' '.join(str(problem).split())}", GC_HINT)
