"""The `artifacts:` section of gitexp.yaml: when an output goes to DVC, and where to."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gitexp.common.errors import ConfigError
from gitexp.common.sizes import parse_size
from gitexp.config.settings import Config, check_keys

DEFAULT_THRESHOLD = 5 * 2**20
KEYS = ("threshold", "remote")


@dataclass(frozen=True)
class Settings:
    """New files at least ``threshold`` bytes go to DVC; ``remote`` names the DVC remote."""

    threshold: int = DEFAULT_THRESHOLD
    remote: str | None = None


def artifacts_settings(config: Config) -> Settings:
    """Validate ``artifacts:`` (threshold as a size like 5MB, remote as a name)."""
    raw = config.section("artifacts")
    check_keys(raw, KEYS, "artifacts")
    remote = raw.get("remote")
    return Settings(_size(raw.get("threshold", DEFAULT_THRESHOLD)), str(remote) if remote else None)


def _size(value: Any) -> int:
    size = parse_size(value)
    if size is None:
        raise ConfigError(f"gitexp.yaml: `artifacts.threshold` {value!r} is not a size like 5MB")
    return size
