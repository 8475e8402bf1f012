"""Queued runs: experiments recorded before they run, as refs with status `queued`.

`gitexp queue add` prepares a run exactly as `gitexp run` would (snapshot,
params, command, seed: a mistake is refused now, not when the queue runs)
and records it as ``refs/experiments/NAME``: a commit of the snapshot whose
run.json says `queued`, with the params it will run with and, under
``queue``, what starting it needs (the command as given, the overrides, the
seed, the folder, the executor flags, when it was queued). The ref is the
queue: it survives a restart, `gitexp show` lists it as `queued`, `git push`
carries it, and `gitexp queue run` takes it over by compare-and-swap
(``RunRequest.claim``), so two queue runners never run one entry twice.

The snapshot is the code that will run; gitexp.yaml as it is when the queue
runs decides the rest (metrics files, outputs, callbacks). A ``--from NAME``
is resolved now: NAME's params are pinned in the commit (running/origin.py,
``.gitexp/from/``), so what NAME becomes before the entry runs changes nothing.
"""

from __future__ import annotations

import dataclasses
import signal
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from gitexp.common.errors import StoreError, UsageError
from gitexp.common.layout import RUN_JSON, RUN_JSON_NAME
from gitexp.config.cluster import Options, with_options
from gitexp.config.settings import Config
from gitexp.gitstore import names, store
from gitexp.gitstore.record import commit_message
from gitexp.gitstore.repo import Repo
from gitexp.gitstore.trees import read_json, tree_with_files
from gitexp.running import origin
from gitexp.running.executors.base import ExecResult, Executor, Job, OutputSink
from gitexp.running.runner import Prepared, RunRequest, prepare, snapshot

QUEUED = "queued"
ENTRY = "queue_entry"  # run.json of a run from the queue: the entry's queued commit
NAME_ATTEMPTS = 20


@dataclass(frozen=True)
class Entry:
    """One queued run, as its ref holds it."""

    name: str
    commit: str
    queued_at: str
    baseline: str
    spec: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    command: list[str] = field(default_factory=list)

    @property
    def options(self) -> Options:
        known = {f.name for f in dataclasses.fields(Options)}
        given = self.spec.get("options") or {}
        return Options(**{k: v for k, v in given.items() if k in known})

    def request(
        self, claim: str | None = None, claimed: dict[str, Any] | None = None, **more: Any
    ) -> RunRequest:
        """The run that executes this entry: its ref moves from ``claim`` (the queued
        commit, or the claim commit that replaced it, gitexp/queue/shared.py, whose
        ``claimed`` the record keeps); the entry's tree is the snapshot (run.json is
        left out of a given tree)."""
        spec = self.spec
        # queue_entry: the queued commit, which `gitexp queue retry` puts back
        extra = {**(spec.get("extra") or {}), "queued_at": self.queued_at, ENTRY: self.commit}
        if claimed is not None:
            extra["claimed"] = claimed
        return RunRequest(
            command=spec.get("command"),
            overrides=tuple(spec.get("overrides") or ()),
            values=dict(spec.get("values") or {}),
            name=self.name,
            seed=spec.get("seed"),
            tree=self.commit,
            baseline=self.baseline,
            cwd=spec.get("cwd"),
            claim=claim or self.commit,
            from_experiment=spec.get("from_pin") or spec.get("from"),
            extra=extra,
            **more,
        )


