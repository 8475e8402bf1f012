"""The seams the next capabilities use, each used the way they will use it:
a callback hearing a run, a live metric seen before the process ends, a typed
override reaching a script unchanged, an executor that runs elsewhere and hands
results back only through the contract, and runs started from two threads."""

from __future__ import annotations

import json
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest
from conftest import git, last_line, run_gitexp, write_files
from elsewhere_support import ElsewhereExecutor
from run_support import metrics_json, run_json, show, tree_files

from gitexp.config.settings import load_config
from gitexp.events.bus import EventBus
from gitexp.gitstore.repo import open_repo
from gitexp.running.runner import RunRequest, run_experiment, snapshot

HOOKS = """\
import json, os

def on_event(event, payload):
    with open(os.environ["EVENTS_LOG"], "a") as f:
        f.write(json.dumps([event, payload]) + "\\n")
    payload["status"] = "tampered"  # a listener cannot change the run

def broken(event, payload):
    raise RuntimeError("listener bug")
"""
SCRIPT = """\
import gitexp
for i in range(3):
    gitexp.log_metric("loss", 1.0 / (i + 1), step=i)
print("accuracy: 0.9")
"""


def _events(log: Path) -> list[tuple[str, dict[str, Any]]]:
    return [tuple(json.loads(line)) for line in log.read_text().splitlines()]  # type: ignore[misc]


def test_a_callback_from_gitexp_yaml_hears_the_whole_run(git_repo: Path, tmp_path: Path) -> None:
    log = tmp_path / "events.jsonl"
    write_files(
        git_repo,
        {
            "tools/__init__.py": "",
            "tools/hooks.py": HOOKS,
            "s.py": SCRIPT,
            "gitexp.yaml": "callbacks: ['tools.hooks:on_event', 'tools.hooks:broken']\n",
        },
    )
    proc = run_gitexp("run", "-n", "heard", "--", "python", "s.py", env={"EVENTS_LOG": str(log)})
    assert proc.returncode == 0, proc.stderr
    events = _events(log)
    names = [e for e, _ in events]
    assert names[:2] == ["run_reserved", "run_started"]
    assert names[-2:] == ["run_finished", "run_recorded"]
    assert "metric_logged" in names
    for _, payload in events:
        assert payload["name"] == "heard" and payload["ref"] == "refs/experiments/heard"
    finished = dict(events)["run_finished"]
    assert finished["status"] == "succeeded" and finished["exit_code"] == 0
    assert finished["metrics"] == {"loss": pytest.approx(1 / 3), "accuracy": 0.9}
    recorded = dict(events)["run_recorded"]
    assert recorded["commit"] == git(git_repo, "rev-parse", "refs/experiments/heard").strip()
    assert run_json(git_repo, "heard")["status"] == "succeeded"  # not "tampered"
    broken = [ln for ln in proc.stderr.splitlines() if "tools.hooks:broken" in ln]
    assert len(set(broken)) == len({e for e, _ in events}), broken  # one line per event, once
    assert broken[0].startswith("gitexp: warning: callback tools.hooks:broken failed on ")
    assert "RuntimeError: listener bug" in broken[0]


def test_a_callback_that_cannot_be_loaded_stops_the_run_before_it_starts(git_repo: Path) -> None:
    write_files(git_repo, {"gitexp.yaml": "callbacks: ['nowhere.module:fn']\n"})
    proc = run_gitexp("run", "--", "python", "train.py")
    assert proc.returncode == 2
    assert last_line(proc.stderr).startswith(
        "gitexp: error: gitexp.yaml: cannot load callback 'nowhere.module:fn': ModuleNotFoundError"
    )
    assert git(git_repo, "for-each-ref", "refs/experiments/") == ""


WAITS_FOR_ACK = """\
import os, time, gitexp
gitexp.log_metric("loss", 0.5, step=1)
ack = os.environ["ACK_FILE"]
for _ in range(100):  # up to 10 s: the runner must see the metric while we run
    if os.path.exists(ack):
        print("ack: 1")
        break
    time.sleep(0.1)
"""


