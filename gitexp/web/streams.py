"""Server-sent events: the table's stream of changes, and one experiment's live points.

``/api/events`` forwards what the watcher publishes (gitexp/web/live.py):
``experiments`` (names changed or removed), ``run_reserved``,
``run_recorded`` and ``metric_logged`` (the latest point of a metric of a
running experiment). ``/api/live/NAME`` sends a running experiment's points:
``points`` (``reset``: draw again from these), then ``status`` once it is no
longer running, and ends; the browser must close its EventSource then, or it
would reconnect. A comment line every ``KEEPALIVE_S`` keeps proxies awake.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from gitexp.web import data
from gitexp.web.context import Context, context
from gitexp.web.jsonable import clean, series
from gitexp.web.live import Cursor

router = APIRouter(prefix="/api")
KEEPALIVE_S = 15.0
LIVE_WAIT_S = 1.0
GONE_AFTER = 5  # looks (about a second apart) that do not find it: removed
HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


def message(event: str, payload: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(clean(payload), separators=(',', ':'))}\n\n"


@router.get("/events", summary="Server-sent events: changes and live metrics", tags=["live"])
async def events(request: Request) -> StreamingResponse:
    """`experiments`, `run_reserved`, `run_recorded`, `metric_logged` (text/event-stream)."""
    return StreamingResponse(
        _events(context(request)), media_type="text/event-stream", headers=HEADERS
    )


async def _events(ctx: Context) -> AsyncIterator[str]:
    client = ctx.hub.connect()
    try:
        yield message("hello", {"read_only": True})
        while True:
            found = await client.next(KEEPALIVE_S)
            yield ": keepalive\n\n" if found is None else message(*found)
    finally:
        ctx.hub.disconnect(client)


@router.get("/live/{name:path}", summary="A running experiment's live points", tags=["live"])
async def live(request: Request, name: str) -> StreamingResponse:
    """`points` `{reset, metrics: {metric: {steps, values, times}}}`, then `status`
    (text/event-stream)."""
    ctx = context(request)
    full = data.summary(ctx.repo(), name).name  # an unknown name: 404 now
    return StreamingResponse(_live(ctx, full), media_type="text/event-stream", headers=HEADERS)


async def _live(ctx: Context, name: str) -> AsyncIterator[str]:
    client = ctx.hub.connect()
    cursor: Cursor | None = None
    unseen = 0  # polls that did not list it: it may be newer than the last poll
    try:
        while True:
            status = ctx.watcher.status(name)
            unseen = unseen + 1 if status is None else 0
            cursor, reset, points = ctx.watcher.points_since(name, cursor)
            if points or reset:
                metrics = {m: series(p) for m, p in points.items()}
                yield message("points", {"reset": reset, "metrics": metrics})
            if status not in (None, "", "running") or unseen > GONE_AFTER:
                yield message("status", {"name": name, "status": status or "removed"})
                return
            await client.next(LIVE_WAIT_S)
    finally:
        ctx.hub.disconnect(client)
