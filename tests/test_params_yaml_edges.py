"""Params files at the edges: a UTF-8 BOM, and a key given twice.

An editor on Windows may start params.yaml with a byte order mark: `-p`
rewrites the file in the run's snapshot and must keep it (a diff against the
work tree would otherwise show a change nobody made). PyYAML keeps the last of
two equal keys in silence; gitexp warns once per run, naming the line, and
runs with the last value (docs/configuration.md, "Params files").
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import make_repo, run_gitexp
from run_support import run_json

BOM = "\ufeff"
READ = "import gitexp, json\nprint('seen', json.dumps(gitexp.params(), sort_keys=True))\n"
REPEATED = """\
lr: 0.1  # the value a reader sees first
model:
  depth: 3
  depth: 4
base: &base
  wd: 0.01
opt:
  <<: *base
  wd: 0.02
lr: 0.3
"""


def _blob(root: Path, name: str, path: str) -> bytes:
    ref = f"refs/experiments/{name}:{path}"
    return subprocess.run(["git", "show", ref], cwd=root, capture_output=True, check=True).stdout


def test_a_bom_is_kept_when_p_rewrites_the_params_file(tmp_path: Path) -> None:
    original = BOM + "# tuned on 2024-05-01\nlr: 0.1  # rate\nmodel:\n  depth: 3\n"
    root = make_repo(tmp_path / "r", {"params.yaml": original, "read.py": READ})
    (root / "params.json").write_bytes((BOM + '{"batch": 32}\n').encode())
    proc = run_gitexp(
        "run", "-n", "b", "-p", "lr=0.5", "-p", "params.json:batch=64", "--",
        sys.executable, "read.py", cwd=root,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert (
        _blob(root, "b", "params.yaml")
        == (BOM + "# tuned on 2024-05-01\nlr: 0.5  # rate\nmodel:\n  depth: 3\n").encode()
    )
    assert _blob(root, "b", "params.json").startswith(BOM.encode())
    assert run_json(root, "b")["params"] == {"lr": 0.5, "model": {"depth": 3}, "batch": 64}
    assert (root / "params.yaml").read_text(encoding="utf-8") == original  # untouched


def test_a_key_given_twice_is_warned_once_with_its_line(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "r", {"params.yaml": REPEATED, "read.py": READ})
    proc = run_gitexp(
        "run", "-n", "d", "-p", "model.depth=5", "--", sys.executable, "read.py", cwd=root
    )
    assert proc.returncode == 0, proc.stderr
    warned = [line for line in proc.stderr.splitlines() if "given twice" in line]
    assert warned == [
        "gitexp: warning: params.yaml:4: key 'model.depth' given twice; the last value is used",
        "gitexp: warning: params.yaml:10: key 'lr' given twice; the last value is used",
    ]  # `wd` over a `<<:` merge is an override, not a repeat
    params = run_json(root, "d")["params"]
    assert params["lr"] == 0.3 and params["model"] == {"depth": 5}
    assert params["opt"] == {"wd": 0.02}


def test_a_file_without_repeats_says_nothing(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "r", {"params.yaml": "lr: 0.1\nmodel:\n  lr: 0.2\n"})
    proc = run_gitexp("run", "-n", "q", "-p", "lr=0.5", "--", "true", cwd=root)
    assert proc.returncode == 0, proc.stderr
    assert "given twice" not in proc.stderr  # `lr` and `model.lr` are two keys
