"""The value .gitattributes gives one attribute of a path, read without git.

gitexp asks this of few paths at a time (the files a snapshot or a run
changed, the small files of a run dir) and about files that may not be in
the user's work tree at all (a run dir holds the experiment's own
.gitattributes), so it reads the attribute files itself, once per folder,
instead of starting `git check-attr` or asking libgit2 (which reads the
work tree's files, not the run dir's).

The rules are gitattributes(5)'s for a single attribute: a pattern without
a slash matches a file's name at any depth below its .gitattributes, one
with a slash matches the path from there (``*`` and ``?`` never cross a
slash; ``**/``, ``/**/`` and a trailing ``/**`` cross folders); a later
line wins over an earlier one, a deeper file over a shallower one, and
``$GIT_DIR/info/attributes`` over all. Not read: the global
``core.attributesFile`` and attribute macros (``[attr]``) other than the
built-in ones, which set no filter.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import NamedTuple

FILE = ".gitattributes"


class Rule(NamedTuple):
    """One line that names the attribute: its pattern, compiled, and the value it gives
    (None for ``-attr`` and ``!attr``; ``"set"`` for a bare ``attr``)."""

    pattern: re.Pattern[str]
    name_only: bool
    value: str | None


def parse(text: str, attr: str) -> list[Rule]:
    """The lines of an attribute file that say something about ``attr``, in order."""
    rules = []
    for line in text.splitlines():
        pattern, rest = _split(line.strip())
        if not pattern or pattern.startswith(("#", "[attr]", "!")) or pattern.endswith("/"):
            continue  # a comment, a macro, a forbidden negation, a folder-only pattern
        found = [_value(tok, attr) for tok in rest.split() if _names(tok, attr)]
        if found:
            regex = re.compile(translate(pattern.lstrip("/")))
            rules.append(Rule(regex, "/" not in pattern, found[-1]))
    return rules


def _split(line: str) -> tuple[str, str]:
    """(pattern, attributes) of a line; a pattern may be quoted (``"a b" filter=lfs``)."""
    if not line.startswith('"'):
        pattern, *rest = line.split(None, 1) or [""]
        return pattern, "".join(rest)
    end = 1
    while end < len(line) and line[end] != '"':
        end += 2 if line[end] == "\\" else 1
    inner = re.sub(r"\\(.)", r"\1", line[1:end])
    return inner, line[end + 1 :]


def _names(token: str, attr: str) -> bool:
    return token.lstrip("-!").partition("=")[0] == attr


def _value(token: str, attr: str) -> str | None:
    if token.startswith(("-", "!")):
        return None
    return token.partition("=")[2] if "=" in token else "set"


def translate(pattern: str) -> str:
    """A wildmatch pattern (with git's FNM_PATHNAME rules) as a regular expression."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i) and (i == 0 or pattern[i - 1] == "/"):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("/**", i) and i + 3 == len(pattern):
            out.append("/.*")
            i += 3
        else:
            piece, i = _one(pattern, i)
            out.append(piece)
    return "".join(out)


def _one(pattern: str, i: int) -> tuple[str, int]:
    """The regular expression of the pattern element at ``i``, and where the next starts."""
    char = pattern[i]
    if char == "*":
        while i + 1 < len(pattern) and pattern[i + 1] == "*":
            i += 1  # other runs of stars are one star
        return "[^/]*", i + 1
    if char == "?":
        return "[^/]", i + 1
    if char == "\\" and i + 1 < len(pattern):
        return re.escape(pattern[i + 1]), i + 2
    if char == "[":
        found = _bracket(pattern, i)
        if found is not None:
            return found
    return re.escape(char), i + 1


_CLASSES = {
    "alnum": "a-zA-Z0-9",
    "alpha": "a-zA-Z",
    "blank": " \\t",
    "digit": "0-9",
    "lower": "a-z",
    "space": "\\s",
    "upper": "A-Z",
    "xdigit": "0-9a-fA-F",
}


def _bracket(pattern: str, i: int) -> tuple[str, int] | None:
    """A bracket expression (``[a-z]``, ``[!0-9]``, ``[[:space:]]``, as `git lfs track`
    writes a space) as a regex class that never matches a slash; None when unclosed."""
    j = i + 1
    negate = j < len(pattern) and pattern[j] in "!^"
    j += negate
    body: list[str] = []
    while j < len(pattern):
        char = pattern[j]
        if char == "]" and body:
            return f"(?!/)[{'^' if negate else ''}{''.join(body)}]", j + 1
        end = pattern.find(":]", j + 2) if pattern.startswith("[:", j) else -1
        if end != -1:
            body.append(_CLASSES.get(pattern[j + 2 : end], ""))
            j = end + 2
        elif char == "\\" and j + 1 < len(pattern):
            body.append(re.escape(pattern[j + 1]))
            j += 2
        else:
            body.append("-" if char == "-" and body else re.escape(char))
            j += 1
    return None


class Attributes:
    """One attribute's value for paths below a root; each folder's attribute file is
    read (through ``read``, given the folder) at most once."""

    def __init__(
        self, attr: str, read: Callable[[str], bytes | None], info: bytes | None, wanted: str
    ) -> None:
        self._attr, self._read, self._wanted = attr, read, wanted
        self._folders: dict[str, tuple[list[Rule], bool]] = {}
        self._info = self._parse(info)

    def value(self, path: str) -> str | None:
        """What the attribute files say ``path``'s attribute is (None: unspecified)."""
        parts = path.split("/")
        folders = ["/".join(parts[:n]) for n in range(len(parts))]
        found = [(f, self._rules(f)) for f in folders] + [("", self._info)]
        if not any(mentions for _, (_, mentions) in found):
            return None  # no file here can give the wanted value: the common, cheap case
        value = None
        for folder, (rules, _) in found:
            rel = path[len(folder) + 1 :] if folder else path
            name = parts[-1]
            for rule in rules:
                if rule.pattern.fullmatch(name if rule.name_only else rel):
                    value = rule.value
        return value

    def _rules(self, folder: str) -> tuple[list[Rule], bool]:
        known = self._folders.get(folder)
        if known is None:
            known = self._folders[folder] = self._parse(self._read(folder))
        return known

    def _parse(self, data: bytes | None) -> tuple[list[Rule], bool]:
        if not data or self._attr.encode() not in data:
            return [], False
        rules = parse(data.decode("utf-8", "replace"), self._attr)
        return rules, any(rule.value == self._wanted for rule in rules)
