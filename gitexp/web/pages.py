"""The HTML pages: rendered on the server from the same dicts as the API (data.py).

Templates autoescape everything (Jinja2), so a name, a param value, a log
line or a diff from an experiment is text, never markup. Values the page's
script needs travel in ``data-*`` attributes, escaped the same way; the
scripts (static/) put experiment text into the page with ``textContent``
only. Charts and the table's rows are drawn by those scripts from the API.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, select_autoescape

from gitexp.web import data
from gitexp.web.context import context
from gitexp.web.formatting import FILTERS

router = APIRouter()
TEMPLATES = Path(__file__).parent / "templates"
_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(default=True, default_for_string=True),
)
_env.filters.update(FILTERS)
_env.globals["status_class"] = data.status_class
templates = Jinja2Templates(env=_env)


def render(request: Request, name: str, status: int = 200, **values: Any) -> HTMLResponse:
    ctx = context(request)
    values.setdefault("title", "gitexp")
    values["repository"] = ctx.root.name
    response: HTMLResponse = templates.TemplateResponse(request, name, values, status_code=status)
    return response


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def table_page(request: Request) -> HTMLResponse:
    return render(request, "experiments.html", title="Experiments")


@router.get("/experiments/{name:path}", response_class=HTMLResponse, include_in_schema=False)
def experiment_page(request: Request, name: str) -> HTMLResponse:
    repo = context(request).repo()
    found = data.experiment(repo, name)
    return render(
        request,
        "experiment.html",
        title=found["name"],
        e=found,
        log=data.log(repo, found["name"]),
        diff=data.diff(repo, found["name"]),
    )


@router.get("/compare", response_class=HTMLResponse, include_in_schema=False)
def compare_page(request: Request, names: list[str] = Query([])) -> HTMLResponse:
    found = data.compare(context(request).repo(), names)
    return render(request, "compare.html", title="Compare", c=found)


@router.get("/sweeps", response_class=HTMLResponse, include_in_schema=False)
def sweeps_page(request: Request) -> HTMLResponse:
    ctx = context(request)
    return render(
        request, "sweeps.html", title="Sweeps", sweeps=data.sweeps(ctx.summaries(ctx.repo()))
    )


@router.get("/sweeps/{name:path}", response_class=HTMLResponse, include_in_schema=False)
def sweep_page(request: Request, name: str) -> HTMLResponse:
    """Trials and the best at once; the importances (Optuna's, slow to import the
    first time) come to the page's script from the API."""
    ctx = context(request)
    repo = ctx.repo()
    found = data.sweep(repo, ctx.summaries(repo), name, importances=False)
    return render(request, "sweep.html", title=f"Sweep {found['name']}", s=found)


@router.get("/models", response_class=HTMLResponse, include_in_schema=False)
def models_page(request: Request) -> HTMLResponse:
    ctx = context(request)
    repo = ctx.repo()
    return render(
        request, "models.html", title="Models", models=data.models(repo, ctx.summaries(repo))
    )


@router.get("/models/{name}", response_class=HTMLResponse, include_in_schema=False)
def model_page(request: Request, name: str) -> HTMLResponse:
    ctx = context(request)
    repo = ctx.repo()
    found = data.model(repo, ctx.summaries(repo), name)
    return render(request, "model.html", title=f"Model {name}", m=found)


@router.get("/api", response_class=HTMLResponse, include_in_schema=False)
def api_page(request: Request) -> HTMLResponse:
    """The API for people: every endpoint of the OpenAPI schema, with its summary."""
    schema = request.app.openapi()
    endpoints = [
        {"path": path, "summary": op.get("summary", ""), "doc": op.get("description", "")}
        for path, ops in schema.get("paths", {}).items()
        for op in ops.values()
    ]
    return render(request, "api.html", title="API", endpoints=endpoints)
