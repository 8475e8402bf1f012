"""Paths an experiment names stay inside its run directory: `metrics:`/`outputs:` of
gitexp.yaml, run.json's `cwd`, and symlinks of its tree. The crafted experiments are
built with git plumbing, as someone who pushes a hand-made commit would."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from conftest import git, last_line, run_gitexp
from run_support import exp_refs, metrics_json, run_json
from sharing_support import ok

TRAIN = "import gitexp\ngitexp.log_metric('acc', 0.5)\nprint('score: 1')\n"
MARK = "import os\nopen(os.path.join(os.getcwd(), 'PWNED'), 'w').close()\nprint('score: 1')\n"


def _blob(root: Path, data: bytes) -> str:
    proc = subprocess.run(
        ["git", "hash-object", "-w", "--stdin"], cwd=root, input=data, capture_output=True
    )
    return proc.stdout.decode().strip()


def craft(root: Path, base: str, ref: str, edits: dict[str, tuple[str, bytes]]) -> None:
    """``refs/experiments/<ref>``: experiment ``base`` with files replaced (mode, bytes),
    committed by git plumbing (nothing of gitexp checks them on the way in)."""
    env = {**os.environ, "GIT_INDEX_FILE": str(root / ".git" / "crafted-index")}
    commit = f"refs/experiments/{base}"
    subprocess.run(["git", "read-tree", commit], cwd=root, env=env, check=True)
    for path, (mode, data) in edits.items():
        info = f"{mode},{_blob(root, data)},{path}"
        subprocess.run(
            ["git", "update-index", "--add", "--cacheinfo", info], cwd=root, env=env, check=True
        )
    tree = subprocess.run(
        ["git", "write-tree"], cwd=root, env=env, capture_output=True, text=True, check=True
    ).stdout.strip()
    parent = git(root, "rev-parse", f"{commit}^").strip()
    new = git(root, "commit-tree", tree, "-p", parent, "-m", f"gitexp: {ref}").strip()
    git(root, "update-ref", f"refs/experiments/{ref}", new)


def _base(root: Path, secret: Path) -> None:
    (root / "train.py").write_text(TRAIN)
    (root / "mark.py").write_text(MARK)
    secret.write_text(json.dumps({"stolen": 42}))
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "scripts")
    ok("run", "-n", "base", "-q", "--", "python", "train.py", cwd=root)


def test_own_config_naming_files_outside_the_repository_is_refused(
    git_repo: Path, tmp_path: Path
) -> None:
    for key, path in [
        ("metrics", "../secret.json"),
        ("outputs", "/etc/passwd"),
        ("metrics", ".git/HEAD"),
    ]:
        (git_repo / "gitexp.yaml").write_text(f"{key}: [{path}]\n")
        proc = run_gitexp("run", "-q", "--", "python", "train.py", cwd=git_repo)
        assert (proc.returncode, last_line(proc.stderr)) == (
            2,
            f"gitexp: error: gitexp.yaml: `{key}` path {path!r} is outside the repository "
            f"(hint: `{key}:` names files the run writes, relative to the repository root)",
        )
        assert exp_refs(git_repo) == {}


def test_a_pulled_config_cannot_make_reproduce_read_host_files(
    git_repo: Path, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.json"
    _base(git_repo, secret)
    relative = os.path.relpath(secret, tmp_path / "run-dir-anywhere")
    for ref, path in [("abs", str(secret)), ("rel", "../../../../../../.." + str(secret))]:
        craft(git_repo, "base", ref, {"gitexp.yaml": ("100644", f"metrics: [{path}]\n".encode())})
        before = exp_refs(git_repo)
        proc = run_gitexp("reproduce", ref, "--save", "-n", f"s-{ref}", cwd=git_repo)
        assert proc.returncode == 2, proc.stderr
        assert last_line(proc.stderr).startswith(
            f"gitexp: error: experiment {ref!r}: gitexp.yaml: `metrics` path {path!r} is outside"
        )
        assert "nondeterministic" not in proc.stdout + proc.stderr
        assert exp_refs(git_repo) == before
    assert relative  # the relative form climbs out of any run dir


def test_a_symlinked_metrics_file_of_the_tree_is_not_read(git_repo: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.json"
    _base(git_repo, secret)
    craft(
        git_repo,
        "base",
        "linked",
        {
            "gitexp.yaml": ("100644", b"metrics: [m.json]\noutputs: [leak.json]\n"),
            "m.json": ("120000", str(secret).encode()),
            "leak.json": ("120000", str(secret).encode()),
        },
    )
    proc = run_gitexp("reproduce", "linked", "--save", "-n", "s", cwd=git_repo)
    assert proc.returncode == 0, proc.stderr  # acc and score as recorded; nothing stolen
    assert "gitexp: warning: metrics file m.json leads outside the run directory: not read" in (
        proc.stderr
    )
    assert "stolen" not in metrics_json(git_repo, "s")
    mode = git(git_repo, "ls-tree", "refs/experiments/s", "leak.json").split()[0]
    assert mode == "120000"  # the link itself, never the host file's bytes


def test_a_crafted_cwd_outside_the_run_dir_is_refused(git_repo: Path, tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.mkdir()
    _base(git_repo, tmp_path / "secret.json")
    record = run_json(git_repo, "base")
    escapes = {
        "dotdot": ("../../../../../../.." + str(victim), {}),
        "absolute": (str(victim), {}),
        "symlink": ("sub", {"sub": ("120000", str(victim).encode())}),
    }
    for ref, (cwd, files) in escapes.items():
        changed = {**record, "cwd": cwd, "command": ["python", "mark.py"]}
        run = ("100644", json.dumps(changed).encode())
        craft(git_repo, "base", ref, {".gitexp/run.json": run, **files})
        before = exp_refs(git_repo)
        proc = run_gitexp("reproduce", ref, "--save", "-n", f"s-{ref}", cwd=git_repo)
        assert (proc.returncode, last_line(proc.stderr)) == (
            2,
            f"gitexp: error: working directory {cwd!r} is outside the run directory (hint: a "
            "run's cwd is a folder of its snapshot; the experiment's run.json may have been "
            "edited)",
        ), ref
        assert exp_refs(git_repo) == before
    assert list(victim.iterdir()) == []
