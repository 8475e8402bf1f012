"""`--executor ray` against a real Ray cluster the fixture starts on loopback
(`ray start --head`, 2 CPUs, its own ports and temp dir, stopped by process id).

A run and a 10-trial sweep on the cluster record what local ones record; pruning
works on the metrics workers stream back; a worker killed mid-trial fails that
trial with the reason and the sweep completes; a queue of 6 runs executes two at
a time; Ctrl-C, a request no node can hold, an address nobody answers and no
address at all behave. Process groups, Docker on the node, outputs pushed to the
DVC remote and reproductions: tests/test_ray_groups.py."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import git, last_line, ray_problem, require_backend, run_gitexp, write_files
from ray_support import Cluster, gitexp_on, popen_on, ray_args, running_cluster, wait_for
from run_support import exp_refs, metrics_json, run_json, show
from sweep_support import sweep_repo, trials

pytestmark = [pytest.mark.ray, pytest.mark.slow]

DETERMINISTIC = """\
import json, os, random, gitexp
p = gitexp.params()
gitexp.seed_everything()
xs = [random.random() for _ in range(3)]
for step, x in enumerate(xs):
    gitexp.log_metric("loss", p["lr"] * x, step=step)
gitexp.log_metric("acc", 0.5 + p["model"]["depth"] / 100)
with open("result.json", "w") as out:
    json.dump({"xs": xs, "lr": p["lr"]}, out)
with open("where.txt", "w") as out:
    out.write(os.getcwd())
print("trained with lr", p["lr"], flush=True)
"""
# a run waits (60 s at most) to see another run alive beside it in the `meet` folder,
# then writes meet/met: two runs at once, seen as an event rather than by the clock
NAPPER = """\
import os, time, gitexp
started = time.time()
meet = gitexp.params()["meet"]
alive = os.path.join(meet, "alive")
os.makedirs(alive, exist_ok=True)
me = os.path.join(alive, os.environ["GITEXP_RUN_NAME"])
open(me, "w").close()
deadline = time.time() + 60
while not os.path.exists(os.path.join(meet, "met")) and time.time() < deadline:
    if len(os.listdir(alive)) > 1:
        open(os.path.join(meet, "met"), "w").close()
    time.sleep(0.05)
time.sleep(1.0)
os.remove(me)
gitexp.log_metric("started", started)
gitexp.log_metric("ended", time.time())
gitexp.log_metric("lr_seen", gitexp.params()["lr"])
"""
# trial q=1 logs a point, waits until the library has flushed it, says which process
# runs it (its parent: the Ray worker), waits; the test waits for the point to reach
# the driver's run dir before it kills the worker
VICTIM = """\
import os, time, gitexp
p = gitexp.params()
q = int(p["q"])
gitexp.log_metric("loss", float(q), step=0)
if q == 1:
    live = os.path.join(os.environ["GITEXP_RUN_DIR"], ".gitexp", "live", "metrics.tsv")
    while not (os.path.exists(live) and "loss" in open(live).read()):
        time.sleep(0.05)
    with open(p["pidfile"] + ".tmp", "w") as out:
        out.write(f"{os.getppid()} {os.getpid()}")
    os.rename(p["pidfile"] + ".tmp", p["pidfile"])
    time.sleep(600)
"""
# the marker is written inside the `try`: a Ctrl-C sent once it exists reaches the handler
WAITER = """\
import os, sys, time, gitexp
gitexp.log_metric("loss", 0.5, step=1)
try:
    open(gitexp.params()["marker"], "w").write("started")
    time.sleep(600)
except KeyboardInterrupt:
    gitexp.log_metric("loss", 0.25, step=2)
    print("stopping cleanly", flush=True)
    sys.exit(5)
"""


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    require_backend("GITEXP_REQUIRE_RAY", ray_problem())
    with running_cluster(num_cpus=2) as started:
        yield started


def _blobs(root: Path, name: str) -> dict[str, str]:
    """path → blob id of an experiment's files, what differs by where it ran left out."""
    out = {}
    for line in git(root, "ls-tree", "-r", f"refs/experiments/{name}").splitlines():
        meta, path = line.split("\t")
        if path in ("where.txt", ".gitexp/run.json") or path.startswith(".gitexp/history/"):
            continue  # where.txt: the folder; history: the times of the points
        out[path] = meta.split()[2]
    return out


def _series(root: Path, name: str, metric: str) -> list[tuple[str, str]]:
    lines = show(root, name, f".gitexp/history/{metric}.tsv").splitlines()[1:]
    return [(line.split("\t")[0], line.split("\t")[1]) for line in lines]


