"""Artifacts through DVC: large outputs, `outputs:` patterns and log_artifact paths become
`.dvc` pointers in the commit with their bytes in the DVC cache; DVC inputs are linked."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import git, last_line, make_repo, run_gitexp, write_files
from run_support import run_json, tree_files
from sharing_support import make_world, md5, ok

pytestmark = pytest.mark.dvc  # conftest: skip, or fail under GITEXP_REQUIRE_DVC=1

LOGGING = """\
import os
import gitexp

os.makedirs("plots", exist_ok=True)
with open("plots/a.txt", "w") as f:
    f.write("a")
with open("report.md", "w") as f:
    f.write("# small but named in outputs")
with open("big.bin", "wb") as f:
    f.write(b"x" * 3000)
with open("kept.ignored", "w") as f:
    f.write("ignored by .gitignore, logged anyway")
gitexp.log_artifact("plots")
"""


def test_outputs_go_to_dvc_and_the_commit_holds_pointers(tmp_path: Path) -> None:
    world = make_world(
        tmp_path,
        {
            "log.py": LOGGING,
            ".gitignore": "*.ignored\n",
            "gitexp.yaml": "artifacts: {threshold: 1KB}\noutputs: ['*.md']\n",
        },
    )
    ok("run", "-n", "arts", "--", "python", "log.py", cwd=world.a)
    files = set(tree_files(world.a, "arts"))
    assert {"plots.dvc", "report.md.dvc", "big.bin.dvc"} <= files
    assert not {"plots/a.txt", "report.md", "big.bin"} & files
    record = {r["path"]: r for r in run_json(world.a, "arts")["artifacts"]}
    assert {p: r["reason"] for p, r in record.items()} == {
        "plots": "logged",
        "report.md": "outputs",
        "big.bin": "size",
    }
    assert record["big.bin"]["size"] == 3000
    assert record["plots"]["md5"].endswith(".dir") and record["plots"]["nfiles"] == 1

    pointer = yaml.safe_load(git(world.a, "show", "refs/experiments/arts:big.bin.dvc"))
    assert pointer["outs"] == [
        {"md5": record["big.bin"]["md5"], "size": 3000, "hash": "md5", "path": "big.bin"}
    ]
    cached = world.a / ".dvc" / "cache" / "files" / "md5" / record["big.bin"]["md5"][:2]
    assert (cached / record["big.bin"]["md5"][2:]).read_bytes() == b"x" * 3000

    listed = json.loads(ok("artifacts", "list", "arts", "--format", "json", cwd=world.a))
    assert sorted(r["path"] for r in listed) == ["big.bin", "plots", "report.md"]
    out = tmp_path / "out"
    ok("artifacts", "pull", "arts", "-o", str(out), "--path", "big.bin", cwd=world.a)
    assert md5(out / "big.bin") == record["big.bin"]["md5"] and not (out / "plots").exists()


def test_small_logged_file_that_is_ignored_is_still_committed(tmp_path: Path) -> None:
    root = make_repo(
        tmp_path / "r",
        {
            "s.py": "import gitexp\nopen('x.ignored','w').write('hi')\n"
            "gitexp.log_artifact('x.ignored')\n",
            ".gitignore": "*.ignored\n",
        },
    )
    ok("run", "-n", "small", "--", "python", "s.py", cwd=root)
    assert "x.ignored" in tree_files(root, "small")
    [entry] = run_json(root, "small")["artifacts"]  # recorded as kept in git (no DVC)
    assert entry["path"] == "x.ignored" and entry["store"] == "git" and entry["size"] == 2


def test_without_dvc_a_large_output_is_committed_with_a_warning(tmp_path: Path) -> None:
    root = make_repo(
        tmp_path / "r",
        {
            "big.py": "open('big.bin','wb').write(b'y' * 3000)\n",
            "gitexp.yaml": "artifacts:\n  threshold: 1KB\n",
        },
    )
    proc = run_gitexp("run", "-n", "nodvc", "--", "python", "big.py", cwd=root)
    assert proc.returncode == 0, proc.stderr
    assert (
        "gitexp: warning: big.bin (2.9 KB, size) committed to git because DVC is not set up "
        "(hint: run `gitexp init --dvc` (or `dvc init`) and commit .dvc/)"
    ) in proc.stderr
    assert "big.bin" in tree_files(root, "nodvc")
    proc = run_gitexp("artifacts", "pull", "nodvc", cwd=root)
    assert proc.returncode == 0 and last_line(proc.stderr) == "gitexp: nodvc has no artifacts"


def test_dvc_tracked_inputs_are_linked_from_the_cache_not_copied(tmp_path: Path) -> None:
    world = make_world(
        tmp_path,
        {
            "read.py": "import os\nprint('link', os.path.islink('data/in.txt'), "
            "open('data/in.txt').read())\n"
        },
    )
    write_files(world.a, {"data/in.txt": "input-bytes"})
    subprocess.run(["dvc", "add", "-q", "data"], cwd=world.a, check=True)
    git(world.a, "add", "-A")
    git(world.a, "commit", "-q", "-m", "data")
    proc = run_gitexp("run", "-n", "reads", "--", "python", "read.py", cwd=world.a)
    assert proc.returncode == 0, proc.stderr
    assert "link True input-bytes" in proc.stdout
    files = tree_files(world.a, "reads")
    assert "data.dvc" in files and "data/in.txt" not in files
    [inp] = run_json(world.a, "reads")["dvc_inputs"]
    assert inp["path"] == "data" and inp["md5"].endswith(".dir")


def test_artifacts_pull_without_dvc_remote_is_a_clear_error(tmp_path: Path) -> None:
    world = make_world(tmp_path, dvc_remote=False)
    ok("run", "-n", "big", cwd=world.a)
    proc = run_gitexp("artifacts", "pull", "big", "-o", str(tmp_path / "o"), cwd=world.a)
    assert proc.returncode == 1
    assert last_line(proc.stderr) == (
        "gitexp: error: no DVC remote is configured for the artifacts (hint: add one with "
        "`dvc remote add -d storage <url>` and commit .dvc/config, or name one in gitexp.yaml "
        "as `artifacts: {remote: NAME}`)"
    )
    proc = run_gitexp("artifacts", "list", "nope", cwd=world.a)
    assert proc.returncode == 2


def test_dvc_is_not_imported_by_gitexp_or_by_runs_without_large_files(git_repo: Path) -> None:
    code = (
        "import sys, gitexp\n"
        "from gitexp.config.settings import Config\n"
        "from gitexp.gitstore.repo import open_repo\n"
        "from gitexp.running.runner import RunRequest, run_experiment\n"
        "assert 'dvc' not in sys.modules\n"
        "run_experiment(open_repo(), Config(), RunRequest(command=['python', 'train.py'],"
        " echo=False))\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dvc', 'dvc_data')))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=git_repo, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
