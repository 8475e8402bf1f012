"""Run the job in a container built for this experiment (``gitexp run --docker``).

``preflight`` makes sure the base images are here (pulled once when they
are not, baseimage.py) before the experiment's name is taken, so a missing
one is one line and no failed experiment. ``prepare`` renders the
Dockerfile (or takes the pinned one of a reproduction), builds the image
unless its content tag already exists, and returns the Dockerfile text (the
runner commits it as .gitexp/env/Dockerfile) and the image facts for
run.json. ``execute`` runs the command with the run directory mounted at
``/gitexp/run``; ``stop`` signals the container and escalates, and the
container is always removed, so Ctrl-C leaves none behind (a SIGKILL to
gitexp does: its labels name the gitexp process, so `gitexp gc` knows an
orphan, gitexp/exploring/containers.py); so is the short
container that reads a new image's packages (imageprobe.py). A command that
fails on a module the image lacks gets one hint line after its output
(missingmodule.py). The Docker SDK is imported only in this folder, inside
the functions that use it.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from gitexp.common.errors import BackendError
from gitexp.common.layout import DOCKERFILE_IN_CONTEXT
from gitexp.config.docker import DockerSettings, docker_settings
from gitexp.config.settings import Config
from gitexp.running.executors import baseimage, missingmodule
from gitexp.running.executors import images as C
from gitexp.running.executors.base import ExecResult, Executor, Job, OutputSink
from gitexp.running.executors.imageprobe import attach, probe_image
from gitexp.running.executors.wheel import gitexp_version

log = logging.getLogger(__name__)
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
RUN_MOUNT = "/gitexp/run"
GRACE_S = 10.0  # after SIGINT, wait this long (in two halves) before SIGTERM, then SIGKILL
BUILD_TIMEOUT_S = 3600
LOG_TAIL_LINES = 15
TAIL_BYTES = 4096  # of the command's output, read for a ModuleNotFoundError
START_HINT = (
    "start one (`sudo dockerd &`, `sudo systemctl start docker`, or `sudo scripts/docker-up.sh`"
    " in a gitexp checkout) or point DOCKER_HOST at a running engine"
)


class DockerExecutor(Executor):
    name = "docker"
    checks_host_path = False  # the command runs in the image, not on this host

    def __init__(self, config: Config) -> None:
        self.settings = docker_settings(config)
        self.client = _connect()
        self.image_id: str | None = None
        self.build: dict[str, Any] = {}
        self.container: Any = None
        self.build_failure: BuildFailedError | None = None
        self.stop_requested = False
        self.escalating = False
        self.env_files: dict[str, bytes] = {}

    def preflight(self, pinned: dict[str, Any], read: Callable[[str], bytes | None]) -> None:
        """The base images the build will start FROM are here, or pulled now (once)."""
        dockerfile = pinned.get("dockerfile")
        if isinstance(dockerfile, str):
            names = C.base_images(dockerfile)
        else:
            names = C.planned_base_images(self.settings, read)
        for name in names:
            baseimage.ensure(self.client, name, self.settings, isinstance(dockerfile, str))

    def prepare(self, job: Job) -> dict[str, Any]:
        """Render (or take the pinned Dockerfile), build unless the tag exists."""
        pinned = job.pinned.get("dockerfile")
        dockerfile, source = C.dockerfile_for(job.run_dir, self.settings, pinned)
        context = C.build_context(
            job.run_dir, dockerfile, tuple(job.links), self.settings.build_args
        )
        is_pinned = pinned is not None
        bases = [
            baseimage.ensure(self.client, b, self.settings, is_pinned)
            for b in C.base_images(dockerfile)
        ]
        self.build = {**self._image(context), "dockerfile": source, **(bases[0] if bases else {})}
        self.env_files = {"Dockerfile": dockerfile.encode()}
        if self.image_id is not None:
            probe = probe_image(self.client, self.image_id)
            self.build.update(python=probe.get("python"), platform=probe.get("platform"))
            packages = "".join(f"{p}\n" for p in probe.get("packages", []))
            self.env_files["requirements.txt"] = packages.encode()  # the image's, not the host's
        return {"docker": self.build}

    def _image(self, context: C.BuildContext) -> dict[str, Any]:
        """The image for this context: the existing tag, else a fresh build."""
        started = time.monotonic()
        image, reused = _existing(self.client, context.tag), True
        if image is None:
            image, reused = self._build(context), False
        self.image_id = str(image.id) if image is not None else None
        return {
            "image": context.tag,
            "image_id": self.image_id,
            "reused": reused,
            "build_s": round(time.monotonic() - started, 3),
            "gitexp_version": gitexp_version(),
        }

    def _build(self, context: C.BuildContext) -> Any:
        """Build and tag; a failure is kept for ``execute``, which can show the log tail."""
        # said on stderr (the lastResort handler prints warnings as they are): a first
        # build takes a minute of silence otherwise
        log.warning(
            "gitexp: building image %s for this environment (once: later runs reuse it)",
            context.tag,
        )
        with _closing_responses(self.client.api):  # also when Ctrl-C interrupts the build
            built = self._stream_build(context)
        return self.client.images.get(context.tag) if built else None

    def _stream_build(self, context: C.BuildContext) -> bool:
        """Follow the build log; False (and ``build_failure`` set) when a step fails."""
        lines: list[str] = []
        chunks = self.client.api.build(
            fileobj=context.tar(),
            custom_context=True,
            dockerfile=DOCKERFILE_IN_CONTEXT,
            tag=context.tag,
            buildargs=context.build_args or None,
            network_mode=self.settings.build_network,
            labels={"org.gitexp": "1"},
            rm=True,
            forcerm=True,
            decode=True,
            timeout=BUILD_TIMEOUT_S,
        )
        for chunk in chunks:
            if "error" in chunk:
                self.build_failure = _build_error(str(chunk["error"]), lines)
                return False
            text = _ANSI.sub("", str(chunk.get("stream", "")))
            lines.extend(t for t in text.splitlines() if t.strip())
            log.debug("%s", text.rstrip())
        return True

    def execute(self, job: Job, sink: OutputSink) -> ExecResult:
        from docker.errors import APIError

        if self.build_failure is not None:
            failure = self.build_failure
            sink.write("stderr", "".join(f"{line}\n" for line in failure.log_tail).encode())
            raise failure
        try:
            self.container = self.client.containers.create(self.image_id, **self._spec(job))
            output = attach(self.client, self.container.id)  # before start: no output lost
            self.container.start()
        except APIError as exc:
            return self._not_started(exc, sink)
        if self.stop_requested:  # Ctrl-C came while the container was being created
            self._escalate()
        try:
            tail = _stream(output, sink)
            code = int(self.container.wait().get("StatusCode", -1))
            self.container.reload()
            if code != 0 and "dockerfile" not in job.pinned:  # a reproduction's is fixed
                self._missing_module(tail, job, sink)
            return ExecResult(code, self._outcome(code, sink), self.env_files)
        finally:
            sink.close()
            self._remove()

    def _missing_module(self, tail: bytes, job: Job, sink: OutputSink) -> None:
        """One hint line after a failure that a package missing in the image explains."""
        module = missingmodule.missing_module(tail)
        hint = module and missingmodule.module_hint(module, self.settings, job.run_dir)
        if hint:
            sink.write("stderr", f"gitexp: hint: {hint}\n".encode())

    def _spec(self, job: Job) -> dict[str, Any]:
        s = self.settings
        volumes = {str(job.run_dir): {"bind": RUN_MOUNT, "mode": "rw"}}
        for source in job.links.values():  # run-dir symlinks point at these host paths
            volumes[str(source)] = {"bind": str(source), "mode": "ro"}
        spec: dict[str, Any] = {
            "command": list(job.argv),
            "working_dir": f"{RUN_MOUNT}/{job.cwd}".rstrip("/") if job.cwd else RUN_MOUNT,
            "environment": _environment(job, s),
            "volumes": volumes,
            "network_mode": s.network,
            "init": s.init,
            "user": f"{os.getuid()}:{os.getgid()}",
            "labels": _labels(job),
            "detach": True,
        }
        if s.memory:
            spec.update(mem_limit=s.memory, memswap_limit=s.memory)  # no swap: fail, not crawl
        if s.shm_size:
            spec["shm_size"] = s.shm_size
        if s.gpus is not None:
            spec["device_requests"] = [_gpu_request(s.gpus)]
        return spec

    def _outcome(self, code: int, sink: OutputSink) -> dict[str, Any]:
        state = self.container.attrs.get("State", {})
        info: dict[str, Any] = {"docker": {**self.build, "runtime": self._runtime()}}
        if state.get("OOMKilled"):
            message = (
                f"container killed for memory (limit {self.settings.memory or 'none'}, "
                f"exit code {code}); raise `docker.memory` in gitexp.yaml"
            )
            sink.write("stderr", f"gitexp: {message}\n".encode())
            info["error"] = message
            info["docker"]["oom_killed"] = True
        return info

    def _runtime(self) -> dict[str, Any]:
        s = self.settings
        return {
            "network": s.network,
            "memory": s.memory,
            "shm_size": s.shm_size,
            "gpus": s.gpus,
            "environment": sorted([*s.environment, *s.passthrough]),
        }

    def _not_started(self, exc: Exception, sink: OutputSink) -> ExecResult:
        """E.g. the command is not in the image: like a shell, exit 127 with the reason."""
        reason = getattr(exc, "explanation", None) or str(exc)
        sink.write("stderr", f"gitexp: cannot start the container: {reason}\n".encode())
        sink.close()
        self._remove()
        code = 127 if "not found" in str(reason) else 126
        info = {"docker": self.build, "error": f"container did not start: {reason}"}
        return ExecResult(code, info, self.env_files)

    def _remove(self) -> None:
        container, self.container = self.container, None
        if container is None:
            return
        try:
            container.remove(force=True)
        except Exception as exc:  # a container gone already is fine; anything else is logged
            log.warning("could not remove container %s: %s", container.id[:12], exc)

    def stop(self, signum: int = signal.SIGINT) -> None:
        """``signum`` (SIGINT: Python scripts flush and exit), then SIGTERM, then
        SIGKILL, off-thread."""
        self.stop_requested = True
        self.first_signal = signal.Signals(signum).name
        if self.container is not None:
            self._escalate()

    def _escalate(self) -> None:
        if self.escalating:
            return
        self.escalating = True
        args = (self.container, self.first_signal)
        threading.Thread(target=_stop_container, args=args, daemon=True).start()


def _labels(job: Job) -> dict[str, str]:
    """The experiment and the gitexp process that owns the container (gc finds orphans)."""
    return {
        "org.gitexp.run": job.name,
        "org.gitexp.pid": str(os.getpid()),
        "org.gitexp.host": socket.gethostname(),
    }


def _stop_container(container: Any, first: str = "SIGINT") -> None:
    for sig in dict.fromkeys((first, "SIGTERM", "SIGKILL")):
        try:
            container.kill(signal=sig)
            container.wait(timeout=GRACE_S / 2)
            return
        except Exception:  # timeout: escalate; gone: nothing left to stop
            continue


@contextmanager
def _closing_responses(api: Any) -> Iterator[None]:
    """Close the HTTP responses opened inside the block, however it ends.

    The classic builder cancels a build (and removes its RUN container) only
    when the client's connection closes; an abandoned build generator keeps
    it open, so after Ctrl-C the daemon would build on while gitexp lives.
    """
    opened: list[Any] = []

    def keep(response: Any, *args: Any, **kwargs: Any) -> None:
        opened.append(response)

    api.hooks["response"].append(keep)  # the APIClient is a requests.Session
    try:
        yield
    finally:
        api.hooks["response"].remove(keep)
        for response in opened:
            response.close()


def _stream(output: Any, sink: OutputSink) -> bytes:
    """Into the sink; returns the output's last bytes (where a traceback ends)."""
    tail = b""
    for out, err in output:
        if out:
            sink.write("stdout", out)
        if err:
            sink.write("stderr", err)
        tail = (tail + (out or b"") + (err or b""))[-TAIL_BYTES:]
    return tail


