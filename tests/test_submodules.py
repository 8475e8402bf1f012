"""Submodules and worktrees: the gitlink a run records, the files it runs with, apply,
show, reproduce from a fresh clone. Real repositories, real `git submodule`, the
real CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import git, last_line, make_repo, run_gitexp, write_files
from run_support import exp_refs, repo_state, show, tree_files

from gitexp.gitstore.gitmodules import declared

FILE_OK = ("-c", "protocol.file.allow=always")  # file:// submodules need it (git >= 2.38)

TRAIN = """\
import sys
sys.path.insert(0, "vendor/lib")
from mylib import VALUE
import gitexp
gitexp.log_metric("value", VALUE)
print("value:", VALUE)
"""


def lib_repo(root: Path) -> Path:
    return make_repo(
        root,
        {"mylib/__init__.py": "VALUE = 1\n", ".gitignore": "*.log\n", "README.md": "lib\n"},
    )


def commit_value(lib: Path, value: int) -> str:
    """A new commit of the library with VALUE = value; its sha."""
    (lib / "mylib" / "__init__.py").write_text(f"VALUE = {value}\n")
    git(lib, "commit", "-qam", f"value {value}")
    return git(lib, "rev-parse", "HEAD").strip()


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project whose train.py imports from the submodule vendor/lib; cwd is its root."""
    lib = lib_repo(tmp_path / "lib")
    root = make_repo(tmp_path / "project", {"train.py": TRAIN})
    git(root, *FILE_OK, "submodule", "add", "-q", str(lib), "vendor/lib")
    git(root, "commit", "-qm", "add the library")
    monkeypatch.chdir(root)
    return root


def sub_head(root: Path, path: str = "vendor/lib") -> str:
    return git(root / path, "rev-parse", "HEAD").strip()


def gitlink(root: Path, name: str, path: str = "vendor/lib") -> str:
    """The commit an experiment's tree records for a submodule (real git)."""
    mode, kind, sha = git(root, "ls-tree", f"refs/experiments/{name}", path).split()[:3]
    assert (mode, kind) == ("160000", "commit")
    return sha


def run_ok(root: Path, name: str, *command: str) -> subprocess.CompletedProcess[str]:
    proc = run_gitexp("run", "-n", name, "--", *command, cwd=root)
    assert proc.returncode == 0, proc.stderr
    return proc


def test_run_records_the_gitlink_and_imports_from_the_submodule(project: Path) -> None:
    before = repo_state(project)
    proc = run_ok(project, "e1", sys.executable, "train.py")
    assert "value: 1" in proc.stdout
    assert gitlink(project, "e1") == sub_head(project)
    assert not [p for p in tree_files(project, "e1") if p.startswith("vendor/lib/")]
    assert repo_state(project) == before  # neither the superproject nor the submodule
    text = run_gitexp("show", "e1", cwd=project).stdout
    assert f"submodules\n  vendor/lib  {sub_head(project)}\n" in text
    data = json.loads(run_gitexp("show", "e1", "--format", "json", cwd=project).stdout)
    assert data["submodules"] == [{"path": "vendor/lib", "commit": sub_head(project)}]


def test_a_moved_submodule_is_recorded_and_used_in_the_reused_run_dir(
    project: Path, tmp_path: Path
) -> None:
    first = sub_head(project)
    run_ok(project, "at-first", sys.executable, "train.py")
    second = commit_value(tmp_path / "lib", 2)
    git(project / "vendor/lib", "fetch", "-q", "origin")
    git(project / "vendor/lib", "checkout", "-q", second)  # not committed in the project
    proc = run_ok(project, "moved", sys.executable, "train.py")
    assert "value: 2" in proc.stdout
    assert gitlink(project, "moved") == second
    assert gitlink(project, "at-first") == first
    assert git(project, "ls-tree", "HEAD", "vendor/lib").split()[2] == first


def test_a_submodule_with_uncommitted_changes_is_refused(project: Path) -> None:
    init = project / "vendor/lib/mylib/__init__.py"
    init.write_text("VALUE = 99\n")
    proc = run_gitexp("run", "--", sys.executable, "train.py", cwd=project)
    assert proc.returncode == 2
    assert last_line(proc.stderr) == (
        "gitexp: error: refusing to run: submodule 'vendor/lib' has uncommitted changes "
        "(mylib/__init__.py) (hint: commit or stash them in the submodule first, "
        "e.g. `git -C vendor/lib stash`)"
    )
    git(project / "vendor/lib", "checkout", "-q", ".")
    (project / "vendor/lib/notes.txt").write_text("scratch\n")
    proc = run_gitexp("run", "--", sys.executable, "train.py", cwd=project)
    assert proc.returncode == 2
    assert "submodule 'vendor/lib' has uncommitted changes (notes.txt)" in proc.stderr
    assert exp_refs(project) == {}
    (project / "vendor/lib/notes.txt").unlink()
    (project / "vendor/lib/debug.log").write_text("ignored by the library's .gitignore\n")
    run_ok(project, "ignored-is-fine", sys.executable, "train.py")


