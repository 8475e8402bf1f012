"""Record a finished run: its .gitexp/ files, the tree of its run dir, the final commit.

Recording must never lose a run. Every stage that can fail on what the
script left behind (reading metrics, storing artifacts in DVC, hashing the
run dir) degrades instead of failing: the error goes into run.json under
``record_errors`` and the commit still holds output.log and whatever
metrics were collected. Objects written here are unreachable until the ref
moves, so a concurrent `git gc --prune=now` can delete them: the ref moves
only to a commit whose new objects exist (checked before and after the
move), and a record that lost objects is written again, up to
``WRITE_ATTEMPTS`` times, re-hashing the files from disk.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import pygit2

from gitexp.common.errors import StoreError
from gitexp.common.layout import (
    ENV_DIR,
    HISTORY_DIR,
    META_DIR,
    METRICS_JSON,
    OUTPUT_LOG,
    RUN_JSON,
    RUN_JSON_NAME,
)
from gitexp.common.paths import is_under, under_any
from gitexp.config.settings import Config
from gitexp.events.bus import EventBus
from gitexp.gitstore import changes as C
from gitexp.gitstore import contents, lfs, store, subtrees
from gitexp.gitstore.attributes import Attributes
from gitexp.gitstore.record import HISTORY_FORMAT, RunRecord, commit_message
from gitexp.gitstore.repo import Repo
from gitexp.gitstore.trees import Manifest, tree_with_files
from gitexp.running import metrics as M
from gitexp.running import notebooks, outputs
from gitexp.running.environment import EnvironmentProbe
from gitexp.running.executors import ExecResult, OutputSink
from gitexp.running.follow import HistoryFollower
from gitexp.running.heartbeat import Heartbeat
from gitexp.running.histwriter import HistoryWriter, WrittenHistory
from gitexp.running.params import merge, unread_overrides
from gitexp.running.signals import ignoring_interrupts

log = logging.getLogger(__name__)
WRITE_ATTEMPTS = 5
HISTORY_NAME = HISTORY_DIR.rsplit("/", 1)[-1]


@dataclass
class Partial:
    """What is known of a run so far, for a record cut short (gitexp crashed, or a
    second Ctrl-C while recording): the latest record and the .gitexp/ files."""

    record: RunRecord
    files: dict[str, bytes] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    #: the metric histories, once written (chunk files on disk until committed)
    history: WrittenHistory | None = None

    def note(self, stage: str, exc: BaseException) -> None:
        """Remember a failed recording stage; it goes into run.json."""
        message = f"{stage}: {type(exc).__name__}: {exc}"
        log.debug("recording failed at %s", stage, exc_info=exc)
        self.errors.append(message)

    def run_json(self, record: RunRecord | None = None) -> bytes:
        chosen = record or self.record
        if self.errors:
            chosen = chosen.replace(extra={**chosen.extra, "record_errors": list(self.errors)})
        return chosen.to_json()


@dataclass
class RunState:
    """A run whose ref exists: where it runs, its heartbeat (which knows the commit the
    ref points at), the snapshot it runs (reachable from the reservation), and what
    recording has gathered so far."""

    run_dir: Path
    heartbeat: Heartbeat
    partial: Partial
    tree: pygit2.Oid
    baseline: pygit2.Oid
    links: dict[str, Path]
    bus: EventBus
    manifest: Manifest = field(default_factory=dict)
    verdict: Callable[[dict[str, Any]], str | None] | None = None
    #: reads the library's metrics into the history while the command runs
    follower: HistoryFollower | None = None

    def publish(self, event: str, **payload: Any) -> None:
        """An event about this run; every payload names the experiment and its ref.

        Recording starts with the run: at ``run_started`` (the run dir is ready,
        the command about to start) it begins following the library's metrics."""
        if event == "run_started" and self.follower is None:
            self.follower = M.following(self.run_dir)
        name = self.partial.record.name
        self.bus.publish(event, {"name": name, "ref": store.ref_name(name), **payload})


def guarded(partial: Partial, stage: str, step: Callable[[], Any], fallback: Any) -> Any:
    """``step()``, or ``fallback`` with the error noted: a stage never sinks the record."""
    try:
        return step()
    except Exception as exc:
        partial.note(stage, exc)
        return fallback