def test_a_run_on_ray_records_what_a_local_run_records(cluster: Cluster, git_repo: Path) -> None:
    write_files(git_repo, {"train.py": DETERMINISTIC})
    common = ["-p", "lr=0.2", "--seed", "5", "--", "python", "train.py"]
    local = run_gitexp("run", "-n", "here", *common)
    assert local.returncode == 0, local.stderr
    remote = gitexp_on(cluster, git_repo, "run", "-n", "there", *ray_args(cluster), *common)
    assert remote.returncode == 0, remote.stderr
    assert "trained with lr 0.2" in remote.stdout  # streamed while it ran
    assert _blobs(git_repo, "here") == _blobs(git_repo, "there")
    assert metrics_json(git_repo, "here") == metrics_json(git_repo, "there")
    assert _series(git_repo, "here", "loss") == _series(git_repo, "there", "loss")
    here, there = run_json(git_repo, "here"), run_json(git_repo, "there")
    for key in ("params", "seed", "status", "exit_code", "command", "baseline"):
        assert here[key] == there[key], key
    assert there["executor"] == "ray" and there["ray"]["address"] == cluster.address
    # it ran from the archive in a worker's own folder, not in the driver's run dir
    assert "/gitexp-worker-" in show(git_repo, "there", "where.txt")
    assert "/gitexp-worker-" not in show(git_repo, "here", "where.txt")
    assert not (git_repo / "result.json").exists()  # the work tree is untouched


def _trial_view(root: Path, sweep: str) -> dict[int, tuple[Any, Any, str]]:
    return {
        n: (r["params"], metrics_json(root, r["name"]), r["status"])
        for n, r in trials(root, sweep).items()
    }


def test_a_ten_trial_sweep_on_ray_matches_the_local_one(cluster: Cluster, tmp_path: Path) -> None:
    repo = sweep_repo(tmp_path / "sweeps")
    space = ["-p", "x=float(-1,1)", "-p", "y=int(0,4)", "--objective", "loss:min"]
    common = [*space, "--sampler", "random", "--seed", "3", "--trials", "10", "-j", "2"]
    command = ["--", "python", "quadratic.py"]
    local = run_gitexp("sweep", "-n", "here", *common, *command, cwd=repo, timeout=300)
    assert local.returncode == 0, local.stderr
    remote = gitexp_on(cluster, repo, "sweep", "-n", "there", *common, *ray_args(cluster), *command)
    assert remote.returncode == 0, remote.stderr
    here, there = _trial_view(repo, "here"), _trial_view(repo, "there")
    assert len(there) == 10 and {v[2] for v in there.values()} == {"succeeded"}
    assert here == there
    executors = {run_json(repo, r["name"])["executor"] for r in trials(repo, "there").values()}
    assert executors == {"ray"}