def test_the_next_run_sees_the_submodule_pristine_and_files_below_it_are_not_recorded(
    project: Path,
) -> None:
    script = (
        "init = 'vendor/lib/mylib/__init__.py'\n"
        "print(repr(open(init).read()))\n"
        "open(init, 'a').write('# changed by the run\\n')\n"
        "open('vendor/lib/new.txt', 'w').write('made by the run')\n"
    )
    (project / "touch.py").write_text(script)
    git(project, "add", "touch.py")
    git(project, "commit", "-qm", "touch")
    for name in ("t1", "t2"):
        proc = run_ok(project, name, sys.executable, "touch.py")
        assert proc.stdout.strip() == "'VALUE = 1\\n'"
        assert gitlink(project, name) == sub_head(project)
        assert not [p for p in tree_files(project, name) if p.startswith("vendor/lib/")]
    assert (project / "vendor/lib/mylib/__init__.py").read_text() == "VALUE = 1\n"
    assert not (project / "vendor/lib/new.txt").exists()


def test_an_untouched_submodule_folder_is_not_rewritten(project: Path) -> None:
    def written() -> list[tuple[int, int]]:
        from gitexp.gitstore.repo import open_repo
        from gitexp.running.workdirs import pool_dir

        pool = pool_dir(open_repo(project), None)
        slots = sorted(pool.glob("slot-*/vendor/lib/mylib"))
        assert slots
        return [(s.stat().st_ino, (s / "__init__.py").stat().st_mtime_ns) for s in slots]

    run_ok(project, "r1", sys.executable, "train.py")
    first = written()
    run_ok(project, "r2", sys.executable, "train.py")
    run_ok(project, "r3", sys.executable, "train.py")
    assert written() == first


def test_a_submodule_that_is_not_checked_out_keeps_heads_gitlink_with_a_warning(
    project: Path, tmp_path: Path
) -> None:
    run_ok(project, "base", sys.executable, "-c", "pass")
    clone = tmp_path / "plain-clone"
    git(tmp_path, "clone", "-q", str(project), str(clone))
    assert list((clone / "vendor/lib").iterdir()) == []
    listing = "import os; print(sorted(os.listdir('vendor/lib')))"
    proc = run_gitexp("run", "-n", "bare", "--", sys.executable, "-c", listing, cwd=clone)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
    warned = [line for line in proc.stderr.splitlines() if "vendor/lib" in line]
    assert warned == [
        f"gitexp: warning: submodule 'vendor/lib' is not checked out and its commit "
        f"{sub_head(project)[:7]} is not in this repository: the experiment records that "
        "commit and its folder in the run directory is empty "
        "(hint: run `git submodule update --init --recursive`)"
    ]
    assert gitlink(clone, "bare") == sub_head(project)


def test_apply_restores_the_submodule_commit(project: Path, tmp_path: Path) -> None:
    first = sub_head(project)
    second = commit_value(tmp_path / "lib", 2)
    git(project / "vendor/lib", "fetch", "-q", "origin")
    git(project / "vendor/lib", "checkout", "-q", second)
    run_ok(project, "moved", sys.executable, "train.py")
    git(project, *FILE_OK, "submodule", "update", "-q")  # back at HEAD's gitlink
    assert sub_head(project) == first
    index = git(project, "ls-files", "-s")
    proc = run_gitexp("apply", "moved", cwd=project)
    assert proc.returncode == 0, proc.stderr
    assert sub_head(project) == second
    assert git(project / "vendor/lib", "status", "--porcelain") == ""
    assert git(project / "vendor/lib", "symbolic-ref", "-q", "HEAD", check=False) == ""
    assert (project / "vendor/lib/mylib/__init__.py").read_text() == "VALUE = 2\n"
    assert git(project, "ls-files", "-s") == index  # the superproject's index untouched
    git(project, *FILE_OK, "submodule", "update", "-q")
    (project / "vendor/lib/mylib/__init__.py").write_text("VALUE = 7\n")
    proc = run_gitexp("apply", "moved", "--force", cwd=project)
    assert proc.returncode == 2
    assert last_line(proc.stderr) == (
        "gitexp: error: refusing to apply: submodule 'vendor/lib' has uncommitted changes "
        "(mylib/__init__.py) (hint: commit or stash them in the submodule first, "
        "e.g. `git -C vendor/lib stash`)"
    )
    assert sub_head(project) == first
    assert (project / "vendor/lib/mylib/__init__.py").read_text() == "VALUE = 7\n"


