"""`-p` values a person can get wrong are refused before anything is reserved (exit 2,
one line): no value, a broken flow list/map, a value of another kind than the
file's (mapping <-> value, text for a number), the same key twice. `+key` and
quoting say "I mean it"."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from conftest import git, run_gitexp
from run_support import exp_refs, show

PARAMS = "alpha: 0.2\nseed_split: 0\nmodel:\n  depth: 3\n"


@pytest.fixture
def repo(git_repo: Path) -> Path:
    (git_repo / "params.yaml").write_text(PARAMS)
    git(git_repo, "commit", "-qam", "params")
    return git_repo


REFUSED = {
    ("alpha=",): "-p 'alpha=' has no value "
    "(hint: write -p alpha=null for null, or -p \"alpha=''\" for an empty string)",
    ("alpha=[1,",): "-p 'alpha=[1,': the value is not a valid YAML list or map: expected "
    "the node content, but found '<stream end>' (hint: close the brackets, or quote it for "
    "text: -p \"alpha='[1,'\")",
    ("model=5",): "-p 'model=5' would replace the mapping 'model' of params.yaml with a "
    "value (hint: set one of its keys (-p model.<name>=...), or write -p +model=... to "
    "replace it)",
    ("model.depth={a: 1}",): "-p 'model.depth={a: 1}' would replace the value 'model.depth' "
    "of params.yaml (3) with a mapping (hint: write -p +model.depth=... to replace it)",
    ("seed_split=abc",): "-p 'seed_split=abc': 'seed_split' is a number in params.yaml (0), "
    "'abc' is not (hint: quote it if text is meant: -p \"seed_split='abc'\")",
    ("alpha=1", "alpha=2"): "param 'alpha' is given twice "
    "(hint: pass each key once; a list value is written -p key=[a,b])",
}


@pytest.mark.parametrize("values", list(REFUSED))
def test_a_careless_value_is_a_usage_error_before_anything_runs(
    repo: Path, values: tuple[str, ...]
) -> None:
    flags = [arg for value in values for arg in ("-p", value)]
    proc = run_gitexp("run", *flags, "--", "python", "train.py", cwd=repo)
    assert (proc.returncode, proc.stderr) == (2, f"gitexp: error: {REFUSED[values]}\n")
    assert exp_refs(repo) == {}
    assert (repo / "params.yaml").read_text() == PARAMS


def test_quoting_and_plus_say_the_other_kind_is_meant(repo: Path) -> None:
    flags = ["-p", "seed_split='abc'", "-p", "+model=5", "-p", "alpha=null"]
    command = ["python", "-c", "print('score: 1')"]
    proc = run_gitexp("run", "-n", "meant", "-q", *flags, "--", *command, cwd=repo)
    assert proc.returncode == 0, proc.stderr
    params = yaml.safe_load(show(repo, "meant", "params.yaml"))
    assert params == {"alpha": None, "seed_split": "abc", "model": 5}