def test_a_live_metric_is_seen_before_the_process_ends(git_repo: Path, tmp_path: Path) -> None:
    ack = tmp_path / "ack"
    write_files(git_repo, {"s.py": WAITS_FOR_ACK})
    seen: list[dict[str, Any]] = []

    def listener(event: str, payload: dict[str, Any]) -> None:
        seen.append(payload)
        ack.touch()

    bus = EventBus()
    bus.subscribe(listener, ["metric_logged"])
    repo = open_repo(git_repo)
    request = RunRequest(command=["python", "s.py"], name="live", echo=False)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ACK_FILE", str(ack))
        result = run_experiment(repo, load_config(git_repo), request, bus=bus)
    assert result.metrics == {"loss": 0.5, "ack": 1.0}  # the script saw our ack
    assert seen[0]["metric"] == "loss" and seen[0]["step"] == 1 and seen[0]["value"] == 0.5


TYPED = """\
import json, yaml, gitexp
print(json.dumps({"file": yaml.safe_load(open("params.yaml")), "lib": gitexp.params()}))
"""


def test_typed_values_reach_the_script_exactly(git_repo: Path) -> None:
    write_files(
        git_repo,
        {
            "params.yaml": "# knobs\nact: relu  # activation\nn: 1\ns: x\nflag: false\n"
            "model:\n  depth: 3\n",
            "t.py": TYPED,
        },
    )
    values = {
        "act": "on",
        "n": None,
        "s": "1e3",
        "flag": "no",
        "model.depth": 6,
        "+extra": [1, "2"],
    }
    repo = open_repo(git_repo)
    request = RunRequest(command=["python", "t.py"], name="typed", values=values, echo=False)
    run_experiment(repo, load_config(git_repo), request)
    out = json.loads(show(git_repo, "typed", ".gitexp/output.log"))
    expected = {"act": "on", "n": None, "s": "1e3", "flag": "no", "model": {"depth": 6},
                "extra": [1, "2"]}  # fmt: skip
    assert out["file"] == expected and out["lib"] == expected
    assert "# knobs" in show(git_repo, "typed", "params.yaml")  # the user's comment survives
    assert "act=on" not in run_json(git_repo, "typed")["overrides"]
    assert 'act="on"' in run_json(git_repo, "typed")["overrides"]


OUTPUTS = """\
import os, gitexp
os.makedirs("out", exist_ok=True)
open("out/model.txt", "w").write("weights")
os.remove("notes.txt")
gitexp.log_metric("loss", 0.25, step=0)
print("cwd", os.getcwd())
"""


def test_an_executor_that_runs_elsewhere_hands_back_through_the_contract(git_repo: Path) -> None:
    write_files(git_repo, {"s.py": OUTPUTS, "notes.txt": "delete me"})
    seen: list[str] = []
    bus = EventBus()
    bus.subscribe(lambda event, payload: seen.append(payload["metric"]), ["metric_logged"])
    repo = open_repo(git_repo)
    request = RunRequest(command=["python", "s.py"], name="remote", echo=False)
    executor = ElsewhereExecutor()
    result = run_experiment(repo, load_config(git_repo), request, executor=executor, bus=bus)
    assert result.status == "succeeded", result.record
    assert seen == ["loss"]  # streamed back live through sink.metrics
    assert metrics_json(git_repo, "remote") == {"loss": 0.25}
    files = tree_files(git_repo, "remote")
    assert "out/model.txt" in files and "notes.txt" not in files  # changes and deletions
    assert show(git_repo, "remote", "out/model.txt") == "weights"
    log = show(git_repo, "remote", ".gitexp/output.log")
    assert "elsewhere-" in log  # it really ran in another directory
    assert run_json(git_repo, "remote")["ran_in"] == "elsewhere"


def test_an_unsafe_returned_archive_is_refused_and_recorded(git_repo: Path, tmp_path: Path) -> None:
    import io
    import tarfile

    from gitexp.running.transport import unpack

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("../escape.txt")
        tar.addfile(info, io.BytesIO(b""))
    target = tmp_path / "run"
    with pytest.raises(Exception, match="escape"):
        unpack(buf.getvalue(), target)
    assert not (tmp_path / "escape.txt").exists()


