"""gitexp failing mid-run (not the command) still finishes the experiment's ref."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from conftest import git, run_gitexp

from gitexp.config.settings import load_config
from gitexp.gitstore.repo import open_repo
from gitexp.running.executors.base import ExecResult, Executor, Job, OutputSink
from gitexp.running.runner import RunRequest, run_experiment


class CrashingExecutor(Executor):
    """Stands for gitexp's own code failing while the job runs (a seam, not a mock)."""

    name = "crashing"

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc

    def execute(self, job: Job, sink: OutputSink) -> ExecResult:
        raise self.exc

    def stop(self) -> None:
        pass


def _run_json(repo: Path, name: str) -> dict[str, object]:
    return dict(json.loads(git(repo, "show", f"refs/experiments/{name}:.gitexp/run.json")))


@pytest.mark.parametrize(
    ("exc", "status"),
    [(KeyboardInterrupt(), "interrupted"), (RuntimeError("disk on fire"), "failed")],
)
def test_crash_after_reservation_records_final_status(
    git_repo: Path, exc: BaseException, status: str
) -> None:
    repo = open_repo(git_repo)
    request = RunRequest(command=["python", "train.py"], name="boom", echo=False)
    with pytest.raises(type(exc)):
        run_experiment(repo, load_config(git_repo), request, executor=CrashingExecutor(exc))
    run = _run_json(git_repo, "boom")
    assert run["status"] == status
    assert "error" in run
    assert fsck_problems(git_repo) == ""


def fsck_problems(repo: Path) -> str:
    """What `git fsck --strict` complains about ("" for a sound repository)."""
    proc = subprocess.run(
        ["git", "fsck", "--strict", "--no-dangling", "--no-progress"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
    )
    out = (proc.stdout + proc.stderr).strip()
    return out or ("" if proc.returncode == 0 else f"git fsck exited {proc.returncode}")


def test_fsck_check_catches_a_corrupt_repository(git_repo: Path) -> None:
    """The check above can fail: a missing object of an experiment is reported."""
    repo = open_repo(git_repo)
    request = RunRequest(command=["python", "train.py"], name="ok", echo=False)
    run_experiment(repo, load_config(git_repo), request)
    assert fsck_problems(git_repo) == ""
    blob = git(git_repo, "rev-parse", "refs/experiments/ok:.gitexp/run.json").strip()
    (git_repo / ".git" / "objects" / blob[:2] / blob[2:]).unlink()
    problems = fsck_problems(git_repo)
    assert "missing" in problems and blob in problems, problems


def test_unusable_run_root_leaves_no_ref(git_repo: Path) -> None:
    (git_repo / "gitexp.yaml").write_text("run_root: /dev/null/not-a-dir\n")
    proc = run_gitexp("run", "--", "python", "train.py")
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == (
        "gitexp: error: cannot create a run directory under /dev/null/not-a-dir: "
        "Not a directory (hint: fix `run_root` in gitexp.yaml or GITEXP_RUN_ROOT)"
    )
    assert git(git_repo, "for-each-ref", "refs/experiments/") == ""
