"""A repository whose .git cannot be written (a read-only mount, another user's
clone) gives one line and exit 1 for every command that writes, never an internal
error or a hint about `git gc`."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import git, require_backend
from run_support import exp_refs
from sharing_support import ok

LINE = "gitexp: error: the repository's .git is not writable ("
HINT = "(hint: gitexp records experiments in .git: run where it is writable, e.g. in a clone)"
COMMANDS = [
    ["run", "-n", "ro-run", "-p", "lr=0.5", "--", "python", "train.py"],
    ["rename", "locked", "ro2"],
    ["reproduce", "locked"],
    ["remove", "locked"],
]


def _read_only_runner(root: Path) -> list[str] | None:
    """A command prefix that runs with ``root/.git`` read-only: a read-only bind mount
    in a private mount namespace as root; else plain (a non-root user's chmod)."""
    if os.geteuid() != 0:
        return []
    if shutil.which("unshare") is None:
        return None
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True, check=False)
    if probe.returncode != 0:
        return None
    gitdir = shlex.quote(str(root / ".git"))
    mount = f"mount --bind {gitdir} {gitdir} && mount -o remount,ro,bind {gitdir} && "
    return ["unshare", "-m", "sh", "-c", mount + 'exec "$@"', "sh"]


def _chmod(root: Path, mode: int) -> None:
    for dirpath, _subdirs, _files in os.walk(root / ".git"):
        os.chmod(dirpath, mode)


def test_writes_into_a_read_only_git_dir_are_one_line(git_repo: Path) -> None:
    ok("run", "-n", "locked", "-q", "--", "python", "train.py", cwd=git_repo)
    prefix = _read_only_runner(git_repo)
    # root needs a read-only mount (unshare -m); the mount switch makes its absence fail in CI
    no_mount = "root without unshare -m: cannot make .git read-only here"
    require_backend("GITEXP_REQUIRE_MOUNT", no_mount if prefix is None else None)
    assert prefix is not None
    refs = exp_refs(git_repo)
    if not prefix:
        _chmod(git_repo, 0o555)
    try:
        for args in COMMANDS:
            proc = subprocess.run(
                [*prefix, sys.executable, "-m", "gitexp", *args],
                cwd=git_repo,
                capture_output=True,
                text=True,
                check=False,
            )
            assert proc.returncode == 1, (args, proc.stderr)
            assert proc.stderr.startswith(LINE), (args, proc.stderr)
            assert proc.stderr.endswith(f" {HINT}\n") and proc.stderr.count("\n") == 1, args
            assert "git gc" not in proc.stderr
    finally:
        if not prefix:
            _chmod(git_repo, 0o755)
    assert exp_refs(git_repo) == refs
    assert git(git_repo, "status", "--porcelain") == ""
