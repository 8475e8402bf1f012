"""The page's scripts and styles, and plotly.js from the installed `plotly` package.

Only a fixed set of names is served: the files shipped in ``static/`` (listed
once at start-up) and ``plotly.min.js``, whose bytes come from the plotly
package's own bundle, so charts work offline and nothing is fetched from the
internet. A name that is not in the set is a 404, whatever it holds
(``..``, ``%2e%2e``, a slash): no request chooses a path on disk.
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse

from gitexp.common.errors import BackendError

router = APIRouter()
STATIC = Path(__file__).parent / "static"
PLOTLY = "plotly.min.js"
TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}


def plotly_js() -> Path:
    """The plotly.js bundle inside the installed `plotly` package (not imported)."""
    spec = importlib.util.find_spec("plotly")
    places = list(spec.submodule_search_locations or []) if spec else []
    for place in places:
        path = Path(place) / "package_data" / PLOTLY
        if path.is_file():
            return path
    raise BackendError(
        "the web UI draws charts with plotly.js, from the plotly package, which is missing",
        "pip install 'gitexp[ui]'",
    )


@cache
def served() -> dict[str, Path]:
    """name → file, fixed at start-up."""
    found = {p.name: p for p in STATIC.iterdir() if p.is_file() and p.suffix in TYPES}
    found[PLOTLY] = plotly_js()
    return found


@router.get("/static/{name}", include_in_schema=False)
def asset(name: str) -> FileResponse:
    path = served().get(name)
    if path is None:
        raise HTTPException(404, "no such file")
    headers = {"cache-control": "public, max-age=3600"}
    return FileResponse(path, media_type=TYPES[path.suffix], headers=headers)
