"""Snapshots at the edges: folders nested deeper than libgit2 walks, names gitexp
cannot write back, scripts git ignores. Each runs, or is refused before a name
is reserved (exit 2, nothing written)."""

from __future__ import annotations

import re
from pathlib import Path

import pygit2
import pytest
from conftest import git, make_repo, run_gitexp, write_files
from run_support import exp_refs, show, tree_files
from sharing_support import ok

from gitexp.gitstore.repo import open_repo
from gitexp.gitstore.status import porcelain_status

DEEP = "deep/" + "d/" * 200  # libgit2's status stops at 100 levels


def _deep_leaf(root: Path) -> str:
    (root / DEEP).mkdir(parents=True)
    (root / DEEP / "leaf.txt").write_text("x\n")
    return DEEP + "leaf.txt"


def test_an_untracked_folder_deeper_than_100_levels_is_snapshotted(git_repo: Path) -> None:
    leaf = _deep_leaf(git_repo)
    ok("run", "-n", "deep1", "-q", "--", "python", "train.py", cwd=git_repo)
    assert show(git_repo, "deep1", leaf) == "x\n"
    assert git(git_repo, "status", "--porcelain") == "?? deep/\n"  # untouched


def test_a_tracked_folder_deeper_than_100_levels_runs_and_records_changes(
    git_repo: Path,
) -> None:
    leaf = _deep_leaf(git_repo)
    git(git_repo, "add", "deep")
    git(git_repo, "commit", "-qm", "deep")
    (git_repo / leaf).write_text("dirty\n")
    script = f"open({leaf!r}, 'a').write('run\\n')"
    ok("run", "-n", "deep2", "-q", "--", "python", "-c", script, cwd=git_repo)
    assert show(git_repo, "deep2", leaf) == "dirty\nrun\n"
    assert (git_repo / leaf).read_text() == "dirty\n"


def test_apply_reads_a_work_tree_deeper_than_100_levels(git_repo: Path) -> None:
    ok(
        "run",
        "-n",
        "out",
        "-q",
        "--",
        "python",
        "-c",
        "open('out.txt','w').write('1')",
        cwd=git_repo,
    )
    leaf = _deep_leaf(git_repo)  # untracked, after the run: apply checks the work tree
    ok("apply", "out", cwd=git_repo)
    assert (git_repo / "out.txt").read_text() == "1" and (git_repo / leaf).read_text() == "x\n"


def test_git_status_fallback_reads_as_libgit2_does(git_repo: Path) -> None:
    (git_repo / "train.py").write_text("changed\n")
    (git_repo / "params.yaml").write_text("lr: 1\n")
    git(git_repo, "add", "params.yaml")
    (git_repo / "params.yaml").write_text("lr: 2\n")
    (git_repo / ".gitignore").unlink()
    (git_repo / "new dir").mkdir()
    (git_repo / "new dir" / "é ü.txt").write_text("n\n")
    (git_repo / "x.ignored").write_text("ignored\n")
    repo = open_repo(git_repo)
    expected = repo.git.status(untracked_files="all", ignored=False)
    assert porcelain_status(repo) == expected
    assert expected["train.py"] == pygit2.enums.FileStatus.WT_MODIFIED


UNSAFE = {
    "new\nline.txt": "its name holds a control character",
    "a\tb.txt": "its name holds a control character",
    "a\\b.txt": "its name holds a backslash",
    "git~1": "'git~1' reads as .git on some file systems",
    "sub/.git.": "'.git.' reads as .git on some file systems",
    ".g\u200cit/x": "'.g\\u200cit' reads as .git on some file systems",
}
UNTRACKED_HINT = "rename the file, or add it to .gitignore"
TRACKED_HINT = (
    "rename it with `git mv` and commit, or `git rm --cached` it and add it to .gitignore"
)


def _refusal(path: str, why: str, hint: str) -> str:
    return (
        f"gitexp: error: cannot snapshot {path!r}: {why}, so gitexp never writes it into a "
        f"run directory (nothing was run or written) (hint: {hint})\n"
    )