def _environment(job: Job, s: DockerSettings) -> dict[str, str]:
    """gitexp's variables (run-dir paths rewritten to the mount) win over configured ones."""
    env = {k: os.environ[k] for k in s.passthrough if k in os.environ}
    if os.getuid() != 0:
        env["HOME"] = "/tmp"  # our uid has no home in the image; caches must go somewhere
    env.update(s.environment)
    env.update(job.env_at(RUN_MOUNT))
    return env


def _gpu_request(gpus: str | int | list[str]) -> Any:
    from docker.types import DeviceRequest

    if gpus == "all":
        return DeviceRequest(count=-1, capabilities=[["gpu"]])
    if isinstance(gpus, int):
        return DeviceRequest(count=gpus, capabilities=[["gpu"]])
    return DeviceRequest(device_ids=list(gpus), capabilities=[["gpu"]])


def _connect() -> Any:
    try:
        import docker
    except ImportError as exc:
        raise BackendError(
            "the Docker SDK is not installed", "pip install 'gitexp[docker]'"
        ) from exc
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    try:
        client = docker.from_env()
        client.ping()
    except Exception as exc:
        reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise BackendError(f"no Docker engine reachable at {host} ({reason})", START_HINT) from exc
    return client


def _existing(client: Any, tag: str) -> Any:
    from docker.errors import ImageNotFound

    try:
        return client.images.get(tag)
    except ImageNotFound:
        return None


class BuildFailedError(BackendError):
    """One line naming the failing step; ``log_tail`` holds the build's last lines."""

    def __init__(self, step: str, error: str, log_tail: list[str]) -> None:
        super().__init__(
            f"image build failed at {step}: {error}",
            "fix the Dockerfile or the requirements; the build log tail is printed above",
        )
        self.log_tail = log_tail


def _build_error(error: str, lines: list[str]) -> BuildFailedError:
    steps = [line.strip() for line in lines if line.startswith("Step ")]
    step = steps[-1] if steps else "the first step"
    return BuildFailedError(step, " ".join(error.split()), lines[-LOG_TAIL_LINES:])
