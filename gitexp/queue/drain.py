"""`gitexp queue run`: the queued runs, up to ``jobs`` at once, until none is left.

This process (the driver) takes each entry over (``RunRequest.claim``: the
ref moves from `queued` to `running` by compare-and-swap, so two queue
runners never run one entry), runs it from a worker thread as a sweep runs
its trials, and records it; executors (local, docker, ray) only execute.
Entries are taken oldest first, and ones queued meanwhile are picked up.

- A run that fails (its command, its lost Ray worker) is recorded `failed`
  with the reason, and the queue goes on.
- An entry that cannot start (its command is gone from PATH, gitexp.yaml
  changed) is reported and stays queued; this pass skips it.
- Ctrl-C (or SIGTERM): the first stops the running runs (recorded
  `interrupted`) and starts no new one, so what was not started stays
  queued; a second aborts at once.

Each entry's executor flags (`queue add --gpus 1`) win over those of
`queue run`, which win over gitexp.yaml.

A queue shared through a remote (pushed, pulled) is claimed entry by entry
ON that remote before anything runs, and each run is published back over
its claim when recorded (gitexp/queue/shared.py, docs/distributed.md).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace

from gitexp.common.errors import ExperimentNameError, GitexpError
from gitexp.config.cluster import Options, with_options
from gitexp.config.settings import Config
from gitexp.events import bus_for
from gitexp.events.bus import EventBus
from gitexp.gitstore import store
from gitexp.gitstore.repo import Repo
from gitexp.queue.entries import Entry, queued
from gitexp.queue.shared import Claim, NotOurs, SharedQueue
from gitexp.running.control import RunControl
from gitexp.running.runner import RunResult, run_experiment
from gitexp.running.signals import graceful_then_abort

POLL_S = 0.25
INTERRUPTED = "the queue was interrupted (Ctrl-C)"


@dataclass(frozen=True)
class Done:
    """How one entry ended in this pass: ``ran`` (recorded, ``result``), ``error``
    (recorded failed by an executor error), ``queued`` (could not start, still
    queued) or ``taken`` (another queue runner was first)."""

    entry: Entry
    how: str
    result: RunResult | None = None
    error: str = ""
    note: str = ""  # what happened on the remote it was claimed on


@dataclass
class Drained:
    done: list[Done] = field(default_factory=list)
    left: int = 0  # entries still queued
    interrupted: bool = False


@dataclass
class _Driver:
    repo: Repo
    config: Config
    options: Options
    jobs: int
    note: Callable[[str], None]
    echo: bool
    bus: EventBus
    wanted: set[str] | None = None
    shared: SharedQueue | None = None
    running: dict[str, RunControl] = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)
    results: queue.Queue[Done] = field(default_factory=queue.Queue)
    drained: Drained = field(default_factory=Drained)

    def loop(self) -> None:
        while True:
            while not self.drained.interrupted and len(self.running) < self.jobs:
                entry = self._next()
                if entry is None:
                    break
                self._start(entry)
            if not self.running:
                return
            try:
                done = self.results.get(timeout=POLL_S)
            except queue.Empty:
                continue
            self.running.pop(done.entry.name, None)
            self.drained.done.append(done)
            self.note(describe(done))

    def _next(self) -> Entry | None:
        for entry in queued(self.repo):
            if entry.name in self.seen:
                continue
            if self.wanted is None or entry.name in self.wanted:
                return entry
        return None

    def _start(self, entry: Entry) -> None:
        self.seen.add(entry.name)
        control = RunControl()
        self.running[entry.name] = control
        thread = threading.Thread(
            target=lambda: self.results.put(self._run(entry, control)),
            name=f"gitexp-queue-{entry.name}",
            daemon=True,
        )
        thread.start()

    def _run(self, entry: Entry, control: RunControl) -> Done:
        """One entry, never raising: the driver gets a Done. An entry the remote has
        is claimed there first, and its run published there after (queue/shared.py)."""
        try:
            claim = self.shared.claim(entry.name, entry.commit) if self.shared else None
        except NotOurs as exc:
            return Done(entry, exc.how, error=str(exc))
        except GitexpError as exc:
            return Done(entry, "queued", error=str(exc))
        done = self._execute(entry, control, claim)
        return done if claim is None else self._settle(done, claim)

    def _execute(self, entry: Entry, control: RunControl, claim: Claim | None) -> Done:
        start = claim.commit if claim is not None else entry.commit
        try:
            merged = Options(**{**self.options.given(), **entry.options.given()})
            config = with_options(self.config, merged)
            claimed = claim.recorded() if claim is not None else None
            request = entry.request(start, claimed, control=control, echo=self.echo)
            result = run_experiment(self.repo, config, request, bus=self.bus)
        except ExperimentNameError as exc:  # the compare-and-swap lost: not ours
            return Done(entry, self._unless_started(entry, start, "taken"), error=str(exc))
        except GitexpError as exc:
            return Done(entry, self._unless_started(entry, start, "error"), error=str(exc))
        except Exception as exc:
            how = self._unless_started(entry, start, "error")
            return Done(entry, how, error=f"{type(exc).__name__}: {exc}")
        return Done(entry, "ran", result)

    def _unless_started(self, entry: Entry, start: str, how: str) -> str:
        """``queued`` while the entry's ref still points where its run would start."""
        repo = self.repo.reopen()
        return "queued" if store.ref_targets(repo).get(entry.name) == start else how

    def _settle(self, done: Done, claim: Claim) -> Done:
        """A claimed entry that did not start is given back; one that ran is published."""
        assert self.shared is not None
        try:
            if done.how == "queued":
                self.shared.release(claim)
                return done
        except GitexpError as exc:
            return replace(done, note=f"its claim on {claim.remote} stays: {exc}")
        problem = self.shared.publish(claim)
        if problem is None:
            return replace(done, note=f"published to {claim.remote}")
        hint = f"`gitexp push {claim.remote} {claim.name}` sends it"
        return replace(done, note=f"not on {claim.remote} yet ({problem}); {hint}")

    def interrupt(self) -> None:
        self.drained.interrupted = True
        for control in list(self.running.values()):
            control.stop("interrupted", INTERRUPTED)


