"""The Ray cluster as the driver sees it: joining, what fits, stop requests, placement.

Ray is started or joined once per process (``connect``): no address starts a
local Ray instance for this process; ``auto`` joins the cluster this machine
belongs to (``RAY_ADDRESS``, or the one ``ray start`` made here); a
``HOST:PORT`` is tried once first, since Ray retries an address that does
not answer for minutes. A request no live node can hold is refused before
the run starts (``check_fits``): Ray would wait for it forever. Stop requests
go through the process's ``StopBoard`` actor (gitexp/running/executors/
raytasks.py). A process group is a placement group whose bundles report
where they landed (``place``, ``rendezvous``).
"""

from __future__ import annotations

import logging
import socket
import threading
from typing import Any

import ray

from gitexp.common.errors import BackendError, UsageError
from gitexp.config.cluster import RaySettings
from gitexp.running.distributed import torch_env

log = logging.getLogger(__name__)
PLACEMENT_TIMEOUT_S = 120.0
REACH_TIMEOUT_S = 10.0
CONNECT_HINT = "start one with `ray start --head --port=6379` (docs/distributed.md)"

_lock = threading.Lock()
_session: dict[str, Any] = {}  # the address this process joined, its stop board


def connect(settings: RaySettings) -> str:
    """Join (or start) Ray once per process; the address joined, for run.json."""
    wanted = settings.address or "local"
    with _lock:
        if "address" in _session:
            if _session["address"] != wanted:
                raise UsageError(
                    f"this process uses the Ray cluster {_session['address']!r} already, "
                    f"not {wanted!r}"
                )
            return wanted
        _check_reachable(wanted)
        try:
            ray.init(
                address=wanted,
                namespace="gitexp",
                logging_level=logging.ERROR,
                log_to_driver=False,
                include_dashboard=False if wanted == "local" else None,
            )
        except Exception as exc:  # ConnectionError, RuntimeError, ValueError: all one line
            text = " ".join(str(exc).split())[:300]
            raise BackendError(
                f"cannot join the Ray cluster at {wanted!r}: {text}", CONNECT_HINT
            ) from exc
        _session["address"] = wanted
        return wanted


def _check_reachable(address: str) -> None:
    """Ray retries an address that does not answer for minutes: one try first."""
    if address in ("local", "auto"):
        return
    host, _, port = address.rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=REACH_TIMEOUT_S).close()
    except OSError as exc:
        why = exc.strerror or type(exc).__name__
        raise BackendError(
            f"cannot reach the Ray cluster at {address!r}: {why}", CONNECT_HINT
        ) from exc


def board() -> Any:
    """This process's stop board (created on first use)."""
    from gitexp.running.executors.raytasks import StopBoard

    with _lock:
        if "board" not in _session:
            actor: Any = StopBoard  # ray.remote's class has no static type
            _session["board"] = actor.remote()
        return _session["board"]


def check_fits(settings: RaySettings, workers: int) -> None:
    """Refuse a request no node of the cluster can hold (it would wait forever)."""
    bundle = settings.bundle()
    if workers > 1 and not bundle:
        raise UsageError("each worker of a process group needs some --cpus or --gpus")
    listed: Any = ray.nodes  # untyped
    nodes = [n.get("Resources", {}) for n in listed() if n.get("Alive")]
    if _fits(bundle, workers, settings.placement, nodes):
        return
    have = "; ".join(f"{_amount(n.get('CPU'))} CPU, {_amount(n.get('GPU'))} GPU" for n in nodes)
    asked = ", ".join(f"{_amount(v)} {k}" for k, v in bundle.items())
    raise BackendError(
        f"the Ray cluster cannot hold {workers} x ({asked}); its nodes have: {have or 'none'}",
        "ask for less (--cpus, --gpus, --memory) or add nodes",
    )


def _fits(
    bundle: dict[str, float], workers: int, placement: str, nodes: list[dict[str, float]]
) -> bool:
    """Whether ``workers`` bundles can be placed, as far as the live nodes tell."""

    def holds(node: dict[str, float], times: int) -> bool:
        return all(node.get(k, 0) >= v * times for k, v in bundle.items())

    if workers == 1 or placement == "STRICT_PACK":
        return any(holds(n, workers) for n in nodes)
    if placement == "STRICT_SPREAD":
        return sum(holds(n, 1) for n in nodes) >= workers
    return sum(_how_many(bundle, n) for n in nodes) >= workers


def _how_many(bundle: dict[str, float], node: dict[str, float]) -> int:
    """Bundles that fit on one node."""
    counts = [int(node.get(k, 0) // v) for k, v in bundle.items() if v]
    return min(counts) if counts else 0


def _amount(value: Any) -> str:
    number = float(value or 0)
    return str(int(number)) if number.is_integer() else f"{number:g}"


def stop_run(key: str) -> None:
    try:
        board().stop.remote(key)
    except Exception as exc:  # Ray is shutting down: nothing left to stop
        log.debug("could not stop %s: %s", key, exc)


def forget_run(key: str) -> None:
    try:
        board().forget.remote(key)
    except Exception as exc:
        log.debug("could not release %s: %s", key, exc)


def place(settings: RaySettings, workers: int) -> Any:
    """A placement group of ``workers`` bundles, ready (or a one-line error)."""
    from ray.util.placement_group import placement_group, remove_placement_group

    group = placement_group([settings.bundle()] * workers, strategy=settings.placement)
    ready, _ = ray.wait([group.ready()], timeout=PLACEMENT_TIMEOUT_S)
    if not ready:
        remove_placement_group(group)
        raise BackendError(
            f"the Ray cluster could not place {workers} workers ({settings.placement}) "
            f"within {PLACEMENT_TIMEOUT_S:.0f} s",
            "ask for fewer workers or resources, or add nodes",
        )
    return group


def rendezvous(group: Any, workers: int) -> list[dict[str, str]]:
    """The torch.distributed variables of every rank: where each bundle landed,
    rank 0's node and a free port there as the master."""
    from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

    from gitexp.running.executors.raytasks import where

    spots = ray.get(
        [
            where.options(
                scheduling_strategy=PlacementGroupSchedulingStrategy(
                    group, placement_group_bundle_index=i
                )
            ).remote()
            for i in range(workers)
        ]
    )
    nodes = list(dict.fromkeys(node for node, _, _ in spots))
    master = (spots[0][1], spots[0][2])
    envs = []
    for rank, (node, _, _) in enumerate(spots):
        same = [r for r, spot in enumerate(spots) if spot[0] == node]
        local = (same.index(rank), len(same))
        envs.append(torch_env(rank, workers, master, local, nodes.index(node)))
    return envs
