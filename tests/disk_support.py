"""A real full disk: a small tmpfs mounted for one test (root only, as in CI).

GITEXP_REQUIRE_MOUNT=1 (.ci/run) turns "cannot mount here" into a failure.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import require_backend


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs: writing more than that fails with ENOSPC."""
    mount = tmp_path / "small-disk"
    mount.mkdir()
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    problem = None if proc.returncode == 0 else f"cannot mount a tmpfs: {proc.stderr.strip()}"
    require_backend("GITEXP_REQUIRE_MOUNT", problem)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)
