"""Reused run directories: cheap in a big repository, and every run still isolated."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import git, run_gitexp, write_files
from run_support import show, tree_files

from gitexp.gitstore.repo import open_repo
from gitexp.running.workdirs import clean, lease, pool_dir

REWRITES = """\
import os, sys, time
print("input was:", open("data/input.txt").read())
open("data/input.txt", "w").write(sys.argv[1])  # in place: open for writing, truncate
open("made-by-run.txt", "w").write("x")
os.makedirs("cache/deep", exist_ok=True)
os.remove("data/other.txt")
time.sleep(float(sys.argv[2]) if len(sys.argv) > 2 else 0)
print("input now:", open("data/input.txt").read())
"""


def _slot(root: Path) -> Path:
    return pool_dir(open_repo(root), None) / "slot-0"


def test_a_rewrite_in_place_stays_in_its_own_run(git_repo: Path) -> None:
    write_files(
        git_repo,
        {"data/input.txt": "original", "data/other.txt": "keep me", "r.py": REWRITES},
    )
    git(git_repo, "add", "-f", "data", "r.py")
    git(git_repo, "commit", "-q", "-m", "inputs")
    assert run_gitexp("run", "-n", "first", "--", "python", "r.py", "changed").returncode == 0
    # the user's file, and the experiment's copy, are each what they should be
    assert (git_repo / "data/input.txt").read_text() == "original"
    assert show(git_repo, "first", "data/input.txt") == "changed"
    assert "data/other.txt" not in tree_files(git_repo, "first")
    # the next run starts from the tree again, not from what the last run left behind
    second = run_gitexp("run", "-n", "second", "--", "python", "r.py", "again")
    assert second.returncode == 0, second.stderr  # os.remove found data/other.txt back
    log = show(git_repo, "second", ".gitexp/output.log")
    assert "input was: original" in log


def test_files_and_folders_a_run_made_are_gone_for_the_next(git_repo: Path) -> None:
    write_files(git_repo, {"data/input.txt": "v", "data/other.txt": "o", "r.py": REWRITES})
    git(git_repo, "add", "-f", "data", "r.py")
    git(git_repo, "commit", "-q", "-m", "inputs")
    assert run_gitexp("run", "-n", "a", "--", "python", "r.py", "x").returncode == 0
    write_files(git_repo, {"look.py": "import os\nprint(sorted(os.listdir('.')))\n"})
    assert run_gitexp("run", "-n", "b", "--", "python", "look.py").returncode == 0
    listed = show(git_repo, "b", ".gitexp/output.log")
    assert "made-by-run.txt" not in listed and "'cache'" not in listed
    assert "'data'" in listed and "'look.py'" in listed


def test_only_what_differs_is_written(git_repo: Path) -> None:
    write_files(git_repo, {f"many/f{i}.txt": str(i) for i in range(50)})
    git(git_repo, "add", "many")
    git(git_repo, "commit", "-q", "-m", "many")
    assert run_gitexp("run", "-n", "one", "--", "python", "-c", "pass").returncode == 0
    untouched = (_slot(git_repo) / "many/f7.txt").stat()
    (git_repo / "many/f3.txt").write_text("edited")  # an uncommitted change: in the snapshot
    assert run_gitexp("run", "-n", "two", "--", "python", "-c", "pass").returncode == 0
    again = (_slot(git_repo) / "many/f7.txt").stat()
    assert (again.st_ino, again.st_mtime_ns) == (untouched.st_ino, untouched.st_mtime_ns)
    assert (_slot(git_repo) / "many/f3.txt").read_text() == "edited"
    assert show(git_repo, "two", "many/f3.txt") == "edited"


def test_concurrent_runs_each_see_only_their_own_rewrite(git_repo: Path) -> None:
    write_files(git_repo, {"data/input.txt": "original", "data/other.txt": "o", "r.py": REWRITES})
    git(git_repo, "add", "-f", "data", "r.py")
    git(git_repo, "commit", "-q", "-m", "inputs")
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "gitexp", "run", "-q", "-n", f"c{i}", "--", "python", "r.py",
             f"mine-{i}", "1"],
            cwd=git_repo, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for i in range(8)
    ]  # fmt: skip
    for p in procs:
        assert p.wait(timeout=240) == 0, p.communicate()
    for i in range(8):
        log = show(git_repo, f"c{i}", ".gitexp/output.log")
        assert "input was: original" in log and f"input now: mine-{i}" in log
        assert show(git_repo, f"c{i}", "data/input.txt") == f"mine-{i}"
    assert (git_repo / "data/input.txt").read_text() == "original"


def test_git_in_a_run_dir_finds_no_repository(git_repo: Path) -> None:
    write_files(
        git_repo,
        {"g.py": "import subprocess\nprint(subprocess.run(['git', 'status'], capture_output=True,"
                 " text=True).stderr)\n"},
    )  # fmt: skip
    assert run_gitexp("run", "-n", "g", "--", "python", "g.py").returncode == 0
    assert "not a git repository" in show(git_repo, "g", ".gitexp/output.log")


def test_a_slot_with_a_broken_memory_is_written_in_full(git_repo: Path) -> None:
    assert run_gitexp("run", "-n", "a", "--", "python", "train.py").returncode == 0
    state = _slot(git_repo).with_suffix(".state")
    state.write_bytes(b"not marshal")
    (_slot(git_repo) / "train.py").write_text("raise SystemExit('stale')\n")
    assert run_gitexp("run", "-n", "b", "--", "python", "train.py").returncode == 0
    assert (_slot(git_repo) / "train.py").read_text() == (git_repo / "train.py").read_text()


def test_busy_slots_are_not_shared_and_idle_ones_are_cleaned(git_repo: Path) -> None:
    repo = open_repo(git_repo)
    first, second = lease(repo, None), lease(repo, None)
    assert first is not None and second is not None and first.path != second.path
    first.path.mkdir(parents=True)
    second.path.mkdir(parents=True)
    first.release()
    removed = clean(repo, None)
    assert [path for path, _ in removed] == [first.path]  # the one still leased stays
    assert second.path.exists() and not first.path.exists()
    second.release()


def test_keep_run_dir_gives_a_fresh_directory_that_stays(git_repo: Path) -> None:
    proc = run_gitexp(
        "run", "-n", "kept", "--keep-run-dir", "--", "python", "-c",
        "import os; print(os.environ['GITEXP_RUN_DIR'])",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    kept = Path(proc.stdout.strip().splitlines()[0])
    assert kept.is_dir() and "workdirs" not in str(kept)
    assert os.path.exists(kept / "train.py")


def test_gc_gives_the_space_back(git_repo: Path) -> None:
    assert run_gitexp("run", "-n", "a", "--", "python", "train.py").returncode == 0
    assert _slot(git_repo).is_dir()
    proc = run_gitexp("gc")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.startswith("gitexp: removed 1 idle run directories (")
    assert not _slot(git_repo).exists()
    assert run_gitexp("run", "-n", "b", "--", "python", "train.py").returncode == 0  # refilled
