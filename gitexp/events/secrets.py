"""``${VAR}`` in a notification's URL or headers: expanded at the moment of use, never kept.

gitexp.yaml is committed with every experiment, so a token belongs in the
environment, not in the file. The text with ``${VAR}`` is what gitexp keeps
(in the config, labels, commits); the expanded text lives only in the
sender's hands for one delivery. Whatever a sender reports back (an error,
a library's log line) goes through :meth:`Expanded.scrub` first, which puts
``${VAR}`` back in place of each value, also in its URL-quoted forms.
``$${`` stands for a literal ``${``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import quote, quote_plus

from gitexp.common.errors import ConfigError

_REFERENCE = re.compile(r"\$\$\{|\$\{([^}]*)\}?")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class MissingVariable(Exception):
    """A ``${VAR}`` the environment does not have when a message is sent."""


def check(text: str, where: str) -> str:
    """Refuse a malformed reference when gitexp.yaml is read (``${}``, ``${A-B``)."""
    for match in _REFERENCE.finditer(text):
        if match[0] == "$${":
            continue
        name = match[1]
        if not match[0].endswith("}") or not _NAME.fullmatch(name or ""):
            raise ConfigError(
                f"gitexp.yaml: {where}: bad reference {match[0]!r}",
                "write ${NAME} with a variable name of letters, digits and _",
            )
    return text


@dataclass
class Expanded:
    """The values a set of texts were expanded with, to take back out of reports."""

    env: Mapping[str, str] = field(default_factory=lambda: os.environ)
    values: dict[str, str] = field(default_factory=dict)  # value → "${NAME}"

    def expand(self, text: str) -> str:
        """``text`` with each ``${NAME}`` replaced (MissingVariable when unset)."""
        return _REFERENCE.sub(self._replace, text)

    def scrub(self, text: str) -> str:
        """``text`` with every expanded value (longest first) shown as ``${NAME}``."""
        for value, ref in sorted(self.values.items(), key=lambda kv: -len(kv[0])):
            for form in dict.fromkeys((value, quote(value, safe=""), quote_plus(value))):
                text = text.replace(form, ref)
        return text

    def _replace(self, match: re.Match[str]) -> str:
        if match[0] == "$${":
            return "${"
        name = match[1]
        if name not in self.env:
            raise MissingVariable(f"${{{name}}} is not set in the environment")
        value = self.env[name]
        if value:
            self.values[value] = f"${{{name}}}"
        return value
