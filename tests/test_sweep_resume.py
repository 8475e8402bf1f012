"""`gitexp sweep --resume` counts the trials of earlier invocations: the closing
summary, ``sweep_finished`` and ``sweep_new_best`` agree with `gitexp sweep show`.

A resumed sweep runs the same snapshot, so the scripts read an ``OFFSET`` from
the environment: a resume with a large offset makes every new trial worse than
the first invocation's, one with a negative offset makes a trial better."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import write_files
from run_support import metrics_json
from sweep_support import sweep, sweep_json, sweep_repo, trials

from gitexp.sweeps import best as bests
from gitexp.sweeps.spec import Objective

OFFSET_PY = """\
import os, gitexp
q = int(gitexp.params()["q"])
gitexp.log_metric("loss", q + float(os.environ.get("OFFSET", "0")))
"""
# two objectives: an offset makes a trial worse in both (dominated by every earlier one)
FRONT_PY = """\
import os, gitexp
x, off = float(gitexp.params()["x"]), float(os.environ.get("OFFSET", "0"))
gitexp.log_metric("cost", x ** 2 + off)
gitexp.log_metric("gain", x - off)
"""
HOOKS_PY = """\
import json, os
def on(event, payload):
    with open(os.environ["EVENTS_LOG"], "a") as f:
        f.write(json.dumps([event, payload]) + "\\n")
"""
GRID = ("-p", "q=choice(0,1,2,3,4,5,6,7)", "--sampler", "grid", "--seed", "5")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = sweep_repo(tmp_path / "repo")
    write_files(
        root,
        {
            "offset.py": OFFSET_PY,
            "front.py": FRONT_PY,
            "hooks.py": HOOKS_PY,
            "gitexp.yaml": "callbacks: ['hooks:on']\n",
        },
    )
    return root


def _sweep(repo: Path, log: Path, offset: float, *args: str) -> tuple[Any, list[Any]]:
    """One invocation with OFFSET, and the events its callback heard."""
    proc = sweep(repo, *args, env={"OFFSET": str(offset), "EVENTS_LOG": str(log)})
    assert proc.returncode == 0, proc.stderr
    return proc, [json.loads(line) for line in log.read_text().splitlines()]


def _payloads(events: list[Any], kind: str) -> list[dict[str, Any]]:
    return [p for e, p in events if e == kind]


def test_a_resume_of_worse_trials_keeps_the_first_best(repo: Path, tmp_path: Path) -> None:
    command = ("--", sys.executable, "offset.py")
    _, first = _sweep(repo, tmp_path / "1.jsonl", 0, "-n", "lr", *GRID, "-o", "loss",
                      "--trials", "2", *command)  # fmt: skip
    losses = {r["name"]: metrics_json(repo, r["name"])["loss"] for r in trials(repo, "lr").values()}
    best = min(losses, key=lambda n: (losses[n], n))
    assert _payloads(first, "sweep_new_best")[-1]["trial_name"] == best

    proc, second = _sweep(repo, tmp_path / "2.jsonl", 100, "--resume", "-n", "lr", "--trials", "3")
    assert len(trials(repo, "lr")) == 5
    assert f"gitexp: best: {best} loss={losses[best]:g}\n" in proc.stderr
    assert sweep_json(repo, "lr")["best"] == [best]
    assert [p["status"] for p in _payloads(second, "trial_finished")] == ["succeeded"] * 3
    assert _payloads(second, "sweep_new_best") == []  # every new trial is worse
    assert _payloads(second, "sweep_started")[0]["best"] == {
        "trial_name": best,
        "values": [losses[best]],
        "front": [],
    }  # what the progress bar shows from the start
    assert _payloads(first, "sweep_started")[0]["best"] == {
        "trial_name": None,
        "values": None,
        "front": [],
    }
    finished = _payloads(second, "sweep_finished")[0]
    assert (finished["best"], finished["best_values"]) == (best, [losses[best]])

    # a better trial still is one: the event fires, and the summary names it
    proc, third = _sweep(repo, tmp_path / "3.jsonl", -100, "--resume", "-n", "lr", "--trials", "1")
    [new] = _payloads(third, "sweep_new_best")
    assert new["trial_name"] == "lr/trial-0005" and new["values"][0] < -90
    assert "gitexp: best: lr/trial-0005 loss=" in proc.stderr
    assert sweep_json(repo, "lr")["best"] == ["lr/trial-0005"]


def test_a_resume_keeps_the_pareto_front(repo: Path, tmp_path: Path) -> None:
    objectives = ("-o", "cost:min", "-o", "gain:max", "--sampler", "nsga2", "--seed", "3")
    command = ("--", sys.executable, "front.py")
    _sweep(repo, tmp_path / "1.jsonl", 0, "-n", "pf", "-p", "x=float(0,1)", *objectives,
           "--trials", "4", *command)  # fmt: skip
    front = sweep_json(repo, "pf")["best"]
    assert front

    proc, second = _sweep(repo, tmp_path / "2.jsonl", 50, "--resume", "-n", "pf", "--trials", "2")
    assert len(trials(repo, "pf")) == 6
    assert f"gitexp: Pareto front: {', '.join(sorted(front))}\n" in proc.stderr
    assert sweep_json(repo, "pf")["best"] == front  # the new trials are dominated
    assert _payloads(second, "sweep_new_best") == []
    assert _payloads(second, "sweep_finished")[0]["front"] == sorted(front)


def test_equal_values_go_to_the_lower_trial_number_as_sweep_show_picks() -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize")
    for value in (0.5, 0.9, 0.9, 0.2):
        trial = study.ask()
        trial.set_user_attr("gitexp_name", f"s/trial-{trial.number:04d}")
        study.tell(trial, value)
    spec: Any = type("Spec", (), {"objectives": (Objective("acc", "maximize"),)})()
    best = bests.recorded(study, spec)
    assert (best.name, best.values, best.number) == ("s/trial-0001", [0.9], 1)
    assert not best.beaten_by(0.9, 4, "maximize") and best.beaten_by(0.9, 0, "maximize")
    assert best.beaten_by(0.91, 4, "maximize") and not best.beaten_by(0.1, 0, "maximize")
    empty = optuna.create_study()
    assert bests.recorded(empty, spec) == bests.Best()
