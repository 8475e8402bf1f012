"""In-process runs: `gitexp.start_run()` from a script that no CLI started records one
experiment in the storage format of `gitexp run`, and touches nothing of the user's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import git, run_gitexp
from run_support import exp_refs, metrics_json, run_json, show, tree_files
from sharing_support import make_world

TRAIN = """\
import sys
import gitexp

with gitexp.start_run(params={"epochs": 3, "opt": {"name": "sgd"}}, seed=7) as run:
    print("seeded", gitexp.seed_everything(), gitexp.current_run().seed, run.name)
    print("params", sorted(gitexp.params()))
    for step in range(3):
        gitexp.log_metric("loss", 1.0 / (step + 1), step=step)
    gitexp.log_param("batch", 32)
    open("out.txt", "w").write("written by the run\\n")
    open("scratch.ignored", "w").write("ignored\\n")
    print("accuracy: 0.75")
print("ended", run.status, run.commit, run.metrics["loss"])
"""


def _python(code: str, cwd: Path, *args: str, env: dict[str, str] | None = None) -> str:
    """Run a script file (as `python script.py`), assert it succeeded, return its stdout."""
    proc = _script(code, cwd, *args, env=env)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _script(
    code: str, cwd: Path, *args: str, env: dict[str, str] | None = None, name: str = "exp.py"
) -> subprocess.CompletedProcess[str]:
    (cwd / name).write_text(textwrap.dedent(code))
    return subprocess.run(
        [sys.executable, name, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
        check=False,
    )


def _state(root: Path) -> dict[str, str]:
    """What a user sees of git: HEAD, the index, the stash, and refs other than ours."""
    return {
        "head": git(root, "rev-parse", "HEAD"),
        "index": git(root, "ls-files", "-s", "--debug"),
        "stash": git(root, "stash", "list"),
        "branches": git(root, "for-each-ref", "refs/heads", "refs/tags"),
        "train": (root / "train.py").read_text(),
    }


def test_a_script_records_one_experiment_and_leaves_the_repository_alone(git_repo: Path) -> None:
    (git_repo / "train.py").write_text("# edited, not committed\n")  # a dirty work tree
    before = _state(git_repo)
    out = _python(TRAIN, git_repo, "--flag", "x")

    name = next(iter(exp_refs(git_repo)))
    assert len(exp_refs(git_repo)) == 1
    assert f"seeded 7 7 {name}" in out
    assert "params ['epochs', 'lr', 'model', 'opt']" in out
    run = run_json(git_repo, name)
    assert run["status"] == "succeeded" and run["seed"] == 7 and run["executor"] == "local"
    assert run["command"] == ["python", "exp.py", "--flag", "x"]
    assert run["in_process"] == {"kind": "script"}
    assert run["params"] == {
        "lr": 0.1,
        "model": {"depth": 3},
        "epochs": 3,
        "opt": {"name": "sgd"},
        "batch": 32,
    }
    assert run["dirty"] is True and run["baseline"] == before["head"].strip()
    assert metrics_json(git_repo, name) == {"loss": pytest.approx(1 / 3), "accuracy": 0.75}
    series = show(git_repo, name, ".gitexp/history/loss.tsv").splitlines()
    assert [line.split("\t")[:2] for line in series[-3:]] == [
        ["0", "1.0"],
        ["1", "0.5"],
        ["2", repr(1 / 3)],
    ]
    assert "accuracy: 0.75" in show(git_repo, name, ".gitexp/output.log")
    files = tree_files(git_repo, name)
    assert {"exp.py", "out.txt", "params.yaml", ".gitexp/env/requirements.txt"} <= set(files)
    assert "scratch.ignored" not in files
    assert show(git_repo, name, "train.py") == "# edited, not committed\n"
    assert (
        f"ended succeeded {git(git_repo, 'rev-parse', f'refs/experiments/{name}').strip()}" in out
    )

    assert _state(git_repo) == before
    assert not (git_repo / ".gitexp").exists()
    assert list((git_repo / ".git" / "gitexp" / "inprocess").iterdir()) == []


def test_a_raising_block_is_recorded_failed_and_the_exception_goes_on(git_repo: Path) -> None:
    proc = _script(
        """\
        import gitexp
        with gitexp.start_run(name="boom"):
            gitexp.log_metric("loss", 0.5)
            raise ValueError("bad learning rate")
        """,
        git_repo,
    )
    assert proc.returncode == 1 and "ValueError: bad learning rate" in proc.stderr
    run = run_json(git_repo, "boom")
    assert run["status"] == "failed" and run["error"] == "ValueError: bad learning rate"
    assert metrics_json(git_repo, "boom") == {"loss": 0.5}


def test_ctrl_c_inside_the_block_is_recorded_interrupted(git_repo: Path) -> None:
    proc = _script(
        """\
        import os, signal, time
        import gitexp
        with gitexp.start_run(name="stopped"):
            gitexp.log_metric("loss", 0.25)
            os.kill(os.getpid(), signal.SIGINT)  # a real Ctrl-C
            time.sleep(5)
        """,
        git_repo,
    )
    assert proc.returncode != 0 and "KeyboardInterrupt" in proc.stderr
    run = run_json(git_repo, "stopped")
    assert run["status"] == "interrupted" and run["error"] == "interrupted by Ctrl-C"
    assert metrics_json(git_repo, "stopped") == {"loss": 0.25}


def test_runs_in_a_loop_become_one_experiment_each_with_their_own_snapshot(
    git_repo: Path,
) -> None:
    _python(
        """\
        import gitexp
        for i, lr in enumerate([0.1, 0.2]):
            open("note.txt", "w").write(f"before run {i}\\n")
            with gitexp.start_run(name=f"loop-{i}", params={"lr": lr}):
                gitexp.log_metric("score", lr * 10)
            gitexp.log_metric("ignored", 1.0)  # between runs: recorded nowhere
        """,
        git_repo,
    )
    assert sorted(exp_refs(git_repo)) == ["loop-0", "loop-1"]
    for i, lr in enumerate([0.1, 0.2]):
        assert run_json(git_repo, f"loop-{i}")["params"]["lr"] == lr
        assert metrics_json(git_repo, f"loop-{i}") == {"score": pytest.approx(lr * 10)}
        assert show(git_repo, f"loop-{i}", "note.txt") == f"before run {i}\n"


def test_end_records_once_and_a_script_that_never_ends_is_ended_at_exit(
    git_repo: Path,
) -> None:
    out = _python(
        """\
        import gitexp
        from gitexp.common.errors import GitexpError
        run = gitexp.start_run(name="manual")
        gitexp.log_metric("acc", 0.9)
        for attempt in (lambda: run.end("done"), lambda: run.end("failed"), run.end):
            try:
                print(attempt().status)
            except GitexpError as exc:
                print(f"{type(exc).__name__}: {exc}")
        gitexp.start_run(name="never-ended")
        gitexp.log_metric("acc", 0.8)
        """,
        git_repo,
    )
    assert out.splitlines() == [
        "UsageError: cannot end a run as 'done' (hint: use one of: succeeded, failed, interrupted)",
        "failed",
        "UsageError: run 'manual' has already ended (failed)",
    ]
    assert run_json(git_repo, "manual")["status"] == "failed"
    assert metrics_json(git_repo, "manual") == {"acc": 0.9}
    assert run_json(git_repo, "never-ended")["status"] == "succeeded"
    assert metrics_json(git_repo, "never-ended") == {"acc": 0.8}

    proc = _script(
        "import gitexp\ngitexp.start_run(name='crashed')\nraise RuntimeError('lost')\n",
        git_repo,
    )
    assert proc.returncode == 1
    assert run_json(git_repo, "crashed")["status"] == "failed"
    assert run_json(git_repo, "crashed")["error"] == "RuntimeError: lost"


def test_inside_gitexp_run_start_run_joins_the_run(git_repo: Path) -> None:
    code = """\
    import gitexp
    with gitexp.start_run(name="ignored-name", params={"extra": 1}) as run:
        print("joined", run.joined, run.name == gitexp.current_run().name)
        gitexp.log_metric("acc", 0.7)
    run.end()
    """
    (git_repo / "exp.py").write_text(textwrap.dedent(code))
    proc = run_gitexp("run", "-n", "outer", "--", "python", "exp.py", cwd=git_repo)
    assert proc.returncode == 0, proc.stderr
    assert "joined True True" in proc.stdout
    assert list(exp_refs(git_repo)) == ["outer"]
    run = run_json(git_repo, "outer")
    assert run["params"]["extra"] == 1 and run["command"] == ["python", "exp.py"]
    assert metrics_json(git_repo, "outer") == {"acc": 0.7}


def test_pygit2_is_imported_by_start_run_not_by_import_gitexp(git_repo: Path) -> None:
    out = _python(
        """\
        import sys
        import gitexp
        print("before", "pygit2" in sys.modules, callable(gitexp.start_run))
        with gitexp.start_run(name="light"):
            pass
        print("after", "pygit2" in sys.modules)
        """,
        git_repo,
    )
    assert out.splitlines() == ["before False True", "after True"]


def test_bad_arguments_are_one_line_errors_and_write_nothing(git_repo: Path) -> None:
    probe = """\
    import gitexp
    from gitexp.common.errors import GitexpError
    for kwargs in ({"params": [1, 2]}, {"seed": -1}, {"name": "bad name"}):
        try:
            gitexp.start_run(**kwargs)
        except GitexpError as exc:
            print(f"{type(exc).__name__}: {exc}")
    """
    assert _python(probe, git_repo).splitlines() == [
        "UsageError: params must be a mapping, got list",
        "UsageError: seed must be an integer from 0 to 4294967295, got -1",
        "ExperimentNameError: invalid experiment name 'bad name': part 'bad name' is not "
        "allowed (hint: use letters, digits, '.', '_', '-' and '/' between parts)",
    ]
    assert exp_refs(git_repo) == {}


def test_taken_names_nesting_and_no_repository(git_repo: Path, tmp_path: Path) -> None:
    taken = _python(
        """\
        import gitexp
        from gitexp.common.errors import GitexpError
        with gitexp.start_run(name="first"):
            try:
                gitexp.start_run(name="second")
            except GitexpError as exc:
                print(f"{type(exc).__name__}: {exc}")
        try:
            gitexp.start_run(name="first")
        except GitexpError as exc:
            print(f"{type(exc).__name__}: {exc}")
        """,
        git_repo,
    ).splitlines()
    assert taken[0] == (
        "UsageError: an in-process run is already active in this process: 'first' "
        "(hint: end it first: run.end(), or leave its `with` block)"
    )
    assert taken[1] == (
        "ExperimentNameError: experiment name 'first' is taken "
        "(hint: pass another name=, or name=None for a generated one, "
        "or remove it first: gitexp remove first)"
    )
    assert sorted(exp_refs(git_repo)) == ["first"]

    outside = tmp_path / "plain"
    outside.mkdir()
    proc = _script("import gitexp\ngitexp.start_run()\n", outside)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == (
        f"gitexp.common.errors.NotARepositoryError: not a git repository: {outside} "
        "(hint: run `git init` or cd into a repository)"
    )


def test_a_killed_process_is_shown_interrupted_and_its_lease_was_renewed(
    git_repo: Path,
) -> None:
    proc = _script(
        """\
        import os, signal, subprocess, time
        import gitexp
        def ref():
            return subprocess.run(["git", "rev-parse", "refs/experiments/doomed"],
                                  capture_output=True, text=True).stdout
        run = gitexp.start_run(name="doomed")
        first = ref()
        deadline = time.monotonic() + 120  # a beat lands within a second or two
        while ref() == first and time.monotonic() < deadline:
            time.sleep(0.1)
        print("renewed", ref() != first, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)  # a kernel killed from outside
        """,
        git_repo,
        env={"GITEXP_HEARTBEAT_S": "0.2"},
    )
    assert proc.returncode == -9 and "renewed True" in proc.stdout
    assert run_json(git_repo, "doomed")["status"] == "running"  # nothing was recorded...
    listed = run_gitexp("show", "--format", "json", cwd=git_repo)
    assert listed.returncode == 0, listed.stderr
    (row,) = json.loads(listed.stdout)
    assert row["name"] == "doomed" and row["status"] == "interrupted"  # ...but it reads so


@pytest.mark.dvc
def test_logged_artifacts_go_to_dvc_and_stay_in_the_work_tree(tmp_path: Path) -> None:
    world = make_world(tmp_path, {".gitignore": "models/\n"})
    _python(
        """\
        import os
        import gitexp
        with gitexp.start_run(name="arts"):
            os.makedirs("models", exist_ok=True)
            open("models/model.bin", "wb").write(b"w" * 5000)
            gitexp.log_artifact("models/model.bin")
        """,
        world.a,
    )
    files = tree_files(world.a, "arts")
    assert "models/model.bin.dvc" in files and "models/model.bin" not in files
    (artifact,) = run_json(world.a, "arts")["artifacts"]
    assert artifact["path"] == "models/model.bin" and artifact["size"] == 5000
    assert (world.a / "models" / "model.bin").read_bytes() == b"w" * 5000
    assert git(world.a, "status", "--porcelain") == "?? exp.py\n"


def test_a_logged_artifact_without_dvc_is_committed_with_the_warning_gitexp_run_gives(
    git_repo: Path,
) -> None:
    proc = _script(
        """\
        import gitexp
        with gitexp.start_run(name="nodvc") as run:
            open("model.bin", "wb").write(b"w" * 5000)
            gitexp.log_artifact("model.bin")
        print(run.warnings)
        """,
        git_repo,
    )
    assert proc.returncode == 0, proc.stderr
    warning = "model.bin (4.9 KB, logged) committed to git because DVC is not set up (hint: "
    assert f"gitexp: warning: {warning}" in proc.stderr
    assert warning in proc.stdout  # and on the run object
    assert "model.bin" in tree_files(git_repo, "nodvc")
