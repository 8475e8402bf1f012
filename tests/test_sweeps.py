"""`gitexp sweep`: real Optuna studies over fast scripts that compute a known
function of their params; every trial read back as an experiment with plain git."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import git, last_line, run_gitexp, write_files
from run_support import exp_refs, metrics_json, run_json, show
from sweep_support import journal, load_study, sweep, sweep_json, sweep_repo, trials

from gitexp.common.errors import UsageError
from gitexp.sweeps import space

QUAD = ("--", sys.executable, "quadratic.py")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return sweep_repo(tmp_path / "repo")


# --- search spaces ------------------------------------------------------------


def test_spaces_parse_as_written() -> None:
    assert space.parse("lr", "float(1e-4, 0.1, log)").log
    same = (space.parse("lr", "loguniform(1e-4,1e-1)"), space.parse("lr", "float(1e-4,1e-1,log)"))
    assert space.distribution(same[0]) == space.distribution(same[1])
    depth = space.parse("model.depth", "int(2,10,2)")
    assert (depth.kind, depth.grid()) == ("int", [2, 4, 6, 8, 10])
    choice = space.parse("act", 'choice(on, off, no, null, 3, 0.5, "7", "a,b")')
    assert choice.choices == ("on", "off", "no", "null", 3, 0.5, "7", "a,b")
    assert not space.parse("lr", "0.01").searched
    assert space.parse("lr", "float(0,1,0.25)").grid() == [0.0, 0.25, 0.5, 0.75, 1.0]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("float(1,0)", "lo must be below hi"),
        ("float(0,1,log)", "a log scale needs lo > 0"),
        ("int(1.5,3)", "is not an integer"),
        ("choice()", "at least one value"),
        ("float(0)", "takes lo, hi"),
        ("choice('a,b)", "unclosed quote"),
    ],
)
def test_a_bad_space_is_one_line(text: str, problem: str) -> None:
    with pytest.raises(UsageError, match=problem):
        space.parse("k", text)


# --- the sweep as a whole --------------------------------------------------------


def test_grid_covers_every_point_exactly_once_and_stops(repo: Path) -> None:
    proc = sweep(
        repo, "-n", "grid", "-p", "x=choice(0.1,0.3)", "-p", "y=int(1,3)",
        "--sampler", "grid", "--objective", "loss", "-j", "2", *QUAD,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "sweep grid covered its grid: 6 trials (6 succeeded)" in proc.stderr
    found = trials(repo, "grid")
    assert sorted((r["params"]["x"], r["params"]["y"]) for r in found.values()) == [
        (0.1, 1), (0.1, 2), (0.1, 3), (0.3, 1), (0.3, 2), (0.3, 3),
    ]  # fmt: skip
    assert list(found) == [0, 1, 2, 3, 4, 5]  # refs/experiments/grid/trial-0000 ... 0005
    assert {r["sweep"] for r in found.values()} == {"grid"}
    best = sweep_json(repo, "grid")["best"]
    assert [
        (found[int(b[-4:])]["params"]["x"], found[int(b[-4:])]["params"]["y"]) for b in best
    ] == [(0.3, 2)]


def test_tpe_with_a_seed_finds_the_optimum_and_repeats_itself(repo: Path) -> None:
    args = ["-p", "x=float(0,1)", "-p", "y=int(0,4)", "--objective", "loss:min"]
    args += ["--trials", "14", "--seed", "7", "--sampler", "tpe"]
    procs = [sweep(repo, "-n", name, *args, *QUAD) for name in ("tpe-a", "tpe-b")]
    assert [p.returncode for p in procs] == [0, 0], procs[0].stderr + procs[1].stderr
    a, b = trials(repo, "tpe-a"), trials(repo, "tpe-b")
    assert len(a) == 14
    assert [r["params"] for r in a.values()] == [r["params"] for r in b.values()]  # reproducible
    assert {r["seed"] for r in a.values()} == {7}  # the seed every trial ran with
    best = min(a.values(), key=lambda r: metrics_json(repo, r["name"])["loss"])
    assert best["params"]["y"] == 2 and abs(best["params"]["x"] - 0.3) < 0.2
    assert f"best: {best['name']} loss=" in procs[0].stderr


def test_nsga2_yields_a_pareto_front(repo: Path) -> None:
    proc = sweep(
        repo, "-n", "front", "-p", "x=float(0,1)", "-p", "y=int(0,3)",
        "--objective", "cost:min", "--objective", "gain:max", "--sampler", "nsga2",
        "--trials", "8", "--seed", "1", "--", sys.executable, "tradeoff.py",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    data = sweep_json(repo, "front")
    values = {
        t["name"]: (t["metrics"]["cost"], t["metrics"]["gain"]) for t in data["trials"]
    }  # fmt: skip
    front = data["best"]
    assert len(front) >= 2

    def dominated(v: tuple[float, float]) -> bool:
        return any(w[0] <= v[0] and w[1] >= v[1] and w != v for w in values.values())

    assert not any(dominated(values[n]) for n in front)
    assert all(dominated(v) for n, v in values.items() if n not in front)
    study = load_study(repo, "front")
    assert {t.number for t in study.best_trials} == {int(n[-4:]) for n in front}
    assert set(data["importances"]) == {"cost", "gain"}


@pytest.mark.slow
def test_the_median_pruner_stops_bad_trials_early(repo: Path) -> None:
    write_files(
        repo,
        {
            "prune.yaml": """\
                name: pruned
                params: {q: "choice(0, 1, 2, 3, 4, 5, 6, 7)"}
                objective: loss:min
                sampler: grid
                pruner: {type: median, n_startup_trials: 2, n_warmup_steps: 2}
                seed: 10  # the grid's order: q = 2, 3 complete first, then 6, 7, ...
                command: [python, curve.py]
            """
        },
    )
    proc = sweep(repo, "prune.yaml")
    assert proc.returncode == 0, proc.stderr
    found = trials(repo, "pruned")
    pruned = [r for r in found.values() if r["status"] == "pruned"]
    assert pruned, proc.stderr
    steps = {n: len(show(repo, r["name"], ".gitexp/history/loss.tsv").splitlines()) - 1
             for n, r in found.items()}  # fmt: skip
    assert {6, 7} <= {r["params"]["q"] for r in pruned}
    for record in pruned:
        assert steps[record["trial"]] < 16
        assert "by the median pruner" in record["stop_reason"]
    assert all(steps[n] == 16 for n, r in found.items() if r["status"] == "succeeded")
    assert len(found) == 8  # pruned trials count: the grid is still covered once


def test_a_crashing_trial_does_not_stop_the_sweep(repo: Path) -> None:
    proc = sweep(
        repo, "-n", "crashy", "-p", "q=choice(1,2,3)", "--sampler", "grid",
        "--objective", "loss", "--", sys.executable, "crash.py",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    found = trials(repo, "crashy")
    by_q = {r["params"]["q"]: r for r in found.values()}
    assert by_q[2]["status"] == "failed" and by_q[2]["exit_code"] == 1
    assert {by_q[1]["status"], by_q[3]["status"]} == {"succeeded"}
    assert "boom: q=2 crashes" in show(repo, by_q[2]["name"], ".gitexp/output.log")
    study = load_study(repo, "crashy")
    assert sorted(t.state.name for t in study.trials) == ["COMPLETE", "COMPLETE", "FAIL"]


# logs `loss` only in the first trial it sees (a marker file outside the repository)
FIRST_ONLY = """\
import os, gitexp
q = int(gitexp.params()["q"])
if not os.path.exists(os.environ["MARKER"]):
    open(os.environ["MARKER"], "w").close()
    gitexp.log_metric("loss", float(q))
