"""The one did-you-mean rule: case first, then a prefix, then similarity."""

from __future__ import annotations

import pytest

from gitexp.common.suggest import closest, hint


@pytest.mark.parametrize(
    ("word", "candidates", "expected"),
    [
        ("c", ["C", "gamma", "kernel"], "C"),  # case alone
        ("LR", ["lr", "lr_decay"], "lr"),  # case beats the longer prefix match
        ("acc", ["accuracy", "auc", "loss"], "accuracy"),  # prefix beats similarity
        ("val", ["val.loss", "val.acc", "train.acc"], "val.acc"),  # shortest prefix, then name
        ("Acc", ["accuracy", "auc"], "accuracy"),  # prefix ignores case too
        ("lrr", ["lr", "model.depth"], "lr"),  # the typo extends a name
        ("model.dpth", ["lr", "model.depth"], "model.depth"),  # similarity
        ("MODEL.DPTH", ["lr", "model.depth"], "model.depth"),  # similarity ignores case
        ("zzz", ["lr", "model.depth"], None),  # nothing close
        ("x", [], None),
        ("", ["lr"], None),
    ],
)
def test_closest(word: str, candidates: list[str], expected: str | None) -> None:
    assert closest(word, candidates) == expected


def test_closest_is_stable_for_names_differing_only_in_case() -> None:
    assert closest("LR", ["lr", "Lr"]) == closest("LR", ["Lr", "lr"]) == "Lr"


def test_closest_does_not_offer_a_one_letter_cover() -> None:
    # "a" is a prefix of "alpha", but suggesting "a" for "alpha" helps no one
    assert closest("alpha", ["a", "beta"]) is None


def test_closest_accepts_any_iterable() -> None:
    assert closest("ac", iter(["accuracy", "auc"])) == "accuracy"
    assert closest("ac", {"accuracy": 1, "auc": 2}) == "accuracy"


def test_hint_fills_the_format_or_says_nothing() -> None:
    assert hint("c", ["C"]) == "did you mean 'C'?"
    assert hint("c", ["C"], "did you mean `{}`?") == "did you mean `C`?"
    assert hint("k", ["lr"], "did you mean ${{{}}}?") is None
    assert hint("l", ["lr"], "did you mean ${{{}}}?") == "did you mean ${lr}?"
