"""`gitexp ui`: the read-only web interface over this repository's experiments (gitexp/web/)."""

from __future__ import annotations

import typer


def ui(
    host: str = typer.Option(
        "127.0.0.1", "--host", help="Address to listen on; not loopback: a token is required."
    ),
    port: int = typer.Option(8765, "--port", help="Port (0: any free port)."),
    open_: bool = typer.Option(False, "--open/--no-open", help="Open a browser on the page."),
) -> int:
    """Browse, plot and compare experiments, sweeps and models in a browser, live."""
    from gitexp.gitstore.repo import open_repo
    from gitexp.web.server import bind, serve

    repo = open_repo()
    bound = bind(host, port)
    print(f"gitexp ui: serving {repo.root} at {bound.url}", flush=True)
    if bound.token:
        print(
            f"gitexp ui: listening on {host}: every request needs the access token above "
            "(or the header `Authorization: Bearer TOKEN`)",
            flush=True,
        )
    print("gitexp ui: read-only; Ctrl-C stops it", flush=True)
    if open_:
        import webbrowser

        webbrowser.open(bound.url)
    serve(repo.root, bound)
    return 0


def register(app: typer.Typer) -> None:
    app.command("ui")(ui)
