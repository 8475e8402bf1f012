"""The JSON API under /api/: what the pages fetch, documented by FastAPI's OpenAPI
schema at /api/openapi.json (and listed for people at /api).

Experiment names may hold ``/`` (a sweep's trials), so a name is always the
last part of a path, and what is asked of it comes first:
``/api/history/NAME``, ``/api/log/NAME``. Every endpoint reads; none writes.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from gitexp.exploring.listing import PageQuery
from gitexp.exploring.series import MAX_POINTS, metric_series, resolve_metric
from gitexp.exploring.treefiles import MAX_BYTES, list_files, read_file
from gitexp.web import data
from gitexp.web.context import context
from gitexp.web.jsonable import clean_dict, series

router = APIRouter(prefix="/api")
NAME = "Experiment: name, unique prefix, full ref or commit id."


@router.get("/health", summary="The server answers", tags=["server"])
def health(request: Request) -> dict[str, Any]:
    return {"ok": True, "read_only": True}


@router.get("/experiments", summary="A page of the experiments table", tags=["experiments"])
def experiments(
    request: Request,
    filter: list[str] = Query([], description="`gitexp show --filter`: KEY OP VALUE, repeatable."),
    sort: str | None = Query(None, description="Column to sort by (bare or params./metrics.)."),
    order: Literal["asc", "desc"] | None = Query(None, description="Default: asc with sort."),
    search: str = Query("", description="Only names holding this text (any case)."),
    offset: int = Query(0, ge=0),
    limit: int = Query(50, ge=1, le=1000),
    trials: bool = Query(False, description="Every sweep trial (default: one row per sweep)."),
) -> dict[str, Any]:
    """Filtered and sorted on the server, newest first by default, each sweep folded
    into one row (``NAME/``: its best trial's params and metrics) as in `gitexp show`,
    unless `trials=1` or a filter on `sweep`: `rows` is the page, `total` how many
    rows match, `count` how many rows there are in all (a folded sweep counts one),
    `columns` every column (``params.*``, ``metrics.*`` and the fixed ones),
    `trials` whether trials are listed."""
    ctx = context(request)
    descending = None if order is None else order == "desc"
    query = PageQuery(tuple(filter), sort, descending, search, offset, limit, trials)
    page = ctx.table.page(ctx.repo(), query)
    return clean_dict(
        {
            "rows": page.rows,
            "total": page.total,
            "count": page.count,
            "columns": page.columns,
            "offset": page.offset,
            "limit": page.limit,
            "trials": page.trials,
        }
    )


@router.get("/experiments/{name:path}", summary="One experiment in full", tags=["experiments"])
def experiment(request: Request, name: str) -> dict[str, Any]:
    """Command, params (`overridden`: set with -p), metrics with their history's
    first/last/min/max, seed, environment, artifacts, submodules."""
    return clean_dict(data.experiment(context(request).repo(), name))


@router.get("/history/{name:path}", summary="Metric step series", tags=["experiments"])
def history(
    request: Request,
    name: str,
    metric: list[str] = Query([], description="Only these metrics (default: all)."),
    max_points: int = Query(MAX_POINTS, ge=10, le=1_000_000, description="Thinned past it."),
) -> dict[str, Any]:
    """`{metric: {steps, values, times}}`; a non-finite value is null."""
    repo = context(request).repo()
    s = data.summary(repo, name)
    found = metric_series(repo, s.commit, max_points)
    wanted = {resolve_metric(s.name, m, found) for m in metric}  # a typo: 404, did-you-mean
    chosen = {m: p for m, p in found.items() if not metric or m in wanted}
    return {"name": s.name, "status": s.status, "series": {m: series(p) for m, p in chosen.items()}}


@router.get("/log/{name:path}", summary="The end of the run's output", tags=["experiments"])
def log(request: Request, name: str) -> dict[str, Any]:
    return data.log(context(request).repo(), name)


@router.get("/diff/{name:path}", summary="Code diff from the baseline", tags=["experiments"])
def diff(
    request: Request,
    name: str,
    against: str | None = Query(None, description="Another experiment instead of the baseline."),
) -> dict[str, Any]:
    """Unified diff of the workspace (`.gitexp/` left out); `missing`: the baseline
    commit is not in this clone."""
    return data.diff(context(request).repo(), name, against)


@router.get("/files/{name:path}", summary="The experiment's files, or one", tags=["experiments"])
def files(
    request: Request,
    name: str,
    path: str | None = Query(None, description="A file of the experiment's tree."),
) -> Any:
    """Without `path`: every file with its size. With it: the file's first MB, as
    text/plain (binary as an attachment), read from the commit, never the disk."""
    repo = context(request).repo()
    s = data.summary(repo, name)
    if path is None:
        return {
            "name": s.name,
            "files": [{"path": p, "size": n} for p, n in list_files(repo, s.commit)],
        }
    found = read_file(repo, s.commit, path, MAX_BYTES)
    headers = {"x-gitexp-truncated": "1" if found.truncated else "0"}
    if found.binary:
        headers["content-disposition"] = "attachment"
        return Response(found.data, media_type="application/octet-stream", headers=headers)
    return Response(found.data, media_type="text/plain; charset=utf-8", headers=headers)


@router.get("/compare", summary="Experiments side by side", tags=["experiments"])
def compare(
    request: Request, names: list[str] = Query(..., description="2 to 20 experiments.")
) -> dict[str, Any]:
    """Params and metrics of each, with deltas against the first and `changed`."""
    return clean_dict(data.compare(context(request).repo(), names))


@router.get("/sweeps", summary="Every sweep", tags=["sweeps"])
def sweeps(request: Request) -> dict[str, Any]:
    ctx = context(request)
    return clean_dict({"sweeps": data.sweeps(ctx.summaries(ctx.repo()))})


@router.get("/sweeps/{name:path}", summary="One sweep", tags=["sweeps"])
def sweep(
    request: Request,
    name: str,
    importances: bool = Query(True, description="Optuna's importances; false: `{}`, sooner."),
) -> dict[str, Any]:
    """Trials by number with their searched params and objective values, the best
    trial (one objective) or Pareto front (several), and Optuna's importances when
    the study is in this repository (the first computation of a server imports
    Optuna's importance module: a second or more)."""
    ctx = context(request)
    repo = ctx.repo()
    return clean_dict(data.sweep(repo, ctx.summaries(repo), name, importances))


@router.get("/models", summary="Every model of the registry", tags=["models"])
def models(request: Request) -> dict[str, Any]:
    ctx = context(request)
    repo = ctx.repo()
    return clean_dict({"models": data.models(repo, ctx.summaries(repo))})


@router.get("/models/{name}", summary="One model: versions, stages, history", tags=["models"])
def model(request: Request, name: str) -> dict[str, Any]:
    ctx = context(request)
    repo = ctx.repo()
    return clean_dict(data.model(repo, ctx.summaries(repo), name))