def commit_record(
    repo: Repo,
    name: str,
    expected: pygit2.Oid,
    baseline: pygit2.Oid,
    known_tree: pygit2.Oid,
    build: Callable[[bool], tuple[pygit2.Oid, str]],
) -> pygit2.Oid:
    """Write the record and move the ref from ``expected``; returns the final commit.

    ``build(fresh)`` writes the tree and returns it with the commit message;
    ``fresh`` asks it to re-hash files rather than reuse blob ids (a retry
    after objects vanished).
    """
    problem = ""
    for attempt in range(WRITE_ATTEMPTS):
        try:
            tree, message = build(attempt > 0)
            commit = store.write_commit(repo, tree, baseline, message)
            missing = store.missing_objects(repo, commit, known_tree)
            if not missing:
                store.finalize(repo, name, expected, commit)
                missing = store.missing_objects(repo, commit, known_tree)
                expected = commit
            if not missing:
                return commit
            problem = f"objects vanished while recording ({', '.join(missing[:3])})"
        except (*store.TRANSIENT, StoreError) as exc:  # StoreError: the ref was busy
            problem = " ".join(str(exc).split())
        log.debug("recording %s, attempt %d: %s", name, attempt + 1, problem)
        time.sleep(store.backoff(attempt))
    raise StoreError(f"could not record experiment {name!r}: {problem}", store.GC_HINT)


def record_crash(repo: Repo, run: RunState, status: str, error: str) -> None:
    """The run was cut short: commit what is known (the run's own files are lost,
    its .gitexp/ files kept) so the ref never stays `running`; tell listeners."""
    partial = run.partial
    if run.follower is not None:
        run.follower.stop()
    extra = {**partial.record.extra, "error": error, "history_format": HISTORY_FORMAT}
    record = partial.record.replace(status=status, ended=_now(), extra=extra)
    files = {**partial.files, RUN_JSON: partial.run_json(record)}

    def build(fresh: bool) -> tuple[pygit2.Oid, str]:
        metrics = _metrics(files.get(METRICS_JSON))
        tree = tree_with_files(repo, run.tree, files)
        try:
            tree = with_history(repo, tree, partial.history)
        except OSError:  # the chunk files went with the run dir: the rest is recorded
            log.debug("histories of %s lost", record.name, exc_info=True)
        return tree, commit_message(record, metrics)

    with ignoring_interrupts():
        run.publish("run_finished", **_finished(record, _metrics(files.get(METRICS_JSON))))
        try:
            expected = run.heartbeat.stop()
            commit = commit_record(repo, record.name, expected, run.baseline, run.tree, build)
        except Exception:  # the ref moved already, or the repository is gone
            log.debug("could not record the crash of %s", record.name, exc_info=True)
            return
        finally:
            if run.follower is not None:
                run.follower.writer.close()
        run.publish("run_recorded", commit=str(commit), status=record.status)


@dataclass(frozen=True)
class Recorded:
    """The final commit and what it holds, for the run's result."""

    commit: pygit2.Oid
    record: RunRecord
    metrics: dict[str, Any]
    warnings: list[str]
    #: what the run changed in its dir (files, and the folders there are): a reused
    #: run dir repairs only these for the next run
    touched: tuple[list[str], list[str]] = ([], [])


def record_run(
    repo: Repo,
    config: Config,
    run: RunState,
    result: ExecResult,
    sink: OutputSink,
    probe: EnvironmentProbe,
) -> Recorded:
    """Collect metrics, store artifacts, commit the run dir and move the ref."""
    partial, run_dir, record = run.partial, run.run_dir, run.partial.record
    partial.files[OUTPUT_LOG] = sink.log_bytes()
    output = partial.files[OUTPUT_LOG].decode("utf-8", "replace")
    succeeded = record.status == "succeeded"
    collected, warnings = guarded(
        partial,
        "reading metrics",
        lambda: M.collect(
            run_dir, config.metrics_files, output, config.output_patterns, succeeded, run.follower
        ),
        (M.Collected(HistoryWriter(run_dir / META_DIR)), []),
    )
    done = _record_collected(repo, config, run, result, probe, collected, warnings)
    collected.history.close()  # committed; on an error the chunks stay for record_crash
    return done


