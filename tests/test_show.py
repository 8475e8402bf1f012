"""`gitexp show` / `gitexp log` on a real study: schema, sort, filter, columns, errors."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import git, last_line, make_repo, run_gitexp
from explore_support import gitexp_json, gitexp_ok, names, study, study_template

from gitexp.views import render as output

__all__ = ["study", "study_template"]

SCHEMA_KEYS = {
    "name",
    "ref",
    "commit",
    "baseline",
    "status",
    "created",
    "seed",
    "params",
    "metrics",
}


def test_json_schema_is_nested_and_complete(study: Path) -> None:
    rows = gitexp_json("show", cwd=study)
    assert sorted(names(rows)) == ["alpha", "beta", "broken", "gamma"]
    head = git(study, "rev-parse", "HEAD").strip()
    beta = next(r for r in rows if r["name"] == "beta")
    assert set(beta) == SCHEMA_KEYS
    assert beta["ref"] == "refs/experiments/beta"
    assert beta["commit"] == git(study, "rev-parse", "refs/experiments/beta").strip()
    assert beta["baseline"] == head
    assert beta["status"] == "succeeded"
    assert isinstance(beta["seed"], int)
    assert beta["params"] == {"lr": 0.2, "epochs": 4, "model": {"depth": 6}}
    assert beta["metrics"] == {"loss": 0.05, "val/acc": 0.6}
    broken = next(r for r in rows if r["name"] == "broken")
    assert broken["status"] == "failed"
    assert broken["metrics"] == {}


def test_sort_by_metric_both_orders_missing_last(study: Path) -> None:
    asc = names(gitexp_json("show", "--sort-by", "val/acc", cwd=study))
    desc = names(gitexp_json("show", "--sort-by", "val/acc", "--desc", cwd=study))
    assert asc == ["alpha", "beta", "gamma", "broken"]
    assert desc == ["gamma", "beta", "alpha", "broken"]
    by_param = gitexp_json(
        "show", "--sort-by", "params.model.depth", "--desc", "-n", "1", cwd=study
    )
    assert names(by_param) == ["gamma"]


def test_filters_combine_and_compare_numbers_and_text(study: Path) -> None:
    def shown(*filters: str) -> list[str]:
        args = [a for f in filters for a in ("--filter", f)]
        return sorted(names(gitexp_json("show", *args, cwd=study)))

    assert shown("val/acc>0.5") == ["beta", "gamma"]
    assert shown("status=failed") == ["broken"]
    assert shown("model.depth<=6") == ["alpha", "beta", "broken"]
    assert shown("lr=0.2", "model.depth!=9") == ["beta"]
    assert shown("name~^g") == ["gamma"]
    assert shown("val/acc>=0.9") == ["gamma"]


def test_only_changed_hides_equal_columns(study: Path) -> None:
    out = gitexp_ok("show", "--only-changed", "--format", "csv", cwd=study).stdout
    header = out.splitlines()[0].split(",")
    assert header[:4] == ["name", "created", "status", "baseline"]
    assert "lr" in header and "model.depth" in header and "val/acc" in header
    assert "epochs" not in header  # 4 in every experiment
    full = gitexp_ok("show", "--format", "csv", cwd=study).stdout.splitlines()[0].split(",")
    assert "epochs" in full


def test_column_choice_and_markdown(study: Path) -> None:
    out = gitexp_ok(
        "show", "--params", "model", "--metrics", "val/*", "--format", "md", cwd=study
    ).stdout
    header = out.splitlines()[0]
    assert "model.depth" in header and "val/acc" in header
    assert "lr" not in header and "loss" not in header
    assert out.splitlines()[1].startswith("|--")


def test_table_is_the_default(study: Path) -> None:
    proc = run_gitexp("show", "--sort-by", "val/acc", "--desc", cwd=study, env={"COLUMNS": ""})
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split()[:4] == ["name", "created", "status", "baseline"]
    assert lines[2].split()[0] == "gamma"


def test_baseline_selects_experiments_of_one_commit(study: Path) -> None:
    (study / "notes.txt").write_text("new baseline\n")
    git(study, "add", "notes.txt")
    git(study, "commit", "-q", "-m", "second")
    gitexp_ok("run", "-q", "-n", "delta", "--", "python", "train.py", cwd=study)
    assert names(gitexp_json("show", "--baseline", "HEAD", cwd=study)) == ["delta"]
    assert len(gitexp_json("show", "--baseline", "HEAD~1", cwd=study)) == 4
    assert names(gitexp_json("show", "--limit", "1", cwd=study)) == ["delta"]  # newest first


def test_bad_filters_and_columns_are_one_line_errors(study: Path) -> None:
    cases = {
        ("--filter", "acc"): "gitexp: error: bad filter 'acc'",
        ("--filter", "val/acc>"): "gitexp: error: bad filter 'val/acc>'",
        ("--filter", "name~("): "gitexp: error: bad regular expression in filter 'name~('",
        ("--filter", "nope>1"): "gitexp: error: unknown column 'nope'",
        ("--sort-by", "val/ac"): "gitexp: error: unknown column 'val/ac' (hint: did you mean",
        ("--params", "nope"): "gitexp: error: unknown param 'nope'",
        ("--format", "xml"): "gitexp: error: unknown format 'xml'",
        ("--baseline", "nobranch"): "gitexp: error: unknown revision 'nobranch' (hint: ",
        ("--baseline", "mian"): "gitexp: error: unknown revision 'mian' (hint: did you mean "
        "`main`?)",
    }
    for args, message in cases.items():
        proc = run_gitexp("show", *args, cwd=study)
        assert proc.returncode == 2, (args, proc.stderr)
        assert proc.stderr.count("\n") == 1 and proc.stderr.startswith(message), proc.stderr
        assert "Traceback" not in proc.stderr


def test_names_resolve_by_prefix_ref_and_commit(study: Path) -> None:
    commit = git(study, "rev-parse", "refs/experiments/gamma").strip()
    for spec in ("gamma", "g", "refs/experiments/gamma", commit, commit[:8]):
        assert gitexp_json("show", spec, cwd=study)["name"] == "gamma", spec
    proc = run_gitexp("show", "b", cwd=study)
    assert proc.returncode == 2
    assert last_line(proc.stderr) == "gitexp: error: 'b' is ambiguous: beta, broken"
    proc = run_gitexp("log", "zeta", cwd=study)
    assert proc.returncode == 2
    assert last_line(proc.stderr).startswith("gitexp: error: no experiment named 'zeta'")


def test_show_one_experiment_in_full(study: Path) -> None:
    out = gitexp_ok("show", "beta", cwd=study).stdout
    assert "experiment beta" in out
    assert "command          python train.py" in out
    assert "lr *" in out and "model.depth *" in out and "epochs  " in out  # overrides marked
    loss = next(
        line for line in out.splitlines() if line.strip().startswith("loss") and "steps" in line
    )
    assert "steps=4 first=0.2 last=0.05 min=0.05 max=0.2" in loss
    assert "▁" in loss or "█" in loss  # sparkline
    assert gitexp_ok("log", "beta", cwd=study).stdout == out
    detail = gitexp_json("log", "beta", cwd=study)
    assert detail["history"]["loss"] == {
        "steps": 4,
        "first": 0.2,
        "last": 0.05,
        "min": 0.05,
        "max": 0.2,
    }
    assert detail["run"]["overrides"] == ["lr=0.2", "model.depth=6"]
    assert detail["environment"]["executor"] == "local"


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_running_experiment_whose_process_died_shows_interrupted(study: Path) -> None:
    import json

    from gitexp.common.layout import RUN_JSON
    from gitexp.gitstore import store
    from gitexp.gitstore.repo import open_repo
    from gitexp.gitstore.trees import tree_with_files

    repo = open_repo(study)
    head = repo.head_commit()
    for name, host, pid in (
        ("ghost", socket.gethostname(), _dead_pid()),
        ("elsewhere", "another-host", _dead_pid()),
        ("alive", socket.gethostname(), os.getpid()),
    ):
        run = {"name": name, "status": "running", "host": host, "pid": pid, "params": {}}
        tree = tree_with_files(repo, head.tree_id, {RUN_JSON: json.dumps(run).encode()})
        assert store.reserve(repo, name, store.write_commit(repo, tree, head.id, f"gitexp: {name}"))
    status = {r["name"]: r["status"] for r in gitexp_json("show", cwd=study)}
    assert status["ghost"] == "interrupted"
    assert status["elsewhere"] == "running"  # cannot tell on another host
    assert status["alive"] == "running"


# --- fitting the terminal -------------------------------------------------------------


def _show(*args: str, cwd: Path, columns: str) -> list[str]:
    """`gitexp show` stdout lines, as a terminal ``columns`` wide ("" = piped) sees it."""
    proc = run_gitexp("show", *args, cwd=cwd, env={"COLUMNS": columns})
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.splitlines()


def test_terminal_table_folds_constant_columns(study: Path) -> None:
    head = git(study, "rev-parse", "HEAD").strip()
    lines = _show(cwd=study, columns="200")
    assert lines[0] == f"constant: baseline={head[:7]}  epochs=4"
    header = lines[1].split()
    assert header[:3] == ["name", "created", "status"]  # status differs: broken failed
    assert {"lr", "model.depth", "loss", "val/acc"} <= set(header)
    assert "baseline" not in header and "epochs" not in header
    assert sorted(line.split()[0] for line in lines[3:]) == ["alpha", "beta", "broken", "gamma"]
    assert "…" not in "\n".join(lines)  # 200 columns: nothing needs cutting


def test_terminal_table_fits_the_width(study: Path) -> None:
    for width in (40, 60, 80):
        lines = _show(cwd=study, columns=str(width))
        assert all(len(line) <= width for line in lines), (width, lines)
        assert lines[0].startswith("constant: ")  # `created=` first when runs share a second
        assert "baseline=" in " ".join(
            lines[: lines.index(next(ln for ln in lines if ln.startswith("name")))]
        )
        rows = lines[lines.index(next(ln for ln in lines if ln.startswith("name"))) + 2 :]
        assert sorted(line.split()[0] for line in rows) == ["alpha", "beta", "broken", "gamma"]
    narrow = "\n".join(_show(cwd=study, columns="40"))
    assert "…" in narrow, narrow  # cells are cut to fit, not wrapped


def test_wide_and_piped_tables_are_not_folded(study: Path) -> None:
    piped = _show(cwd=study, columns="")
    assert piped[0].split()[:4] == ["name", "created", "status", "baseline"]
    assert "epochs" in piped[0].split()
    assert _show("--wide", cwd=study, columns="40") == piped  # no cell here is over 32
    assert _show("--wide", cwd=study, columns="") == piped


DEMO_PARAMS = """\
lr: 0.1
batch_size: 64
optimizer: adam
model:
  type: gradient_boosting
  max_depth: 4
  n_estimators: 100
