"""A real Ray cluster on loopback for the tests: `ray start --head`, stopped afterwards.

The head runs with its own temp dir and its own ports, so it never meets
another cluster of the machine, and it is stopped by process id (its
processes and their children), never with `ray stop` (which stops every Ray
of the machine). ../shared/INFRA.md: head and clients need
``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` (else Ray advertises an address that
is not loopback) and token authentication off (``RAY_AUTH_MODE=disabled``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conftest import run_gitexp

CLIENT_ENV = {
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
    "RAY_AUTH_MODE": "disabled",
    "RAY_USAGE_STATS_ENABLED": "0",
}
PORT_FLAGS = (
    "--port",
    "--node-manager-port",
    "--object-manager-port",
    "--dashboard-port",
    "--dashboard-agent-grpc-port",
    "--dashboard-agent-listen-port",
    "--metrics-export-port",
    "--runtime-env-agent-port",
)
WORKER_PORTS = 60  # the range Ray's workers listen on


@dataclass(frozen=True)
class Cluster:
    address: str
    temp_dir: Path
    num_cpus: int

    @property
    def env(self) -> dict[str, str]:
        """What a client (a `gitexp` process) needs to join it."""
        return dict(CLIENT_ENV)


def _free_ports(count: int) -> list[int]:
    """``count`` distinct ports free on loopback now."""
    socks = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            socks.append(sock)
        return [s.getsockname()[1] for s in socks]
    finally:
        for sock in socks:
            sock.close()


def _worker_range() -> tuple[int, int]:
    """A range of ports with nothing listening, for Ray's workers."""
    for _ in range(50):
        low = _free_ports(1)[0]
        if low + WORKER_PORTS >= 65000:
            continue
        try:
            with contextlib.ExitStack() as stack:
                for port in range(low, low + WORKER_PORTS):
                    sock = stack.enter_context(socket.socket())
                    sock.bind(("127.0.0.1", port))
            return low, low + WORKER_PORTS - 1
        except OSError:
            continue
    raise RuntimeError("no free range of ports for Ray's workers")


def start_cluster(num_cpus: int = 2) -> Cluster:
    """A head on loopback; tried again on a port clash (ports are chosen free, but
    another test's cluster may take one before Ray binds it)."""
    for attempt in range(3):
        cluster, failure = _try_start(num_cpus)
        if cluster is not None:
            return cluster
        if attempt == 2 or "port" not in failure:
            raise RuntimeError(f"ray start failed: {failure}")
    raise AssertionError("unreachable")


def _try_start(num_cpus: int) -> tuple[Cluster | None, str]:
    temp = Path(tempfile.mkdtemp(prefix="gxray", dir="/tmp"))  # short: unix socket paths
    low, high = _worker_range()
    ports = [p for p in _free_ports(len(PORT_FLAGS) + 8) if not low <= p <= high]
    ports = ports[: len(PORT_FLAGS)]  # never one inside the workers' range
    args = [f"{flag}={port}" for flag, port in zip(PORT_FLAGS, ports, strict=True)]
    command = [
        "ray", "start", "--head", *args, f"--min-worker-port={low}", f"--max-worker-port={high}",
        f"--num-cpus={num_cpus}", "--num-gpus=0", "--include-dashboard=false",
        "--disable-usage-stats", f"--temp-dir={temp}", "--node-ip-address=127.0.0.1",
    ]  # fmt: skip
    env = {**os.environ, **CLIENT_ENV}
    proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=180)
    address = f"127.0.0.1:{ports[0]}"
    if proc.returncode != 0:
        stop_cluster(temp, address)
        return None, f"{proc.stdout[-2000:]}{proc.stderr[-2000:]}"
    return Cluster(address, temp, num_cpus), ""


def _parents() -> dict[int, int]:
    out = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = (entry / "stat").read_text()
                out[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    return out


def cluster_pids(temp: Path, address: str) -> set[int]:
    """The processes of the cluster in ``temp`` at ``address``: those naming either (the
    client server names only the address), and their descendants."""
    marks = (str(temp).encode(), f"--address={address}".encode())
    roots = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                cmdline = (entry / "cmdline").read_bytes()
                if any(mark in cmdline for mark in marks):
                    roots.add(int(entry.name))
    roots.discard(os.getpid())
    parents = _parents()
    found, grew = set(roots), True
    while grew:
        more = {pid for pid, ppid in parents.items() if ppid in found} - found
        found |= more
        grew = bool(more)
    return found


def stop_cluster(temp: Path, address: str) -> None:
    """Stop the cluster's processes by id (SIGTERM, then SIGKILL), then its folder."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        pids = cluster_pids(temp, address)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + 10
        while pids and time.monotonic() < deadline:
            pids = {p for p in pids if Path(f"/proc/{p}").exists() and not _zombie(p)}
            time.sleep(0.1)
    shutil.rmtree(temp, ignore_errors=True)


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True


@contextlib.contextmanager
def running_cluster(num_cpus: int = 2) -> Iterator[Cluster]:
    cluster = start_cluster(num_cpus)
    try:
        yield cluster
    finally:
        stop_cluster(cluster.temp_dir, cluster.address)


def wait_for(path: Path, timeout: float = 60) -> str:
    """The text of ``path`` once a script has written it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip():
            return path.read_text().strip()
        time.sleep(0.1)
    raise AssertionError(f"{path} was never written")


def ray_args(cluster: Cluster) -> list[str]:
    return ["--executor", "ray", "--address", cluster.address]


def gitexp_on(cluster: Cluster, root: Path, *args: str, timeout: float = 300) -> Any:
    return run_gitexp(*args, cwd=root, env=cluster.env, timeout=timeout)


def popen_on(cluster: Cluster, root: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "gitexp", *args],
        cwd=root,
        env={**os.environ, **cluster.env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
