"""`gitexp reproduce` says why a rerun failed (its exit code, its last line), keeps
--format json parseable on every error, and calls a metric the rerun never produced
missing rather than nondeterministic."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import git, last_line, run_gitexp, write_files
from run_support import exp_refs
from sharing_support import ok

FAILS_LATER = """\
import os, sys
import gitexp
gitexp.log_metric("acc", 0.5)
if os.environ.get("BREAK_IT"):
    print("bad data in row 7")
    sys.exit(4)
"""
SOMETIMES_EXTRA = """\
import os
import gitexp
gitexp.log_metric("acc", 0.5)
if not os.environ.get("SKIP_EXTRA"):
    gitexp.log_metric("extra", 1.0)
"""


def _run(root: Path, name: str, script: str) -> None:
    write_files(root, {"script.py": script})
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", name)
    ok("run", "-n", name, "-q", "--", "python", "script.py", cwd=root)


def test_a_failed_rerun_names_its_exit_code_and_last_line(git_repo: Path) -> None:
    _run(git_repo, "orig", FAILS_LATER)
    env = {"BREAK_IT": "1"}
    proc = run_gitexp("reproduce", "orig", "--format", "json", cwd=git_repo, env=env)
    assert proc.returncode == 1, proc.stderr
    data = json.loads(proc.stdout)
    assert (data["rerun_exit_code"], data["error"]) == (4, "exit code 4: bad data in row 7")
    assert data["diagnosis"] == "failed"
    assert last_line(proc.stderr) == "gitexp: orig: rerun failed: exit code 4: bad data in row 7"
    assert exp_refs(git_repo).keys() == {"orig"}  # the temporary rerun is still dropped


def test_json_errors_print_an_object_on_stdout_too(git_repo: Path) -> None:
    proc = run_gitexp("reproduce", "nosuch", "--format", "json", cwd=git_repo)
    assert proc.returncode == 2
    line = last_line(proc.stderr)
    assert line.startswith("gitexp: error: ") and len(proc.stderr.splitlines()) == 1
    data = json.loads(proc.stdout)
    assert data == {
        "name": "nosuch",
        "error": line.removeprefix("gitexp: error: "),
        "exit_code": 2,
        "match": False,
        "diagnosis": "error",
    }


def test_a_metric_the_rerun_never_produced_is_missing_not_nondeterministic(
    git_repo: Path,
) -> None:
    _run(git_repo, "orig", SOMETIMES_EXTRA)
    env = {"SKIP_EXTRA": "1"}
    proc = run_gitexp("reproduce", "orig", "-q", cwd=git_repo, env=env)
    assert proc.returncode == 3, proc.stderr
    assert last_line(proc.stderr) == (
        "gitexp: orig: metrics differ; missing in the rerun: extra (hint: the rerun did not "
        "produce them: read its output (--save keeps it) for a metrics file not written or a "
        "log_metric not reached)"
    )
    assert "nondeterministic" not in proc.stdout + proc.stderr
    proc = run_gitexp("reproduce", "orig", "--format", "json", cwd=git_repo, env=env)
    data = json.loads(proc.stdout)
    assert data["diagnosis"] == "missing"
    assert [r["metric"] for r in data["rows"] if r["missing"]] == ["extra"]
    assert data["hints"] == []  # no seeding advice for a metric that is simply absent