"""
DEMO_TRAIN = """\
import gitexp
d = gitexp.params()["model"]["max_depth"]
for name, value in [("accuracy", 0.8 + d / 100), ("auc", 0.85 + d / 200),
                    ("loss", 1 / d), ("f1_macro_weighted", 0.7)]:
    gitexp.log_metric(name, value)
"""
LONG = "logistic_regression_with_a_long_name"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's shape: 6 params and 4 metrics, names as long as real ones."""
    root = make_repo(
        tmp_path_factory.mktemp("demo") / "repo",
        {"params.yaml": DEMO_PARAMS, "train.py": DEMO_TRAIN},
    )
    for name, overrides in {
        "baseline-gradient-boosting": [],
        "deeper": ["model.max_depth=8"],
        "forest": ["model.type=random_forest", "model.n_estimators=200"],
        "logreg": [f"model.type={LONG}", "lr=0.01"],
    }.items():
        args = [a for o in overrides for a in ("-p", o)]
        gitexp_ok("run", "-q", "-n", name, *args, "--", "python", "train.py", cwd=root)
    return root


def test_demo_table_fits_80_columns(demo: Path) -> None:
    piped = _show(cwd=demo, columns="")
    assert max(len(line) for line in piped) > 200  # the problem: one line per row, very wide
    lines = _show(cwd=demo, columns="80")
    assert all(len(line) <= 80 for line in lines), lines
    head = git(demo, "rev-parse", "HEAD").strip()[:7]
    constant = " ".join(lines[: next(i for i, ln in enumerate(lines) if ln.startswith("name"))])
    # runs within one second share `created` (to the second), which then folds too
    assert re.sub(r"created=\S+ \S+", "", constant).split() == [
        "constant:", "status=succeeded", f"baseline={head}", "batch_size=64",
        "optimizer=adam", "f1_macro_weighted=0.7",
    ]  # fmt: skip
    table = "\n".join(lines)
    assert "…" in table and LONG not in table
    for name in ("logreg", "forest", "deeper", "baseline-gradient-boosting"):
        assert any(line.startswith(name + " ") for line in lines), name  # names never cut