def test_runs_from_two_threads_of_one_driver_share_one_snapshot(git_repo: Path) -> None:
    write_files(
        git_repo,
        {"job.py": "import gitexp, os\ngitexp.log_metric('i', float(os.environ.get('I', 0)))\n"},
    )
    repo = open_repo(git_repo)
    config = load_config(git_repo)
    tree = snapshot(repo, config)
    write_files(git_repo, {"job.py": "raise SystemExit('changed after the snapshot')\n"})
    results: dict[str, Any] = {}

    def one(name: str) -> None:
        request = RunRequest(command=["python", "job.py"], name=name, tree=tree, echo=False)
        results[name] = run_experiment(repo, config, request)

    threads = [threading.Thread(target=one, args=(f"t{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert {n: r.status for n, r in results.items()} == {"t0": "succeeded", "t1": "succeeded"}
    for name in ("t0", "t1"):
        assert "changed after" not in show(git_repo, name, "job.py")
    fsck = subprocess.run(["git", "fsck", "--strict"], cwd=git_repo, capture_output=True, text=True)
    assert fsck.returncode == 0, fsck.stderr


LONG = """\
import time, gitexp
for step in range(100):
    gitexp.log_metric("loss", 1.0 / (step + 1), step=step)
    time.sleep(0.1)
"""


def test_a_driver_stops_a_run_on_a_live_metric_and_it_is_recorded_pruned(git_repo: Path) -> None:
    from gitexp.running.control import RunControl

    write_files(git_repo, {"long.py": LONG})
    control = RunControl()
    bus = EventBus()

    def prune(event: str, payload: dict[str, Any]) -> None:
        if payload["step"] >= 3:
            control.stop("pruned", f"pruned at step {payload['step']}")

    bus.subscribe(prune, ["metric_logged"])
    repo = open_repo(git_repo)
    request = RunRequest(command=["python", "long.py"], name="pruned", echo=False, control=control)
    result = run_experiment(repo, load_config(git_repo), request, bus=bus)
    assert result.status == "pruned"
    record = run_json(git_repo, "pruned")
    assert record["status"] == "pruned" and record["stop_reason"].startswith("pruned at step")
    steps = show(git_repo, "pruned", ".gitexp/history/loss.tsv").splitlines()[1:]
    assert 3 < len(steps) < 60  # stopped early, its history kept


def test_a_run_stopped_before_it_starts_never_starts(git_repo: Path, tmp_path: Path) -> None:
    from gitexp.running.control import RunControl

    marker = tmp_path / "ran"
    write_files(git_repo, {"m.py": f"open({str(marker)!r}, 'w').write('x')\n"})
    control = RunControl()
    control.stop("interrupted", "the sweep was stopped")
    repo = open_repo(git_repo)
    request = RunRequest(command=["python", "m.py"], name="never", echo=False, control=control)
    result = run_experiment(repo, load_config(git_repo), request)
    assert result.status == "interrupted" and not marker.exists()
    assert run_json(git_repo, "never")["stop_reason"] == "the sweep was stopped"


def test_extra_environment_reaches_the_command_and_never_overrides_gitexp(git_repo: Path) -> None:
    write_files(
        git_repo,
        {"e.py": "import os\nprint(os.environ['EXTRA'], os.environ['GITEXP_RUN_NAME'])\n"},
    )
    repo = open_repo(git_repo)
    env = {"EXTRA": "from-driver", "GITEXP_RUN_NAME": "hijacked"}
    request = RunRequest(command=["python", "e.py"], name="envy", env=env, echo=False)
    run_experiment(repo, load_config(git_repo), request)
    assert show(git_repo, "envy", ".gitexp/output.log").strip() == "from-driver envy"


def test_a_verdict_fails_a_run_that_succeeded_and_listeners_hear_it(git_repo: Path) -> None:
    write_files(git_repo, {"v.py": "print('loss: 0.5')\n"})
    heard: list[dict[str, Any]] = []
    bus = EventBus()
    bus.subscribe(lambda event, payload: heard.append(payload), ["run_finished"])
    repo = open_repo(git_repo)
    request = RunRequest(
        command=["python", "v.py"],
        name="judged",
        echo=False,
        verdict=lambda metrics: None if "acc" in metrics else "objective 'acc' was not logged",
    )
    result = run_experiment(repo, load_config(git_repo), request, bus=bus)
    assert result.status == "failed"
    record = run_json(git_repo, "judged")
    assert record["status"] == "failed" and record["error"] == "objective 'acc' was not logged"
    assert heard[0]["status"] == "failed" and heard[0]["metrics"] == {"loss": 0.5}
