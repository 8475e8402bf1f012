"""Metrics without code changes: metrics files and printed lines, combined with the library."""

from __future__ import annotations

from pathlib import Path

from conftest import last_line, run_gitexp, write_files
from run_support import metrics_json, run_json, show, tree_files

from gitexp.running import metrics as M


def _run(root: Path, config: str, script: str, name: str = "m") -> str:
    write_files(root, {"gitexp.yaml": config, "s.py": script})
    proc = run_gitexp("run", "-n", name, "--", "python", "s.py")
    assert proc.returncode == 0, proc.stderr
    return proc.stderr


def test_json_and_yaml_metrics_files_give_final_values(git_repo: Path) -> None:
    _run(
        git_repo,
        "metrics: [out/metrics.json, scores.yaml]\n",
        """\
        import json, os
        os.makedirs("out")
        json.dump({"acc": 0.91, "val": {"loss": 0.3, "note": "text"}, "ok": True},
                  open("out/metrics.json", "w"))
        open("scores.yaml", "w").write("f1: 0.8\\nper_class:\\n  proton: 0.9\\n  iron: 0.7\\n")
        """,
    )
    assert metrics_json(git_repo, "m") == {
        "acc": 0.91,
        "val": {"loss": 0.3},  # non-numbers are not metrics
        "f1": 0.8,
        "per_class": {"proton": 0.9, "iron": 0.7},
    }
    assert "out/metrics.json" in tree_files(git_repo, "m")  # the file itself is kept too


def test_csv_and_tsv_files_give_series(git_repo: Path) -> None:
    _run(
        git_repo,
        "metrics: [log.csv, log.tsv]\n",
        """\
        open("log.csv", "w").write("step,loss,acc\\n0,1.0,0.5\\n5,0.5,0.7\\n10,0.25,0.9\\n")
        open("log.tsv", "w").write("epoch_loss\\tlr\\n0.9\\t0.1\\n0.8\\t0.01\\n")
        """,
    )
    assert metrics_json(git_repo, "m") == {"loss": 0.25, "acc": 0.9, "epoch_loss": 0.8, "lr": 0.01}
    loss = show(git_repo, "m", ".gitexp/history/loss.tsv").splitlines()
    assert loss == ["step\tvalue\ttime", "0\t1.0\t", "5\t0.5\t", "10\t0.25\t"]
    lr = show(git_repo, "m", ".gitexp/history/lr.tsv").splitlines()
    assert [line.split("\t")[0] for line in lr[1:]] == ["0", "1"]  # no step column: row index


def test_output_patterns_are_on_by_default_and_false_turns_them_off(git_repo: Path) -> None:
    script = "print('loss: 0.5')\nprint('acc=0.9')\n"
    _run(git_repo, "command: null\n", script)
    assert metrics_json(git_repo, "m") == {"loss": 0.5, "acc": 0.9}
    stderr = _run(git_repo, "metrics_from_output: false\n", script, name="off")
    assert metrics_json(git_repo, "off") == {}
    assert "no metrics were recorded; to capture them" in stderr
    assert "metrics_from_output: true" in stderr


def test_scikit_learn_style_lines_with_spaces_are_metrics(git_repo: Path) -> None:
    """The way scikit-learn's gallery prints results, read with no configuration."""
    _run(
        git_repo,
        "command: null\n",
        """\
        print("Coefficients: \\n", [938.23786125])
        print("Mean squared error: %.2f" % 2548.07)
        print("Coefficient of determination: %.2f" % 0.47)
        print("Accuracy (top-1): 91.5")
        print("Epoch 3/10 - loss: 0.5")  # progress lines are not metrics
        """,
    )
    assert metrics_json(git_repo, "m") == {
        "Mean squared error": 2548.07,
        "Coefficient of determination": 0.47,
        "Accuracy (top-1)": 91.5,
    }
    assert "Mean%20squared%20error.tsv" in " ".join(tree_files(git_repo, "m"))


def test_a_metrics_file_beats_the_rounded_printed_value(git_repo: Path) -> None:
    _run(
        git_repo,
        "metrics: [m.json]\n",
        """\
        import json
        rmse = 0.123456789
        print(f"rmse: {rmse:.2f}")
        json.dump({"rmse": rmse}, open("m.json", "w"))
        """,
    )
    assert metrics_json(git_repo, "m") == {"rmse": 0.123456789}
    assert ".gitexp/history/rmse.tsv" not in tree_files(git_repo, "m")


def test_missing_metrics_file_is_not_reported_when_the_run_failed(git_repo: Path) -> None:
    write_files(git_repo, {"gitexp.yaml": "metrics: [m.json]\n", "s.py": "raise SystemExit(3)\n"})
    proc = run_gitexp("run", "-n", "f", "--", "python", "s.py")
    assert proc.returncode == 1
    assert "was not written" not in proc.stderr
    assert "no metrics were recorded" not in proc.stderr  # a failed run has other problems


def test_an_ignored_metrics_file_is_still_committed(git_repo: Path) -> None:
    write_files(git_repo, {".gitignore": "*.ignored\ndata/\nresults/\n"})
    _run(
        git_repo,
        "metrics: [results/metrics.json]\n",
        "import json, os\nos.makedirs('results')\n"
        "json.dump({'acc': 0.9}, open('results/metrics.json', 'w'))\n"
        "open('results/other.txt', 'w').write('x')\n",
    )
    assert metrics_json(git_repo, "m") == {"acc": 0.9}
    files = tree_files(git_repo, "m")
    assert "results/metrics.json" in files
    assert "results/other.txt" not in files  # only the metrics file beats .gitignore


