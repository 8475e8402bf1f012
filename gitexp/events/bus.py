"""An in-process event bus: the runner publishes, listeners it never knows subscribe.

Events and their payloads (plain dicts of JSON-able values; every payload has
``name``, the experiment name, and ``ref``):

- ``run_reserved``: the ref exists. ``commit`` (the running commit),
  ``baseline``, ``params``, ``seed``, ``command``, ``executor``, ``host``,
  ``pid``.
- ``run_started``: the command starts. ``executor``.
- ``metric_logged``: the script logged a metric (read live while it runs;
  throttled to at most one event per metric per ``THROTTLE_S``, and the
  last point of every metric is always published). ``metric``, ``step``,
  ``value``, ``time``.
- ``run_finished``: the command ended and its metrics were read.
  ``status``, ``exit_code``, ``duration_s``, ``metrics`` (nested),
  ``host``.
- ``run_recorded``: the final commit is in place. ``commit``, ``status``.

A sweep (gitexp/sweeps) publishes on the same bus, besides the run events
of each trial. Its own events have ``name`` = the sweep, ``ref`` =
``refs/experiments/<sweep>/`` and ``sweep``, except ``trial_finished``,
whose ``name``/``ref`` are the trial's experiment:

- ``sweep_started``: ``storage`` (journal path or RDB URL), ``resumed``,
  ``sampler``, ``pruner``, ``objectives`` (``METRIC:min|max``), ``space``
  (param → SPACE text), ``trials`` (this invocation's budget, None without
  one), ``timeout``, ``jobs``, ``seed``, ``previous_trials``, ``best`` (of
  the trials before this invocation: ``trial_name``, ``values``, ``front``;
  None and [] for a new sweep).
- ``trial_finished``: a trial's verdict, told to Optuna. ``trial`` (the
  number), ``status`` (succeeded, failed, pruned, interrupted), ``values``
  (the objectives, None unless succeeded), ``params`` (sampled), ``reason``,
  ``commit``, ``duration_s``.
- ``sweep_new_best``: a trial better than every earlier one of the sweep,
  earlier invocations included (one objective), or a new member of the
  Pareto front. ``trial``, ``trial_name``, ``values``, ``objectives``,
  ``params``, ``front`` (the front's trial names; [] with one objective).
- ``sweep_finished``: ``ended`` (completed, exhausted: the grid is covered,
  timeout, interrupted, failed, aborted: a second Ctrl-C), ``succeeded``,
  ``failed``, ``pruned``, ``interrupted``, ``best``, ``best_values``,
  ``front``, ``duration_s``.

The model registry (gitexp/registry) publishes one event per tag it adds,
from the process of the `gitexp model` command (or of the `gitexp run`
whose MLflow script asked for it, after the run is recorded). ``name`` and ``ref`` are
the experiment the version was registered from (None for a commit that is
no experiment, such as one GTO tagged), and every payload has ``model``,
``version``, ``tag`` (the git tag made) and ``commit``:

- ``model_registered``: ``path`` (the model file or folder in the
  commit), ``storage`` (``dvc`` or ``git``), ``checksum`` (the DVC md5, or
  the git blob/tree id), ``metrics`` (the experiment's key metrics).
- ``model_promoted``: ``stage``, ``previous`` (the version that held the
  stage before, None if none).
- ``model_demoted``: ``stage`` (one event per version the stage is taken
  from).
- ``model_deprecated``: a version deprecated, or the whole model
  (``version`` None).

`gitexp push` publishes one event per experiment it sent (transferred or
forced; not those the remote had already):

- ``experiment_pushed``: ``commit``, ``remote`` (as given, with any
  ``user:password@`` taken out of a URL), ``forced`` (it replaced a
  differing experiment there).

Contract: ``publish`` calls each subscriber in the publisher's thread, in
subscription order, with its own deep copy of the payload, so a listener
can neither change the run nor another listener's view of it. A
subscriber that raises is reported once per (subscriber, event) through
``on_error`` and never stops the publisher. Subscribing and publishing are
thread-safe; several runs may share one bus.
"""

from __future__ import annotations

import copy
import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

Payload = dict[str, Any]
Listener = Callable[[str, Payload], None]
EVENTS = (
    "run_reserved", "run_started", "metric_logged", "run_finished", "run_recorded",
    "sweep_started", "trial_finished", "sweep_new_best", "sweep_finished",
    "model_registered", "model_promoted", "model_demoted", "model_deprecated",
    "experiment_pushed",
)  # fmt: skip
THROTTLE_S = 0.5


@dataclass
class _Subscription:
    listener: Listener
    events: frozenset[str] | None
    label: str


def _warn(label: str, event: str, exc: BaseException) -> None:
    log.warning("gitexp: warning: %s failed on %s: %s: %s", label, event, type(exc).__name__, exc)


@dataclass
class EventBus:
    """Publish/subscribe within one process (see the module doc for the contract)."""

    on_error: Callable[[str, str, BaseException], None] = _warn
    _subs: list[_Subscription] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _reported: set[tuple[str, str]] = field(default_factory=set)

    def subscribe(
        self, listener: Listener, events: Iterable[str] | None = None, label: str | None = None
    ) -> Callable[[], None]:
        """Call ``listener(event, payload)`` for ``events`` (all when None); returns
        a function that unsubscribes it."""
        name = label or str(getattr(listener, "__qualname__", None) or repr(listener))
        sub = _Subscription(listener, frozenset(events) if events is not None else None, name)
        with self._lock:
            self._subs.append(sub)

        def unsubscribe() -> None:
            with self._lock:
                if sub in self._subs:
                    self._subs.remove(sub)

        return unsubscribe

    def wants(self, event: str) -> bool:
        """Whether anyone listens to ``event`` (costly payloads are built only then)."""
        with self._lock:
            return any(s.events is None or event in s.events for s in self._subs)

    def publish(self, event: str, payload: Payload) -> None:
        with self._lock:
            subs = [s for s in self._subs if s.events is None or event in s.events]
        for sub in subs:
            try:
                sub.listener(event, copy.deepcopy(payload))
            except Exception as exc:  # a listener never breaks the run
                self._report(sub.label, event, exc)

    def _report(self, label: str, event: str, exc: BaseException) -> None:
        key = (label, event)
        with self._lock:
            if key in self._reported:
                return
            self._reported.add(key)
        try:
            self.on_error(label, event, exc)
        except Exception:  # the reporter itself failed: nothing more to do
            log.debug("error reporter failed", exc_info=True)
