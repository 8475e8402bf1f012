"""``webhook: https://...``: the event POSTed as JSON, for dashboards and your own services.

The body is ``{"event", "title", "message", "type", "payload"}``: the
readable message and the event's full payload (gitexp/events/bus.py).
``headers`` (``${VAR}`` expanded) carry a token. Any 2xx answer is
success; anything else, or no answer within the limit, is a failure.
Stdlib only: no extra needed.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping

from gitexp.events.secrets import Expanded
from gitexp.events.senders import Outgoing, SendError


def body(outgoing: Outgoing) -> bytes:
    message = outgoing.message
    data = {
        "event": outgoing.event,
        "title": message.title,
        "message": message.body,
        "type": message.kind,
        "payload": outgoing.payload,
    }
    return json.dumps(data, default=str).encode("utf-8")


def send(
    address: str, headers: Mapping[str, str], outgoing: Outgoing, secrets: Expanded, limit: float
) -> None:
    from gitexp import __version__

    sent = {"Content-Type": "application/json", "User-Agent": f"gitexp/{__version__}"}
    sent.update({k: secrets.expand(v) for k, v in headers.items()})
    request = urllib.request.Request(
        secrets.expand(address), data=body(outgoing), headers=sent, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=limit) as answer:
            answer.read(4096)
    except urllib.error.HTTPError as exc:
        raise SendError(f"HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        raise SendError(f"cannot reach it: {exc.reason}") from None
    except (OSError, ValueError) as exc:
        raise SendError(f"{type(exc).__name__}: {exc}") from None
