"""An in-process run's lifecycle: the runner's steps around code that already runs.

- ``begin``: prepare as `gitexp run` does (snapshot of the work tree, params
  files, seed, the record; ``runner.prepare`` with an executor that runs
  nothing), reserve the name (a `running` commit, renewed by a heartbeat, so a
  killed kernel reads as `interrupted`), point the tracking library at a
  scratch run dir through the variables `gitexp run` gives its command, and
  tee the output;
- ``finish``: gather what the code wrote (gitexp/inprocess/worktree.py) into
  the scratch dir and record it with ``recording.record_run``, exactly as a
  finished command is recorded (metrics and series, artifacts through DVC,
  environment, output.log); a failure of gitexp itself still leaves a
  `failed` commit, never a `running` ref.

The scratch dir lives under ``.git/gitexp/inprocess/``: the code does not run
there, and one left by a killed process is recorded (its run `interrupted`,
with what it had flushed) and removed by the next run or `gitexp gc`
(gitexp/inprocess/recovery.py).
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from gitexp.common.layout import PARAMS_JSON
from gitexp.common.mappings import deep_merge
from gitexp.config.settings import Config, load_config
from gitexp.events import bus_for
from gitexp.gitstore.repo import Repo, open_repo
from gitexp.inprocess.capture import Capture
from gitexp.inprocess.origin import Origin, detect
from gitexp.inprocess.recovery import recover_dead, scratch_parent, write_owner
from gitexp.inprocess.worktree import Watch, gather, logged_artifacts
from gitexp.running.environment import EnvironmentProbe, numerics_env
from gitexp.running.executors import ExecResult, Executor, Job, OutputSink
from gitexp.running.heartbeat import Heartbeat
from gitexp.running.recording import Partial, Recorded, RunState, record_crash, record_run
from gitexp.running.reserve import intact, reserve
from gitexp.running.runner import Prepared, RunRequest, prepare, reserved_payload
from gitexp.running.signals import finishing
from gitexp.tracking import recorder

ENV_KEYS = ("GITEXP_RUN_DIR", "GITEXP_RUN_NAME", "GITEXP_SEED", "GITEXP_PARAMS_FILE")


class InProcessExecutor(Executor):
    """The executor shape of an in-process run: the code is already running, so it
    executes nothing. run.json names `local`, what `gitexp reproduce` reruns it with;
    ``in_process`` says how it really ran."""

    name = "local"
    checks_host_path = False  # the command runs already; nothing to look up

    def execute(self, job: Job, sink: OutputSink) -> ExecResult:
        raise NotImplementedError("an in-process run executes nothing")

    def stop(self, signum: int = signal.SIGINT) -> None:
        """Nothing to stop: Ctrl-C reaches the code itself."""


@dataclass
class Active:
    """A started in-process run, until ``finish``."""

    repo: Repo
    config: Config
    origin: Origin
    state: RunState
    watch: Watch
    sink: OutputSink
    capture: Capture
    probe: EnvironmentProbe
    saved_env: dict[str, str | None]
    started: float

    @property
    def name(self) -> str:
        return self.state.partial.record.name


def begin(name: str | None, given: dict[str, Any], seed: int | None) -> Active:
    """Snapshot, reserve and activate; every user mistake is raised before any write."""
    repo = open_repo(".")
    config = load_config(repo.root)
    origin = detect(repo.root, Path.cwd())
    executor = InProcessExecutor()
    request = RunRequest(
        command=["python"],  # resolved by ``_own``: a prompt has no command at all
        name=name,
        seed=seed,
        echo=False,
        extra={"in_process": origin.record(repo.root)},
    )
    prepared = _own(prepare(repo, config, request, executor), origin, given)
    bus = bus_for(config, repo.root)  # a broken callback stops us before the ref exists
    watch = Watch(repo, config, _snapshot_only(repo, origin))
    probe = EnvironmentProbe(repo.state_dir / "env-freeze.json")
    where = _scratch(repo)
    try:
        located = _located(prepared, where)
        reserved_name, commit = reserve(repo, located, name is None)
        prepared, commit = intact(repo, config, request, executor, located, reserved_name, commit)
        write_owner(where, reserved_name)
    except BaseException:
        shutil.rmtree(where, ignore_errors=True)
        raise
    running = _own(prepared, origin, given).record.replace(name=reserved_name)
    record = running.replace(extra={k: v for k, v in running.extra.items() if k != "run_dir"})
    beat = Heartbeat(repo, running, prepared.tree, prepared.baseline, commit).start()
    state = RunState(
        where, beat, Partial(record), prepared.tree, prepared.baseline, prepared.links, bus
    )
    try:
        state.publish("run_reserved", **reserved_payload(record, commit))
        return _activated(repo, config, origin, state, watch, probe)
    except BaseException as exc:
        record_crash(repo, state, "failed", f"could not start: {type(exc).__name__}: {exc}")
        shutil.rmtree(where, ignore_errors=True)
        raise


def _activated(
    repo: Repo,
    config: Config,
    origin: Origin,
    state: RunState,
    watch: Watch,
    probe: EnvironmentProbe,
) -> Active:
    """Point the library at the run, tee the output: from here the code's work counts."""
    record = state.partial.record
    _write_params(state.run_dir, record.params)
    sink = OutputSink(config.log_max_bytes, echo=False)
    saved = _activate(state.run_dir, record.name, record.seed)
    state.publish("run_started", executor="in_process")
    capture = Capture(sink).start()
    return Active(repo, config, origin, state, watch, sink, capture, probe, saved, time.monotonic())


