"""GTO's tag grammar: which git tags are model tags, and what their names say.

The facts come from GTO (iterative/gto, its `constants.py` and command
reference): a name is ``[a-zA-Z0-9]([a-zA-Z0-9-/_]*[a-zA-Z0-9])?``, a
folder-qualified one ``dir:name`` is written ``dir=name`` in a tag; versions
are SemVer with a ``v`` prefix; a trailing ``!`` cancels (deregisters a
version, unassigns a stage); ``#N`` is a counter, one more than the largest
counter among the model's tags. Stdlib only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gitexp.registry.errors import RegistryError

REGISTER, DEREGISTER, ASSIGN, UNASSIGN, DEPRECATE = (
    "register", "deregister", "assign", "unassign", "deprecate",
)  # fmt: skip
BUMPS = ("major", "minor", "patch")
TAG_PREFIX = "refs/tags/"

_NAME = r"[a-zA-Z0-9](?:[a-zA-Z0-9\-/_]*[a-zA-Z0-9])?"
_IDENT = r"(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)"
_SEMVER = (
    rf"v(?P<major>0|[1-9]\d*)\.(?P<minor>0|[1-9]\d*)\.(?P<patch>0|[1-9]\d*)"
    rf"(?:-(?P<pre>{_IDENT}(?:\.{_IDENT})*))?(?:\+(?P<build>[0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?"
)
_NAME_RE = re.compile(rf"^{_NAME}$")
_VERSION_RE = re.compile(rf"^{_SEMVER}$")
_TAG_RE = re.compile(
    rf"^(?P<model>(?:[a-zA-Z0-9\-_./]+=)?{_NAME})"
    rf"(?:(?:#(?P<stage>{_NAME})|@(?P<version>{_SEMVER.replace('?P<', '?P<v_')}))(?P<cancel>!?)"
    rf"|@(?P<deprecated>deprecated)|@(?P<created>created))(?:#(?P<counter>[0-9]+))?$"
)


@dataclass(frozen=True)
class TagName:
    """What one model tag's name says."""

    model: str
    action: str
    version: str | None = None
    stage: str | None = None
    counter: int | None = None


def parse(tag: str) -> TagName | None:
    """The meaning of a tag name (``refs/tags/`` optional); None for other tags."""
    match = _TAG_RE.match(tag.removeprefix(TAG_PREFIX))
    if match is None or match["created"]:
        return None
    model = match["model"].replace("=", ":")
    counter = int(match["counter"]) if match["counter"] else None
    cancel = match["cancel"] == "!"
    if match["deprecated"]:
        return TagName(model, DEPRECATE, counter=counter)
    if match["version"]:
        return TagName(model, DEREGISTER if cancel else REGISTER, match["version"], None, counter)
    return TagName(model, UNASSIGN if cancel else ASSIGN, None, match["stage"], counter)


def is_model_tag(ref: str) -> bool:
    """``refs/tags/X`` where X is a model tag (what push, pull and the hook carry)."""
    return ref.startswith(TAG_PREFIX) and parse(ref) is not None


def _in_tag(model: str) -> str:
    return model.replace(":", "=")


def version_tag(model: str, version: str) -> str:
    return f"{_in_tag(model)}@{version}"


def deregister_tag(model: str, version: str, counter: int) -> str:
    return f"{_in_tag(model)}@{version}!#{counter}"


def assign_tag(model: str, stage: str, counter: int) -> str:
    return f"{_in_tag(model)}#{stage}#{counter}"


def unassign_tag(model: str, stage: str, counter: int) -> str:
    return f"{_in_tag(model)}#{stage}!#{counter}"


def deprecate_tag(model: str, counter: int) -> str:
    return f"{_in_tag(model)}@deprecated#{counter}"


def check_model(name: str) -> str:
    """A name GTO accepts and git can store as part of a tag."""
    if not _NAME_RE.match(name) or "//" in name:
        raise RegistryError(
            f"invalid model name {name!r}",
            "use letters, digits, '-', '_' and '/', starting and ending with a letter or digit",
        )
    return name


def check_stage(stage: str, allowed: list[str] | None = None) -> str:
    """A stage name GTO accepts (and one of ``allowed`` when .gto lists stages)."""
    if not _NAME_RE.match(stage) or "//" in stage:
        raise RegistryError(
            f"invalid stage {stage!r}",
            "use letters, digits, '-', '_' and '/', starting and ending with a letter or digit",
        )
    if allowed is not None and stage not in allowed:
        raise RegistryError(f"invalid stage {stage!r}", f".gto allows: {', '.join(allowed)}")
    return stage


def check_version(version: str) -> str:
    """``vMAJOR.MINOR.PATCH`` (SemVer, with GTO's ``v``)."""
    if not _VERSION_RE.match(version):
        raise RegistryError(f"invalid version {version!r}", "use vMAJOR.MINOR.PATCH, e.g. v1.0.0")
    return version


def version_key(version: str) -> tuple[int, int, int, int, tuple[tuple[int, int | str], ...]]:
    """SemVer precedence: a release above its pre-releases, build metadata ignored."""
    match = _VERSION_RE.match(version)
    if match is None:
        return (-1, -1, -1, -1, ())
    pre = match["pre"]
    parts = tuple((0, int(p)) if p.isdigit() else (1, p) for p in pre.split(".")) if pre else ()
    numbers = int(match["major"]), int(match["minor"]), int(match["patch"])
    return (*numbers, 0 if pre else 1, parts)


def bump(latest: str | None, part: str | None) -> str:
    """The version after ``latest``: GTO's v0.0.1 first and a patch by default; a
    first ``major`` / ``minor`` bump gives v1.0.0 / v0.1.0."""
    check_bump(part)
    major, minor, patch = version_key(latest)[:3] if latest else (0, 0, 0)
    if part == "major":
        return f"v{major + 1}.0.0"
    if part == "minor":
        return f"v{major}.{minor + 1}.0"
    return f"v{major}.{minor}.{patch + 1}"


def check_bump(part: str | None) -> str | None:
    if part is not None and part not in BUMPS:
        raise RegistryError(f"invalid --bump {part!r}", "use major, minor or patch")
    return part
