"""Did-you-mean for a typo inside a long name: a gitexp.yaml key misspelt in the
middle (`metrics_form_output`) suggests the key it misspells, not the short key it
happens to start with (`metrics`); the prefix rules of tests/test_suggest.py hold."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import last_line, run_gitexp

from gitexp.common.suggest import closest

KEYS = ["command", "params", "metrics", "metrics_from_output", "seed", "link", "outputs"]


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("metrics_form_output", "metrics_from_output"),  # much closer than the cover
        ("metrics_fromoutput", "metrics_from_output"),
        ("metricsx", "metrics"),  # the short name it extends is the nearest too
        ("metrics_x", "metrics"),  # not close enough to the long one
        ("outputs_dir", "outputs"),
    ],
)
def test_a_much_closer_name_beats_the_one_the_word_starts_with(word: str, expected: str) -> None:
    assert closest(word, KEYS) == expected


def test_a_misspelt_config_key_suggests_the_key_it_misspells(git_repo: Path) -> None:
    (git_repo / "gitexp.yaml").write_text("command: python train.py\nmetrics_form_output: true\n")
    proc = run_gitexp("run", "-n", "typo", cwd=git_repo)
    assert proc.returncode == 2
    assert last_line(proc.stderr) == (
        "gitexp: error: gitexp.yaml: unknown key `metrics_form_output` "
        "(hint: did you mean `metrics_from_output`?)"
    )
