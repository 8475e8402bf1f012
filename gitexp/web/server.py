"""Serving the app with uvicorn: the socket, the token, the URL to print.

``bind`` does everything that can fail in one line before the server starts:
the web stack is importable, the address is valid and free (the socket is
bound here, so ``--port 0`` gets a free port, and the URL printed is the one
that answers). A host that is not loopback gets an access token. ``serve``
then runs until Ctrl-C, which is how it is meant to end: uvicorn stops
(open event streams get ``GRACE_S`` seconds), and the call returns.
"""

from __future__ import annotations

import importlib.util
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from gitexp.common.errors import BackendError, GitexpError, UsageError

NEEDED = ("fastapi", "uvicorn", "jinja2", "plotly")
GRACE_S = 2  # open event streams never end by themselves


@dataclass
class Bound:
    """A listening socket and what to tell the user."""

    sock: socket.socket
    host: str
    port: int
    token: str | None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        shown = "127.0.0.1" if host in ("0.0.0.0", "[::]") else host
        query = f"?token={quote(self.token)}" if self.token else ""
        return f"http://{shown}:{self.port}/{query}"


def check_stack() -> None:
    """The `ui` extra is installed, or one line saying how to install it."""
    missing = [name for name in NEEDED if not _installed(name)]
    if missing:
        raise BackendError(
            f"the web UI needs {', '.join(missing)}, which {'is' if len(missing) == 1 else 'are'} "
            "not installed",
            "pip install 'gitexp[ui]'",
        )


def _installed(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # a broken or blocked install
        return False


def bind(host: str, port: int, token: str | None = None) -> Bound:
    """Listen on ``host:port``; a non-loopback host gets ``token`` or a new one."""
    from gitexp.web.security import is_loopback, new_token

    check_stack()
    if not 0 <= port <= 65535:
        raise UsageError(f"bad port {port}", "give 0..65535 (0: any free port)")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as exc:
        raise UsageError(f"cannot listen on host {host!r}: {exc}") from exc
    family, _, _, _, address = infos[0]
    try:
        sock = socket.create_server(address, family=family)
    except OSError as exc:
        raise GitexpError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}",
            "pick another --port (0: any free one)",
        ) from exc
    sock.set_inheritable(True)
    loopback = is_loopback(host) and is_loopback(str(address[0]))
    needed = None if loopback else token or new_token()
    return Bound(sock, host, sock.getsockname()[1], needed)


def serve(root: Path, bound: Bound) -> None:
    """Run the app on the bound socket until Ctrl-C."""
    import uvicorn

    from gitexp.web.app import create_app

    config = uvicorn.Config(
        create_app(root, bound.token),
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=GRACE_S,
        server_header=False,
    )
    try:
        uvicorn.Server(config).run(sockets=[bound.sock])
    except KeyboardInterrupt:  # uvicorn stopped, then raised the Ctrl-C again: done
        pass
    finally:
        bound.sock.close()
