"""Shell hooks: the `on:` commands of gitexp.yaml, run when their event happens.

::

    on:
      run_finished: ./tools/announce.sh
      run_finished:failed: [notify-send "gitexp" "$GITEXP_NAME failed"]
      sweep_new_best: {run: ./tools/deploy.sh, timeout: 120}

A hook runs through ``/bin/sh -c`` in the repository root, with the event's
payload as JSON on stdin (``{"event": ..., **payload}``) and its scalar
fields as ``GITEXP_<FIELD>`` variables (``GITEXP_EVENT``, ``GITEXP_NAME``,
``GITEXP_STATUS``, ``GITEXP_EXIT_CODE``, ...). The shell expands ``$VAR``
itself, so a token stays in the environment and never in gitexp's
hands. Its output goes to gitexp's stderr (stdout stays gitexp's own).
Hooks run off the run's path (gitexp/events/dispatch.py): one command's
hooks in event order, each within its ``timeout`` (default 30 s) after
which its process group is killed. A failing, hanging or missing hook is
one warning line; the run goes on.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitexp.common.errors import ConfigError
from gitexp.events import matching
from gitexp.events.bus import EventBus, Payload
from gitexp.events.dispatch import Delivery, shared
from gitexp.events.matching import EventFilter

DEFAULT_TIMEOUT_S = 30.0
LABEL_CHARS = 60
_RUNNING: set[subprocess.Popen[bytes]] = set()
_RUNNING_LOCK = threading.Lock()


@dataclass(frozen=True)
class Hook:
    command: str
    filter: EventFilter
    timeout: float = DEFAULT_TIMEOUT_S

    @property
    def label(self) -> str:
        text = " ".join(self.command.split())
        short = text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 3] + "..."
        return f"hook `{short}`"


class HookFailed(Exception):
    """The hook exited non-zero, could not start, or overran its time limit."""


def parse_hooks(value: Any) -> tuple[Hook, ...]:
    """The `on:` key: event selector → a command, ``{run, timeout}``, or a list of these."""
    if value is None:
        return ()
    if not isinstance(value, dict):
        raise ConfigError("gitexp.yaml: `on` must map events to commands, e.g. run_finished: ./x")
    hooks: list[Hook] = []
    for selector, commands in value.items():
        where = f"`on` {selector}"
        found = matching.parse_filter(selector, where)
        items = commands if isinstance(commands, list) else [commands]
        hooks += [_hook(item, found, where) for item in items]
    return tuple(hooks)


def attach(bus: EventBus, hooks: tuple[Hook, ...], root: Path) -> None:
    """Subscribe each hook to its event; a match queues the command."""
    dispatcher = shared()
    dispatcher.on_exit(kill_running)
    for hook in hooks:
        bus.subscribe(_listener(hook, root), [hook.filter.event], label=hook.label)


def run_hook(hook: Hook, event: str, payload: Payload, root: Path, limit: float) -> None:
    """Run the command now, fed the payload; HookFailed unless it exits 0 within ``limit``."""
    data = json.dumps({"event": event, **payload}, default=str).encode("utf-8")
    process = _start(hook, root, {**os.environ, **hook_env(event, payload)})
    try:
        process.communicate(data, timeout=limit)
    except subprocess.TimeoutExpired:
        _kill(process)
        raise HookFailed(f"still running after {limit:g}s; killed") from None
    finally:
        with _RUNNING_LOCK:
            _RUNNING.discard(process)
    if process.returncode != 0:
        raise HookFailed(_exit_text(process.returncode))


def hook_env(event: str, payload: Payload) -> dict[str, str]:
    """``GITEXP_EVENT`` and ``GITEXP_<FIELD>`` for each scalar field of the payload."""
    env = {"GITEXP_EVENT": event}
    for key, value in payload.items():
        if isinstance(value, bool):
            env[f"GITEXP_{key.upper()}"] = "true" if value else "false"
        elif isinstance(value, str | int | float) or value is None:
            env[f"GITEXP_{key.upper()}"] = "" if value is None else str(value)
    return env


def kill_running() -> None:
    """Kill the hooks still running (at exit, after the bounded wait)."""
    with _RUNNING_LOCK:
        left = list(_RUNNING)
    for process in left:
        _kill(process)


def _listener(hook: Hook, root: Path) -> Callable[[str, Payload], None]:
    key = f"hook:{hook.command}"

    def hear(event: str, payload: Payload) -> None:
        if hook.filter.matches(event, payload):
            job = lambda limit: run_hook(hook, event, payload, root, limit)  # noqa: E731
            shared().submit(key, Delivery(hook.label, event, job, hook.timeout))

    return hear


def _start(hook: Hook, root: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    try:
        process = subprocess.Popen(
            ["/bin/sh", "-c", hook.command],
            cwd=root,
            env=env,
            stdin=subprocess.PIPE,
            stdout=2,  # gitexp's stdout may be a table or JSON someone parses
            start_new_session=True,  # its own group: a timeout kills what it started too
        )
    except OSError as exc:
        raise HookFailed(f"cannot start: {exc.strerror}") from None
    with _RUNNING_LOCK:
        _RUNNING.add(process)
    return process


def _kill(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass


def _exit_text(code: int) -> str:
    if code < 0:
        return f"killed by signal {-code}"
    return f"exited with {code}" + (" (command not found)" if code == 127 else "")


def _hook(item: Any, found: EventFilter, where: str) -> Hook:
    if _text(item):
        return Hook(item, found)
    if isinstance(item, dict) and set(item) <= {"run", "timeout"} and _text(item.get("run")):
        return Hook(item["run"], found, _timeout(item.get("timeout", DEFAULT_TIMEOUT_S), where))
    raise ConfigError(
        f"gitexp.yaml: {where}: a hook is a command or {{run: COMMAND, timeout: SECONDS}}"
    )


def _timeout(value: Any, where: str) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 < value <= 3600:
        return float(value)
    raise ConfigError(f"gitexp.yaml: {where}: `timeout` must be seconds (0 to 3600), got {value!r}")


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())