gitexp.log_metric("seen", 1.0)
"""
# two trials at once: the first to start is quick, the other sleeps until it is stopped.
# With MEET set, each registers there and the quick one ends only once the other is
# alive, so the sweep stops with one trial running however slowly the second starts.
RACE = """\
import os, time, gitexp
q = int(gitexp.params()["q"])
meet = os.environ.get("MEET")
if meet:
    os.makedirs(meet, exist_ok=True)
    open(os.path.join(meet, str(os.getpid())), "w").close()
try:
    os.close(os.open(os.environ["MARKER"], os.O_CREAT | os.O_EXCL))
except FileExistsError:
    time.sleep(600)
deadline = time.time() + 120
while meet and len(os.listdir(meet)) < 2 and time.time() < deadline:
    time.sleep(0.05)
gitexp.log_metric("loss", float(q))
gitexp.log_metric("q", float(q))
"""
# two trials at once, seen as an event: each registers in MEET/alive and waits (60 s at
# most) to see another alive there, then writes MEET/met
MEETER = """\
import os, time, gitexp
q = int(gitexp.params()["q"])
meet = os.environ["MEET"]
alive = os.path.join(meet, "alive")
os.makedirs(alive, exist_ok=True)
me = os.path.join(alive, str(os.getpid()))
open(me, "w").close()
deadline = time.time() + 60
while not os.path.exists(os.path.join(meet, "met")) and time.time() < deadline:
    if len(os.listdir(alive)) > 1:
        open(os.path.join(meet, "met"), "w").close()
    time.sleep(0.05)
