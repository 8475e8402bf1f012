"""A killed in-process run recorded from what it left: nothing it flushed is lost.

A notebook kernel killed by the OOM killer (SIGKILL) never reaches
``finish``: its ref stays a `running` commit, read as `interrupted` once its
pid is gone (gitexp/gitstore/record.py ``observed_status``), and its scratch
dir under ``.git/gitexp/inprocess/<pid>-<id>/`` keeps what the tracking
library flushed (at most a second is lost: metrics, logged params, the
``log_artifact`` list). ``recover_dead`` records each such dir as the
run's final `interrupted` commit, through the runner's recording, then
removes it. It runs when the next in-process run starts in the repository
and from `gitexp gc`.

What cannot come back: the output (teed in memory), the files the code wrote
into the work tree other than logged artifacts (the stat taken at the start
died with it) and the environment files (this process's may differ).

``.gitexp/owner.json`` in the dir names the run it belongs to; a dir is recorded only
while the ref still holds that run's `running` record (same pid, same dir),
and a recoverer first renames the dir to its own pid, so two never record the
same run.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
from pathlib import Path
from typing import Any

import pygit2

from gitexp.common.layout import META_DIR, RUN_JSON
from gitexp.common.processes import alive
from gitexp.config.settings import load_config
from gitexp.events.bus import EventBus
from gitexp.gitstore import store
from gitexp.gitstore.record import RunRecord
from gitexp.gitstore.repo import Repo
from gitexp.gitstore.trees import read_json
from gitexp.inprocess.worktree import gather, logged_artifacts
from gitexp.running.environment import EnvironmentProbe
from gitexp.running.executors import ExecResult, OutputSink
from gitexp.running.heartbeat import Heartbeat
from gitexp.running.recording import Partial, RunState, record_run

log = logging.getLogger(__name__)
SCRATCH = "inprocess"
OWNER = f"{META_DIR}/owner.json"  # .gitexp/: never committed


def scratch_parent(repo: Repo) -> Path:
    return repo.state_dir / SCRATCH


def write_owner(run_dir: Path, name: str) -> None:
    """Name the run that owns ``run_dir`` (written once the name is reserved)."""
    owner = {"name": name, "pid": os.getpid(), "run_dir": str(run_dir)}
    (run_dir / OWNER).parent.mkdir(parents=True, exist_ok=True)
    (run_dir / OWNER).write_text(json.dumps(owner), encoding="utf-8")


def recover_dead(repo: Repo) -> list[str]:
    """Record every dead process's in-process run from its scratch dir, then remove
    the dir; the names recorded. Never raises for one run: the others go on."""
    parent = scratch_parent(repo)
    if not parent.is_dir():
        return []
    done = []
    for old in sorted(parent.iterdir()):
        pid = old.name.partition("-")[0]
        if not pid.isdigit() or alive(int(pid)):
            continue
        name = _recover_one(repo, old)
        if name:
            done.append(name)
    return done


def _recover_one(repo: Repo, old: Path) -> str | None:
    mine = old.with_name(f"{os.getpid()}-recover-{secrets.token_hex(4)}")
    try:
        os.rename(old, mine)  # claimed: another recoverer's rename now fails
    except OSError:
        return None
    try:
        return _record(repo, mine)
    except Exception as exc:  # a broken dir must not stop the next run or gc
        log.warning("gitexp: could not record the killed run in %s: %s", old.name, exc)
        return None
    finally:
        shutil.rmtree(mine, ignore_errors=True)


def _record(repo: Repo, run_dir: Path) -> str | None:
    owner = _owner(run_dir)
    if owner is None:
        return None
    name = str(owner["name"])
    target = store.lookup(repo, name)
    if target is None:
        return None
    commit = repo.git[target].peel(pygit2.Commit)
    data = read_json(repo, commit.tree, RUN_JSON, lost_ok=True)
    if not _same_run(data, owner):
        return None  # recorded meanwhile, or another run took the name
    state = _state(repo, run_dir, RunRecord.from_dict(data), commit)
    config = load_config(repo.root)
    cwd = repo.root / str(data.get("cwd") or "")
    gather(repo.root, run_dir, logged_artifacts(run_dir, repo.root, cwd))
    sink = OutputSink(config.log_max_bytes, echo=False)
    record_run(repo, config, state, ExecResult(None), sink, _NoEnvironment())
    return name


def _owner(run_dir: Path) -> dict[str, Any] | None:
    try:
        owner = json.loads((run_dir / OWNER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return owner if isinstance(owner, dict) and owner.get("name") else None


def _same_run(data: dict[str, Any], owner: dict[str, Any]) -> bool:
    return (
        data.get("status") == "running"
        and data.get("pid") == owner.get("pid")
        and data.get("run_dir") == owner.get("run_dir")
    )


def _state(repo: Repo, run_dir: Path, running: RunRecord, commit: pygit2.Commit) -> RunState:
    """The run as the dead process would have finished it, `interrupted`."""
    extra = {k: v for k, v in running.extra.items() if k not in ("run_dir", "lease_until")}
    error = f"the process (pid {running.pid}) was killed before the run ended"
    extra.update(error=error, recovered=True)
    record = running.replace(status="interrupted", extra=extra)
    baseline = pygit2.Oid(hex=running.baseline)
    beat = Heartbeat(repo, running, commit.tree_id, baseline, commit.id)  # never started
    return RunState(run_dir, beat, Partial(record), commit.tree_id, baseline, {}, EventBus())


class _NoEnvironment(EnvironmentProbe):
    """No .gitexp/env/: this process's environment need not be the dead one's."""

    def __init__(self) -> None:
        self._result: dict[str, bytes] = {}

    def files(self) -> dict[str, bytes]:
        return {}
