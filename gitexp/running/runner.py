"""The one place a run's lifecycle happens: prepare, reserve, execute, record.

1. prepare: snapshot the work tree, apply -p overrides, resolve command and
   seed, and check everything a user can get wrong (nothing written yet);
2. reserve: commit the snapshot with status `running` and create the ref;
3. execute: materialize into a private run dir and hand the job to an executor;
4. record: commit the run dir plus .gitexp/ and move the ref, compare-and-swap;
5. clean up the run dir. Ctrl-C / SIGTERM still reach step 4 (`interrupted`).
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pygit2

from gitexp.common.errors import GitexpError, WorkspaceError
from gitexp.common.layout import DRAWN_SEED_LIMIT, PARAMS_JSON
from gitexp.config.settings import Config
from gitexp.events import bus_for
from gitexp.events.bus import EventBus
from gitexp.gitstore import names, store
from gitexp.gitstore.record import RunRecord
from gitexp.gitstore.repo import Repo
from gitexp.gitstore.trees import (
    Manifest,
    read_blob,
    without_meta,
)
from gitexp.running import notebooks, preflight
from gitexp.running.confine import check_cwd
from gitexp.running.control import RunControl
from gitexp.running.environment import EnvironmentProbe, describe, numerics_env
from gitexp.running.execute import execute_recorded, stopped_before
from gitexp.running.executors import ExecResult, Executor, Job, OutputSink, get_executor
from gitexp.running.heartbeat import Heartbeat
from gitexp.running.jobenv import run_env
from gitexp.running.live import LiveMetrics
from gitexp.running.recording import (
    Partial,
    RunState,
    guarded,
    record_crash,
    record_run,
)
from gitexp.running.reserve import intact, reserve
from gitexp.running.signals import finishing
from gitexp.running.transport import unpack
from gitexp.running.workdirs import RunDir, open_run_dir
from gitexp.running.workspace import (
    Params,
    apply_params,
    check_command,
    check_links,
    populate,
    resolve_command,
    run_params,
    snapshot_tree,
)
from gitexp.running.workspace import snapshot as snapshot  # drivers take one for many runs
from gitexp.tracking.wire import LIVE_DIR, METRICS_FILE, Step

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunRequest:
    """What the user asked for; ``tree``/``baseline`` replay a recorded tree (reproduce).

    ``overrides`` are `-p` strings as a person types them (values parsed as
    YAML: `on` is true); ``values`` are the typed path for programs (a sweep):
    ``{"model.depth": 6, "act": "on"}`` reaches the script exactly as given.
    Keys take the same forms as `-p` (``file.yaml:key``, ``+new``); ``values``
    apply after ``overrides``.
    """

    command: list[str] | str | None = None
    overrides: tuple[str, ...] = ()
    values: dict[str, Any] = field(default_factory=dict)
    allow_large: bool = False  # snapshot large untracked files into git anyway
    control: RunControl | None = None  # lets a driver stop this run (running/control.py)
    #: more environment for the command (autolog's startup hook); gitexp's own
    #: variables (GITEXP_*, PYTHONHASHSEED) always win
    env: dict[str, str] = field(default_factory=dict)
    #: a last word on a run that succeeded, from its metrics (nested): a reason
    #: makes it `failed` with that error (a sweep whose objective was not logged)
    verdict: Callable[[dict[str, Any]], str | None] | None = None
    name: str | None = None
    seed: int | None = None
    executor: str | None = None
    keep_run_dir: bool = False
    echo: bool = True
    tree: str | None = None
    baseline: str | None = None
    cwd: str | None = None
    pinned: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    #: the commit of a queued entry (gitexp/queue/) this run executes: its existing ref
    #: moves from that commit by compare-and-swap instead of being created
    claim: str | None = None
    from_experiment: str | None = None  # --from NAME: its params (running/origin.py)


@dataclass(frozen=True)
class RunResult:
    name: str
    commit: str
    status: str
    exit_code: int | None
    metrics: dict[str, Any]
    record: RunRecord
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Prepared:
    record: RunRecord
    tree: pygit2.Oid
    baseline: pygit2.Oid
    argv: list[str]
    params: Params
    links: dict[str, Path]
    pinned: dict[str, Any] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)


def run_experiment(
    repo: Repo,
    config: Config,
    request: RunRequest,
    executor: Executor | None = None,
    listeners: list[Callable[[str, str], None]] | None = None,
    bus: EventBus | None = None,
) -> RunResult:
    """Run one experiment end to end and return its recorded result.

    Safe to call from several threads of one driver at once (each call opens
    its own repository handle; only the main thread handles signals). Events
    go to ``bus``; without one, a bus with the callbacks of gitexp.yaml.
    """
    repo = repo.reopen()  # libgit2 handles are not shared between threads
    bus = bus or bus_for(config, repo.root)
    executor = executor or get_executor(request.executor or config.executor, config)
    prepared = prepare(repo, config, request, executor, check_name=request.claim is None)
    where = open_run_dir(repo, config, request.name or "run", request.keep_run_dir)
    try:
        located = replace(prepared, record=_located(prepared.record, where))
        name, reserved = reserve(repo, located, request.name is None, request.claim)
        prepared, reserved = intact(repo, config, request, executor, prepared, name, reserved)
    except BaseException:
        where.done()
        raise
    record = prepared.record.replace(name=name)
    beat = Heartbeat(repo, _located(record, where), prepared.tree, prepared.baseline, reserved)
    beat.start()
    run = RunState(
        where.path,
        beat,
        Partial(record),
        prepared.tree,
        prepared.baseline,
        prepared.links,
        bus,
        verdict=request.verdict,
    )
    run.publish("run_reserved", **reserved_payload(record, reserved))
    try:
        result, error = _run_reserved(
            repo, config, request, executor, listeners, prepared, run, where
        )
    except BaseException as exc:
        _record_crash(repo, prepared, run, exc)
        raise
    finally:
        beat.stop()
        where.done()
    if error is not None:
        raise error  # an executor error: recorded as failed, then reported
    return result


def _located(record: RunRecord, where: RunDir) -> RunRecord:
    """The running record says where its run dir is, for live readers on this host
    (gitexp ui follows its metrics file); the final record does not."""
    return record.replace(extra={**record.extra, "run_dir": str(where.path)})


def _run_reserved(
    repo: Repo,
    config: Config,
    request: RunRequest,
    executor: Executor,
    listeners: list[Callable[[str, str], None]] | None,
    prepared: Prepared,
    run: RunState,
    where: RunDir,
) -> tuple[RunResult, Exception | None]:
    probe = EnvironmentProbe(repo.state_dir / "env-freeze.json")
    run.manifest = _populate(repo, prepared, where)
    job = _job(run.partial.record, prepared, run.run_dir)
    sink = OutputSink(config.log_max_bytes, echo=request.echo, listeners=listeners)
    live = _live(run, executor, sink)
    run.publish("run_started", executor=executor.name)
    try:  # prepare (an image build) under Ctrl-C's default: it stops the build
        if request.control is not None and request.control.stopped:
            record, result, error = stopped_before(run.partial.record, request.control)
        else:
            record, result, error = execute_recorded(
                executor, job, sink, run.partial.record, request.control
            )
    except BaseException:
        if live is not None:
            live.stop()
        raise
    # from forwarding's handler straight to finishing's (the live follower's join too)
    with finishing(record.name):
        if live is not None:
            live.stop()
        run.partial.record = record
        _take_back(run, result)
        done = record_run(repo, config, run, result, sink, probe)
    where.touched = done.touched
    final = done.record
    summary = RunResult(
        final.name, str(done.commit), final.status, final.exit_code, done.metrics, final,
        done.warnings,
    )  # fmt: skip
    return summary, error


def _live(run: RunState, executor: Executor, sink: OutputSink) -> LiveMetrics | None:
    """Follow the metrics the script logs, when someone listens to them."""
    if not run.bus.wants("metric_logged"):
        return None

    def point(metric: str, step: Step, value: float, t: float) -> None:
        run.publish("metric_logged", metric=metric, step=step, value=value, time=t)

    live = LiveMetrics(point)
    if executor.streams_metrics:
        sink.on_metrics = live.feed
        return live
    return live.follow(run.run_dir / LIVE_DIR / METRICS_FILE)


def _take_back(run: RunState, result: ExecResult) -> None:
    """What an executor that ran elsewhere returned goes into the local run dir."""
    if result.returned is None:
        return
    guarded(
        run.partial,
        "unpacking the returned files",
        lambda: unpack(result.returned or b"", run.run_dir),
        [],
    )


def reserved_payload(record: RunRecord, commit: pygit2.Oid) -> dict[str, Any]:
    return {
        "commit": str(commit),
        "baseline": record.baseline,
        "params": record.params,
        "seed": record.seed,
        "command": record.command,
        "executor": record.executor,
        "host": record.host,
        "pid": record.pid,
    }


def _populate(repo: Repo, prepared: Prepared, where: RunDir) -> Manifest:
    """The run dir, or one line naming what could not be written (a full disk)."""
    run_dir = where.path
    try:
        manifest = populate(repo, prepared.tree, run_dir, prepared.links, where.write)
        _write_params_json(run_dir, prepared.params.merged)
    except OSError as exc:
        path = exc.filename or run_dir
        raise WorkspaceError(
            f"cannot write the run directory: {exc.strerror or exc}: {path}"
        ) from exc
    return manifest


def _record_crash(repo: Repo, prepared: Prepared, run: RunState, exc: BaseException) -> None:
    """gitexp itself failed (or was interrupted) mid-run: never leave the ref `running`."""
    interrupted = isinstance(exc, KeyboardInterrupt)
    error = "interrupted by Ctrl-C" if interrupted else f"{type(exc).__name__}: {exc}"
    if isinstance(exc, GitexpError):
        error = str(exc)
    status = "interrupted" if interrupted else "failed"
    record_crash(repo, run, status, error)


def _typed_texts(values: dict[str, Any]) -> list[str]:
    """Typed values as run.json's `overrides` lists them: key=JSON."""
    import json

    return [f"{k}={json.dumps(v, default=str)}" for k, v in values.items()]