def _record_collected(
    repo: Repo,
    config: Config,
    run: RunState,
    result: ExecResult,
    probe: EnvironmentProbe,
    collected: M.Collected,
    warnings: list[str],
) -> Recorded:
    partial, run_dir, record, manifest = run.partial, run.run_dir, run.partial.record, run.manifest
    exec_info = {**notebooks.cell_error(run_dir, record), **result.info}  # the executor's wins
    partial.files.update(_metric_files(collected))
    partial.history = guarded(partial, "writing metric histories", collected.history.finish, None)
    record = record.replace(extra={**record.extra, "history_format": HISTORY_FORMAT})
    record = _judged(run, record, collected.nested())
    partial.record = record
    run.publish("run_finished", **_finished(record, collected.nested()))
    env_files = _env_files(result.env_files)
    record = guarded(
        partial,
        "reading logged params",
        lambda: _finish(record, run_dir, exec_info),
        record.replace(ended=_now(), extra={**record.extra, **exec_info}),
    )
    keep = _keeper(repo, config, manifest, run.links)
    found = C.scan(run_dir)  # one stat per entry: only what the run changed is read
    foreign = contents.foreign(repo, run.tree)  # submodules: their commit is the record
    delta = C.changes(manifest, found)
    stored = guarded(
        partial,
        "storing artifacts",
        lambda: outputs.store_outputs(
            repo.root,
            config,
            run_dir,
            record.cwd,
            manifest,
            keep,
            delta.changed,
            _in_lfs(repo, run_dir),
        ),
        outputs.Stored(),
    )
    stored = stored.plus_pushed(result.artifacts)  # pushed from a Ray worker: records only
    record = stored.apply(record)
    partial.record = record
    partial.files.update({**probe.files(), **env_files})
    warnings = [*warnings, *stored.warnings, *M.no_metrics_hint(record.status, collected, config)]
    warnings += unread_overrides(record, run_dir)  # -p passed through, never read

    def build(fresh: bool) -> tuple[pygit2.Oid, str]:
        files = {**partial.files, **stored.pointers}
        base, changed = (None, C.Changes(sorted(found.files), [])) if fresh else (run.tree, delta)
        tree = C.tree_from_changes(
            repo, base, run_dir, changed, stored.keep(keep), files, stored.replaced, foreign
        )
        tree = with_history(repo, tree, partial.history)
        tree = store.with_meta_file(repo, tree, RUN_JSON_NAME, partial.run_json(record))
        return tree, commit_message(record, collected.nested())

    reserved = run.heartbeat.stop()
    commit = commit_record(repo, record.name, reserved, run.baseline, run.tree, build)
    run.publish("run_recorded", commit=str(commit), status=record.status)
    touched = ([*delta.changed, *delta.deleted], found.dirs)
    return Recorded(commit, record, collected.nested(), warnings, touched)


def _in_lfs(repo: Repo, run_dir: Path) -> Callable[[str], bool]:
    """Whether Git LFS tracks a path of the run dir (its .gitattributes read once)."""
    attrs: list[Attributes] = []

    def check(rel: str) -> bool:
        if not attrs:
            attrs.append(lfs.disk_attributes(repo, run_dir))
        return attrs[0].value(rel) == "lfs"

    return check


def _judged(run: RunState, record: RunRecord, metrics: dict[str, Any]) -> RunRecord:
    """The driver's verdict on a run that succeeded (RunRequest.verdict)."""
    verdict = run.verdict
    if verdict is None or record.status != "succeeded":
        return record
    reason = guarded(run.partial, "judging the run", lambda: verdict(metrics), None)
    if not reason:
        return record
    return record.replace(status="failed", extra={**record.extra, "error": str(reason)})


def _finished(record: RunRecord, metrics: dict[str, Any]) -> dict[str, Any]:
    return {
        "status": record.status,
        "exit_code": record.exit_code,
        "duration_s": record.duration_s,
        "metrics": metrics,
        "host": record.host,
    }


def _metric_files(collected: M.Collected) -> dict[str, bytes]:
    return {METRICS_JSON: (json.dumps(collected.nested(), indent=2) + "\n").encode()}


def with_history(repo: Repo, tree: pygit2.Oid, history: WrittenHistory | None) -> pygit2.Oid:
    """``tree`` with ``.gitexp/history/`` holding the written histories (if any)."""
    found = history or WrittenHistory({}, {})
    return subtrees.with_meta_folder(repo, tree, HISTORY_NAME, found.files, found.disk)


def _env_files(files: dict[str, bytes]) -> dict[str, bytes]:
    """Files an executor hands back for .gitexp/env/ (docker: the Dockerfile it built
    and the image's package list, which replaces the host's)."""
    return {f"{ENV_DIR}/{name}": data for name, data in files.items() if "/" not in name}


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
        if is_under(rel, META_DIR) or under_any(rel, link_paths):
            return False
        if rel in manifest or rel in metrics_files:
            return True
        if any(fnmatch(rel, pat) for pat in config.outputs):
            return True
        return not repo.git.path_is_ignored(rel)

    return keep


def _metrics(data: bytes | None) -> dict[str, Any]:
    try:
        value = json.loads(data) if data else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _now() -> str:
    from datetime import datetime, timezone

    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")