@pytest.mark.slow
def test_push_clone_recursively_pull_and_reproduce(project: Path, tmp_path: Path) -> None:
    run_ok(project, "shared", sys.executable, "train.py")
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(remote))
    git(project, "remote", "add", "origin", str(remote))
    git(project, "push", "-q", "origin", "main")
    assert run_gitexp("push", "origin", "--all", cwd=project).returncode == 0
    clone = tmp_path / "colleague"
    git(tmp_path, *FILE_OK, "clone", "-q", "--recurse-submodules", str(remote), str(clone))
    assert run_gitexp("pull", "origin", cwd=clone).returncode == 0
    proc = run_gitexp("reproduce", "shared", cwd=clone)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    plain = tmp_path / "no-submodules"
    git(tmp_path, "clone", "-q", str(remote), str(plain))
    assert run_gitexp("pull", "origin", cwd=plain).returncode == 0
    proc = run_gitexp("reproduce", "shared", cwd=plain)
    assert proc.returncode == 1
    assert last_line(proc.stderr) == (
        f"gitexp: error: submodule 'vendor/lib': commit {sub_head(project)[:7]} is not in "
        "this repository (hint: run `git submodule update --init --recursive`, or fetch "
        "that commit in the submodule)"
    )
    assert exp_refs(plain).keys() == {"shared"}  # the rerun's temporary ref is gone


def test_nested_submodules_are_in_the_run_dir(tmp_path: Path) -> None:
    inner = make_repo(tmp_path / "inner", {"inner.py": "INNER = 'deep'\n"})
    lib = lib_repo(tmp_path / "lib")
    git(lib, *FILE_OK, "submodule", "add", "-q", str(inner), "deps/inner")
    git(lib, "commit", "-qm", "nested")
    root = make_repo(tmp_path / "project")
    git(root, *FILE_OK, "submodule", "add", "-q", str(lib), "vendor/lib")
    git(root, *FILE_OK, "submodule", "update", "-q", "--init", "--recursive")
    git(root, "commit", "-qm", "add")
    read = "print(open('vendor/lib/deps/inner/inner.py').read().strip())"
    proc = run_ok(root, "deep", sys.executable, "-c", read)
    assert proc.stdout.strip() == "INNER = 'deep'"
    assert (root / ".git/modules/vendor/lib/modules/deps/inner").is_dir()


def test_worktrees_run_at_once_into_the_shared_repository(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "main", {"which.txt": "main\n"})
    other = tmp_path / "other"
    git(root, "worktree", "add", "-q", "-b", "other", str(other))
    write_files(other, {"which.txt": "other worktree\n"})  # uncommitted, in the worktree
    script = "import time; time.sleep(0.5); print(open('which.txt').read().strip())"
    env = {**os.environ}
    procs = {
        name: subprocess.Popen(
            [sys.executable, "-m", "gitexp", "run", "-n", name, "--", sys.executable, "-c", script],
            cwd=where,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, where in (("from-main", root), ("from-other", other))
    }
    outputs = {name: p.communicate(timeout=120) for name, p in procs.items()}
    for name, p in procs.items():
        assert p.returncode == 0, outputs[name][1]
    assert outputs["from-main"][0].strip() == "main"
    assert outputs["from-other"][0].strip() == "other worktree"
    assert exp_refs(root) == exp_refs(other)
    assert exp_refs(root).keys() == {"from-main", "from-other"}
    assert show(root, "from-other", "which.txt") == "other worktree\n"
    assert show(other, "from-main", "which.txt") == "main\n"
    listed = run_gitexp("show", "--format", "json", cwd=other).stdout
    assert {row["name"] for row in json.loads(listed)} == {"from-main", "from-other"}


def test_gitmodules_is_read_as_git_reads_it(tmp_path: Path) -> None:
    """The parser against real `git config` on names and paths with spaces, quotes
    and comments."""
    path = tmp_path / ".gitmodules"
    for name, sub in (("plain", "vendor/plain"), ("with space", "third party/x y")):
        git(tmp_path, "config", "-f", str(path), f"submodule.{name}.path", sub)
        git(tmp_path, "config", "-f", str(path), f"submodule.{name}.url", "../x")
    text = path.read_text() + '[submodule "quoted"]\n\tpath = "a;b" ; a comment\n'
    path.write_text(text)
    listed = git(tmp_path, "config", "-z", "-f", str(path), "--get-regexp", r"\.path$")
    from_git = {}
    for item in filter(None, listed.split("\0")):
        key, value = item.split("\n", 1)
        from_git[value] = key[len("submodule.") : -len(".path")]
    assert (
        declared(text)
        == from_git
        == {
            "vendor/plain": "plain",
            "third party/x y": "with space",
            "a;b": "quoted",
        }
    )