def prepare(
    repo: Repo, config: Config, request: RunRequest, executor: Executor, check_name: bool = True
) -> Prepared:
    """Everything that can fail because of user input, before any write."""
    if request.name is not None and check_name:
        names.validate(request.name)
        store.check_free(repo, request.name)
    baseline = repo.git[request.baseline].id if request.baseline else repo.head_commit().id
    cwd = request.cwd if request.cwd is not None else repo.relative_cwd()
    links = check_links(repo, config)
    base_tree = (
        without_meta(repo, repo.git[request.tree].peel(pygit2.Tree).id)
        if request.tree
        else snapshot_tree(repo, config, tuple(links), request.allow_large)
    )
    config = notebooks.params_config(repo, base_tree, config, request.command, cwd)
    params_tree, params = run_params(  # --from, composition and the schema: running/workspace.py
        repo, base_tree, config, list(request.overrides), request.values,
        request.from_experiment, request.pinned,
    )  # fmt: skip
    seed = _seed(request.seed, config)
    # `--seed '${seed}'` passes the run's seed to a script's flag (a param `seed` wins)
    argv, via_shell = resolve_command(request.command, config, {"seed": seed, **params.merged})
    tree = store.retry(lambda: apply_params(repo, params_tree, params), "cannot apply params")
    check_cwd(repo, tree, cwd)  # run.json's cwd of a pulled experiment is theirs
    if request.tree is None:  # a script on disk the snapshot left out (ignored): refused
        preflight.check_script(repo, tree, argv, cwd, tuple(links))
    if executor.checks_host_path and not via_shell:
        check_command(repo, tree, argv, cwd)
    executor.preflight(request.pinned, lambda path: read_blob(repo, tree, path))  # no ref yet
    system = describe()
    record = RunRecord(
        name=request.name or "",
        command=argv,
        params=params.merged,
        overrides=[*request.overrides, *_typed_texts(request.values)],
        seed=seed,
        status="running",
        started=_now(),
        baseline=str(baseline),
        dirty=base_tree != repo.git[baseline].peel(pygit2.Commit).tree_id,
        executor=executor.name,
        host=str(system["host"]),
        pid=os.getpid(),
        python=str(system["python"]),
        platform=str(system["platform"]),
        cwd=cwd,
        params_files=list(params.by_file),
        links=sorted(links),
        extra={
            **params.record,  # `compose` (groups), `from` (--from)
            **request.extra,
            "numerics_env": numerics_env({**request.env, "PYTHONHASHSEED": str(seed)}),
        },
    )
    return Prepared(
        record, tree, baseline, argv, params, links, dict(request.pinned), dict(request.env)
    )


def _job(record: RunRecord, prepared: Prepared, run_dir: Path) -> Job:
    env = run_env(record, prepared.env, run_dir)
    argv = notebooks.job_argv(prepared.argv, record.executor)  # a notebook: its runner
    return Job(record.name, argv, run_dir, record.cwd, env, prepared.links, prepared.pinned)


def _write_params_json(run_dir: Path, params: dict[str, Any]) -> None:
    import json

    path = run_dir / PARAMS_JSON
    path.parent.mkdir(exist_ok=True)
    # default=str: YAML params may hold dates, which JSON cannot
    path.write_text(json.dumps(params, indent=2, default=str), encoding="utf-8")


def _seed(requested: int | None, config: Config) -> int:
    if requested is not None:
        return requested
    if config.seed is not None:
        return config.seed
    return secrets.randbelow(DRAWN_SEED_LIMIT)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")
