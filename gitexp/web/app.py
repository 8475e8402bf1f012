"""The FastAPI application of `gitexp ui`: routes, errors, the guard, the watcher.

``create_app(root)`` serves one repository. The live watcher starts with the
app and stops with it. A GitexpError becomes a one-line answer: JSON
``{"error": ...}`` under /api/, a page elsewhere; an unknown experiment,
file, sweep or model is a 404, another mistake a 400. FastAPI's own docs
pages are off (they load their scripts from a CDN); the schema is at
/api/openapi.json and listed at /api.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException

from gitexp import __version__
from gitexp.common.errors import ExperimentNameError, GitexpError, UsageError
from gitexp.events.bus import EventBus
from gitexp.exploring.listing import ExperimentTable
from gitexp.exploring.series import UnknownMetricError
from gitexp.exploring.treefiles import NoSuchFileError
from gitexp.web import api, assets, pages, streams
from gitexp.web.context import Context
from gitexp.web.data import NotFoundError
from gitexp.web.live import POLL_S, Hub, Watcher
from gitexp.web.security import Guard

NOT_FOUND: tuple[type[GitexpError], ...] = (ExperimentNameError, NoSuchFileError, NotFoundError)


def create_app(root: Path, token: str | None = None, poll_s: float = POLL_S) -> FastAPI:
    """The app for the repository at ``root``; ``token``: required on every request."""
    from gitexp.registry.errors import UnknownModelError, UnknownVersionError

    table = ExperimentTable()
    watcher = Watcher(root, table, EventBus(), poll_s)
    app = FastAPI(
        title="gitexp ui",
        version=__version__,
        description="Read-only JSON API over the experiments of one git repository.",
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
        lifespan=_lifespan(watcher),
    )
    app.state.gitexp = Context(root, table, watcher, Hub(watcher), token)
    missing = (*NOT_FOUND, UnknownModelError, UnknownVersionError, UnknownMetricError)
    app.add_exception_handler(GitexpError, _handler(missing))  # type: ignore[arg-type]
    app.add_exception_handler(HTTPException, _http_handler)  # type: ignore[arg-type]
    for module in (api, streams, assets, pages):
        app.include_router(module.router)
    app.add_middleware(Guard, token=token)
    return app


def _lifespan(watcher: Watcher) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """The watcher runs while the app does."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        watcher.start()
        try:
            yield
        finally:
            watcher.stop()

    return lifespan


def _handler(
    missing: tuple[type[GitexpError], ...],
) -> Callable[[Request, GitexpError], Awaitable[Response]]:
    async def handle(request: Request, exc: GitexpError) -> Response:
        status = 404 if isinstance(exc, missing) else 400 if isinstance(exc, UsageError) else 500
        return _error(request, status, str(exc))

    return handle


async def _http_handler(request: Request, exc: HTTPException) -> Response:
    return _error(request, exc.status_code, str(exc.detail))


def _error(request: Request, status: int, text: str) -> Response:
    if request.url.path.startswith("/api/"):
        return JSONResponse({"error": text}, status_code=status)
    if request.url.path.startswith("/static/"):
        return Response(text, status_code=status, media_type="text/plain")
    response: HTMLResponse = pages.render(
        request,
        "error.html",
        status=status,
        title="Not found" if status == 404 else "Error",
        text=text,
    )
    return response
