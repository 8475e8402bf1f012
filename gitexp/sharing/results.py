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
    not_commits: dict[str, str] = field(default_factory=dict)  # ref → what it points at
    tags: list[str] = field(default_factory=list)  # model tags transferred
    tags_up_to_date: list[str] = field(default_factory=list)
    tag_conflicts: list[Conflict] = field(default_factory=list)  # never forced
    held_back: dict[str, str] = field(default_factory=dict)  # tag → its version, differing there
    any_model_tags: bool = False  # either side has some (as far as read): the summary counts them

    def counts_tags(self) -> bool:
        """Whether the summary line counts model tags (0 too): the registry is in use
        on either side, or some tag was moved, found equal, refused or held back."""
        found = self.tags or self.tags_up_to_date or self.tag_conflicts or self.held_back
        return self.any_model_tags or bool(found)