class _Planned(Executor):
    """Stands for the executor a queued run will get (nothing runs at `queue add`)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.checks_host_path = name == "local"

    def execute(self, job: Job, sink: OutputSink) -> ExecResult:
        raise UsageError("a queued run is executed by `gitexp queue run`")

    def stop(self, signum: int = signal.SIGINT) -> None:
        pass


def add(repo: Repo, config: Config, request: RunRequest, options: Options = Options()) -> Entry:
    """Check the run as `gitexp run` would and record it `queued`."""
    checked = with_options(config, options)
    tree = snapshot(repo, checked, request.allow_large)
    found = origin.load(repo, request.from_experiment) if request.from_experiment else None
    pinned = origin.pin(repo, found) if found is not None else None
    request = dataclasses.replace(request, tree=tree, from_experiment=pinned)
    prepared = prepare(repo, checked, request, _Planned(checked.executor))
    queued_at = _now()
    spec = _spec(config, request, prepared, options)
    base = repo.git[tree].id  # the snapshot before the overrides: they apply at run time
    if found is not None:  # --from: its params pinned now, laid over when the entry runs
        spec["from"], spec["from_pin"] = found.name, pinned
        base = tree_with_files(repo, base, origin.pin_files(found))
    name, commit = _record(repo, prepared, base, request.name, spec, queued_at)
    record = prepared.record
    return Entry(name, commit, queued_at, record.baseline, spec, record.params, record.command)


def _spec(
    config: Config, request: RunRequest, prepared: Prepared, options: Options
) -> dict[str, Any]:
    """run.json's ``queue``: what starting the entry needs."""
    return {
        "command": request.command if request.command else _configured(config),
        "overrides": list(request.overrides),
        "values": request.values,
        "seed": prepared.record.seed,
        "cwd": prepared.record.cwd,
        "options": options.given(),
        "extra": dict(request.extra),
    }


def _configured(config: Config) -> list[str] | str | None:
    command = config.command
    return list(command) if isinstance(command, tuple) else command


def _record(
    repo: Repo,
    prepared: Prepared,
    base: Any,
    name: str | None,
    spec: dict[str, Any],
    queued_at: str,
) -> tuple[str, str]:
    """The `queued` commit on its new ref (an automatic name retries on collision)."""
    for _ in range(NAME_ATTEMPTS if name is None else 1):
        chosen = name or names.generate()
        record = prepared.record.replace(
            name=chosen,
            status=QUEUED,
            started=queued_at,
            pid=0,
            executor=str(spec["options"].get("executor") or prepared.record.executor),
            extra={**prepared.record.extra, "queue": {**spec, "queued_at": queued_at}},
        )
        tree = store.with_meta_file(repo, base, RUN_JSON_NAME, record.to_json())
        commit = store.write_commit(repo, tree, prepared.baseline, commit_message(record, {}))
        if store.reserve(repo, chosen, commit):
            return chosen, str(commit)
    raise StoreError(f"experiment name {name!r} is taken" if name else "no free experiment name")


def queued(repo: Repo) -> list[Entry]:
    """Every queued run, oldest first (the order `queue run` takes them in)."""
    from gitexp.exploring.summaries import list_summaries

    found = []
    for summary in list_summaries(repo):
        if summary.status == QUEUED:
            found.append(_entry(repo, summary.name, summary.commit))
    return sorted(found, key=lambda e: (e.queued_at, e.name))


def _entry(repo: Repo, name: str, commit: str) -> Entry:
    """The entry as its queued commit holds it (the ref may have moved on since)."""
    run = read_json(repo, repo.git.revparse_single(commit + "^{tree}").id, RUN_JSON)
    queue = run.get("queue")
    queue = queue if isinstance(queue, dict) else {}
    return Entry(
        name,
        str(commit),
        str(queue.get("queued_at") or run.get("started") or ""),
        str(run.get("baseline") or ""),
        queue,
        run.get("params") or {},
        list(run.get("command") or []),
    )


def remove(repo: Repo, specs: list[str]) -> list[Entry]:
    """Take queued runs off the queue (their refs go); a run that is not queued is refused."""
    entries = []
    for spec in specs:
        name, commit = store.resolve(repo, spec)
        status = store.load(repo, name, commit).run.get("status")
        if status != QUEUED:
            raise UsageError(
                f"{name!r} is not queued (it is {status})",
                "remove experiments with `gitexp remove`",
            )
        entries.append(_entry(repo, name, str(commit)))
    store.remove_refs(repo, {e.name: e.commit for e in entries})
    return entries


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")
