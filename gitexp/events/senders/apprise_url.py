"""``url: slack://...``: any service Apprise knows (chat, mail, push, JSON, desktop).

Apprise (the ``notify`` extra) is imported with the first message, never
before. Its own log lines may quote a URL, secrets included, so its
logger is kept from printing; the reason of a failure comes from its
result (Apprise 2) and is scrubbed by the caller like every report.

The last message of a run is often sent during interpreter shutdown (the
dispatcher's exit wait), when no thread pool takes work and importing
``concurrent.futures.thread`` fails. So Apprise runs sequentially without
a deadline of its own (the dispatcher keeps the time limit) and
:func:`prepare` imports that module while the process is still running.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from gitexp.common.errors import GitexpError
from gitexp.events.secrets import Expanded
from gitexp.events.senders import Outgoing, SendError

INSTALL_HINT = "pip install 'gitexp[notify]'"


def prepare() -> None:
    """Called when a `url:` entry is attached, in the publisher's thread (3 ms)."""
    import concurrent.futures.thread  # noqa: F401  (see the module doc)


def send(
    address: str, headers: Mapping[str, str], outgoing: Outgoing, secrets: Expanded, limit: float
) -> None:
    apprise = _apprise()
    notifier = apprise.Apprise(asset=_asset(apprise))
    if not notifier.add(secrets.expand(address)):
        raise SendError("Apprise cannot use this URL (unknown service or a malformed URL)")
    message = outgoing.message
    result = notifier.notify(body=message.body, title=message.title, notify_type=message.kind)
    if not result:
        raise SendError(_reason(result))


def _apprise() -> Any:
    try:
        import apprise
    except ImportError:
        raise GitexpError("Apprise is not installed", INSTALL_HINT) from None
    quiet = logging.getLogger("apprise")
    quiet.propagate = False  # its lines may quote a URL with a token in it
    return apprise


def _asset(apprise: Any) -> Any:
    """Sequential, no deadline thread (Apprise 2's ``service_timeout``; 1 has none)."""
    settings: dict[str, Any] = {"app_id": "gitexp", "app_desc": "gitexp", "async_mode": False}
    try:
        return apprise.AppriseAsset(**settings, service_timeout=0)
    except (AttributeError, TypeError):
        return apprise.AppriseAsset(**settings)


def _reason(result: Any) -> str:
    """The last warning or error Apprise noted (Apprise 2), else a plain 'not delivered'."""
    logs = getattr(result, "logs", None)
    entries = [e for e in (logs() if callable(logs) else []) if _serious(e)]
    if entries:
        return str(getattr(entries[-1], "message", entries[-1]))
    return "not delivered (the service refused it or could not be reached)"


def _serious(entry: Any) -> bool:
    return str(getattr(entry, "level", "")).upper() in {"WARNING", "ERROR", "CRITICAL"}