@pytest.mark.parametrize("path", list(UNSAFE))
def test_an_unsafe_untracked_name_is_refused_before_reserving(git_repo: Path, path: str) -> None:
    (git_repo / path).parent.mkdir(parents=True, exist_ok=True)
    (git_repo / path).write_text("x\n")
    proc = run_gitexp("run", "-n", "odd1", "--", "python", "train.py", cwd=git_repo)
    assert (proc.returncode, proc.stderr) == (2, _refusal(path, UNSAFE[path], UNTRACKED_HINT))
    assert exp_refs(git_repo) == {}
    assert (git_repo / path).read_text() == "x\n"
    with (git_repo / ".gitignore").open("a") as ignore:
        ignore.write(re.sub(r"[^\w.~-]", "*", path.split("/")[0]) + "\n")  # a glob
    ok("run", "-n", "odd1", "-q", "--", "python", "train.py", cwd=git_repo)  # the name is free
    assert path not in tree_files(git_repo, "odd1")


def test_an_unsafe_committed_name_is_refused_with_a_git_mv_hint(git_repo: Path) -> None:
    (git_repo / "new\nline.txt").write_text("x\n")
    git(git_repo, "add", "-A")
    git(git_repo, "commit", "-qm", "odd name")
    proc = run_gitexp("run", "-n", "odd2", "--", "python", "train.py", cwd=git_repo)
    refusal = _refusal("new\nline.txt", UNSAFE["new\nline.txt"], TRACKED_HINT)
    assert (proc.returncode, proc.stderr) == (2, refusal)
    assert exp_refs(git_repo) == {}
    (git_repo / "new\nline.txt").write_text("changed\n")  # listed by git status too
    proc = run_gitexp("run", "-n", "odd2", "--", "python", "train.py", cwd=git_repo)
    assert (proc.returncode, proc.stderr) == (2, refusal)
    git(git_repo, "mv", "new\nline.txt", "newline.txt")
    git(git_repo, "commit", "-qm", "renamed")
    ok("run", "-n", "odd2", "-q", "--", "python", "train.py", cwd=git_repo)
    assert show(git_repo, "odd2", "newline.txt") == "changed\n"


SCRIPT = 'print("accuracy: 0.9")\n'
NOTEBOOK = '{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}\n'


def _ignored(path: str, rule: str, hint_path: str | None = None) -> str:
    return (
        f"gitexp: error: {path} is ignored by git ({rule}), so it is not in the snapshot "
        f"the run executes (nothing was run or written) (hint: `git add -f "
        f"{hint_path or path}` puts it in every snapshot, or stop ignoring it)\n"
    )


def test_a_script_git_ignores_is_refused_before_reserving(git_repo: Path) -> None:
    (git_repo / ".git" / "info" / "exclude").write_text("*\n")
    (git_repo / "w.py").write_text(SCRIPT)
    proc = run_gitexp("run", "-n", "ign3", "--", "python", "w.py", cwd=git_repo)
    assert (proc.returncode, proc.stderr) == (2, _ignored("w.py", ".git/info/exclude: '*'"))
    assert exp_refs(git_repo) == {}
    git(git_repo, "add", "-f", "w.py")  # as the hint says
    ok("run", "-n", "ign3", "-q", "--", "python", "w.py", cwd=git_repo)
    assert show(git_repo, "ign3", "w.py") == SCRIPT


def test_a_sweep_of_a_script_git_ignores_is_refused_before_any_trial(git_repo: Path) -> None:
    (git_repo / ".git" / "info" / "exclude").write_text("w.py\n")
    (git_repo / "w.py").write_text("import gitexp\ngitexp.log_metric('loss', 1.0)\n")
    args = ["sweep", "-n", "sw", "-p", "lr=float(0,1)", "--trials", "2", "--objective"]
    proc = run_gitexp(*args, "loss:min", "--", "python", "w.py", cwd=git_repo)
    assert (proc.returncode, proc.stderr) == (2, _ignored("w.py", ".git/info/exclude: 'w.py'"))
    assert exp_refs(git_repo) == {}  # no trial ran: the name is free


