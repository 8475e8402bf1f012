"""`gitexp params NAME` and `gitexp params A B`: full composed params, and their
difference, as YAML / a unified diff and as JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from compose_support import compose_repo, gitexp, ok
from conftest import GIT_ENV, last_line


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three composed runs: the defaults, vit with a smaller lr, and the same as vit."""
    base = tmp_path_factory.mktemp("params")
    with pytest.MonkeyPatch.context() as env:  # the per-test isolation, made here once
        env.setenv("HOME", str(base))
        for key, value in GIT_ENV.items():
            env.setenv(key, value)
        root = compose_repo(base / "repo")
        ok(root, "run", "-n", "base")
        ok(root, "run", "-n", "vit", "-p", "model=vit", "-p", "optimizer.lr=0.001")
        ok(root, "run", "-n", "twin", "--from", "vit")
    return root


BASE_YAML = """\
model:
  arch: resnet
  depth: 18
optimizer:
  name: adam
  lr: 0.01
epochs: 3
run_name: resnet-adam-e3
"""
DIFF = """\
--- base
+++ vit
@@ -1,8 +1,8 @@
 epochs: 3
 model:
-  arch: resnet
-  depth: 18
+  arch: vit
+  patch: 16
 optimizer:
-  lr: 0.01
+  lr: 0.001
   name: adam
-run_name: resnet-adam-e3
+run_name: vit-adam-e3
"""


def test_one_experiment_as_yaml_in_composed_order(repo: Path) -> None:
    assert ok(repo, "params", "base").stdout == BASE_YAML


def test_one_experiment_as_json(repo: Path) -> None:
    data = json.loads(ok(repo, "params", "ba", "--format", "json").stdout)
    assert data["name"] == "base"
    assert len(data["commit"]) == 40
    assert data["params"]["model"] == {"arch": "resnet", "depth": 18}
    assert data["params"]["run_name"] == "resnet-adam-e3"


def test_two_experiments_as_a_unified_diff(repo: Path) -> None:
    proc = ok(repo, "params", "base", "vit")
    assert proc.stdout == DIFF
    assert proc.stderr == ""


def test_two_experiments_as_json_changes(repo: Path) -> None:
    data = json.loads(ok(repo, "params", "base", "vit", "--format", "json").stdout)
    assert (data["a"]["name"], data["b"]["name"]) == ("base", "vit")
    assert data["changes"] == [
        {"key": "model.arch", "change": "changed", "a": "resnet", "b": "vit"},
        {"key": "model.depth", "change": "removed", "a": 18},
        {"key": "model.patch", "change": "added", "b": 16},
        {"key": "optimizer.lr", "change": "changed", "a": 0.01, "b": 0.001},
        {"key": "run_name", "change": "changed", "a": "resnet-adam-e3", "b": "vit-adam-e3"},
    ]


def test_equal_params_print_no_diff(repo: Path) -> None:
    proc = ok(repo, "params", "vit", "twin")
    assert proc.stdout == ""
    assert proc.stderr.strip() == "gitexp: vit and twin have the same params"
    data = json.loads(ok(repo, "params", "vit", "twin", "--format", "json").stdout)
    assert data["changes"] == []


def test_plain_params_files_too(git_repo: Path) -> None:
    ok(git_repo, "run", "-n", "a", "--", "python", "train.py")
    ok(git_repo, "run", "-n", "b", "-p", "lr=0.5", "--", "python", "train.py")
    assert ok(git_repo, "params", "a").stdout == "lr: 0.1\nmodel:\n  depth: 3\n"
    assert "-lr: 0.1\n+lr: 0.5\n" in ok(git_repo, "params", "a", "b").stdout


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["params", "nope"], "gitexp: error: no experiment named 'nope' "
         "(hint: list them with `gitexp show`)"),
        (["params", "base", "vit", "twin"], "gitexp: error: params takes one experiment or two "
         "(hint: gitexp params A [B])"),
        (["params", "base", "--format", "csv"], "gitexp: error: unknown format 'csv' "
         "(hint: use --format yaml or --format json)"),
    ],
)  # fmt: skip
def test_mistakes_are_one_line(repo: Path, args: list[str], line: str) -> None:
    proc = gitexp(repo, *args)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert last_line(proc.stderr) == line and len(proc.stderr.strip().splitlines()) == 1
