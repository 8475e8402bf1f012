"""`link:` paths (ignored data) are available in the run dir and never committed."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import git, run_gitexp, write_files
from run_support import repo_state, show, tree_files

READER = """\
import json, os
rows = open("data/raw.csv").read().splitlines()
weights = open("models/base.bin").read()
json.dump({"rows": len(rows), "weights": weights, "is_link": os.path.islink("data")},
          open("seen.json", "w"))
"""


def _with_data(root: Path) -> None:
    write_files(
        root,
        {
            "data/raw.csv": "a,b\n1,2\n3,4\n",  # ignored by the fixture's .gitignore
            "models/base.bin": "W",  # tracked? no: untracked but linked, so excluded
            "read.py": READER,
            "gitexp.yaml": "link: [data/, models/base.bin]\n",
        },
    )


def test_linked_paths_are_readable_in_the_run(git_repo: Path) -> None:
    _with_data(git_repo)
    before = repo_state(git_repo)
    proc = run_gitexp("run", "-n", "l", "--", "python", "read.py")
    assert proc.returncode == 0, proc.stderr
    assert show(git_repo, "l", "seen.json") == '{"rows": 3, "weights": "W", "is_link": true}'
    files = tree_files(git_repo, "l")
    assert not any(f.startswith(("data/", "models/")) for f in files), files
    assert repo_state(git_repo) == before


def test_links_are_recorded_in_run_json(git_repo: Path) -> None:
    _with_data(git_repo)
    assert run_gitexp("run", "-n", "l", "--", "python", "read.py").returncode == 0
    record = json.loads(show(git_repo, "l", ".gitexp/run.json"))
    assert record["links"] == ["data", "models/base.bin"]


def test_tracked_path_under_link_is_linked_not_copied(git_repo: Path) -> None:
    """A linked path that git tracks is served from the work tree, not the snapshot."""
    write_files(git_repo, {"assets/big.txt": "v1", "gitexp.yaml": "link: [assets]\n"})
    git(git_repo, "add", "assets")
    git(git_repo, "commit", "-qm", "assets")
    (git_repo / "assets" / "big.txt").write_text("v2 (uncommitted)")
    write_files(git_repo, {"r.py": "print(open('assets/big.txt').read())\n"})
    proc = run_gitexp("run", "-n", "t", "--", "python", "r.py")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "v2 (uncommitted)"
    assert "assets/big.txt" not in tree_files(git_repo, "t")


def test_missing_link_path_is_refused(git_repo: Path) -> None:
    write_files(git_repo, {"gitexp.yaml": "link: [nowhere/]\n"})
    proc = run_gitexp("run", "--", "true")
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("gitexp: error: link path 'nowhere' does not exist")
    assert "provide the data at that path" in proc.stderr  # a clone or CI lacks it
