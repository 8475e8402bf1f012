"""Notification senders: one module per kind of `notify:` entry, behind one signature.

``send(address, headers, outgoing, secrets, limit)`` delivers one message
or raises; ``address`` and header values are as written in gitexp.yaml and
the sender expands them with ``secrets.expand`` at the last moment, so
what it raises may hold a secret: the caller scrubs it. A sender keeps to
``limit`` seconds where its transport allows. Adding a kind is a module
here and one line in ``SENDERS`` (its key is the entry's key in
gitexp.yaml); a sender's module is imported only when an entry uses it,
and its optional ``prepare()`` runs when such an entry is attached.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from gitexp.events.bus import Payload
from gitexp.events.messages import Message
from gitexp.events.secrets import Expanded

#: the key of a `notify:` entry → the module that sends it
SENDERS = {
    "url": "gitexp.events.senders.apprise_url",  # any Apprise URL (extra: gitexp[notify])
    "webhook": "gitexp.events.senders.webhook",  # the event as JSON, stdlib only
}


@dataclass(frozen=True)
class Outgoing:
    event: str
    payload: Payload
    message: Message


class SendError(Exception):
    """A target did not take the message; the text says why (scrubbed by the caller)."""


Sender = Callable[[str, Mapping[str, str], Outgoing, Expanded, float], None]


def prepare(kind: str) -> None:
    """What ``kind`` must do in the publisher's thread when an entry is attached
    (its module's optional ``prepare()``)."""
    module = importlib.import_module(SENDERS[kind])
    getattr(module, "prepare", lambda: None)()


def sender(kind: str) -> Sender:
    """The ``send`` function of ``kind`` (its module imported now)."""
    module = importlib.import_module(SENDERS[kind])
    send: Sender = module.send
    return send
