"""The registry's mistakes, each one line with the bad value quoted (exit 2)."""

from __future__ import annotations

from gitexp.common.errors import UsageError


class RegistryError(UsageError):
    """A model, version, stage or path that cannot be used as asked."""


class UnknownModelError(RegistryError):
    def __init__(self, model: str) -> None:
        super().__init__(f"no model named {model!r}", "list them with `gitexp model list`")


class UnknownVersionError(RegistryError):
    def __init__(self, model: str, version: str, known: list[str]) -> None:
        shown = ", ".join(known[:8]) or "none"
        super().__init__(f"model {model!r} has no version {version!r}", f"its versions: {shown}")


class VersionExistsError(RegistryError):
    def __init__(self, model: str, version: str, where: str) -> None:
        super().__init__(
            f"model {model!r} version {version} exists already ({where})",
            "pick another --version, or --bump major|minor|patch",
        )
