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
import shutil
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import Any

import pygit2

from gitexp.common.errors import ExperimentNameError, GitexpError, StoreError, WorkspaceError
from gitexp.config.settings import Config
from gitexp.gitstore import names, store
from gitexp.gitstore.record import RunRecord, commit_message
from gitexp.gitstore.repo import Repo
from gitexp.gitstore.trees import (
    META_DIR,
    Manifest,
    snapshot_workdir,
    without_meta,
)
from gitexp.running.environment import EnvironmentProbe, describe
from gitexp.running.executors import Executor, Job, OutputSink, get_executor
from gitexp.running.heartbeat import Heartbeat, lease_until
from gitexp.running.recording import (
    WRITE_ATTEMPTS,
    Partial,
    RunState,
    finishing,
    record_crash,
    record_run,
)
from gitexp.running.workspace import (
    Params,
    apply_params,
    check_command,
    check_links,
    make_run_dir,
    populate,
    resolve_command,
    resolve_params,
)

log = logging.getLogger(__name__)
NAME_ATTEMPTS = 20
MAX_SEED = 2**31 - 1


@dataclass(frozen=True)
class RunRequest:
    """What the user asked for; ``tree``/``baseline`` replay a recorded tree (reproduce)."""

    command: list[str] | str | None = None
    overrides: tuple[str, ...] = ()
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


def run_experiment(
    repo: Repo,
    config: Config,
    request: RunRequest,
    executor: Executor | None = None,
    listeners: list[Callable[[str, str], None]] | None = None,
) -> RunResult:
    """Run one experiment end to end and return its recorded result."""
    executor = executor or get_executor(request.executor or config.executor, config)
    prepared = prepare(repo, config, request, executor)
    run_dir = make_run_dir(config, request.name or "run")
    try:
        name, reserved = reserve(repo, prepared, auto=request.name is None)
        prepared, reserved = _intact(repo, config, request, executor, prepared, name, reserved)
    except BaseException:
        shutil.rmtree(run_dir, ignore_errors=True)
        raise
    record = prepared.record.replace(name=name)
    beat = Heartbeat(repo, record, prepared.tree, prepared.baseline, reserved).start()
    run = RunState(run_dir, beat, Partial(record), prepared.tree, prepared.baseline, prepared.links)
    try:
        result, error = _run_reserved(repo, config, request, executor, listeners, prepared, run)
    except BaseException as exc:
        _record_crash(repo, prepared, run, exc)
        raise
    finally:
        beat.stop()
        if not request.keep_run_dir:
            shutil.rmtree(run.run_dir, ignore_errors=True)
    if error is not None:
        raise error  # an executor error: recorded as failed, then reported
    return result


def _run_reserved(
    repo: Repo,
    config: Config,
    request: RunRequest,
    executor: Executor,
    listeners: list[Callable[[str, str], None]] | None,
    prepared: Prepared,
    run: RunState,
) -> tuple[RunResult, Exception | None]:
    probe = EnvironmentProbe(repo.state_dir / "env-freeze.json")
    run.manifest = _populate(repo, prepared, run.run_dir)
    job = _job(run.partial.record, prepared, run.run_dir)
    sink = OutputSink(config.log_max_bytes, echo=request.echo, listeners=listeners)
    record, exec_info, error = _execute_recorded(executor, job, sink, run.partial.record)
    run.partial.record = record
    with finishing(record.name):
        done = record_run(repo, config, run, exec_info, sink, probe)
    final = done.record
    result = RunResult(
        final.name,
        str(done.commit),
        final.status,
        final.exit_code,
        done.metrics,
        final,
        done.warnings,
    )
    return result, error


def _populate(repo: Repo, prepared: Prepared, run_dir: Path) -> Manifest:
    """The run dir, or one line naming what could not be written (a full disk)."""
    try:
        manifest = populate(repo, prepared.tree, run_dir, prepared.links)
        _write_params_json(run_dir, prepared.params.merged)
    except OSError as exc:
        where = exc.filename or run_dir
        raise WorkspaceError(
            f"cannot write the run directory: {exc.strerror or exc}: {where}"
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
        else store.retry(lambda: snapshot_workdir(repo, exclude=links), "cannot snapshot")
    )
    params = resolve_params(repo, base_tree, config, list(request.overrides))
    argv, via_shell = resolve_command(request.command, config, params.merged)
    tree = store.retry(lambda: apply_params(repo, base_tree, params), "cannot apply params")
    if executor.checks_host_path and not via_shell:
        check_command(repo, tree, argv, cwd)
    seed = _seed(request.seed, config)
    system = describe()
    record = RunRecord(
        name=request.name or "",
        command=argv,
        params=params.merged,
        overrides=list(request.overrides),
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
        extra=dict(request.extra),
    )
    return Prepared(record, tree, baseline, argv, params, links, dict(request.pinned))


