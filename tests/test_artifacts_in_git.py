"""Artifacts without DVC: logged files and `outputs:` matches are committed to git and
still listed in run.json (``"store": "git"``), by `show NAME`, `--format json`,
`artifacts list` and `artifacts pull`, which writes them from the commit."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import git, make_repo, run_gitexp
from run_support import run_json, tree_files
from sharing_support import ok

SCRIPT = """\
import os
import gitexp

open("model.pkl", "wb").write(b"weights " * 100)
os.makedirs("plots", exist_ok=True)
open("plots/a.txt", "w").write("a")
open("plots/b.txt", "w").write("bb")
open("report.md", "w").write("# named in outputs")
open("other.txt", "w").write("an ordinary output")
gitexp.log_artifact("model.pkl")
gitexp.log_artifact("plots")
"""


def _repo(tmp_path: Path) -> Path:
    root = make_repo(
        tmp_path / "r", {"s.py": SCRIPT, "gitexp.yaml": 'outputs: ["*.md"]\n', ".gitignore": ""}
    )
    ok("run", "-n", "arts", "--", "python", "s.py", cwd=root)
    return root


def _by_path(root: Path) -> dict[str, dict[str, object]]:
    return {str(a["path"]): a for a in run_json(root, "arts")["artifacts"]}


def test_logged_files_and_outputs_are_listed_with_where_they_live(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    listed = _by_path(root)
    assert set(listed) == {"model.pkl", "plots", "report.md"}  # other.txt: no artifact
    model = listed["model.pkl"]
    blob = git(root, "rev-parse", "refs/experiments/arts:model.pkl").strip()
    assert model == {
        "path": "model.pkl",
        "store": "git",
        "size": 800,
        "blob": blob,
        "reason": "logged",
    }
    assert listed["plots"] == {
        "path": "plots",
        "store": "git",
        "size": 3,
        "nfiles": 2,
        "reason": "logged",
    }
    assert listed["report.md"]["reason"] == "outputs" and "md5" not in listed["report.md"]
    assert {"model.pkl", "plots/a.txt", "report.md"} <= set(tree_files(root, "arts"))


def test_show_lists_them_in_text_and_json(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    blob = git(root, "rev-parse", "refs/experiments/arts:model.pkl").strip()
    text = ok("show", "arts", cwd=root)
    assert "artifacts" in text
    assert f"store=git size=800 blob={blob}" in text
    assert "store=git size=3 nfiles=2" in text
    shown = json.loads(run_gitexp("show", "arts", "--format", "json", cwd=root).stdout)
    assert [a["path"] for a in shown["run"]["artifacts"]] == ["model.pkl", "plots", "report.md"]
    assert shown["run"]["artifacts"][0]["blob"] == blob


def test_artifacts_pull_writes_them_from_the_commit_without_dvc(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    out = tmp_path / "out"
    (out / "plots").mkdir(parents=True)
    (out / "plots" / "stale.txt").write_text("replaced")
    proc = run_gitexp("artifacts", "pull", "arts", "-o", str(out), cwd=root)
    assert proc.returncode == 0, proc.stderr
    assert (out / "model.pkl").read_bytes() == b"weights " * 100
    assert sorted(p.name for p in (out / "plots").iterdir()) == ["a.txt", "b.txt"]
    assert (out / "report.md").read_text() == "# named in outputs"
    assert proc.stdout.split() == [str(out / p) for p in ("model.pkl", "plots", "report.md")]
    one = tmp_path / "one"
    proc = run_gitexp("artifacts", "pull", "arts", "-o", str(one), "-p", "plots", cwd=root)
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in one.iterdir()) == ["plots"]


def test_artifacts_list_shows_them(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    listed = json.loads(ok("artifacts", "list", "arts", "--format", "json", cwd=root))
    assert [(a["path"], a["store"]) for a in listed] == [
        ("model.pkl", "git"),
        ("plots", "git"),
        ("report.md", "git"),
    ]


def test_a_path_the_commit_lacks_is_one_line_and_nothing_is_written(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    record = json.loads(git(root, "show", "refs/experiments/arts:.gitexp/run.json"))
    record["artifacts"].append({"path": "gone.bin", "store": "git", "size": 1})
    blob = _hash(root, json.dumps(record))
    tree = _tree_with_run_json(root, blob)
    commit = git(root, "commit-tree", tree, "-p", "HEAD", "-m", "edited").strip()
    git(root, "update-ref", "refs/experiments/arts", commit)
    out = tmp_path / "out"
    proc = run_gitexp("artifacts", "pull", "arts", "-o", str(out), cwd=root)
    assert proc.returncode == 1
    assert proc.stderr.strip() == (
        "gitexp: error: artifact gone.bin is not in experiment arts's commit"
    )
    assert not out.exists() or not any(out.iterdir())


def _hash(root: Path, text: str) -> str:
    path = root.parent / "run.json"
    path.write_text(text)
    return git(root, "hash-object", "-w", str(path)).strip()


def _tree_with_run_json(root: Path, blob: str) -> str:
    """The experiment's tree with .gitexp/run.json replaced (plumbing, as a remote could)."""
    meta = git(root, "ls-tree", "refs/experiments/arts:.gitexp")
    lines = [ln for ln in meta.splitlines() if not ln.endswith("\trun.json")]
    lines.append(f"100644 blob {blob}\trun.json")
    meta_tree = git_input(root, "\n".join(lines) + "\n")
    top = git(root, "ls-tree", "refs/experiments/arts")
    rows = [ln for ln in top.splitlines() if not ln.endswith("\t.gitexp")]
    rows.append(f"040000 tree {meta_tree}\t.gitexp")
    return git_input(root, "\n".join(rows) + "\n")


def git_input(root: Path, text: str) -> str:
    import subprocess

    proc = subprocess.run(
        ["git", "mktree"], cwd=root, input=text, capture_output=True, text=True, check=True
    )
    return proc.stdout.strip()
