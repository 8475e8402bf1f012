"""Starting or resuming a sweep: everything checked, then the driver runs it.

Order matters: every user mistake (the spec, a name taken, a param the
params files lack, a command not found) is refused before the study or the
manifest is written, so a refused sweep leaves nothing behind.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

from gitexp.common.errors import UsageError
from gitexp.config.settings import Config
from gitexp.events.bus import EventBus, Listener
from gitexp.gitstore import names, store
from gitexp.gitstore.repo import Repo
from gitexp.running import origin
from gitexp.sweeps import spec as specs
from gitexp.sweeps import storage, sweepfile
from gitexp.sweeps import study as studies
from gitexp.sweeps.best import Best
from gitexp.sweeps.driver import Budget, Driver, Tally
from gitexp.sweeps.spec import Options, SweepSpec
from gitexp.sweeps.trial import Setup

RESUME_KEEPS = ("trials", "timeout", "jobs")


@dataclass(frozen=True)
class SweepSummary:
    name: str
    storage: str
    ended: str  # completed, exhausted (grid), timeout, interrupted, failed
    tally: Tally
    best: Best
    objectives: tuple[specs.Objective, ...]
    duration_s: float


def start(
    repo: Repo,
    config: Config,
    options: Options,
    resume: bool = False,
    listeners: Iterable[tuple[Listener, tuple[str, ...]]] = (),
    note: Callable[[str], None] = lambda text: None,
) -> SweepSummary:
    """Run a new sweep, or continue one (``resume``), to the end of its budget."""
    if resume:
        spec, tree = _resume_spec(repo, config, options)
    else:
        spec, tree = _new_spec(repo, config, options), None
    sweep = storage.home(repo, spec.name)
    with storage.driving(sweep):
        if not resume:
            _check_new(repo, sweep, spec)
        tree = _tree(repo, config, tree, note)
        with _origin(repo, spec) as start_from:
            _preflight(repo, config, spec, tree, start_from)
            setup = Setup(repo, config, spec, tree, _bus(config, repo, listeners), start_from)
            return _drive(setup, sweep, resume, options, note)


def _new_spec(repo: Repo, config: Config, options: Options) -> SweepSpec:
    spec = sweepfile.build(options, config.sections, repo.root, names.generate())
    if spec.origin:  # --from: its full name now (an unknown one is refused before any write)
        spec = replace(spec, origin=store.resolve(repo, spec.origin)[0])
    return spec


def _resume_spec(repo: Repo, config: Config, options: Options) -> tuple[SweepSpec, str | None]:
    """The saved sweep; only the budget and -j may change on --resume."""
    changed = [
        label
        for label, given in (
            ("-p", options.params), ("--objective", options.objectives),
            ("--sampler", options.sampler), ("--pruner", options.pruner),
            ("--seed", options.seed is not None), ("a command", options.command),
            ("--from", options.origin),
        )
        if given
    ]  # fmt: skip
    if changed:
        raise UsageError(
            f"--resume continues the sweep as it was defined; {', '.join(changed)} cannot change",
            "only --trials, --timeout and -j may be given; start a new sweep for a new search",
        )
    name = options.name or (_file_name(repo, config, options.source) if options.source else None)
    if not name:
        raise UsageError("--resume needs the sweep's name", "gitexp sweep --resume --name NAME")
    spec, tree = storage.load(storage.home(repo, name))
    jobs = options.jobs if options.jobs is not None else spec.jobs
    return replace(spec, jobs=jobs), tree


def _file_name(repo: Repo, config: Config, source: str) -> str:
    """The name a sweep file (or gitexp.yaml entry) gives, for --resume."""
    raw, _, entry = sweepfile.source(source, config.sections, repo.root)
    return str(raw.get("name") or entry or "")


def _check_new(repo: Repo, sweep: storage.SweepHome, spec: SweepSpec) -> None:
    taken = sweep.exists() or any(
        n.startswith(spec.name + "/") for n in store.ref_targets(repo)
    ) or store.exists(repo, spec.name)  # fmt: skip
    if taken:
        raise UsageError(
            f"sweep name {spec.name!r} is taken",
            f"continue it with `gitexp sweep --resume --name {spec.name}`, or pick another --name",
        )


def _tree(repo: Repo, config: Config, saved: str | None, note: Callable[[str], None]) -> str:
    """The work tree, snapshotted once per sweep; a resumed sweep runs its own again."""
    from gitexp.running.runner import snapshot

    if saved is not None:
        try:
            repo.git[saved]
            return saved
        except (KeyError, ValueError):
            note("the sweep's snapshot is gone from the object store; taking a new one")
    return snapshot(repo, config)


@contextmanager
def _origin(repo: Repo, spec: SweepSpec) -> Iterator[str | None]:
    """--from: the origin read once for every trial, as the spec they run with
    (running/origin.py's ``held``); None without --from."""
    if not spec.origin:
        yield None
        return
    with origin.held(origin.load(repo, spec.origin)) as held:
        yield held


def _preflight(repo: Repo, config: Config, spec: SweepSpec, tree: str, start: str | None) -> None:
    """Prepare one trial without running it: a param the params files lack, or a
    command that is not there, is refused now rather than by every trial."""
    from gitexp.running.executors import get_executor
    from gitexp.running.preflight import check_script
    from gitexp.running.runner import prepare
    from gitexp.sweeps.trial import TrialRun

    sample = {key: _sample(space) for key, space in spec.searched.items()}
    _check_params(repo, config, spec, tree)
    # a sample may break the params schema: each trial is checked (and skipped) on its own
    unchecked = replace(config, params_schema=None)
    setup = Setup(repo, unchecked, spec, tree, EventBus(), start)
    request = setup.request(TrialRun(0, spec.name + "/preflight", None, sample))
    prepared = prepare(
        repo, unchecked, request, get_executor(config.executor, config), check_name=False
    )
    # the trials run this tree: a script on disk that it left out (ignored) fails each one
    check_script(repo, prepared.tree, prepared.argv, prepared.record.cwd, tuple(prepared.links))
    studies.quiet_optuna()
    studies.make_sampler(spec, spec.seed)  # a wrong sampler or pruner option: now
    studies.make_pruner(spec.pruner)


def _check_params(repo: Repo, config: Config, spec: SweepSpec, tree: str) -> None:
    """The params schema loads, and every option a group's choice() names exists."""
    from gitexp.running import compose, schema

    tree_id = repo.git[tree].id
    if config.params_schema:
        schema.load(repo, tree_id, config.params_schema)
    if not config.params_compose or spec.origin:
        return  # (--from: its own recipe; the preflight's sample is checked)
    groups = compose.group_options(repo, tree_id, config.params_compose)
    for key, space in spec.searched.items():
        if space.kind == "choice" and key.lstrip("+") in groups:
            for option in space.choices:
                compose.check_option(groups, key.lstrip("+"), str(option))


def _sample(space: Any) -> Any:
    if space.kind == "choice":
        return space.choices[0]
    return int(space.low) if space.kind == "int" else space.low


def _bus(
    config: Config, repo: Repo, listeners: Iterable[tuple[Listener, tuple[str, ...]]]
) -> EventBus:
    from gitexp.events import bus_for

    bus = bus_for(config, repo.root)
    for listener, events in listeners:
        bus.subscribe(listener, events, label="sweep progress")
    return bus


def _drive(
    setup: Setup,
    sweep: storage.SweepHome,
    resume: bool,
    options: Options,
    note: Callable[[str], None],
) -> SweepSummary:
    spec, bus = setup.spec, setup.bus
    url = storage.location(sweep, spec)
    handle = storage.open_storage(url)
    if not resume and studies.study_exists(spec, handle):
        raise UsageError(f"sweep {spec.name!r} already has a study in {url}", "pick another --name")
    study = _study(spec, handle, resume)
    if not resume:
        storage.save(sweep, spec, setup.tree)
    budget = _budget(spec, study, resume, options)
    driver = Driver(setup, study, budget, note)
    if budget.limit == 0:  # a resumed sweep whose budget (or grid) is used up
        return SweepSummary(
            spec.name, url, "complete", driver.tally, driver.best, spec.objectives, 0
        )
    bus.publish("sweep_started", _started(spec, url, budget, resume, study, driver.best))
    ended = "aborted"
    try:
        ended = driver.run()
    except BaseException:
        ended = "failed" if driver.fatal is not None else "aborted"
        raise
    finally:
        took = round(time.monotonic() - driver.started_at, 3)
        bus.publish("sweep_finished", _finished(spec, ended, driver, took))
    return SweepSummary(spec.name, url, ended, driver.tally, driver.best, spec.objectives, took)


def _study(spec: SweepSpec, handle: Any, resume: bool) -> Any:
    """Create or load the study; a resumed sampler's seed moves on by the trials it has."""
    seed = spec.seed
    if resume:
        study = studies.open_study(spec, handle, None, create=False)
        count = len(study.get_trials(deepcopy=False))
        seed = None if spec.seed is None else (spec.seed + count) % 2**32
        study = studies.open_study(spec, handle, seed, create=False)
        studies.recover(study)
        return study
    return studies.open_study(spec, handle, seed, create=True)


def _budget(spec: SweepSpec, study: Any, resume: bool, options: Options) -> Budget:
    trials = study.get_trials(deepcopy=False)
    count = spec.trials
    if resume:
        given = options.trials
        count = given if given is not None else None if spec.trials is None else max(
            0, spec.trials - studies.counted(trials)
        )  # fmt: skip
    timeout = options.timeout if resume and options.timeout is not None else spec.timeout
    return Budget(count, timeout, studies.grid_left(spec, trials))


def _started(
    spec: SweepSpec, url: str, budget: Budget, resume: bool, study: Any, best: Best
) -> dict[str, Any]:
    return {
        "name": spec.name,
        "ref": f"refs/experiments/{spec.name}/",
        "sweep": spec.name,
        "storage": url,
        "resumed": resume,
        "sampler": spec.sampler.name,
        "pruner": spec.pruner.name,
        "objectives": [o.text for o in spec.objectives],
        "space": {k: s.text for k, s in spec.searched.items()},
        "trials": budget.limit,
        "timeout": budget.timeout,
        "jobs": spec.jobs,
        "seed": spec.seed,
        "previous_trials": len(study.get_trials(deepcopy=False)),
        "best": {"trial_name": best.name, "values": best.values, "front": list(best.front)},
    }


def _finished(spec: SweepSpec, ended: str, driver: Driver, took: float) -> dict[str, Any]:
    tally = driver.tally
    return {
        "name": spec.name,
        "ref": f"refs/experiments/{spec.name}/",
        "sweep": spec.name,
        "ended": ended,
        "succeeded": tally.succeeded,
        "failed": tally.failed,
        "pruned": tally.pruned,
        "interrupted": tally.interrupted,
        "best": driver.best.name,
        "best_values": driver.best.values,
        "front": list(driver.best.front),
        "duration_s": took,
    }
