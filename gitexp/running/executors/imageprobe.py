"""What a container image holds: its Python, platform and packages, read by a probe.

A run's .gitexp/env/requirements.txt must list what the container had, not
the host's packages, so the Docker executor runs one short throwaway
container per new image (``python -c`` listing the installed distributions)
and caches the answer per image id. The probe runs while the executor
prepares, before the command and outside the executor's own Ctrl-C handling,
so it handles signals itself: its container is gone when ``probe_image``
returns or raises, however it ends (docs/docker.md). It has a bounded wait
(120 s, or ``GITEXP_DOCKER_PROBE_TIMEOUT`` seconds: config/docker.py): an image
whose entrypoint or ``python`` hangs, or a stuck engine, fails the run with
one line naming the image instead of blocking it forever. Any other failure
of the probe is legal: the run just knows less about the image.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gitexp.common.errors import BackendError
from gitexp.config.docker import PROBE_TIMEOUT_ENV, probe_timeout
from gitexp.running.signals import graceful_then_abort, ignoring_interrupts

log = logging.getLogger(__name__)
_PROBE = (
    "import json, platform; from importlib import metadata as m; print(json.dumps({"
    "'python': platform.python_version(), 'platform': platform.platform(), 'packages': sorted("
    "{f\"{d.metadata['Name']}=={d.version}\" for d in m.distributions() if d.metadata['Name']})}))"
)
PROBE_LABEL = "org.gitexp.probe"  # on the probe's container, named gitexp-probe-<hex>


class ProbeTimeoutError(BackendError):
    """The probe's container gave no answer in time; it has been removed."""

    def __init__(self, image: str, seconds: float) -> None:
        short = image.split(":")[-1][:12]
        super().__init__(
            f"image {short} did not answer gitexp's package probe (`python -c ...`) within "
            f"{seconds:g}s: its entrypoint or `python` hangs, or the Docker engine is stuck",
            f"check that `docker run --rm {short} python -c 'print(1)'` returns; "
            f"for a slow engine set {PROBE_TIMEOUT_ENV} to more seconds",
        )


def probe_image(client: Any, image_id: str, timeout: float | None = None) -> dict[str, Any]:
    """Python version, platform and installed packages of the image, cached per image
    id; ``{}`` for an image without Python (legal: we just know less). A probe that
    does not answer within ``timeout`` seconds (None: GITEXP_DOCKER_PROBE_TIMEOUT or
    120) raises ProbeTimeoutError: the run would hang the same way."""
    timeout = probe_timeout() if timeout is None else timeout
    cache = Path.home() / ".cache" / "gitexp" / "images" / f"{image_id.split(':')[-1]}.json"
    if cache.is_file():
        cached: dict[str, Any] = json.loads(cache.read_text(encoding="utf-8"))
        return cached
    try:
        out = _run_probe(client, image_id, timeout)
        probe: dict[str, Any] = json.loads(out.decode("utf-8").strip().splitlines()[-1])
    except ProbeTimeoutError:
        raise
    except Exception as exc:
        log.info("could not list the packages of %s: %s", image_id, exc)
        return {}
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps(probe), encoding="utf-8")
    return probe


def _run_probe(client: Any, image_id: str, timeout: float) -> bytes:
    """The probe's stdout; its container is gone when this returns or raises.

    After ``timeout`` seconds without an answer the container is removed and
    ProbeTimeoutError raised (its removal ends the stream the waiting thread reads).

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

    out: bytes | None = b""
    try:
        with graceful_then_abort(stop):
            out = _within(timeout, lambda: _probe_output(client, image_id, name, pressed))
        if out is None and not pressed.is_set():
            raise ProbeTimeoutError(image_id, timeout)
    except Exception:
        if not pressed.is_set():
            raise  # the probe failed by itself; a stopped probe is an interrupt
    finally:
        with ignoring_interrupts():
            _remove_named(client, name)
    if pressed.is_set():
        raise KeyboardInterrupt
    return out or b""


def _within(seconds: float, work: Callable[[], bytes]) -> bytes | None:
    """``work()`` in a daemon thread: its answer, its exception, or None after
    ``seconds`` (the thread is left to end when its container goes). The wait
    wakes for Ctrl-C, whose handler stops the work."""
    done, answer, failure = threading.Event(), list[bytes](), list[BaseException]()

    def run() -> None:
        try:
            answer.append(work())
        except BaseException as exc:  # handed to the waiting thread
            failure.append(exc)
        finally:
            done.set()

    threading.Thread(target=run, name="gitexp-image-probe", daemon=True).start()
    if not done.wait(seconds):
        return None
    if failure:
        raise failure[0]
    return answer[0]


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