def reserve(repo: Repo, prepared: Prepared, auto: bool) -> tuple[str, pygit2.Oid]:
    """Create the ref on a `running` commit; auto names retry on collision."""
    for _ in range(NAME_ATTEMPTS if auto else 1):
        name = names.generate() if auto else prepared.record.name
        commit = store.retry(partial(_reservation, repo, prepared, name), "cannot reserve")
        if store.reserve(repo, name, commit):
            return name, commit
    if auto:
        raise StoreError(f"could not find a free experiment name in {NAME_ATTEMPTS} tries")
    raise ExperimentNameError(f"experiment name {prepared.record.name!r} is taken")


def _reservation(repo: Repo, prepared: Prepared, name: str) -> pygit2.Oid:
    """The `running` commit: the snapshot plus a run.json with a fresh lease."""
    record = prepared.record.replace(
        name=name, extra={**prepared.record.extra, "lease_until": lease_until()}
    )
    tree = store.with_meta_file(repo, prepared.tree, "run.json", record.to_json())
    return store.write_commit(repo, tree, prepared.baseline, commit_message(record, {}))


def _intact(
    repo: Repo,
    config: Config,
    request: RunRequest,
    executor: Executor,
    prepared: Prepared,
    name: str,
    reserved: pygit2.Oid,
) -> tuple[Prepared, pygit2.Oid]:
    """Check that the reservation's objects exist: a `git gc --prune=now` beside us can
    delete the snapshot's new blobs before the ref reaches them. Snapshot again if so."""
    known = repo.git[prepared.baseline].peel(pygit2.Commit).tree_id
    try:
        for _ in range(WRITE_ATTEMPTS):
            if not store.missing_objects(repo, reserved, known):
                return prepared, reserved
            request = replace(request, name=name)
            prepared = prepare(repo, config, request, executor, check_name=False)
            commit = store.retry(partial(_reservation, repo, prepared, name), "cannot reserve")
            store.retry(partial(store.finalize, repo, name, reserved, commit), "cannot reserve")
            reserved = commit
    except BaseException:
        _unreserve(repo, name, reserved)
        raise
    _unreserve(repo, name, reserved)
    raise StoreError(
        f"could not reserve experiment {name!r}: git objects vanished while snapshotting",
        store.GC_HINT,
    )


def _unreserve(repo: Repo, name: str, reserved: pygit2.Oid) -> None:
    try:
        store.remove_refs(repo, {name: str(reserved)})
    except Exception:  # it moved or went: nothing of ours to remove
        log.debug("could not remove the reservation of %s", name, exc_info=True)


def _job(record: RunRecord, prepared: Prepared, run_dir: Path) -> Job:
    env = {
        "GITEXP_RUN_DIR": str(run_dir),
        "GITEXP_RUN_NAME": record.name,
        "GITEXP_SEED": str(record.seed),
        "PYTHONHASHSEED": str(record.seed),
        "GITEXP_PARAMS_FILE": str(run_dir / META_DIR / "params.json"),
        "PYTHONUNBUFFERED": "1",
    }
    return Job(
        record.name, prepared.argv, run_dir, record.cwd, env, prepared.links, prepared.pinned
    )


def _execute_recorded(
    executor: Executor, job: Job, sink: OutputSink, record: RunRecord
) -> tuple[RunRecord, dict[str, Any], Exception | None]:
    """Execute; an executor error (image build, lost daemon) is still recorded as failed."""
    try:
        return (*_execute(executor, job, sink, record), None)
    except Exception as exc:
        sink.write("stderr", f"gitexp: {exc}\n".encode())
        failed = record.replace(status="failed", extra={**record.extra, "error": str(exc)})
        return failed, {}, exc


def _execute(
    executor: Executor, job: Job, sink: OutputSink, record: RunRecord
) -> tuple[RunRecord, dict[str, Any]]:
    info = executor.prepare(job)
    started = time.monotonic()
    interrupted = threading.Event()
    with _forward_signals(executor, interrupted):
        result = executor.execute(job, sink)
    if interrupted.is_set():
        status = "interrupted"
    else:
        status = "succeeded" if result.exit_code == 0 else "failed"
    record = record.replace(
        status=status,
        exit_code=result.exit_code,
        duration_s=round(time.monotonic() - started, 3),
    )
    return record, {**info, **result.info}


@contextmanager
def _forward_signals(executor: Executor, flag: threading.Event) -> Iterator[None]:
    """Ctrl-C / SIGTERM stop the job instead of gitexp, so the run is still recorded."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        if executor.command_running():
            flag.set()
        executor.stop()

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _write_params_json(run_dir: Path, params: dict[str, Any]) -> None:
    import json

    meta = run_dir / META_DIR
    meta.mkdir(exist_ok=True)
    # default=str: YAML params may hold dates, which JSON cannot
    (meta / "params.json").write_text(json.dumps(params, indent=2, default=str), encoding="utf-8")


def _seed(requested: int | None, config: Config) -> int:
    if requested is not None:
        return requested
    if config.seed is not None:
        return config.seed
    return secrets.randbelow(MAX_SEED)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")
