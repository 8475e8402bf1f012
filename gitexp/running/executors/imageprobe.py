"""What a container image holds: its Python, platform and packages, read by a probe.

A run's .gitexp/env/requirements.txt must list what the container had, not
the host's packages, so the Docker executor runs one short throwaway
container per new image (``python -c`` listing the installed distributions)
and caches the answer per image id. The probe runs while the executor
prepares, before the command and outside the executor's own Ctrl-C handling,
so it handles signals itself: its container is gone when ``probe_image``
returns or raises, however it ends (docs/docker.md).
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
from pathlib import Path
from typing import Any

from gitexp.running.signals import graceful_then_abort, ignoring_interrupts

log = logging.getLogger(__name__)
_PROBE = (
    "import json, platform; from importlib import metadata as m; print(json.dumps({"
    "'python': platform.python_version(), 'platform': platform.platform(), 'packages': sorted("
    "{f\"{d.metadata['Name']}=={d.version}\" for d in m.distributions() if d.metadata['Name']})}))"
)
PROBE_LABEL = "org.gitexp.probe"  # on the probe's container, named gitexp-probe-<hex>


def probe_image(client: Any, image_id: str) -> dict[str, Any]:
    """Python version, platform and installed packages of the image, cached per image
    id; ``{}`` for an image without Python (legal: we just know less)."""
    cache = Path.home() / ".cache" / "gitexp" / "images" / f"{image_id.split(':')[-1]}.json"
    if cache.is_file():
        cached: dict[str, Any] = json.loads(cache.read_text(encoding="utf-8"))
        return cached
    try:
        out = _run_probe(client, image_id)
        probe: dict[str, Any] = json.loads(out.decode("utf-8").strip().splitlines()[-1])
    except Exception as exc:
        log.info("could not list the packages of %s: %s", image_id, exc)
        return {}
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps(probe), encoding="utf-8")
    return probe


def _run_probe(client: Any, image_id: str) -> bytes:
    """The probe's stdout; its container is gone when this returns or raises.

    A Ctrl-C (or SIGTERM) removes the container at once, then interrupts the
    run (KeyboardInterrupt: recorded `interrupted`); a second one interrupts
    at once, and the container is still removed. The container is named
    before the daemon makes it, so it can be removed even when the signal
    lands before its id came back, and it removes itself when it exits
    (``auto_remove``) should gitexp be killed.
    """
    name = f"gitexp-probe-{secrets.token_hex(6)}"
    pressed = threading.Event()

    def stop() -> None:
        pressed.set()
        threading.Thread(target=_remove_named, args=(client, name), daemon=True).start()

    out = b""
    try:
        with graceful_then_abort(stop):
            out = _probe_output(client, image_id, name, pressed)
    except Exception:
        if not pressed.is_set():
            raise  # the probe failed by itself; a stopped probe is an interrupt
    finally:
        with ignoring_interrupts():
            _remove_named(client, name)
    if pressed.is_set():
        raise KeyboardInterrupt
    return out


def _probe_output(client: Any, image_id: str, name: str, pressed: threading.Event) -> bytes:
    container = client.containers.create(
        image_id,
        ["python", "-c", _PROBE],
        name=name,
        network_mode="none",
        auto_remove=True,
        labels={PROBE_LABEL: "1"},
    )
    if pressed.is_set():  # stopped while the daemon made it: never start it
        return b""
    output = attach(client, container.id)  # before start: auto_remove takes the logs
    container.start()
    return b"".join(out for out, _ in output if out)


def _remove_named(client: Any, name: str) -> None:
    """Remove the container called ``name``, running or not; gone already is fine."""
    from docker.errors import NotFound

    try:
        client.api.remove_container(name, force=True)
    except NotFound:
        return
    except Exception as exc:  # auto_remove may be at it already; anything else is logged
        if "already in progress" not in str(exc):
            log.warning("could not remove container %s: %s", name, exc)


def attach(client: Any, container_id: str) -> Any:
    """(stdout, stderr) chunks; attaching to a container that already exited can hang."""
    return client.api.attach(
        container_id, stdout=True, stderr=True, stream=True, logs=True, demux=True
    )
