"""What runs inside the Ray cluster for gitexp: the job task, the stop board, a probe.

Imported by the Ray executor on the driver and, through Ray's pickling by
reference, by the workers (which need gitexp installed, not the repository).
Importing this module imports Ray; only the Ray executor imports it.

- ``run_job``: a streaming generator task; it runs ``worker.serve`` and
  yields its message batches as they come, so output and live metrics reach
  the driver while the job runs. It is never retried: a job that lost its
  worker is recorded `failed`, not silently run twice.
- ``StopBoard``: one small actor per driver process (no CPU). Ray's task
  cancellation cuts a streaming task's results short, so a stop travels
  through the board instead: the worker waits on its key, stops the command
  gracefully (SIGINT, as on Ctrl-C) and still sends everything back.
- ``where``: where a placement-group bundle landed (node, address, a free
  port there), for the rendezvous of a process group.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import ray

from gitexp.running.distributed import free_port
from gitexp.running.executors.worker import Message, Remote, serve

WAIT_S = 0.25


@ray.remote(num_cpus=0)
class StopBoard:
    """Stop requests of one driver's runs, by key; workers wait on their key."""

    def __init__(self) -> None:
        self.events: dict[str, asyncio.Event] = {}
        self.stopped: set[str] = set()

    def _event(self, key: str) -> asyncio.Event:
        return self.events.setdefault(key, asyncio.Event())

    async def wait(self, key: str) -> bool:
        """Returns once the run ``key`` is stopped (True) or forgotten (False)."""
        await self._event(key).wait()
        return key in self.stopped

    async def stop(self, key: str) -> None:
        self.stopped.add(key)
        self._event(key).set()

    async def forget(self, key: str) -> None:
        """The run ended: release its waiters and drop its state."""
        event = self.events.pop(key, None)
        if event is not None:
            event.set()
        self.stopped.discard(key)


@ray.remote(max_retries=0)
def run_job(remote: Remote, archive: bytes, board: Any, key: str) -> Iterator[list[Message]]:
    """The job on this worker, its messages streamed back batch by batch."""
    yield from serve(remote, archive, _waiter(board, key))


def _waiter(board: Any, key: str) -> Callable[[Callable[[], bool]], bool]:
    def wait_stop(done: Callable[[], bool]) -> bool:
        ref: Any = board.wait.remote(key)
        while not done():
            ready, _ = ray.wait([ref], timeout=WAIT_S)
            if ready:
                try:
                    return bool(ray.get(ref))
                except ray.exceptions.RayError:  # the driver (and its board) is gone
                    return True
        return False

    return wait_stop


@ray.remote(num_cpus=0, max_retries=0)
def where() -> tuple[str, str, int]:
    """(node id, node address, a free port there) of the bundle this runs in."""
    util: Any = ray.util  # untyped
    address = str(util.get_node_ip_address())
    return ray.get_runtime_context().get_node_id(), address, free_port(address)
