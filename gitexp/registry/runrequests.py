"""Registry requests a run made, carried out once its experiment is recorded.

A running script cannot tag its experiment: the commit does not exist yet.
So a script's registry calls (MLflow's ``register_model``,
``set_registered_model_alias``: gitexp/integrations/mlflow_registry.py) are
appended by the tracking library to ``.gitexp/live/models.jsonl``
(``recorder.request_model_action``), and this listener, on every run's bus
(gitexp/events/__init__.py), does them:

- ``run_started``: it notes the run dir (the running record says where) and
  writes the registry as the script may read it there (runview.py). A
  reproduction (`gitexp reproduce`: ``reproduces`` in its record) checks an
  experiment; its requests are not done.
- ``run_recorded``: the final commit is in place and the ref moved. A run
  that succeeded has its requests done in order, through the registry's own
  ``register`` / ``promote`` / ``demote`` (same tags, same events, same
  checks as `gitexp model`); one that did not has none done, and says so in
  a warning. A request that fails is one warning; the others still go.

Requests, one JSON object a line::

    {"action": "register", "model": "wine", "path": "mlartifacts/models/model",
     "version": "v1.0.0", "description": null}     # version: what the script was told
    {"action": "alias", "model": "wine", "alias": "champion",
     "version": "v1.0.0", "own": true}              # own: the version this run registers
    {"action": "unalias", "model": "wine", "alias": "champion"}

A version is registered with a major bump (MLflow's version N is ``vN.0.0``):
when another registration took the version the script was told, the next
one is registered and a warning says which.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gitexp.common.errors import GitexpError
from gitexp.common.layout import LIVE_DIR
from gitexp.events.bus import EventBus, Payload
from gitexp.gitstore.repo import Repo, open_repo
from gitexp.tracking.recorder import MODELS_FILE

log = logging.getLogger(__name__)
EVENTS = ("run_started", "run_recorded")
Request = dict[str, Any]


def attach(bus: EventBus, root: Path) -> None:
    """Listen to the runs of the repository at ``root`` on ``bus``."""
    bus.subscribe(RunRequests(bus, root), EVENTS, label="model registry requests")


def warn(message: str) -> None:
    log.warning("gitexp: warning: %s", message)


class RunRequests:
    """The bus listener: remembers each run's dir, does its requests at the end.

    Runs of one bus may run in threads at once (a sweep): the run dirs are
    kept by experiment name under a lock, and each call opens its own
    repository handle."""

    def __init__(self, bus: EventBus, root: Path) -> None:
        self.bus, self.root = bus, root
        self.run_dirs: dict[str, Path] = {}
        self.lock = threading.Lock()

    def __call__(self, event: str, payload: Payload) -> None:
        name = payload.get("name")
        if isinstance(name, str):
            (self.started if event == "run_started" else self.recorded)(name, payload)

    def started(self, name: str, payload: Payload) -> None:
        repo = open_repo(self.root)
        run_dir, reproduction = _running(repo, name)
        if run_dir is None:  # an in-process run: no script of ours asks
            return
        if not reproduction:  # a rerun checks an experiment: it registers nothing
            with self.lock:
                self.run_dirs[name] = run_dir
        from gitexp.registry import runview

        runview.write(repo, run_dir)

    def recorded(self, name: str, payload: Payload) -> None:
        with self.lock:
            run_dir = self.run_dirs.pop(name, None)
        requests = read_requests(run_dir) if run_dir is not None else []
        if not requests:
            return
        status = str(payload.get("status"))
        if status != "succeeded":
            asked = ", ".join(describe(r) for r in requests)
            warn(f"experiment {name!r} {status}: nothing done in the model registry ({asked})")
            return
        carry_out(open_repo(self.root), name, requests, self.bus)


def _running(repo: Repo, name: str) -> tuple[Path | None, bool]:
    """Where the running record says the run executes (None: nowhere of ours), and
    whether it reproduces another experiment (`gitexp reproduce`)."""
    from gitexp.gitstore import store

    commit = store.lookup(repo, name)
    run = store.load(repo, name, commit).run if commit is not None else {}
    where = run.get("run_dir")
    return (Path(where) if isinstance(where, str) and where else None), "reproduces" in run


def read_requests(run_dir: Path) -> list[Request]:
    """The run's requests in order; a malformed line is skipped (a script wrote it)."""
    try:
        lines = (run_dir / LIVE_DIR / MODELS_FILE).read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    found = []
    for line in lines:
        try:
            request = json.loads(line)
        except ValueError:
            continue
        if isinstance(request, dict) and request.get("action") in ACTIONS:
            found.append(request)
    return found


def describe(request: Request) -> str:
    """A request in a few words, for a warning."""
    model, alias = request.get("model"), request.get("alias")
    if request["action"] == "register":
        return f"register {model!r}"
    verb = "set" if request["action"] == "alias" else "delete"
    return f"{verb} alias {alias!r} of {model!r}"


def carry_out(repo: Repo, name: str, requests: list[Request], bus: EventBus) -> None:
    """Each request in order; a failed one is a warning and the rest still go."""
    done: dict[str, str] = {}  # model → the version this run registered
    for request in requests:
        try:
            ACTIONS[request["action"]](repo, name, request, done, bus)
        except (GitexpError, KeyError, TypeError, ValueError) as exc:
            warn(f"experiment {name!r}: could not {describe(request)}: {_reason(exc)}")


def _reason(exc: Exception) -> str:
    return str(exc) if isinstance(exc, GitexpError) else f"malformed request ({exc})"


def _register(repo: Repo, name: str, request: Request, done: dict[str, str], bus: EventBus) -> None:
    from gitexp.registry.registering import Request as Registration
    from gitexp.registry.registering import register

    model, told = str(request["model"]), request.get("version")
    described = str(request.get("description") or "").strip().splitlines()
    summary = described[0] if described else None  # the tag message's first line
    asked = Registration(model, name, str(request["path"]), bump="major", summary=summary)
    made = register(repo, asked, bus)
    done[model] = made.version
    if told and told != made.version:
        warn(
            f"model {model!r}: {told}, the version the script was told, was taken "
            f"meanwhile; experiment {name!r} is {made.tag}"
        )


def _alias(repo: Repo, name: str, request: Request, done: dict[str, str], bus: EventBus) -> None:
    from gitexp.registry.errors import RegistryError
    from gitexp.registry.lifecycle import promote

    model = str(request["model"])
    version = done.get(model) if request.get("own") else request.get("version")
    if not isinstance(version, str):
        raise RegistryError(f"model {model!r} got no version from experiment {name!r}")
    promote(repo, model, version, str(request["alias"]), bus=bus)


def _unalias(repo: Repo, name: str, request: Request, done: dict[str, str], bus: EventBus) -> None:
    from gitexp.registry.lifecycle import demote

    demote(repo, str(request["model"]), str(request["alias"]), bus=bus)


ACTIONS: dict[str, Callable[[Repo, str, Request, dict[str, str], EventBus], None]] = {
    "register": _register,
    "alias": _alias,
    "unalias": _unalias,
}