def finish(active: Active, status: str, error: str | None) -> Recorded:
    """Record the run as ``status`` (``error`` in run.json); the scratch dir goes."""
    state = active.state
    with finishing(active.name):
        _deactivate(active)
        try:
            record = state.partial.record
            extra = {**record.extra, "error": error} if error else record.extra
            state.partial.record = record.replace(
                status=status, duration_s=round(time.monotonic() - active.started, 3), extra=extra
            )
            _gather(active)
            return record_run(
                active.repo, active.config, state, ExecResult(None), active.sink, active.probe
            )
        except BaseException as exc:
            interrupted = isinstance(exc, KeyboardInterrupt)
            reason = "interrupted by Ctrl-C" if interrupted else f"{type(exc).__name__}: {exc}"
            record_crash(active.repo, state, "interrupted" if interrupted else "failed", reason)
            raise
        finally:
            shutil.rmtree(state.run_dir, ignore_errors=True)


def _own(prepared: Prepared, origin: Origin, given: dict[str, Any]) -> Prepared:
    """The record as this process ran: its own command, the params given to start_run
    over the params files (a notebook's loop passes each run's values), its pid, the
    numerics variables it has."""
    record = prepared.record
    params = deep_merge([record.params, given]) if given else record.params
    extra = {**record.extra, "numerics_env": numerics_env({})}
    record = record.replace(command=list(origin.command), params=params, extra=extra)
    return replace(prepared, record=record.replace(pid=os.getpid()), argv=list(origin.command))


def _located(prepared: Prepared, where: Path) -> Prepared:
    """The running record names the scratch dir, as `gitexp run`'s names its run dir:
    `gitexp ui` follows its live metrics, a recoverer (recovery.py) checks it is the
    run's; the final record does not."""
    record = prepared.record
    return replace(prepared, record=record.replace(extra={**record.extra, "run_dir": str(where)}))


def _snapshot_only(repo: Repo, origin: Origin) -> list[str]:
    """The running notebook keeps its snapshot: its autosaves are not the code that ran."""
    notebook = origin.notebook
    if notebook is None or not notebook.is_relative_to(repo.root):
        return []
    return [notebook.relative_to(repo.root).as_posix()]


def _gather(active: Active) -> None:
    root, run_dir = active.repo.root, active.state.run_dir
    logged = logged_artifacts(run_dir, root, Path.cwd())
    gather(root, run_dir, [*active.watch.written(active.repo), *logged])


def _activate(run_dir: Path, name: str, seed: int) -> dict[str, str | None]:
    """What `gitexp run` gives its command, for the tracking library in this process;
    returns the values they replace."""
    saved = {key: os.environ.get(key) for key in ENV_KEYS}
    os.environ.update(
        GITEXP_RUN_DIR=str(run_dir),
        GITEXP_RUN_NAME=name,
        GITEXP_SEED=str(seed),
        GITEXP_PARAMS_FILE=str(run_dir / PARAMS_JSON),
    )
    return saved


def _deactivate(active: Active) -> None:
    """Output back as it was, the library's last values flushed, the variables restored."""
    active.capture.stop()
    recorder.detach()
    for key, value in active.saved_env.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def _write_params(run_dir: Path, params: dict[str, Any]) -> None:
    import json

    path = run_dir / PARAMS_JSON
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(params, indent=2, default=str), encoding="utf-8")


def _scratch(repo: Repo) -> Path:
    """A fresh scratch run dir; the runs of dead processes (a killed kernel) are first
    recorded from theirs, which go (recovery.py)."""
    parent = scratch_parent(repo)
    parent.mkdir(parents=True, exist_ok=True)
    recover_dead(repo)
    where = parent / f"{os.getpid()}-{secrets.token_hex(4)}"
    where.mkdir()
    return where