def test_pruning_works_on_the_metrics_workers_stream_back(cluster: Cluster, tmp_path: Path) -> None:
    repo = sweep_repo(tmp_path / "sweeps")
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
                command: [python, curve.py]  # q > 3 holds at step 7 until it is stopped
            """,
        },
    )
    proc = gitexp_on(cluster, repo, "sweep", "prune.yaml", *ray_args(cluster))
    assert proc.returncode == 0, proc.stderr
    found = trials(repo, "pruned")
    pruned = [r for r in found.values() if r["status"] == "pruned"]
    assert {6, 7} <= {r["params"]["q"] for r in pruned}, proc.stderr
    for record in pruned:
        steps = len(show(repo, record["name"], ".gitexp/history/loss.tsv").splitlines()) - 1
        assert steps < 16  # stopped on its worker, before the end of its curve
        assert "by the median pruner" in record["stop_reason"]
        assert record["executor"] == "ray"
    assert len(found) == 8


def _gone(pid: int, timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stat = Path(f"/proc/{pid}/stat")
        if not stat.exists() or stat.read_text().rsplit(")", 1)[1].split()[0] == "Z":
            return True
        time.sleep(0.1)
    return False


def _described(pid: int) -> str:
    """What a process that should be gone is doing (its parent, state, signal masks)."""
    keys = ("State", "PPid", "SigBlk", "SigIgn", "SigCgt")
    with contextlib.suppress(OSError):
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        return f"{pid} still runs: {cmd}; " + "; ".join(x for x in lines if x.startswith(keys))
    return f"{pid}: gone now"


def _mirrored(runs: Path, line: str) -> bool:
    """Whether a live metrics file of a local run dir under ``runs`` has ``line``
    (a finished trial's run dir may vanish while it is read)."""
    for path in runs.rglob("metrics.tsv"):
        with contextlib.suppress(OSError):
            if line in path.read_text():
                return True
    return False


def test_a_killed_worker_fails_its_trial_and_the_sweep_completes(
    cluster: Cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = tmp_path / "runs"  # the driver's run dirs, where streamed points are mirrored
    monkeypatch.setenv("GITEXP_RUN_ROOT", str(runs))
    repo = sweep_repo(tmp_path / "sweeps")
    pidfile = tmp_path / "victim.pid"
    write_files(repo, {"victim.py": VICTIM})
    (repo / "params.yaml").write_text(f"q: 0\npidfile: {pidfile}\n")
    proc = popen_on(
        cluster, repo, "sweep", "-n", "lost", "-p", "q=choice(0,1,2)", "--sampler", "grid",
        "--objective", "loss:min", *ray_args(cluster), "--", "python", "victim.py",
    )  # fmt: skip
    worker, script = (int(p) for p in wait_for(pidfile, timeout=180).split())
    deadline = time.monotonic() + 120
    while not _mirrored(runs, "loss\t0\t1.0\t"):  # the point reached the driver
        assert time.monotonic() < deadline, "the point never reached the driver"
        time.sleep(0.1)
    os.kill(worker, signal.SIGKILL)
    _, err = proc.communicate(timeout=240)
    assert proc.returncode == 0, err  # two trials succeeded: the sweep is not a failure
    found = {r["params"]["q"]: r for r in trials(repo, "lost").values()}
    assert {q: r["status"] for q, r in found.items()} == {
        0: "succeeded",
        1: "failed",
        2: "succeeded",
    }
    lost = found[1]
    assert "the Ray worker running 'lost/trial-" in lost["error"] and "died" in lost["error"]
    assert metrics_json(repo, lost["name"]) == {"loss": 1.0}  # what it logged is kept
    assert _gone(script), _described(script)  # the command did not outlive its worker


def test_a_queue_of_six_runs_executes_two_at_a_time_on_ray(
    cluster: Cluster, git_repo: Path, tmp_path: Path
) -> None:
    write_files(git_repo, {"napper.py": NAPPER})
    meet = tmp_path / "meet"
    (git_repo / "params.yaml").write_text(f"lr: 0.1\nmeet: {meet}\nmodel:\n  depth: 3\n")
    names = []
    for i in range(6):
        proc = run_gitexp("queue", "add", "-p", f"lr={i / 10}", "--", "python", "napper.py")
        assert proc.returncode == 0, proc.stderr
        names.append(proc.stdout.strip())
    queued = run_gitexp("show", "-f", "status=queued", "--format", "json")
    assert len(json.loads(queued.stdout)) == 6
    proc = gitexp_on(cluster, git_repo, "queue", "run", "-j", "2", *ray_args(cluster))
    assert proc.returncode == 0, proc.stderr
    assert "queue: 6 succeeded; 0 still queued" in proc.stderr
    assert (meet / "met").exists()  # two runs were alive at once
    spans = []
    for i, name in enumerate(names):
        record = run_json(git_repo, name)
        assert record["status"] == "succeeded" and record["executor"] == "ray"
        metrics = metrics_json(git_repo, name)
        assert metrics["lr_seen"] == i / 10
        spans.append((metrics["started"], metrics["ended"]))
    spans.sort()
    assert any(b[0] < a[1] for a, b in itertools.pairwise(spans)), spans


def test_ctrl_c_stops_the_command_on_its_worker_and_keeps_what_it_did(
    cluster: Cluster, git_repo: Path, tmp_path: Path
) -> None:
    marker = tmp_path / "started"
    write_files(git_repo, {"waiter.py": WAITER})
    (git_repo / "params.yaml").write_text(f"marker: {marker}\n")
    proc = popen_on(
        cluster, git_repo, "run", "-n", "stopped", *ray_args(cluster), "--", "python", "waiter.py"
    )
    wait_for(marker, timeout=180)
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=180)
    assert proc.returncode == 130, err
    record = run_json(git_repo, "stopped")
    assert record["status"] == "interrupted"
    assert record["exit_code"] == 5  # SIGINT reached the script on its worker
    assert metrics_json(git_repo, "stopped") == {"loss": 0.25}
    assert "stopping cleanly" in show(git_repo, "stopped", ".gitexp/output.log")


def test_a_request_no_node_can_hold_is_refused_before_anything_is_written(
    cluster: Cluster, git_repo: Path
) -> None:
    proc = gitexp_on(
        cluster, git_repo, "run", *ray_args(cluster), "--gpus", "1", "--", "python", "train.py"
    )
    assert proc.returncode == 1
    assert last_line(proc.stderr) == (
        "gitexp: error: the Ray cluster cannot hold 1 x (1 CPU, 1 GPU); its nodes have: "
        "2 CPU, 0 GPU (hint: ask for less (--cpus, --gpus, --memory) or add nodes)"
    )
    assert exp_refs(git_repo) == {}


def test_an_address_nobody_answers_is_one_line(git_repo: Path) -> None:
    require_backend("GITEXP_REQUIRE_RAY", ray_problem())
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: nobody answers
        proc = run_gitexp("run", "--executor", "ray", "--address", f"127.0.0.1:{port}",
                          "--", "python", "train.py", timeout=60)  # fmt: skip
    assert proc.returncode == 1
    assert last_line(proc.stderr).startswith(
        f"gitexp: error: cannot reach the Ray cluster at '127.0.0.1:{port}': Connection refused"
    )
    assert exp_refs(git_repo) == {}


def test_without_an_address_a_local_ray_instance_runs_it(git_repo: Path) -> None:
    require_backend("GITEXP_REQUIRE_RAY", ray_problem())
    env = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_AUTH_MODE": "disabled"}
    proc = run_gitexp("run", "-n", "alone", "--executor", "ray", "--cpus", "1",
                      "--", "python", "train.py", env=env, timeout=240)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    record = run_json(git_repo, "alone")
    assert record["ray"]["address"] == "local" and record["status"] == "succeeded"
    assert metrics_json(git_repo, "alone")["acc"] == 0.53
