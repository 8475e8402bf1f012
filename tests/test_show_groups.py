"""`gitexp show NAME/` of a group that does not exist is refused as an unknown name
is (with a did-you-mean among the groups), and a folded sweep's row names its best
trial; `gitexp sweep --grid` points at `--sampler grid`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from conftest import last_line, run_gitexp
from sweep_support import sweep, sweep_repo


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A repository with a plain run and a sweep `fold` of two trials (x=0.3 is best)."""
    root = sweep_repo(tmp_path_factory.mktemp("groups") / "repo")
    plain = run_gitexp("run", "-n", "plain", "--", sys.executable, "quadratic.py", cwd=root)
    assert plain.returncode == 0, plain.stderr
    done = sweep(root, "-n", "fold", "-p", "x=choice(0.1,0.3)", "-p", "y=2", "--sampler",
                 "grid", "-o", "loss", "--", sys.executable, "quadratic.py")  # fmt: skip
    assert done.returncode == 0, done.stderr
    return root


def _best(root: Path) -> str:
    found = run_gitexp("sweep", "show", "fold", "--format", "json", cwd=root).stdout
    best: str = json.loads(found)["best"][0]
    return best


@pytest.mark.parametrize(
    ("group", "hint"),
    [
        ("zzz/", "list them with `gitexp show`"),
        ("fodl/", "did you mean `gitexp show fold/`?"),
        ("FOLD/", "did you mean `gitexp show fold/`?"),
    ],
)
def test_an_unknown_group_is_refused_like_an_unknown_name(
    swept: Path, group: str, hint: str
) -> None:
    unknown_name = run_gitexp("show", "nope", cwd=swept)
    proc = run_gitexp("show", group, cwd=swept)
    assert proc.returncode == unknown_name.returncode == 2
    assert (
        last_line(proc.stderr) == f"gitexp: error: no experiment matches {group!r} (hint: {hint})"
    )
    assert proc.stdout == "" and "no experiments yet" not in proc.stderr


def test_a_known_group_still_lists_its_trials(swept: Path) -> None:
    listed = run_gitexp("show", "fold/", "--format", "csv", cwd=swept)
    assert listed.returncode == 0, listed.stderr
    names = sorted(line.split(",")[0] for line in listed.stdout.splitlines()[1:])
    assert names == ["fold/trial-0000", "fold/trial-0001"]


def test_the_folded_row_names_the_best_trial(swept: Path) -> None:
    best = _best(swept).removeprefix("fold/")
    table = run_gitexp("show", "--wide", cwd=swept).stdout
    row = next(line for line in table.splitlines() if line.startswith("fold/"))
    assert row.startswith(f"fold/ (best {best})") and "sweep, 2 trials" in row
    md = run_gitexp("show", "--format", "md", "--wide", cwd=swept).stdout
    assert f"fold/ (best {best})" in md
    csv = run_gitexp("show", "--format", "csv", cwd=swept).stdout  # for programs: the name
    assert any(line.startswith("fold/,") for line in csv.splitlines())


def test_sweep_grid_points_at_the_sampler_option(swept: Path) -> None:
    proc = run_gitexp("sweep", "--grid", "-p", "x=choice(0.1,0.3)", "--", "true", cwd=swept)
    assert proc.returncode == 2
    assert last_line(proc.stderr) == (
        "gitexp: error: no such option '--grid' (hint: a grid search is `--sampler grid`)"
    )
