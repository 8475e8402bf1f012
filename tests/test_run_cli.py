"""The options of the commands that run a program (`gitexp run`, `gitexp queue add`):
gitexp's own end at the program's name or at `--`, so the program's options pass
through untouched; an unknown option before that is refused in one line (exit 2)
with a did-you-mean among the command's options, and nothing is written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_gitexp, write_files
from run_support import exp_refs, run_json, show

ARGV = "import sys, json\nopen('argv.json', 'w').write(json.dumps(sys.argv[1:]))\n"
COMMANDS = {"run": ["run"], "queue add": ["queue", "add"]}


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["--bogus"], "gitexp: error: No such option '--bogus'."),
        (["--parm", "lr=0.2"], "gitexp: error: No such option '--parm'. Did you mean '--param'?"),
        (["-p", "lr=0.2", "--Name", "x"],
         "gitexp: error: No such option '--Name'. Did you mean '--name'?"),
    ],
)  # fmt: skip
def test_an_unknown_option_before_the_program_is_refused(
    git_repo: Path, command: str, args: list[str], line: str
) -> None:
    proc = run_gitexp(*COMMANDS[command], *args, "--", "python", "train.py", cwd=git_repo)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines()[0].startswith(line)
    assert len(proc.stderr.strip().splitlines()) == 1
    assert exp_refs(git_repo) == {}


def test_a_short_option_only_run_has_is_refused_by_queue_add(git_repo: Path) -> None:
    proc = run_gitexp("queue", "add", "-q", "--", "python", "train.py", cwd=git_repo)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "gitexp: error: No such option '-q'."
    assert exp_refs(git_repo) == {}
    quiet = run_gitexp("run", "-q", "-n", "hush", "--", "python", "train.py", cwd=git_repo)
    assert quiet.returncode == 0, quiet.stderr
    assert "trained" not in quiet.stdout  # -q is run's: the output is not echoed


def test_an_unknown_option_before_a_program_without_dashes_is_refused(git_repo: Path) -> None:
    proc = run_gitexp("run", "-x", "python", "train.py", cwd=git_repo)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "gitexp: error: No such option '-x'."


@pytest.mark.parametrize("dashes", [[], ["--"]], ids=["no-dashes", "dashes"])
def test_the_programs_own_options_pass_through(git_repo: Path, dashes: list[str]) -> None:
    write_files(git_repo, {"argv.py": ARGV})
    program = ["python", "argv.py", "--lr", "0.1", "-q", "--bogus", "-p", "x", "--", "y"]
    ran = run_gitexp("run", "-n", "ran", "-p", "lr=0.2", *dashes, *program, cwd=git_repo)
    assert ran.returncode == 0, ran.stderr
    record = run_json(git_repo, "ran")
    assert record["command"] == program and record["params"]["lr"] == 0.2
    assert json.loads(show(git_repo, "ran", "argv.json")) == program[2:]
    queued = run_gitexp("queue", "add", "-n", "later", *dashes, *program, cwd=git_repo)
    assert queued.returncode == 0, queued.stderr
    drained = run_gitexp("queue", "run", cwd=git_repo)
    assert drained.returncode == 0, drained.stderr
    assert run_json(git_repo, "later")["command"] == program
    assert json.loads(show(git_repo, "later", "argv.json")) == program[2:]
