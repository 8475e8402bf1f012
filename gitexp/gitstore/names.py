"""Experiment names: valid git ref components, short, readable and unique."""

from __future__ import annotations

import re
import secrets

from gitexp.common.errors import ExperimentNameError

_COMPONENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
MAX_LENGTH = 200
#: names git resolves itself, before any ref of ours
PSEUDO_REFS = frozenset(
    {"HEAD", "FETCH_HEAD", "ORIG_HEAD", "MERGE_HEAD", "CHERRY_PICK_HEAD", "REBASE_HEAD"}
)
#: 4 to 40 hex digits with at least one digit: a (prefix of a) commit id. A word of
#: the letters a-f only (`dead`, `cafe`, `added`) stays a name: few ids lack a digit
_COMMIT_ID = re.compile(r"^(?=.*[0-9])[0-9a-fA-F]{4,40}$")
_AMBIGUOUS = "git would read it as a commit (HEAD, FETCH_HEAD, a commit id), not as a name"

ADJECTIVES = (
    "bold",
    "brave",
    "bright",
    "calm",
    "clever",
    "cool",
    "crisp",
    "dapper",
    "eager",
    "fair",
    "fancy",
    "fast",
    "fierce",
    "gentle",
    "glad",
    "grand",
    "happy",
    "hazy",
    "jolly",
    "keen",
    "kind",
    "lively",
    "lucky",
    "merry",
    "mighty",
    "neat",
    "nimble",
    "noble",
    "plucky",
    "proud",
    "quick",
    "quiet",
    "rapid",
    "regal",
    "rosy",
    "shiny",
    "silent",
    "sleek",
    "smart",
    "snappy",
    "solid",
    "spry",
    "steady",
    "sunny",
    "swift",
    "tidy",
    "vivid",
    "warm",
    "wise",
    "witty",
    "zesty",
)
NOUNS = (
    "ant",
    "bat",
    "bear",
    "bee",
    "boar",
    "cat",
    "crab",
    "crow",
    "deer",
    "dove",
    "duck",
    "eel",
    "elk",
    "emu",
    "fox",
    "frog",
    "gnu",
    "goat",
    "hare",
    "hawk",
    "ibis",
    "jay",
    "kite",
    "koala",
    "lark",
    "lion",
    "lynx",
    "mole",
    "moth",
    "mule",
    "newt",
    "owl",
    "panda",
    "pike",
    "puma",
    "quail",
    "ram",
    "raven",
    "seal",
    "shrew",
    "slug",
    "swan",
    "tern",
    "toad",
    "trout",
    "vole",
    "wasp",
    "wolf",
    "wren",
    "yak",
)


def generate() -> str:
    """A fresh name like ``bold-fox-3a1c`` (about 10^7 combinations)."""
    return f"{secrets.choice(ADJECTIVES)}-{secrets.choice(NOUNS)}-{secrets.token_hex(2)}"


def validate(name: str) -> str:
    """Return ``name`` if it can be ``refs/experiments/<name>``, else raise."""
    problem = _problem(name)
    if problem:
        ambiguous = problem == _AMBIGUOUS
        raise ExperimentNameError(
            f"invalid experiment name {name!r}: {problem}",
            f"add a word, e.g. run-{name}"
            if ambiguous
            else "use letters, digits, '.', '_', '-' and '/' between parts",
        )
    return name


def _problem(name: str) -> str | None:
    if not name:
        return "it is empty"
    if len(name) > MAX_LENGTH:
        return f"longer than {MAX_LENGTH} characters"
    if name in PSEUDO_REFS or _COMMIT_ID.match(name):
        return _AMBIGUOUS
    for part in name.split("/"):
        if not _COMPONENT.match(part):
            return f"part {part!r} is not allowed"
        if part.endswith(".lock") or part.endswith(".") or ".." in part:
            return f"part {part!r} is not allowed in a git ref"
    return None


def validate_branch(name: str) -> str:
    """Return ``name`` if `git branch NAME` would take it (git's check-ref-format
    rules, and no leading '-', which git reads as an option), else raise."""
    import pygit2

    valid = pygit2.reference_is_valid_name(f"refs/heads/{name}")
    if name.startswith("-") or name in PSEUDO_REFS or not valid:
        raise ExperimentNameError(
            f"invalid branch name {name!r}",
            "git refuses it (see `git check-ref-format --branch`): no leading '-', no "
            "spaces, '..', '~', '^', ':', '?', '*', '[' or a trailing '.lock'",
        )
    return name