def test_a_pattern_without_a_name_group_is_refused_before_the_run(git_repo: Path) -> None:
    write_files(git_repo, {"gitexp.yaml": "metrics_from_output: ['acc is (?P<value>[0-9.]+)']\n"})
    proc = run_gitexp("run", "--", "python", "train.py")
    assert proc.returncode == 2
    assert last_line(proc.stderr) == (
        "gitexp: error: gitexp.yaml: `metrics_from_output` pattern 'acc is (?P<value>[0-9.]+)' "
        "has no (?P<name>...) group (hint: name the metric's name and value groups, "
        "e.g. '(?P<name>\\w+) is (?P<value>[0-9.]+)')"
    )
    assert run_gitexp("show", "--format", "json").stdout.strip() == "[]"


def test_a_bad_regex_is_refused_before_the_run(git_repo: Path) -> None:
    write_files(git_repo, {"gitexp.yaml": "metrics_from_output: ['(?P<name>\\w+']\n"})
    proc = run_gitexp("run", "--", "python", "train.py")
    assert proc.returncode == 2
    assert "is not a regex" in last_line(proc.stderr)


def test_default_output_patterns_when_enabled(git_repo: Path) -> None:
    _run(
        git_repo,
        "metrics_from_output: true\n",
        """\
        for i, v in enumerate([0.9, 0.5, 0.1]):
            print(f"loss: {v}")
        print("val/acc=0.75")
        print("epoch 3 loss: 0.2 acc: 0.1")  # not a `name: number` line
        print("note: fine")
        import sys; print("err_rate = 1e-3", file=sys.stderr)
        """,
    )
    assert metrics_json(git_repo, "m") == {"loss": 0.1, "val/acc": 0.75, "err_rate": 0.001}
    loss = show(git_repo, "m", ".gitexp/history/loss.tsv").splitlines()
    assert [line.split("\t")[:2] for line in loss[1:]] == [["0", "0.9"], ["1", "0.5"], ["2", "0.1"]]


def test_custom_pattern(git_repo: Path) -> None:
    _run(
        git_repo,
        'metrics_from_output:\n  - "^Epoch \\\\d+: (?P<name>\\\\w+) is (?P<value>[0-9.]+)"\n',
        "print('Epoch 1: auc is 0.6')\nprint('Epoch 2: auc is 0.8')\nprint('auc: 0.1')\n",
    )
    assert metrics_json(git_repo, "m") == {"auc": 0.8}


def test_default_in_the_list_keeps_name_value_lines_beside_a_custom_pattern(
    git_repo: Path,
) -> None:
    """A PyTorch-style `epoch 3 loss 0.58` line and scikit-learn's `name: value` lines."""
    script = "print('epoch 0 loss 0.9')\nprint('epoch 1 loss 0.5')\nprint('Accuracy: 0.91')\n"
    _run(git_repo, "metrics_from_output: true\n", script, name="plain")
    assert metrics_json(git_repo, "plain") == {"Accuracy": 0.91}
    epoch = r"^epoch \d+ (?P<name>loss) (?P<value>[0-9.]+)"
    _run(git_repo, f"metrics_from_output: ['{epoch}', default]\n", script)
    assert metrics_json(git_repo, "m") == {"loss": 0.5, "Accuracy": 0.91}
    stderr = _run(git_repo, "metrics_from_output: true\n", "print('epoch 0 loss 0.9')\n", "none")
    assert "add a regex for the lines it prints to `metrics_from_output:`" in stderr


def test_sources_combine_and_files_win_over_the_library(git_repo: Path) -> None:
    _run(
        git_repo,
        "metrics: [m.json]\nmetrics_from_output: true\n",
        """\
        import json, gitexp
        gitexp.log_metric("loss", 0.9)
        gitexp.log_metric("lib_only", 1.0)
        json.dump({"loss": 0.4, "file_only": 2}, open("m.json", "w"))
        print("printed: 3")
        """,
    )
    assert metrics_json(git_repo, "m") == {
        "loss": 0.4,
        "lib_only": 1.0,
        "file_only": 2,
        "printed": 3.0,
    }


def test_missing_or_broken_metrics_file_warns_but_records(git_repo: Path) -> None:
    stderr = _run(
        git_repo,
        "metrics: [never.json, broken.json]\n",
        "open('broken.json', 'w').write('{not json')\n",
    )
    assert "gitexp: warning: metrics file never.json was not written" in stderr
    assert "gitexp: warning: metrics file broken.json cannot be read" in stderr
    assert last_line(stderr).startswith("gitexp: m succeeded")
    assert run_json(git_repo, "m")["status"] == "succeeded"


def test_parse_output_unit() -> None:
    from gitexp.config.settings import DEFAULT_OUTPUT_PATTERNS

    lines = ["loss: 1", "  loss = 0.5  ", "x: nan?", "accuracy:0.7", "-> loss: 2", "a.b/c: -1e2"]
    series = M.parse_output(lines, DEFAULT_OUTPUT_PATTERNS)
    assert series == {
        "loss": [(0, 1.0, None), (1, 0.5, None)],
        "accuracy": [(0, 0.7, None)],
        "a.b/c": [(0, -100.0, None)],
    }


def test_metric_names_become_safe_history_paths() -> None:
    assert M.metric_path("val/acc") == "val/acc"
    assert M.metric_path("../x") == "_../x"
    assert M.metric_path("a b%") == "a%20b%25"
