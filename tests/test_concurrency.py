"""Many runs at once in one repository: no lost ref, no overwritten name, fsck clean."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import git, write_files
from run_support import exp_refs, metrics_json, run_json

from gitexp.common.errors import ExperimentNameError
from gitexp.config.settings import load_config
from gitexp.gitstore import names, store
from gitexp.gitstore.repo import open_repo
from gitexp.running import runner
from gitexp.running.executors.local import LocalExecutor

SCRIPT = """\
import os, time, gitexp
time.sleep(0.3)
gitexp.log_metric("idx", float(os.environ["IDX"]))
"""


def _start_all(root: Path, n: int, *args: str) -> list[subprocess.Popen[str]]:
    return [
        subprocess.Popen(
            [sys.executable, "-m", "gitexp", "run", "-q", *args, "--", "python", "job.py"],
            cwd=root,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "IDX": str(i)},
        )
        for i in range(n)
    ]


@pytest.mark.slow
def test_sixteen_runs_at_once(git_repo: Path) -> None:
    write_files(git_repo, {"job.py": SCRIPT})
    procs = _start_all(git_repo, 16)
    results = [(p.wait(timeout=240), *p.communicate()) for p in procs]
    assert [code for code, _, _ in results] == [0] * 16, results
    refs = exp_refs(git_repo)
    assert len(refs) == 16
    seen = set()
    for name in refs:
        record = run_json(git_repo, name)
        assert record["status"] == "succeeded" and record["name"] == name
        seen.add(metrics_json(git_repo, name)["idx"])
    assert seen == {float(i) for i in range(16)}  # every run's own result, none lost
    assert git(git_repo, "fsck", "--strict", "--no-dangling", "--no-progress").strip() == ""
    assert git(git_repo, "status", "--porcelain") == "?? job.py\n"


@pytest.mark.slow
def test_same_explicit_name_at_once_one_wins(git_repo: Path) -> None:
    write_files(git_repo, {"job.py": SCRIPT})
    procs = _start_all(git_repo, 4, "-n", "same")
    results = [(p.wait(timeout=240), *p.communicate()) for p in procs]
    codes = sorted(code for code, _, _ in results)
    assert codes == [0, 2, 2, 2], results
    for code, _, err in results:
        if code == 2:
            assert (
                err.strip()
                .splitlines()[-1]
                .startswith("gitexp: error: experiment name 'same' is taken")
            )
    assert list(exp_refs(git_repo)) == ["same"]
    assert run_json(git_repo, "same")["status"] == "succeeded"
    assert git(git_repo, "fsck", "--strict", "--no-dangling", "--no-progress").strip() == ""


@pytest.fixture
def prepared(git_repo: Path) -> Iterator[tuple[object, runner.Prepared]]:
    repo = open_repo(git_repo)
    config = load_config(repo.root)
    request = runner.RunRequest(command=["python", "train.py"])
    yield repo, runner.prepare(repo, config, request, LocalExecutor())


def test_auto_name_collision_is_retried(
    git_repo: Path, prepared: tuple[object, runner.Prepared], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Names are random; fix the sequence so the first two candidates are taken."""
    repo, prep = prepared
    assert run_gitexp_ok(git_repo, "taken")
    before = exp_refs(git_repo)["taken"]
    candidates = iter(["taken", "taken", "fresh-name-0001"])
    monkeypatch.setattr(names, "generate", lambda: next(candidates))
    name, commit = runner.reserve(repo, prep, auto=True)  # type: ignore[arg-type]
    assert name == "fresh-name-0001"
    refs = exp_refs(git_repo)
    assert refs["taken"] == before  # never overwritten
    assert refs[name] == str(commit)
    assert run_json(git_repo, name)["status"] == "running"


def test_auto_names_give_up_after_many_collisions(
    git_repo: Path, prepared: tuple[object, runner.Prepared], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, prep = prepared
    assert run_gitexp_ok(git_repo, "taken")
    monkeypatch.setattr(names, "generate", lambda: "taken")
    with pytest.raises(store.StoreError, match="could not find a free experiment name"):
        runner.reserve(repo, prep, auto=True)  # type: ignore[arg-type]
    assert list(exp_refs(git_repo)) == ["taken"]


def test_explicit_name_grabbed_in_between_is_refused(
    git_repo: Path, prepared: tuple[object, runner.Prepared]
) -> None:
    """check_free passed, then another run took the name: reserve must not overwrite."""
    repo, prep = prepared
    named = runner.Prepared(prep.record.replace(name="mine"), *_rest(prep))
    assert run_gitexp_ok(git_repo, "mine")
    before = exp_refs(git_repo)
    with pytest.raises(ExperimentNameError, match="'mine' is taken"):
        runner.reserve(repo, named, auto=False)  # type: ignore[arg-type]
    assert exp_refs(git_repo) == before


def _rest(prep: runner.Prepared) -> tuple[object, ...]:
    return (prep.tree, prep.baseline, prep.argv, prep.params, prep.links, prep.pinned)


def run_gitexp_ok(root: Path, name: str) -> bool:
    proc = subprocess.run(
        [sys.executable, "-m", "gitexp", "run", "-q", "-n", name, "--", "true"],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    return proc.returncode == 0