def drain(
    repo: Repo,
    config: Config,
    options: Options,
    jobs: int = 1,
    names: list[str] | None = None,
    note: Callable[[str], None] = lambda text: None,
    remote: str | None = None,
) -> Drained:
    """Run the queue (or the entries ``names``) to its end; see the module doc.
    ``remote``: where the queue is shared (queue/shared.py); None: nowhere."""
    with_options(config, options)  # a wrong flag is refused before anything starts
    driver = _Driver(
        repo, config, options, max(1, jobs), note, echo=jobs == 1, bus=bus_for(config, repo.root)
    )
    if names is not None:
        driver.wanted = {store.resolve(repo, n)[0] for n in names}
    if remote is not None:
        wanted = driver.wanted
        asked = [e.name for e in queued(repo) if wanted is None or e.name in wanted]
        driver.shared = SharedQueue.open(repo, remote, asked)
    with _signals(driver):
        driver.loop()
    driver.drained.left = len(queued(repo))
    return driver.drained


def describe(done: Done) -> str:
    """One line per entry: how it ended."""
    from gitexp.common.errors import describe_exit

    name = done.entry.name
    after = f"; {done.note}" if done.note else ""
    if done.result is not None:
        return f"{name} {describe_exit(done.result.exit_code, done.result.status)}{after}"
    if done.how == "error":
        return f"{name} failed: {done.error}{after}"
    if done.how == "taken":
        return (
            done.error
            if done.error.startswith(name)
            else f"{name} was taken by another queue runner"
        )
    return f"{name} not started (still queued): {done.error}{after}"


def _signals(driver: _Driver) -> AbstractContextManager[None]:
    """Ctrl-C and SIGTERM: stop gracefully, then abort (main thread only)."""

    def first() -> None:
        driver.interrupt()
        driver.note(
            f"stopping: {len(driver.running)} running run(s) are being recorded as "
            "interrupted; the rest stay queued; press Ctrl-C again to abort"
        )

    return graceful_then_abort(first)
