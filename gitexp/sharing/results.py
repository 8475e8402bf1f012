"""What `gitexp push` / `gitexp pull` did: the result types both return."""

from __future__ import annotations

from dataclasses import dataclass, field

from gitexp.dvcstore import transfer


@dataclass(frozen=True)
class Conflict:
    name: str
    local: str
    remote: str


@dataclass(frozen=True)
class SyncResult:
    """What a push or pull did, per experiment name."""

    transferred: list[str] = field(default_factory=list)
    up_to_date: list[str] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)
    forced: list[str] = field(default_factory=list)
    artifacts: transfer.Transfer | None = None
    ignored: list[str] = field(default_factory=list)  # remote refs with invalid names
    tags: list[str] = field(default_factory=list)  # model tags transferred
    tags_up_to_date: list[str] = field(default_factory=list)
    tag_conflicts: list[Conflict] = field(default_factory=list)  # never forced
    held_back: dict[str, str] = field(default_factory=dict)  # tag → its version, differing there
