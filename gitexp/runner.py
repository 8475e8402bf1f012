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
from dataclasses import dataclass, field
from datetime import datetime, timezone
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import pygit2

from gitexp import artifacts, names, store
from gitexp import metrics as M
from gitexp.config import Config
from gitexp.environment import EnvironmentProbe, describe
from gitexp.errors import ExperimentNameError, GitexpError, StoreError, WorkspaceError
from gitexp.executors import Executor, Job, OutputSink, get_executor
from gitexp.lease import Heartbeat, lease_until
from gitexp.paramfiles import merge
from gitexp.record import RunRecord, commit_message
from gitexp.recording import OUTPUT_LOG, Partial, commit_record, finishing, guarded, record_crash
from gitexp.repo import Repo
from gitexp.snapshot import (
    META_DIR,
    Manifest,
    snapshot_workdir,
    tree_from_dir,
    tree_with_files,
    without_meta,
)
from gitexp.store import METRICS_JSON
from gitexp.workspace import (
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
    except BaseException:
        shutil.rmtree(run_dir, ignore_errors=True)
        raise
    record = prepared.record.replace(name=name)
    beat = Heartbeat(repo, record, prepared.tree, prepared.baseline, reserved).start()
    run = _Reserved(record, run_dir, beat, Partial(record))
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


@dataclass(frozen=True)
class _Reserved:
    """A run whose ref exists: its starting record, run dir, heartbeat (which knows
    the commit the ref points at) and what recording has gathered so far."""

    record: RunRecord
    run_dir: Path
    heartbeat: Heartbeat
    partial: Partial


def _run_reserved(
    repo: Repo,
    config: Config,
    request: RunRequest,
    executor: Executor,
    listeners: list[Callable[[str, str], None]] | None,
    prepared: Prepared,
    run: _Reserved,
) -> tuple[RunResult, Exception | None]:
    probe = EnvironmentProbe(repo.state_dir / "env-freeze.json")
    manifest = _populate(repo, prepared, run.run_dir)
    job = _job(run.record, prepared, run.run_dir)
    sink = OutputSink(config.log_max_bytes, echo=request.echo, listeners=listeners)
    record, exec_info, error = _execute_recorded(executor, job, sink, run.record)
    run.partial.record = record
    with finishing(record.name):
        result = _record(repo, config, prepared, run, record, exec_info, sink, manifest, probe)
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


def _record(
    repo: Repo,
    config: Config,
    prepared: Prepared,
    run: _Reserved,
    record: RunRecord,
    exec_info: dict[str, Any],
    sink: OutputSink,
    manifest: Manifest,
    probe: EnvironmentProbe,
) -> RunResult:
    """Collect metrics, store artifacts, commit the run dir and move the ref."""
    partial, run_dir = run.partial, run.run_dir
    partial.files[OUTPUT_LOG] = sink.log_bytes()
    output = partial.files[OUTPUT_LOG].decode("utf-8", "replace")
    succeeded = record.status == "succeeded"
    collected, warnings = guarded(
        partial,
        "reading metrics",
        lambda: M.collect(run_dir, config.metrics_files, output, config.output_patterns, succeeded),
        (M.Collected(), []),
    )
    partial.files.update(_metric_files(collected))
    env_files = _env_files(exec_info)
    record = guarded(
        partial,
        "reading logged params",
        lambda: _finish(record, run_dir, exec_info),
        record.replace(ended=_now(), extra={**record.extra, **exec_info}),
    )
    keep = _keeper(repo, config, manifest, prepared.links)
    stored = guarded(
        partial,
        "storing artifacts",
        lambda: artifacts.store_outputs(repo.root, config, run_dir, record.cwd, manifest, keep),
        artifacts.Stored(),
    )
    record = stored.apply(record)
    partial.record = record
    partial.files.update({**probe.files(), **env_files})
    warnings = [*warnings, *stored.warnings, *_no_metrics_hint(record, collected, config)]

    def build(fresh: bool) -> tuple[pygit2.Oid, str]:
        files = {**partial.files, **stored.pointers}
        known = {} if fresh else manifest
        try:
            tree = tree_from_dir(repo, run_dir, known, stored.keep(keep), files)
        except OSError as exc:  # the run dir cannot be read back: keep the record at least
            partial.note("committing the run directory", exc)
            tree = tree_with_files(repo, prepared.tree, files)
        tree = store.with_meta_file(repo, tree, "run.json", partial.run_json(record))
        return tree, commit_message(record, collected.nested())

    reserved = run.heartbeat.stop()
    commit = commit_record(repo, record.name, reserved, prepared.baseline, prepared.tree, build)
    metrics = collected.nested()
    return RunResult(
        record.name, str(commit), record.status, record.exit_code, metrics, record, warnings
    )


def _metric_files(collected: M.Collected) -> dict[str, bytes]:
    import json

    files = {METRICS_JSON: (json.dumps(collected.nested(), indent=2) + "\n").encode()}
    files.update(M.history_files(collected.history))
    return files


def _no_metrics_hint(record: RunRecord, collected: M.Collected, config: Config) -> list[str]:
    """A succeeded run that recorded no metric says, once, how to capture them."""
    if record.status != "succeeded" or collected.final:
        return []
    sources = [
        "call gitexp.log_metric() in the script",
        "list the files it writes under `metrics:` in gitexp.yaml",
    ]
    if not config.output_patterns:
        sources.append("set `metrics_from_output: true` to read printed `name: value` lines")
    return ["no metrics were recorded; to capture them, " + ", or ".join(sources)]


def _record_crash(repo: Repo, prepared: Prepared, run: _Reserved, exc: BaseException) -> None:
    """gitexp itself failed (or was interrupted) mid-run: never leave the ref `running`."""
    interrupted = isinstance(exc, KeyboardInterrupt)
    error = "interrupted by Ctrl-C" if interrupted else f"{type(exc).__name__}: {exc}"
    if isinstance(exc, GitexpError):
        error = str(exc)
    status = "interrupted" if interrupted else "failed"
    reserved = run.heartbeat.stop()
    record_crash(
        repo,
        run.record.name,
        reserved,
        prepared.tree,
        prepared.baseline,
        run.partial,
        status,
        error,
    )


def prepare(repo: Repo, config: Config, request: RunRequest, executor: Executor) -> Prepared:
    """Everything that can fail because of user input, before any write."""
    if request.name is not None:
        names.validate(request.name)
        store.check_free(repo, request.name)
    baseline = repo.git[request.baseline].id if request.baseline else repo.head_commit().id
    cwd = request.cwd if request.cwd is not None else repo.relative_cwd()
    links = check_links(repo, config)
    base_tree = (
        without_meta(repo, repo.git[request.tree].peel(pygit2.Tree).id)
        if request.tree
        else snapshot_workdir(repo, exclude=links)
    )
    params = resolve_params(repo, base_tree, config, list(request.overrides))
    argv, via_shell = resolve_command(request.command, config, params.merged)
    tree = apply_params(repo, base_tree, params)
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
        record = prepared.record.replace(
            name=name, extra={**prepared.record.extra, "lease_until": lease_until()}
        )
        tree = store.with_meta_file(repo, prepared.tree, "run.json", record.to_json())
        commit = store.write_commit(repo, tree, prepared.baseline, commit_message(record, {}))
        if store.reserve(repo, name, commit):
            return name, commit
    if auto:
        raise StoreError(f"could not find a free experiment name in {NAME_ATTEMPTS} tries")
    raise ExperimentNameError(f"experiment name {prepared.record.name!r} is taken")


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


def _env_files(exec_info: dict[str, Any]) -> dict[str, bytes]:
    """Files an executor hands back for .gitexp/env/: docker gives the Dockerfile it
    built and the image's package list (which replaces the host's)."""
    files = {"dockerfile": "Dockerfile", "requirements": "requirements.txt"}
    texts = {name: exec_info.pop(key, None) for key, name in files.items()}
    return {f"{META_DIR}/env/{name}": str(text).encode() for name, text in texts.items() if text}


def _finish(record: RunRecord, run_dir: Path, exec_info: dict[str, Any]) -> RunRecord:
    logged = M.read_logged_params(run_dir)
    params = merge({"run": record.params, "logged": logged}) if logged else record.params
    extra = {**record.extra, **exec_info}
    if logged:
        extra["logged_params"] = logged
    return record.replace(ended=_now(), params=params, extra=extra)


def _keeper(
    repo: Repo, config: Config, manifest: dict[str, Any], links: dict[str, Path]
) -> Callable[[str], bool]:
    """Which run-dir files the commit keeps: snapshot files, outputs, metrics files
    (even when .gitignore excludes them) and new files that are not ignored."""
    link_paths = tuple(links)
    metrics_files = {os.path.normpath(f) for f in config.metrics_files}

    def keep(rel: str) -> bool:
        if rel == META_DIR or rel.startswith(META_DIR + "/"):
            return False
        if any(rel == p or rel.startswith(p + "/") for p in link_paths):
            return False
        if rel in manifest or rel in metrics_files:
            return True
        if any(fnmatch(rel, pat) for pat in config.outputs):
            return True
        return not repo.git.path_is_ignored(rel)

    return keep


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
