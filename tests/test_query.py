"""Filter, sort and column rules over flat rows (pure functions, no repository)."""

from __future__ import annotations

import pytest

from gitexp.common.errors import UsageError
from gitexp.exploring.query import (
    Query,
    changed_columns,
    parse_filter,
    resolve_key,
    run_query,
    select_columns,
    sort_rows,
)

ROWS = [
    {"name": "a", "status": "succeeded", "params.lr": 0.1, "metrics.acc": 0.5, "metrics.lr": 9},
    {"name": "b", "status": "failed", "params.lr": 0.2, "params.opt": "adam"},
    {"name": "c", "status": "succeeded", "params.lr": 0.02, "metrics.acc": 0.9},
]


def test_bare_keys_prefer_fixed_then_metrics_then_params() -> None:
    cols = ["name", "status", "params.lr", "metrics.acc", "metrics.lr", "params.opt"]
    assert resolve_key("status", cols) == "status"
    assert resolve_key("acc", cols) == "metrics.acc"
    assert resolve_key("lr", cols) == "metrics.lr"
    assert resolve_key("params.lr", cols) == "params.lr"
    assert resolve_key("opt", cols) == "params.opt"
    with pytest.raises(UsageError, match="did you mean 'acc'"):
        resolve_key("accc", cols)


def test_unknown_key_suggests_a_prefix_before_a_similar_name() -> None:
    cols = ["name", "status", "params.C", "metrics.accuracy", "metrics.auc"]
    with pytest.raises(UsageError, match=r"unknown column 'acc' \(hint: did you mean 'accuracy'"):
        resolve_key("acc", cols)
    with pytest.raises(UsageError, match="did you mean 'C'"):
        resolve_key("c", cols)
    with pytest.raises(UsageError, match="did you mean 'status'"):
        resolve_key("STATUS", cols)
    with pytest.raises(UsageError, match="see the columns with `gitexp show`"):
        resolve_key("zzz", cols)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("params.lr>0.05", ["a", "b"]),
        ("params.lr<=0.1", ["a", "c"]),
        ("params.lr=0.2", ["b"]),  # numbers compare as numbers
        ("params.lr==2e-1", ["b"]),
        ("status!=failed", ["a", "c"]),
        ("opt=adam", ["b"]),  # rows without the key never match
        ("name~^[ab]$", ["a", "b"]),
        ("acc > 0.6", ["c"]),
    ],
)
def test_filters(text: str, expected: list[str]) -> None:
    _, rows = run_query(ROWS, Query(filters=(text,)), ["name"])
    assert [r["name"] for r in rows] == expected


@pytest.mark.parametrize("text", ["acc", "acc>", ">1", "", "acc<>1"])
def test_malformed_filters(text: str) -> None:
    with pytest.raises(UsageError, match="bad filter"):
        parse_filter(text)


def test_text_comparison_for_non_numbers() -> None:
    rows = [{"created": "2024-01-02"}, {"created": "2023-12-31"}]
    f = parse_filter("created>=2024-01-01")
    assert [f.matches(r) for r in rows] == [True, False]
    assert parse_filter("flag=true").matches({"flag": True})


def test_sort_missing_last_in_both_orders() -> None:
    assert [r["name"] for r in sort_rows(ROWS, "metrics.acc")] == ["a", "c", "b"]
    assert [r["name"] for r in sort_rows(ROWS, "metrics.acc", descending=True)] == ["c", "a", "b"]


def test_sort_numbers_before_text() -> None:
    rows = [{"v": "x"}, {"v": 2}, {"v": 1.5}]
    assert [r["v"] for r in sort_rows(rows, "v")] == [1.5, 2, "x"]


def test_changed_columns_counts_missing_as_a_value() -> None:
    rows = [{"a": 1, "b": 1, "c": 1}, {"a": 1, "b": 2}]
    assert changed_columns(rows, ["a", "b", "c"]) == ["b", "c"]
    assert changed_columns(rows[:1], ["a", "b"]) == ["a", "b"]  # one row: nothing to compare


def test_select_columns_by_name_group_and_glob() -> None:
    cols = ["params.lr", "params.model.depth", "params.model.width", "metrics.val.acc"]
    assert select_columns(cols, "params.", None) == cols[:3]
    assert select_columns(cols, "params.", "model") == cols[1:3]
    assert select_columns(cols, "params.", "*.depth,lr") == ["params.model.depth", "params.lr"]
    with pytest.raises(UsageError, match=r"unknown param 'modle'.*did you mean 'model'"):
        select_columns(cols, "params.", "modle")
    with pytest.raises(UsageError, match=r"unknown param 'Model'.*did you mean 'model'"):
        select_columns(cols, "params.", "Model")
    with pytest.raises(UsageError, match=r"unknown metric 'val.a'.*did you mean 'val.acc'"):
        select_columns(cols, "metrics.", "val.a")


def test_run_query_limit_and_order() -> None:
    cols, rows = run_query(ROWS, Query(sort_by="lr", descending=True, limit=2), ["name"])
    assert [r["name"] for r in rows] == ["a", "b"]  # bare lr is the metric; rows without it last
    cols, rows = run_query(ROWS, Query(sort_by="params.lr", limit=2), ["name"])
    assert [r["name"] for r in rows] == ["c", "a"]
    assert cols[0] == "name" and "params.opt" in cols


def test_names_with_spaces_by_their_text_quotes_or_alias() -> None:
    from gitexp.exploring.query import Query, alias, run_query

    rows = [
        {"name": "a", "metrics.Mean squared error": 2548.07, "metrics.accuracy": 0.9},
        {"name": "b", "metrics.Mean squared error": 3100.0, "metrics.accuracy": 0.8},
    ]
    assert alias("Mean squared error") == "mean_squared_error"
    assert alias("Accuracy (top-1)") == "accuracy_top_1"
    for key in ("Mean squared error", "mean_squared_error", "'Mean squared error'"):
        _, out = run_query(rows, Query(filters=(f"{key}<3000",)), ("name",))
        assert [r["name"] for r in out] == ["a"], key
        _, out = run_query(rows, Query(sort_by=key, descending=True), ("name",))
        assert [r["name"] for r in out] == ["b", "a"], key
    columns, _ = run_query(rows, Query(metrics="mean_squared_error"), ("name",))
    assert columns == ["name", "metrics.Mean squared error"]
