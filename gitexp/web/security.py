"""Who may talk to the UI, and the headers every response carries.

- Loopback by default. Without a token, a request must name a loopback host
  in its ``Host`` header, so a web page elsewhere cannot reach the server
  through a DNS name that resolves to 127.0.0.1 (DNS rebinding).
- Bound to another address, the server needs a token (`gitexp ui` makes one
  and prints it). Every request must carry it: ``Authorization: Bearer T``,
  the ``gitexp_ui`` cookie, or ``?token=T``, which sets the cookie and
  redirects to the same URL without it (so it leaves the address bar and
  the history). Tokens are compared in constant time.
- Read-only: only GET and HEAD are served.
- Every response, errors included, carries a Content-Security-Policy that
  allows scripts, styles and connections to this origin only (plus the one
  empty inline stylesheet plotly.js fills through the CSSOM), no frames, no
  plugins, no base URL, no form posts elsewhere.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qsl, urlencode

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

COOKIE = "gitexp_ui"
EMPTY_STYLE = "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='"  # sha256 of ""
CSP = (
    "default-src 'none'; script-src 'self'; "
    f"style-src 'self' {EMPTY_STYLE}; img-src 'self' data:; connect-src 'self'; "
    "font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
]
METHODS = ("GET", "HEAD")


def new_token() -> str:
    return secrets.token_urlsafe(32)


def is_loopback(host: str) -> bool:
    """``host`` (an address or a name, without a port) is this machine only."""
    name = host.strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def host_of(header: str) -> str:
    """The host part of a ``Host`` header (``[::1]:8765`` → ``[::1]``)."""
    if header.startswith("["):
        return header[: header.find("]") + 1]
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def same_token(given: str | None, token: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), token.encode())


class Guard:
    """ASGI middleware: the rules of the module doc, before any route runs."""

    def __init__(self, app: ASGIApp, token: str | None) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        send = _with_headers(send)
        refused = self._refusal(scope)
        if refused is not None:
            await _reply(send, *refused)
        elif self._logging_in(scope):
            await _login(send, scope, str(self.token))
        elif scope["method"] == "HEAD":  # the routes are GET's: answer as one, without a body
            await self.app({**scope, "method": "GET"}, receive, _without_body(send))
        else:
            await self.app(scope, receive, send)

    def _logging_in(self, scope: Scope) -> bool:
        """A page opened with ``?token=`` (the API takes it as it comes)."""
        if self.token is None or str(scope["path"]).startswith("/api/"):
            return False
        return same_token(_query_token(scope), self.token)

    def _refusal(self, scope: Scope) -> tuple[int, str, list[tuple[bytes, bytes]]] | None:
        if scope["method"] not in METHODS:
            return 405, "the gitexp UI is read-only", [(b"allow", b"GET, HEAD")]
        headers = _headers(scope)
        if self.token is None:
            if not is_loopback(host_of(headers.get("host", ""))):
                return 403, "this server answers only to a loopback host name", []
            return None
        if _request_token(headers, self.token) or same_token(_query_token(scope), self.token):
            return None
        hint = "open the URL `gitexp ui` printed (with ?token=...)"
        return 401, f"an access token is required; {hint}", [(b"www-authenticate", b"Bearer")]


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}


def _request_token(headers: dict[str, str], token: str) -> bool:
    auth = headers.get("authorization", "")
    if auth.lower().startswith("bearer ") and same_token(auth[7:].strip(), token):
        return True
    cookie = SimpleCookie()
    try:
        cookie.load(headers.get("cookie", ""))
    except Exception:  # a malformed cookie header is no token
        return False
    found = cookie.get(COOKIE)
    return found is not None and same_token(found.value, token)


def _query_token(scope: Scope) -> str | None:
    pairs = parse_qsl(scope.get("query_string", b"").decode("latin-1"))
    return next((v for k, v in pairs if k == "token"), None)


async def _login(send: Send, scope: Scope, token: str) -> None:
    """``?token=T``: set the cookie, then the same URL without the token."""
    pairs = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
    rest = urlencode([(k, v) for k, v in pairs if k != "token"])
    target = (scope.get("root_path", "") + scope["path"]) + (f"?{rest}" if rest else "")
    cookie = f"{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict"
    extra = [(b"location", _quote_path(target)), (b"set-cookie", cookie.encode())]
    await _reply(send, 303, "logged in", extra)


def _quote_path(target: str) -> bytes:
    from urllib.parse import quote

    return quote(target, safe="/?&=%:@!$'()*+,;~-._").encode("latin-1")


async def _reply(send: Send, status: int, text: str, extra: list[tuple[bytes, bytes]]) -> None:
    body = f"gitexp ui: {text}\n".encode()
    headers = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
        *extra,
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _without_body(send: Send) -> Send:
    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.body":
            message = {**message, "body": b""}
        await send(message)

    return wrapped


def _with_headers(send: Send) -> Send:
    """``send`` adding the security headers to the response's start."""

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            names = {k.lower() for k, _ in message.get("headers", [])}
            extra = [(k, v) for k, v in HEADERS if k not in names]
            message = {**message, "headers": [*message.get("headers", []), *extra]}
        await send(message)

    return wrapped