def test_demo_wide_has_every_column_in_full(demo: Path) -> None:
    lines = _show("--wide", cwd=demo, columns="80")
    header = lines[0].split()
    assert header == [
        "name", "created", "status", "baseline", "lr", "batch_size", "optimizer", "model.type",
        "model.max_depth", "model.n_estimators", "accuracy", "auc", "loss", "f1_macro_weighted",
    ]  # fmt: skip
    assert LONG in "\n".join(lines)  # not even cut at 32, as piped output is
    assert LONG not in "\n".join(_show(cwd=demo, columns=""))


def test_sort_by_a_prefix_suggests_the_metric_it_starts(demo: Path) -> None:
    proc = run_gitexp("show", "--sort-by", "acc", cwd=demo)
    assert proc.returncode == 2
    assert proc.stderr == "gitexp: error: unknown column 'acc' (hint: did you mean 'accuracy'?)\n"


def test_fit_table_rules() -> None:
    headers = ["name", "status", "model.depth", "note"]
    rows = [["a", "ok", 3, "x" * 40], ["b", "ok", 4, "y" * 40]]
    text, hidden = output.fit_table(headers, rows, 30)
    lines = text.splitlines()
    assert lines[0] == "constant: status=ok"
    assert lines[1].split() == ["name", "m.dep…", "note"]  # groups to initials, then cut
    assert lines[3] == "a     3       " + "x" * 15 + "…"  # 30 characters
    assert hidden == 0 and all(len(line) <= 30 for line in lines)
    one, _ = output.fit_table(headers, rows[:1], 80)
    assert "constant" not in one  # one row: nothing is "constant"
    same_name, _ = output.fit_table(["name", "x"], [["a", 1], ["a", 1]], 80)
    assert same_name.splitlines()[1].split() == ["name"]  # name is never folded
    assert output.cut_key("model.max_depth", 11) == "m.max_depth"
    assert output.cut_key("train/loss", 8) == "t/loss" != output.cut_key("val/loss", 8)
    assert output.cut_key("model.max_depth", 15) == "model.max_depth"
    narrow, dropped = output.fit_table(["name", *"abcdefgh"], [["n", *"12345678"]], 12)
    assert narrow.splitlines()[0].split() == ["name", "a", "b"]  # 10 of 12 characters
    assert dropped == 6  # columns are left out only when nothing else fits


