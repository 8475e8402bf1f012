"""The run record (``.gitexp/run.json``): what ran, with what, and how it ended.

Later capabilities add fields through ``extra`` (kept at the top level of
run.json) so older readers keep working; ``SCHEMA`` changes only when a
field changes meaning. ``HISTORY_FORMAT`` versions the files under
``.gitexp/history/`` (gitexp/gitstore/histfile.py); a record states it as
``history_format`` (absent: format 1, every series a TSV file).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

from gitexp.common.mappings import flatten
from gitexp.common.numbers import number

SCHEMA = 1
HISTORY_FORMAT = 2
STATUSES = ("queued", "running", "succeeded", "failed", "interrupted", "pruned")


@dataclass(frozen=True)
class RunRecord:
    name: str
    command: list[str]
    params: dict[str, Any]
    overrides: list[str]
    seed: int
    status: str
    started: str
    baseline: str
    dirty: bool
    executor: str
    host: str
    pid: int
    python: str
    platform: str
    cwd: str = ""
    params_files: list[str] = field(default_factory=list)
    exit_code: int | None = None
    ended: str | None = None
    duration_s: float | None = None
    artifacts: list[dict[str, Any]] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    schema: int = SCHEMA

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        extra = data.pop("extra")
        return {"schema": data.pop("schema"), **data, **extra}

    def to_json(self) -> bytes:
        return (json.dumps(self.to_dict(), indent=2, default=str) + "\n").encode()

    def replace(self, **changes: Any) -> RunRecord:
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunRecord:
        names = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        known = {k: v for k, v in data.items() if k in names}
        extra = {k: v for k, v in data.items() if k not in names}
        return cls(**known, extra=extra)


def commit_message(record: RunRecord, metrics: dict[str, Any]) -> str:
    """`gitexp: <name>` and one line of key params and metrics for `git log`."""
    items = [f"{k}={_short(v)}" for k, v in list(flatten(record.params).items())[:6]]
    items += [f"{k}={_short(v)}" for k, v in list(flatten(metrics).items())[:6]]
    line = f"{record.status} seed={record.seed}" + (" " + " ".join(items) if items else "")
    return f"gitexp: {record.name}\n\n{line[:400]}\n"


def _short(value: Any) -> str:
    if isinstance(value, float):
        return number(value)
    text = json.dumps(value) if isinstance(value, list | dict) else str(value)
    return text if len(text) <= 40 else text[:37] + "..."


def observed_status(status: str, host: object, pid: object, lease: object = None) -> str:
    """A `running` record whose run is gone reads as `interrupted`.

    A run killed with SIGKILL (or a lost machine) never writes its final
    commit; its reservation says `running` forever. On the host that ran it,
    a dead pid tells; on any host, a lease (``lease_until``, renewed by the
    run's heartbeat, see gitexp/running/heartbeat.py) that has expired tells.
    """
    if status != "running":
        return status
    if _lease_expired(lease):
        return "interrupted"
    if not isinstance(pid, int) or pid <= 0:
        return status
    import socket

    from gitexp.common.processes import alive

    if host != socket.gethostname():
        return status
    return status if alive(pid) else "interrupted"  # a zombie (killed, unreaped) is gone


def _lease_expired(lease: object) -> bool:
    if not isinstance(lease, str) or not lease:
        return False  # records from before leases: only the pid check applies
    from datetime import datetime, timezone

    try:
        until = datetime.fromisoformat(lease)
    except ValueError:
        return False
    if until.tzinfo is None:
        until = until.replace(tzinfo=timezone.utc)
    return datetime.now(timezone.utc) > until