@pytest.mark.parametrize(
    ("command", "shown"),
    [
        (["python3", "-u", "-X", "dev", "scratch/w.py", "--fast"], "scratch/w.py"),
        (["bash", "-e", "scratch/r.sh"], "scratch/r.sh"),
        (["./scratch/r.sh"], "./scratch/r.sh"),
        (["scratch/nb.ipynb"], "scratch/nb.ipynb"),
        ([], "scratch/w.py"),  # `command:` of gitexp.yaml, through a shell
    ],
)
def test_every_form_of_running_a_file_is_checked(
    git_repo: Path, command: list[str], shown: str
) -> None:
    scratch = {"w.py": SCRIPT, "r.sh": "echo 'accuracy: 1'\n", "nb.ipynb": NOTEBOOK}
    write_files(git_repo, {f"scratch/{name}": text for name, text in scratch.items()})
    (git_repo / "scratch" / "r.sh").chmod(0o755)
    (git_repo / ".gitignore").write_text("scratch/\n")
    (git_repo / "gitexp.yaml").write_text("command: python scratch/w.py > out.txt\n")
    args = ["--", *command] if command else []
    proc = run_gitexp("run", "-n", "ign4", *args, cwd=git_repo)
    rel = shown.removeprefix("./")
    assert (proc.returncode, proc.stderr) == (2, _ignored(shown, ".gitignore: 'scratch/'", rel))
    assert exp_refs(git_repo) == {}


def test_a_script_is_named_from_the_current_folder(git_repo: Path) -> None:
    write_files(git_repo, {"sub/.gitignore": "s.py\n", "sub/s.py": SCRIPT})
    proc = run_gitexp("run", "--", "python", "s.py", cwd=git_repo / "sub")
    assert (proc.returncode, proc.stderr) == (
        2,
        _ignored("s.py", "sub/.gitignore: 's.py'", "sub/s.py"),
    )


def test_a_script_inside_a_repository_of_its_own_is_refused(git_repo: Path) -> None:
    inner = make_repo(git_repo / "vendor", {"s.py": SCRIPT})
    proc = run_gitexp("run", "--", "python", "vendor/s.py", cwd=git_repo)
    assert proc.returncode == 2
    assert proc.stderr == (
        "gitexp: error: vendor/s.py is inside vendor/, a git repository of its own (not a "
        "submodule), so it is not in the snapshot the run executes (nothing was run or "
        "written) (hint: make it a submodule (git submodule add), or move the script out of "
        "vendor/)\n"
    )
    assert exp_refs(git_repo) == {} and (inner / "s.py").read_text() == SCRIPT


def test_what_the_run_dir_gets_another_way_is_not_refused(git_repo: Path) -> None:
    """An ignored script under `link:` is linked in; one absent from the work tree
    may be made by the command; `-m` names a module, not a file: left to the run."""
    write_files(git_repo, {"tools/w.py": SCRIPT, "data/m.py": SCRIPT})
    (git_repo / ".gitignore").write_text("tools/\ndata/\n")
    (git_repo / "gitexp.yaml").write_text("link: [tools/]\n")
    git(git_repo, "add", "gitexp.yaml")
    ok("run", "-n", "linked", "-q", "--", "python", "tools/w.py", cwd=git_repo)
    made = "import pathlib; pathlib.Path('gen.py').write_text('print(1)')"
    ok("run", "-n", "made", "-q", "--", "sh", "-c", f"python -c \"{made}\" && python gen.py",
       cwd=git_repo)  # fmt: skip
    proc = run_gitexp("run", "-n", "mod", "--", "python", "-m", "data.m", cwd=git_repo)
    assert proc.returncode == 1 and "'data.m'" in proc.stderr  # as before
    assert exp_refs(git_repo).keys() == {"linked", "made", "mod"}
