"""Every user mistake of the issue's Errors list: one line, the right exit code, nothing written."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import git, run_gitexp, write_files
from run_support import exp_refs, repo_state


def assert_refused(proc_args: list[str], cwd: Path, expected: str, code: int = 2) -> str:
    """Run gitexp, check it fails with exactly one `gitexp: error:` line, return that line."""
    before = repo_state(cwd) if (cwd / ".git").is_dir() else None
    proc = run_gitexp(*proc_args, cwd=cwd)
    output = proc.stdout + proc.stderr
    assert proc.returncode == code, output
    assert "Traceback" not in output
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, output
    assert lines[0].startswith("gitexp: error: "), lines[0]
    assert expected in lines[0], lines[0]
    if before is not None:
        assert exp_refs(cwd) == {}
        assert repo_state(cwd) == before
        assert not (cwd / ".git" / "gitexp").exists() or not any(
            (cwd / ".git" / "gitexp").rglob("*.lock")
        )
    return lines[0]


def test_not_a_git_repository(tmp_path: Path) -> None:
    line = assert_refused(["run", "--", "true"], tmp_path, "not a git repository: ")
    assert str(tmp_path) in line and "hint: run `git init`" in line
    assert_refused(["init"], tmp_path, "not a git repository")


def test_repository_without_commits(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q")
    write_files(tmp_path, {"t.py": "print(1)\n"})
    assert_refused(["run", "--", "python", "t.py"], tmp_path, "the repository has no commits yet")


def test_bare_repository(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q", "--bare")
    assert_refused(["run", "--", "true"], tmp_path, "is bare")


def test_no_command_given_or_configured(git_repo: Path) -> None:
    line = assert_refused(["run"], git_repo, "no command given and none configured")
    assert "gitexp run -- python train.py" in line
    write_files(git_repo, {"gitexp.yaml": "command: '  '\n"})
    assert_refused(["run"], git_repo, "no command given and none configured")


@pytest.mark.parametrize("override", ["lr", "=1", "lr 1=2", "-x=1"])
def test_malformed_param(git_repo: Path, override: str) -> None:
    assert_refused(["run", "-p", override, "--", "python", "train.py"], git_repo,
             f"malformed param override {override!r}")  # fmt: skip


def test_unknown_param_key(git_repo: Path) -> None:
    line = assert_refused(["run", "-p", "model.dept=1", "--", "python", "train.py"], git_repo,
                    "unknown param 'model.dept' in params.yaml")  # fmt: skip
    assert line.endswith("(hint: did you mean `model.depth`?)")


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("has space", "part 'has space' is not allowed"),
        ("a..b", "not allowed in a git ref"),
        ("x.lock", "not allowed in a git ref"),
        ("/lead", "part '' is not allowed"),
        ("trail/", "part '' is not allowed"),
        ("-dash", "part '-dash' is not allowed"),
        ("star*", "not allowed"),
        ("a" * 201, "longer than 200 characters"),
    ],
)
def test_invalid_name(git_repo: Path, name: str, problem: str) -> None:
    line = assert_refused(["run", "-n", name, "--", "python", "train.py"], git_repo,
                    "invalid experiment name")  # fmt: skip
    assert problem in line


def test_empty_name(git_repo: Path) -> None:
    assert_refused(["run", "-n", "", "--", "python", "train.py"], git_repo, "it is empty")


def test_taken_name_is_refused_before_running(git_repo: Path, tmp_path: Path) -> None:
    assert run_gitexp("run", "-n", "taken", "--", "python", "train.py").returncode == 0
    first = exp_refs(git_repo)
    canary = tmp_path / "ran"
    before = repo_state(git_repo)
    proc = run_gitexp("run", "-n", "taken", "--", "touch", str(canary))
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "gitexp: error: experiment name 'taken' is taken "
        "(hint: pick another -n/--name or remove it first)"
    )
    assert not canary.exists()  # the command never ran
    assert exp_refs(git_repo) == first and repo_state(git_repo) == before


def test_name_conflicting_with_a_group(git_repo: Path) -> None:
    assert run_gitexp("run", "-n", "grp/one", "--", "true").returncode == 0
    assert run_gitexp("run", "-n", "leaf", "--", "true").returncode == 0
    for name, message in [("grp", "is a group of experiments"), ("leaf/x", "under 'leaf'")]:
        proc = run_gitexp("run", "-n", name, "--", "true")
        assert proc.returncode == 2
        assert proc.stderr.startswith("gitexp: error: ") and message in proc.stderr
    assert set(exp_refs(git_repo)) == {"grp/one", "leaf"}


def test_missing_params_file(git_repo: Path) -> None:
    write_files(git_repo, {"gitexp.yaml": "params: [params.yaml, conf/missing.yaml]\n"})
    assert_refused(["run", "--", "python", "train.py"], git_repo,
             "params file 'conf/missing.yaml' not found")  # fmt: skip


def test_missing_params_file_named_by_override(git_repo: Path) -> None:
    assert_refused(["run", "-p", "other.yaml:a=1", "--", "python", "train.py"], git_repo,
             "params file 'other.yaml' not found")  # fmt: skip


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("command: python t.py\nseed: 1: 2\n",
         "cannot parse gitexp.yaml:2: mapping values are not allowed here: 'seed: 1: 2'"),
        ("command: [python\nseed: 1\n", "cannot parse gitexp.yaml:"),
        ("\tcommand: x\n", "cannot parse gitexp.yaml:1: found character '\\t'"),
        ("- a\n- b\n", "gitexp.yaml: top level must be a mapping, got list"),
        ("comand: x\n", "gitexp.yaml: unknown key `comand` (hint: did you mean `command`?)"),
        ("command: {a: 1}\n", "`command` must be a string or a list of strings"),
        ("params: 3\n", "`params` must be a path or a list of paths"),
        ("metrics_from_output: 3\n", "`metrics_from_output` must be"),
        ("log_max_bytes: many\n", "`log_max_bytes` must be a positive integer, got 'many'"),
        ("link: [no/such/dir]\n", "link path 'no/such/dir' does not exist"),
        ("executor: warp\n", "unknown executor 'warp'"),
    ],
)  # fmt: skip
def test_unreadable_or_invalid_gitexp_yaml(git_repo: Path, text: str, expected: str) -> None:
    (git_repo / "gitexp.yaml").write_text(text)
    assert_refused(["run", "--", "python", "train.py"], git_repo, expected)


def test_gitexp_yaml_not_utf8(git_repo: Path) -> None:
    (git_repo / "gitexp.yaml").write_bytes(b"command: \xff\xfe\n")
    assert_refused(["run", "--", "true"], git_repo, "gitexp.yaml: not UTF-8 text")


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("params.yaml", "lr: 0.1\nb: c: d\n",
         "cannot parse params file params.yaml:2: mapping values are not allowed here: 'b: c: d'"),
        ("params.yaml", "- 1\n", "params file params.yaml must hold a mapping"),
    ],
)  # fmt: skip
def test_unreadable_params_file(git_repo: Path, name: str, text: str, expected: str) -> None:
    write_files(git_repo, {name: text})
    assert_refused(["run", "--", "python", "train.py"], git_repo, expected)


def test_unreadable_json_params_file(git_repo: Path) -> None:
    write_files(git_repo, {"p.json": '{"a": 1,\n "b": }\n', "gitexp.yaml": "params: [p.json]\n"})
    assert_refused(["run", "--", "true"], git_repo,
             "cannot parse params file p.json:2: Expecting value: '\"b\": }'")  # fmt: skip


@pytest.mark.parametrize("command", [["no-such-program-xyz"], ["./missing.sh"], ["sub/none.py"]])
def test_command_not_found(git_repo: Path, command: list[str]) -> None:
    line = assert_refused(["run", "--", *command], git_repo, f"command not found: {command[0]!r}")
    assert "hint: check the command and your PATH" in line


def test_command_not_found_from_config(git_repo: Path) -> None:
    write_files(git_repo, {"gitexp.yaml": "command: [no-such-program-xyz, --flag]\n"})
    assert_refused(["run"], git_repo, "command not found: 'no-such-program-xyz'")


def test_script_in_the_snapshot_is_found(git_repo: Path) -> None:
    """An untracked script counts as present: it is part of the snapshot."""
    write_files(git_repo, {"go.sh": "#!/bin/sh\necho go\n"})
    os.chmod(git_repo / "go.sh", 0o755)
    proc = run_gitexp("run", "-n", "sh", "--", "./go.sh")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "go"


def test_unknown_params_in_command(git_repo: Path) -> None:
    assert_refused(
        ["run", "--", "echo", "${nope}"], git_repo, "command refers to unknown param ${nope}"
    )


def test_bad_cli_usage_is_exit_2(git_repo: Path) -> None:
    assert_refused(["run", "--seed", "x", "--", "true"], git_repo, "Invalid value for '--seed'")
    assert_refused(["nosuchcommand"], git_repo, "No such command 'nosuchcommand'")


def test_params_file_not_utf8(git_repo: Path) -> None:
    (git_repo / "params.yaml").write_bytes(b"lr: \xff\n")
    assert_refused(["run", "--", "true"], git_repo, "params file params.yaml is not UTF-8 text")
