"""`gitexp init`'s closing hints: the pre-push hook is offered only where it would help.

The hook sends experiments' DVC artifacts on `git push` (docs/sharing.md), so
a repository without DVC is not told to install it; one with DVC is, until
gitexp's hook is there.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import git, make_repo

HOOK_TIP = "tip: `gitexp hooks install` makes `git push` send artifacts"


def init(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`gitexp init` with no terminal on stdin (never asks; prints the tip instead)."""
    return subprocess.run(
        [sys.executable, "-m", "gitexp", "init", *args],
        cwd=root,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=120,
        check=False,
    )


def hook(root: Path) -> Path:
    return root / ".git" / "hooks" / "pre-push"


def test_without_dvc_init_does_not_suggest_the_hook(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "r", {"train.py": "print('accuracy: 0.9')\n"})
    proc = init(root)
    assert proc.returncode == 0, proc.stderr
    assert "hooks install" not in proc.stderr and "hook" not in proc.stderr
    assert proc.stderr.splitlines()[-1] == (
        "next: commit it, then `gitexp run` (for `-p key=value`, keep your params in "
        "params.yaml; a script with flags reads them as `--lr '${lr}'`)"
    )  # no params file: `-p` alone would fail
    assert not hook(root).exists()
    (root / "params.yaml").write_text("lr: 0.1\n")
    again = init(root, "--force")
    assert again.stderr.splitlines()[-1] == "next: commit it, then `gitexp run -p key=value`"


def test_with_dvc_init_suggests_the_hook_until_it_is_installed(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "r", {"train.py": "print('accuracy: 0.9')\n"})
    proc = init(root, "--dvc")
    assert proc.returncode == 0, proc.stderr
    assert "set up DVC in .dvc/" in proc.stderr
    assert HOOK_TIP in proc.stderr.splitlines()
    assert not hook(root).exists()  # a tip, not an install
    again = init(root, "--force")  # DVC already there: still worth saying
    assert HOOK_TIP in again.stderr.splitlines()
    installed = init(root, "--hooks")
    assert installed.returncode == 0, installed.stderr
    assert f"installed {hook(root)}" in installed.stderr and hook(root).is_file()
    after = init(root, "--force")  # the hook is in: nothing left to suggest
    assert after.returncode == 0, after.stderr
    assert "hooks install" not in after.stderr


def test_asked_for_the_hook_without_dvc_init_installs_it(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "r")
    proc = init(root, "--hooks", "-c", "python t.py")
    assert proc.returncode == 0, proc.stderr
    assert f"installed {hook(root)}" in proc.stderr
    assert "gitexp-managed-hook" in hook(root).read_text()
    assert git(root, "status", "--porcelain") == "?? gitexp.yaml\n"