def test_limit_zero_shows_no_rows_and_says_why(study: Path) -> None:
    proc = run_gitexp("show", "--limit", "0", cwd=study)
    assert proc.returncode == 0 and proc.stdout == ""
    assert proc.stderr == "gitexp: showing 0 of 4; --limit N shows the first N\n"
    failed = run_gitexp("show", "-n", "0", "--filter", "status=failed", cwd=study)
    assert failed.stderr == "gitexp: showing 0 of 1; --limit N shows the first N\n"
    none = run_gitexp("show", "-n", "0", "--filter", "lr>5", cwd=study)
    assert none.stderr == "gitexp: no experiments match\n"  # that one is true
    assert gitexp_json("show", "-n", "0", cwd=study) == []  # as experiments(limit=0)
    negative = run_gitexp("show", "--limit", "-1", cwd=study)
    assert negative.returncode == 2 and negative.stderr.startswith("gitexp: error: ")


COUNTS = """\
import gitexp
p = gitexp.params()
gitexp.log_metric("n_samples", p["n"])
gitexp.log_metric("acc", 0.91)
gitexp.log_metric("tiny", 1.5e-07)
gitexp.log_metric("odd", 1234567.5)
"""


def test_whole_numbers_print_in_full_and_other_floats_as_before(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo", {"params.yaml": "n: 3000000\n", "train.py": COUNTS})
    gitexp_ok("run", "-q", "-n", "big", "--", "python", "train.py", cwd=root)
    gitexp_ok("run", "-q", "-n", "small", "-p", "n=1000000", "--", "python", "train.py", cwd=root)
    table = run_gitexp("show", "--metrics", "n_samples,acc,tiny,odd", cwd=root, env={"COLUMNS": ""})
    rows = {line.split()[0]: line.split()[-4:] for line in table.stdout.splitlines()[2:]}
    assert rows == {
        "big": ["3000000", "0.91", "1.5e-07", "1.23457e+06"],
        "small": ["1000000", "0.91", "1.5e-07", "1.23457e+06"],
    }
    csv = gitexp_ok("show", "--format", "csv", "--metrics", "n_samples", cwd=root).stdout
    assert [line.split(",")[-1] for line in csv.splitlines()] == ["n_samples", "1000000", "3000000"]
    detail = gitexp_ok("show", "big", cwd=root).stdout
    assert re.search(r"^  n_samples +3000000$", detail, re.M), detail
    assert "first=3000000 last=3000000" in detail and "3e+06" not in detail
    compare = gitexp_ok("compare", "big", "small", cwd=root).stdout
    assert "1000000 (-2000000)" in compare, compare
    assert output.number(2.0, 4, sign=True) == "+2" and output.number(-0.25, 4, True) == "-0.25"
    assert output.number(1e20) == "1e+20"  # past exact integers: as before
