"""Containers a killed `gitexp run --docker` left behind (for `gitexp gc`).

gitexp removes every container it starts when the run ends. Killed with
SIGKILL, it cannot: the container runs its command to the end and then
stays, stopped. Each container carries labels: ``org.gitexp.run`` (the
experiment's name), ``org.gitexp.pid`` and ``org.gitexp.host`` (the gitexp
process that started it; gitexp/running/executors/docker.py).

A container is this repository's orphan when its experiment here names the
same process (run.json's ``pid`` and ``host``) and that process is gone from
this machine (a zombie counts as gone). Such a container is removed:
stopped ones always; a running one too (`docker rm -f`): its results can no
longer be recorded (the run reads `interrupted`) and gc removes the run
directory it writes into. A container without those labels (an older
gitexp's) or whose experiment is not here is never touched; one of an older
gitexp whose experiment here is no longer running is listed with the
command that removes it. Containers are listed and removed through the
`docker` command line, as envimages.py does with images.
"""

from __future__ import annotations

import socket
import subprocess
from dataclasses import dataclass

from gitexp.common.processes import alive
from gitexp.exploring.summary_db import Entry

LABEL = "org.gitexp.run"
TIMEOUT_S = 60.0
_FORMAT = "\t".join(
    ["{{.ID}}", "{{.State}}"]
    + [f'{{{{.Label "org.gitexp.{key}"}}}}' for key in ("run", "pid", "host")]
)


@dataclass(frozen=True)
class Container:
    id: str
    state: str  # running, exited, created, dead, ...
    run: str
    pid: int | None
    host: str

    @property
    def running(self) -> bool:
        return self.state in ("running", "restarting", "paused")


def listed() -> list[Container]:
    """Every container a gitexp started on this Docker engine (RuntimeError: no answer)."""
    out = _docker("ps", "-a", "--no-trunc", "--filter", f"label={LABEL}", "--format", _FORMAT)
    found = []
    for line in out.splitlines():
        cid, state, run, pid, host = (line.split("\t") + [""] * 5)[:5]
        found.append(Container(cid, state, run, int(pid) if pid.isdigit() else None, host))
    return found


def orphaned(found: list[Container], runs: dict[str, Entry]) -> list[Container]:
    """Those whose gitexp process, the one ``runs`` (name → entry here) names, is gone."""
    here = socket.gethostname()
    return [
        c
        for c in found
        if c.pid is not None
        and c.host == here
        and c.run in runs
        and runs[c.run].pid == c.pid
        and runs[c.run].host == c.host
        and not alive(c.pid)
    ]


def unlabelled(found: list[Container], stopped_here: set[str]) -> list[Container]:
    """An older gitexp's containers (no pid label) of experiments here no longer running."""
    return [c for c in found if c.pid is None and c.run in stopped_here]


def remove(container: Container) -> str | None:
    """`docker rm -f`; None when done, else why not (one line)."""
    try:
        _docker("rm", "-f", container.id)
    except RuntimeError as exc:
        return str(exc)
    return None


def _docker(*args: str) -> str:
    try:
        proc = subprocess.run(
            ["docker", *args], capture_output=True, text=True, check=False, timeout=TIMEOUT_S
        )
    except subprocess.TimeoutExpired as exc:
        raise RuntimeError(f"docker {args[0]} gave no answer in {TIMEOUT_S:.0f} s") from exc
    if proc.returncode != 0:
        lines = [ln.strip() for ln in proc.stderr.splitlines() if ln.strip()]
        raise RuntimeError(lines[-1] if lines else f"docker exited with {proc.returncode}")
    return proc.stdout
