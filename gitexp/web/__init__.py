"""The web interface, `gitexp ui`: FastAPI + uvicorn, read-only, over the read model.

- ``server``: bind the socket (a token off loopback), run uvicorn.
- ``app``: the FastAPI app, its error answers, the routers below.
- ``security``: the guard every request passes (loopback host or token,
  read-only methods) and the headers every response carries (CSP).
- ``api``: the JSON API under /api/; ``streams``: its server-sent events.
- ``live``: the repository watched while a browser listens: refs and the
  live metrics of running experiments, published on an EventBus.
- ``pages``: the HTML pages (Jinja2, autoescaped); ``data``: the dicts both
  pages and API are made of; ``formatting``: how values read on a page;
  ``jsonable``: NaN and infinity made safe for JSON; ``assets``: the
  scripts, styles and plotly.js (from the installed plotly package).

Nothing of this is imported by `import gitexp` or `gitexp run`: only by
`gitexp ui` (gitexp/cli/commands/ui.py), which needs ``pip install
'gitexp[ui]'``. docs/ui.md is the user's guide.
"""
