"""The summary cache under .git/gitexp/ stays right when refs change behind its back."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import git, run_gitexp
from explore_support import gitexp_json, names, study, study_template

__all__ = ["study", "study_template"]
INDEX = Path(".git/gitexp/index.sqlite")


def test_cache_is_written_and_reused(study: Path) -> None:
    first = gitexp_json("show", cwd=study)
    assert (study / INDEX).exists()
    assert gitexp_json("show", cwd=study) == first


def test_ref_deleted_by_plain_git(study: Path) -> None:
    gitexp_json("show", cwd=study)
    git(study, "update-ref", "-d", "refs/experiments/beta")
    assert sorted(names(gitexp_json("show", cwd=study))) == ["alpha", "broken", "gamma"]


def test_ref_rewritten_by_plain_git(study: Path) -> None:
    gitexp_json("show", cwd=study)
    gamma = git(study, "rev-parse", "refs/experiments/gamma").strip()
    git(study, "update-ref", "refs/experiments/alpha", gamma)
    rows = {r["name"]: r for r in gitexp_json("show", cwd=study)}
    assert rows["alpha"]["commit"] == gamma
    assert rows["alpha"]["params"]["model"]["depth"] == 9
    assert rows["alpha"]["ref"] == "refs/experiments/alpha"


def test_refs_arriving_by_git_fetch(study: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(study), str(other))
    gitexp_json("show", cwd=other)  # cache built while it has no experiments
    assert gitexp_json("show", cwd=other) == []
    git(other, "fetch", "-q", "origin", "refs/experiments/*:refs/experiments/*")
    rows = gitexp_json("show", cwd=other)
    assert sorted(names(rows)) == ["alpha", "beta", "broken", "gamma"]
    assert {r["name"]: r["metrics"] for r in rows} == {
        r["name"]: r["metrics"] for r in gitexp_json("show", cwd=study)
    }


def test_corrupt_cache_is_rebuilt(study: Path) -> None:
    expected = gitexp_json("show", cwd=study)
    (study / INDEX).write_bytes(b"this is not sqlite" * 100)
    assert gitexp_json("show", cwd=study) == expected
    assert gitexp_json("show", cwd=study) == expected


def _block_with_dir(study: Path) -> None:
    """The cache file's path is a directory: SQLite cannot open it, even as root."""
    (study / INDEX).unlink()
    (study / INDEX).mkdir()
    (study / INDEX / "keep").write_text("not a database\n")


def _block_with_file(study: Path) -> None:
    """The cache's folder is a file: it cannot be created, even as root."""
    state = study / INDEX.parent
    shutil.rmtree(state)
    state.write_text("not a folder\n")


@pytest.mark.parametrize("block", [_block_with_dir, _block_with_file])
def test_unusable_cache_path_still_shows(study: Path, block: Callable[[Path], None]) -> None:
    expected = gitexp_json("show", cwd=study)
    table = run_gitexp("show", "--format", "csv", cwd=study).stdout
    block(study)
    before = _tree_state(study / INDEX.parent)
    proc = run_gitexp("show", "--format", "json", cwd=study)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    assert json.loads(proc.stdout) == expected
    assert run_gitexp("show", "--format", "csv", cwd=study).stdout == table
    assert _tree_state(study / INDEX.parent) == before  # the fallback read git directly


def _tree_state(path: Path) -> list[tuple[str, bool, bytes]]:
    if path.is_file():
        return [(path.name, False, path.read_bytes())]
    return sorted(
        (str(p.relative_to(path)), p.is_dir(), b"" if p.is_dir() else p.read_bytes())
        for p in path.rglob("*")
    )


def test_show_spawns_no_git_process(study: Path, tmp_path: Path) -> None:
    """A `git` on PATH that records being called: show must never call it."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "git-calls"
    fake = bin_dir / "git"
    fake.write_text(f'#!/bin/sh\necho "$@" >> {calls}\nexit 1\n')
    fake.chmod(0o755)
    import os
    import subprocess
    import sys

    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    for args in (["show", "--format", "json"], ["show", "beta"], ["compare", "alpha", "beta"]):
        proc = subprocess.run(
            [sys.executable, "-m", "gitexp", *args],
            cwd=study,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
    assert not calls.exists(), calls.read_text()
    assert (
        len(
            json.loads(
                subprocess.run(
                    [sys.executable, "-m", "gitexp", "show", "--format", "json"],
                    cwd=study,
                    env=env,
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout
            )
        )
        == 4
    )