os.remove(me)
gitexp.log_metric("loss", float(q))
"""
# with HOLD set: says it started (a marker per trial, written whole) and sleeps until
# it is stopped; without it, naps `nap` seconds
HOLDER = """\
import os, time, gitexp
p = gitexp.params()
hold = os.environ.get("HOLD")
if hold:
    mark = os.path.join(hold, str(os.getpid()))
    open(mark + ".tmp", "w").close()
    os.rename(mark + ".tmp", mark)
    time.sleep(600)
time.sleep(float(p["nap"]))
gitexp.log_metric("loss", float(p["q"]))
"""
NAN = "import gitexp\ngitexp.params()\ngitexp.log_metric('loss', float('nan'))\n"
MISSPELT = "gitexp: error: sweep {!r} stopped: objective metric 'los' was not logged by {}"


def test_a_misspelled_objective_stops_the_sweep_after_one_trial(repo: Path) -> None:
    proc = sweep(
        repo, "-n", "typo", "-p", "q=int(0,9)", "--trials", "10", "--objective", "los",
        "--", sys.executable, "crash.py",
    )  # fmt: skip
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1, proc.stderr  # one line: no summary, no traceback
    assert last_line(proc.stderr) == MISSPELT.format("typo", "typo/trial-0000") + (
        "; it logged: loss (hint: did you mean 'loss'? --resume cannot change the objective: "
        "start a new sweep with the right --objective)"
    )
    [record] = trials(repo, "typo").values()
    assert record["status"] == "failed" and record["exit_code"] == 0
    assert record["error"] == "objective metric 'los' was not logged"
    assert "failed" in git(repo, "log", "-1", "--format=%B", "refs/experiments/typo/trial-0000")
    assert [t.state.name for t in load_study(repo, "typo").trials] == ["FAIL"]


def test_with_two_jobs_the_running_trial_is_stopped_and_the_study_resumable(
    repo: Path, tmp_path: Path
) -> None:
    marker, meet = tmp_path / "marker", tmp_path / "meet"
    write_files(repo, {"race.py": RACE})
    args = ["-n", "typo2", "-p", "q=int(1,9)", "--trials", "10", "-o", "acc:max", "-j", "2"]
    env = {"MARKER": str(marker), "MEET": str(meet)}
    proc = sweep(repo, *args, "--", sys.executable, "race.py", env=env)
    assert proc.returncode == 1, proc.stderr
    assert "gitexp: stopping: 1 running trial(s) recorded as interrupted" in proc.stderr
    assert last_line(proc.stderr).startswith("gitexp: error: sweep 'typo2' stopped: objective ")
    assert "it logged: loss, q (hint: --resume cannot change" in proc.stderr  # nothing close
    found = trials(repo, "typo2").values()
    assert sorted(r["status"] for r in found) == ["failed", "interrupted"]
    slow = next(r for r in found if r["status"] == "interrupted")
    assert "the sweep stopped: objective metric 'acc' was not logged" in slow["stop_reason"]
    assert sorted(t.state.name for t in load_study(repo, "typo2").trials) == ["FAIL", "FAIL"]
    marker.unlink()
    # one at a time: with -j 2 the rerun could lose the race for the marker and be stopped
    again = sweep(repo, "--resume", "--name", "typo2", "-j", "1", env={"MARKER": str(marker)})
    assert again.returncode == 1 and "objective metric 'acc' was not logged" in again.stderr
    rerun = trials(repo, "typo2")[2]  # the interrupted trial runs again first
    assert rerun["params"]["q"] == slow["params"]["q"] and rerun["status"] == "failed"


@pytest.mark.parametrize(
    ("script", "files", "why"),
    [
        ("crash.py", {}, ("exit_code", 1)),  # the command failed: its own reason
        (
            "nan.py",
            {"nan.py": NAN},
            ("error", "objective metric 'loss' is nan, not a finite number"),
        ),
    ],
)
def test_trials_failing_for_their_own_reasons_use_the_budget(
    repo: Path, script: str, files: dict[str, str], why: tuple[str, Any]
) -> None:
    write_files(repo, files)
    proc = sweep(repo, "-n", "own", "-p", "q=choice(2)", "--sampler", "random", "--trials", "3",
                 "-o", "loss", "--", sys.executable, script)  # fmt: skip
    assert proc.returncode == 1
    assert last_line(proc.stderr).startswith("gitexp: error: every trial of sweep 'own' failed")
    found = trials(repo, "own")
    assert len(found) == 3 and {r["status"] for r in found.values()} == {"failed"}
    assert [r[why[0]] for r in found.values()] == [why[1]] * 3


def test_an_objective_once_logged_keeps_the_sweep_going(repo: Path, tmp_path: Path) -> None:
    write_files(repo, {"first_only.py": FIRST_ONLY})
    proc = sweep(repo, "-n", "once", "-p", "q=int(0,9)", "--trials", "4", "-o", "loss",
                 "--", sys.executable, "first_only.py",
                 env={"MARKER": str(tmp_path / "marker")})  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "sweep once completed: 4 trials (1 succeeded, 3 failed)" in proc.stderr
    statuses = [r["status"] for r in trials(repo, "once").values()]
    assert statuses == ["succeeded", "failed", "failed", "failed"]


def test_sampled_choices_reach_the_script_as_the_strings_typed(repo: Path) -> None:
    proc = sweep(
        repo, "-n", "words", "-p", "act=choice(on, off, no, null)", "-p", "x=0.3", "-p", "y=2",
        "--sampler", "grid", "--objective", "loss", *QUAD,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    seen = [json.loads(show(repo, r["name"], "seen.json")) for r in trials(repo, "words").values()]
    assert sorted(s["act"] for s in seen) == ["no", "null", "off", "on"]
    assert {s["type"] for s in seen} == {"str"}


@pytest.mark.slow
def test_two_jobs_overlap(repo: Path, tmp_path: Path) -> None:
    meet = tmp_path / "meet"
    write_files(repo, {"meeter.py": MEETER})
    proc = sweep(
        repo, "-n", "overlap", "-p", "q=choice(1,2)", "--sampler", "grid",
        "--objective", "loss", "-j", "2", "--", sys.executable, "meeter.py",
        env={"MEET": str(meet)},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert (meet / "met").exists()  # the two trials were alive at once
    assert [r["status"] for r in trials(repo, "overlap").values()] == ["succeeded"] * 2


def test_resume_continues_the_trial_count(repo: Path) -> None:
    args = ["-p", "x=float(0,1)", "-p", "y=int(0,4)", "--objective", "loss", "--seed", "2"]
    first = sweep(repo, "-n", "again", *args, "--trials", "3", *QUAD)
    assert first.returncode == 0, first.stderr
    done = sweep(repo, "--resume", "--name", "again")
    assert done.returncode == 0 and "sweep again is complete" in done.stderr
    more = sweep(repo, "--resume", "--name", "again", "--trials", "2", "-j", "2")
    assert more.returncode == 0, more.stderr
    found = trials(repo, "again")
    assert list(found) == [0, 1, 2, 3, 4]
    assert len({(r["params"]["x"], r["params"]["y"]) for r in found.values()}) == 5
    assert len(load_study(repo, "again").trials) == 5
    changed = sweep(repo, "--resume", "--name", "again", "--sampler", "random")
    assert changed.returncode == 2
    assert "--sampler cannot change" in last_line(changed.stderr)


@pytest.mark.slow
def test_ctrl_c_leaves_a_resumable_study_and_no_running_ref(repo: Path, tmp_path: Path) -> None:
    hold = tmp_path / "hold"  # each trial of this invocation says it started, then sleeps
    hold.mkdir()
    write_files(repo, {"holder.py": HOLDER})
    argv = [sys.executable, "-m", "gitexp", "sweep", "-n", "stop", "-p", "q=choice(0,1,2,3,4)"]
    argv += ["-p", "nap=0.5", "--sampler", "grid", "--objective", "loss", "-j", "2"]
    proc = subprocess.Popen(
        [*argv, "--", sys.executable, "holder.py"],
        cwd=repo,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "HOLD": str(hold)},
    )
    _wait_for(lambda: len([m for m in os.listdir(hold) if not m.endswith(".tmp")]) == 2)
    assert proc.poll() is None
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=180)
    assert proc.returncode == 130, err
    assert "gitexp: error: sweep 'stop' interrupted" in err
    statuses = [r["status"] for r in trials(repo, "stop").values()]
    assert "running" not in statuses and statuses.count("interrupted") == 2
    states = [t.state.name for t in load_study(repo, "stop").trials]
    assert "RUNNING" not in states
    resumed = sweep(repo, "--resume", "--name", "stop", "-p", "nap=0", "-j", "2")
    assert resumed.returncode == 2  # the sweep is as it was defined
    resumed = sweep(repo, "--resume", "--name", "stop", "-j", "2")
    assert resumed.returncode == 0, resumed.stderr
    done = [r["params"]["q"] for r in trials(repo, "stop").values() if r["status"] == "succeeded"]
    assert sorted(done) == [0, 1, 2, 3, 4]  # every grid point once, the interrupted ones rerun


def _wait_for(condition: Any, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_optuna_and_its_dashboard_open_the_study(repo: Path) -> None:
    proc = sweep(repo, "-n", "open", "-p", "x=float(0,1)", "-p", "y=2", "--objective", "loss",
                 "--trials", "3", *QUAD)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert f"study: {journal(repo, 'open')}" in proc.stderr
    study = load_study(repo, "open")
    assert [t.user_attrs["gitexp_name"] for t in study.trials] == [
        "open/trial-0000", "open/trial-0001", "open/trial-0002",
    ]  # fmt: skip
    assert study.metric_names == ["loss"]
    from optuna_dashboard._storage_url import get_storage

    dashboard = get_storage(str(journal(repo, "open")))
    assert len(dashboard.get_all_trials(study._study_id)) == 3


# --- definitions from files, and mistakes ---------------------------------------


def test_a_sweep_file_with_command_line_options_over_it(repo: Path) -> None:
    write_files(
        repo,
        {
            "sweep.yaml": """\
                name: fromfile
                params:
                  x: float(0, 1)
                  y: [1, 2]
                objective: {loss: min}
                trials: 9
                command: python quadratic.py
            """,
            "gitexp.yaml": "sweeps:\n  quick:\n    params: {x: [0.3], y: [2]}\n"
            "    objective: loss\n    sampler: grid\n    command: python quadratic.py\n",
        },
    )
    proc = sweep(repo, "sweep.yaml", "--trials", "2", "-p", "act=choice(on)")
    assert proc.returncode == 0, proc.stderr
    found = trials(repo, "fromfile")
    assert len(found) == 2 and {r["params"]["act"] for r in found.values()} == {"on"}
    assert {r["sweep_objectives"][0] for r in found.values()} == {"loss:min"}
    quick = sweep(repo, "quick")
    assert quick.returncode == 0, quick.stderr
    assert [r["params"]["x"] for r in trials(repo, "quick").values()] == [0.3]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-p", "x=float(1,0)", "-o", "loss", "--trials", "1"], "bad search space for 'x'"),
        (["-p", "x=float(0,1)", "--trials", "1"], "no objective"),
        (["-p", "x=float(0,1)", "--objective", "loss"], "the sweep has no budget"),
        (["-p", "x=float(0,1)", "--objective", "loss", "--sampler", "grid"], "cannot grid-search"),
        (["-p", "x=float(0,1)", "-o", "a", "-o", "b", "--pruner", "median", "--trials", "1"],
         "pruning needs a single objective"),
        (["-p", "x=float(0,1)", "-o", "loss", "--sampler", "anneal", "--trials", "1"],
         "unknown sampler 'anneal'"),
        (["-p", "nope=float(0,1)", "-o", "loss", "--trials", "1"], "unknown param 'nope'"),
        (["--resume", "--name", "ghost"], "no sweep named 'ghost'"),
        (["missing.yaml", "--trials", "1"], "no sweep file or gitexp.yaml sweep named"),
    ],
)  # fmt: skip
def test_mistakes_are_one_line_and_leave_nothing(repo: Path, args: list[str], message: str) -> None:
    proc = sweep(repo, "-n", "bad", *args, *QUAD) if "--resume" not in args else sweep(repo, *args)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and message in proc.stderr
    assert exp_refs(repo) == {}
    assert not (repo / ".git" / "gitexp" / "sweeps" / "bad").exists()


def test_a_taken_name_is_refused(repo: Path) -> None:
    args = ["-n", "once", "-p", "x=float(0,1)", "-p", "y=2", "-o", "loss", "--trials", "1"]
    assert sweep(repo, *args, *QUAD).returncode == 0
    again = sweep(repo, *args, *QUAD)
    assert again.returncode == 2
    assert "sweep name 'once' is taken" in again.stderr and "--resume" in again.stderr


# --- reading sweeps back ------------------------------------------------------------


def test_show_folds_each_sweep_into_one_row(repo: Path) -> None:
    assert (
        run_gitexp("run", "-n", "plain", "--", sys.executable, "quadratic.py", cwd=repo).returncode
        == 0
    )
    proc = sweep(repo, "-n", "fold", "-p", "x=choice(0.1,0.3)", "-p", "y=2", "--sampler", "grid",
                 "-o", "loss", *QUAD)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    table = run_gitexp("show", "--format", "csv", cwd=repo).stdout.splitlines()
    names = [line.split(",")[0] for line in table[1:]]
    assert sorted(names) == ["fold/", "plain"]
    folded = next(line for line in table if line.startswith("fold/"))
    assert "sweep, 2 trials" in folded and ",0.3," in folded  # the best trial's params
    every = run_gitexp("show", "--trials", "--format", "csv", cwd=repo).stdout
    assert "fold/trial-0000" in every and "fold/trial-0001" in every and "plain" in every
    for args in (["fold/"], ["fold"], ["-f", "sweep=fold"]):
        listed = run_gitexp("show", *args, "--format", "csv", cwd=repo).stdout.splitlines()
        assert sorted(line.split(",")[0] for line in listed[1:]) == [
            "fold/trial-0000", "fold/trial-0001",
        ], args  # fmt: skip
    objects = json.loads(run_gitexp("show", "--format", "json", cwd=repo).stdout)
    group = next(o for o in objects if o["name"] == "fold/")
    assert group["trials"] == 2 and group["best"][0]["params"]["x"] == 0.3


def test_sweep_show_lists_trials_best_importances_and_storage(repo: Path) -> None:
    proc = sweep(repo, "-n", "seen", "-p", "x=float(0,1)", "-p", "y=int(0,4)", "-o", "loss",
                 "--trials", "6", "--seed", "4", *QUAD)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    text = run_gitexp("sweep", "show", "seen", cwd=repo).stdout
    assert (
        "sweep seen: 6 trials (6 succeeded); sampler tpe, pruner none; objective loss:min" in text
    )
    assert "trial-0005" in text and "best trial" in text and "param importances (loss)" in text
    assert str(journal(repo, "seen")) in text
    ranked = run_gitexp("sweep", "show", "seen", "-s", "loss", "--limit", "1", "--format", "csv",
                        cwd=repo).stdout.splitlines()  # fmt: skip
    best = sweep_json(repo, "seen")["best"][0]
    assert ranked[1].startswith(best.removeprefix("seen/") + ",succeeded,")


def test_a_trial_reproduces_like_any_experiment(repo: Path) -> None:
    proc = sweep(repo, "-n", "rep", "-p", "x=0.5", "-p", "y=int(1,2)", "--sampler", "grid",
                 "-o", "loss", *QUAD)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    again = run_gitexp("reproduce", "rep/trial-0001", cwd=repo)
    assert again.returncode == 0, again.stderr
    assert "metrics match" in again.stderr


def test_callbacks_hear_the_sweep_events(repo: Path, tmp_path: Path) -> None:
    log = tmp_path / "events.jsonl"
    write_files(
        repo,
        {
            "hooks.py": "import json, os\n"
            "def on(event, payload):\n"
            "    with open(os.environ['EVENTS_LOG'], 'a') as f:\n"
            "        f.write(json.dumps([event, payload]) + '\\n')\n",
            "gitexp.yaml": "callbacks: ['hooks:on']\n",
        },
    )
    proc = sweep(repo, "-n", "heard", "-p", "x=choice(0.5,0.3)", "-p", "y=2", "--sampler", "grid",
                 "-o", "loss", *QUAD, env={"EVENTS_LOG": str(log)})  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(line) for line in log.read_text().splitlines()]
    kinds = [e for e, _ in events if e.startswith(("sweep_", "trial_"))]
    assert kinds[0] == "sweep_started" and kinds[-1] == "sweep_finished"
    assert kinds.count("trial_finished") == 2 and "sweep_new_best" in kinds
    started = next(p for e, p in events if e == "sweep_started")
    assert started["space"] == {"x": "choice(0.5,0.3)"} and started["trials"] == 2
    finished = [p for e, p in events if e == "trial_finished"]
    assert {p["name"] for p in finished} == {"heard/trial-0000", "heard/trial-0001"}
    assert all(p["status"] == "succeeded" and p["sweep"] == "heard" for p in finished)
    last = next(p for e, p in events if e == "sweep_finished")
    assert last["succeeded"] == 2 and last["ended"] == "exhausted"
    assert run_json(repo, last["best"])["params"]["x"] == 0.3


def test_gitexp_run_never_imports_optuna(repo: Path) -> None:
    code = (
        "import sys; from gitexp.cli.app import main; "
        "rc = main(['run', '-q', '--', sys.executable, 'quadratic.py']); "
        "assert 'optuna' not in sys.modules, 'optuna imported'; sys.exit(rc)"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=repo, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
