"""A running experiment's live metrics, read from another process than the one running it.

The runner follows the library's ``metrics.tsv`` in its own process
(gitexp/running/live.py); a reader elsewhere, such as the web UI's server,
must first find the run directory, which the experiment's ``running`` commit
does not name today. It is looked for, on the machine that runs the
experiment only, in this order:

1. ``run_dir`` in the running commit's run.json, when the runner records it;
2. the run's own processes: the runner's pid is in the record, and the
   command it started carries ``GITEXP_RUN_NAME`` and ``GITEXP_RUN_DIR`` in
   its environment (Linux's /proc; the local executor; rank 0 of a group).

Either way the file is read only if it is a regular file of this user inside
that directory, and nothing but metric lines is taken from it (the contract
is gitexp/tracking/wire.py). ``LiveSeries`` reads it incrementally, numbering
points logged without a step as the recorder does.
"""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path
from typing import Any

from gitexp.common.layout import LIVE_DIR, LIVE_METRICS, RUN_JSON
from gitexp.gitstore.record import observed_status
from gitexp.gitstore.repo import Repo
from gitexp.gitstore.trees import read_json
from gitexp.tracking.wire import parse_line

Point = tuple[int | float, float, float]  # step, value, unix time
PROC = Path("/proc")
MAX_READ = 8 << 20  # bytes read per poll: a huge backlog arrives over several polls


def live_metrics_file(repo: Repo, commit: str) -> Path | None:
    """The live metrics file of the running experiment at ``commit``, or None when
    it is not running on this machine or cannot be found (see the module doc)."""
    run = read_json(repo, repo.git[commit].tree, RUN_JSON, lost_ok=True)
    if not _running_here(run):
        return None
    name, pid = str(run.get("name", "")), int(run["pid"])
    recorded = run.get("run_dir")
    candidates = [recorded] if isinstance(recorded, str) else []
    candidates += _run_dirs_of(pid, name)
    for run_dir in candidates:
        path = _checked(Path(run_dir))
        if path is not None:
            return path
    return None


def _running_here(run: dict[str, Any]) -> bool:
    pid = run.get("pid")
    if run.get("host") != socket.gethostname() or not isinstance(pid, int) or pid <= 0:
        return False
    status = observed_status(str(run.get("status")), run.get("host"), pid, run.get("lease_until"))
    return status == "running"


def _checked(run_dir: Path) -> Path | None:
    """``run_dir``'s live metrics file when it is ours: an absolute directory of this
    user, and the file a regular one of this user that resolves inside it."""
    if not run_dir.is_absolute():
        return None
    path = run_dir / LIVE_DIR / LIVE_METRICS
    try:
        top, st = run_dir.lstat(), path.lstat()
        inside = path.resolve().is_relative_to(run_dir.resolve())
    except OSError:  # not written yet, or gone
        return None
    uid = os.getuid()
    if not stat.S_ISDIR(top.st_mode) or top.st_uid != uid:
        return None
    if not stat.S_ISREG(st.st_mode) or st.st_uid != uid or not inside:
        return None
    return path


def _run_dirs_of(pid: int, name: str, depth: int = 3) -> list[str]:
    """GITEXP_RUN_DIR of the processes below ``pid`` that run experiment ``name``
    (rank 0 of a process group first; the other ranks have scratch dirs)."""
    if not PROC.is_dir() or not name:
        return []
    children = _children()
    found: list[tuple[bool, str]] = []
    level = [pid]
    for _ in range(depth):
        level = [c for p in level for c in children.get(p, [])]
        for child in level:
            env = _environ(child)
            if env.get("GITEXP_RUN_NAME") == name and env.get("GITEXP_RUN_DIR"):
                found.append((env.get("RANK", "0") != "0", env["GITEXP_RUN_DIR"]))
    return [run_dir for _, run_dir in sorted(found)]


def _children() -> dict[int, list[int]]:
    """ppid → pids, from /proc/*/stat (the name in parentheses may hold spaces)."""
    out: dict[int, list[int]] = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "stat").read_text()
        except OSError:  # it ended meanwhile
            continue
        fields = text[text.rfind(")") + 2 :].split()
        if len(fields) > 1 and fields[1].isdigit():
            out.setdefault(int(fields[1]), []).append(int(entry.name))
    return out


def _environ(pid: int) -> dict[str, str]:
    try:
        data = (PROC / str(pid) / "environ").read_bytes()
    except OSError:  # another user's process, or gone
        return {}
    pairs = (item.partition(b"=") for item in data.split(b"\0") if b"=" in item)
    return {k.decode(errors="replace"): v.decode(errors="replace") for k, _, v in pairs}


class LiveSeries:
    """The points of one live metrics file, read incrementally (``poll``)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self._partial = b""
        self._steps: dict[str, int | float] = {}

    def poll(self) -> dict[str, list[Point]]:
        """The points appended since the last poll, by metric, in file order."""
        try:
            with self.path.open("rb") as f:
                f.seek(self.offset)
                data = f.read(MAX_READ)
        except OSError:  # the run ended and its directory went
            return {}
        self.offset += len(data)
        buf = self._partial + data
        cut = buf.rfind(b"\n") + 1
        self._partial = buf[cut:]
        out: dict[str, list[Point]] = {}
        for line in buf[:cut].decode("utf-8", "replace").splitlines(keepends=True):
            parsed = parse_line(line)
            if parsed is not None:
                name, step, value, t = parsed
                out.setdefault(name, []).append((self._step(name, step), value, t))
        return out

    def _step(self, name: str, step: int | float | None) -> int | float:
        if step is None:  # continues the series, as the recorder reads it
            last = self._steps.get(name)
            step = 0 if last is None else last + 1
        self._steps[name] = step
        return step
