"""`gitexp run --num-workers N` on this machine: one experiment, N processes with the
torch.distributed environment; rank 0 is the record, every rank's output is kept, the
group fails when a rank fails, Ctrl-C stops every rank. Also the executor flags'
mistakes (no cluster needed). The same group on Ray is in tests/test_ray.py."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import last_line, run_gitexp, write_files
from run_support import exp_refs, metrics_json, run_json, show, tree_files

ENV_KEYS = ("MASTER_ADDR", "MASTER_PORT", "RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE")
RANKS = f"""\
import json, os, gitexp
rank = int(os.environ["RANK"])
print("env " + json.dumps({{k: os.environ[k] for k in {ENV_KEYS!r}}}), flush=True)
gitexp.log_metric("rank_seen", rank)
gitexp.log_metric("loss", 0.5 + rank)
if rank == 0:
    open("model.txt", "w").write("the model of rank 0")
"""
# rank 1 fails as soon as rank 0 has said its pid (so the test knows whom to look for);
# rank 0 would run for ten minutes unless it is stopped
FAILER = """\
import os, sys, time
rank = int(os.environ["RANK"])
marker = os.environ["MARKER"] + ".0"
if rank == 1:
    deadline = time.monotonic() + 300
    while not os.path.exists(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    print("rank 1 gives up", flush=True)
    sys.exit(3)
open(marker + ".tmp", "w").write(str(os.getpid()))
os.rename(marker + ".tmp", marker)
time.sleep(600)
"""
WAITERS = """\
import os, time, gitexp
rank = os.environ["RANK"]
gitexp.log_metric("loss", 0.75)
open(os.environ["MARKER"] + "." + rank + ".tmp", "w").write(str(os.getpid()))
os.rename(os.environ["MARKER"] + "." + rank + ".tmp", os.environ["MARKER"] + "." + rank)
time.sleep(120)
"""
ALL_REDUCE = """\
import os, gitexp
import torch
import torch.distributed as dist
dist.init_process_group("gloo")
rank = dist.get_rank()
total = torch.tensor([float(rank + 1)])
dist.all_reduce(total)
print(f"rank {rank} of {dist.get_world_size()}: sum {total.item()}", flush=True)
gitexp.log_metric("sum", total.item())
gitexp.log_metric("rank", rank)
if rank == 0:
    torch.save({"sum": total}, "model.pt")
dist.destroy_process_group()
"""


def _envs(log: str) -> dict[int, dict[str, str]]:
    """Each rank's variables, from the `env {...}` lines of the log (rank > 0 prefixed)."""
    found = {}
    for line in log.splitlines():
        text = line.split("] ", 1)[1] if line.startswith("[rank ") else line
        if text.startswith("env "):
            env = json.loads(text[4:])
            found[int(env["RANK"])] = env
    return found


def test_a_two_process_group_is_one_experiment_with_rank_0_as_its_record(
    git_repo: Path,
) -> None:
    write_files(git_repo, {"ranks.py": RANKS})
    proc = run_gitexp("run", "-n", "group", "--num-workers", "2", "--", "python", "ranks.py")
    assert proc.returncode == 0, proc.stderr
    assert list(exp_refs(git_repo)) == ["group"]
    log = show(git_repo, "group", ".gitexp/output.log")
    envs = _envs(log)
    assert set(envs) == {0, 1}
    assert envs[0]["MASTER_ADDR"] == envs[1]["MASTER_ADDR"] == "127.0.0.1"
    assert envs[0]["MASTER_PORT"] == envs[1]["MASTER_PORT"]
    assert [envs[r]["LOCAL_RANK"] for r in (0, 1)] == ["0", "1"]
    assert {envs[r]["WORLD_SIZE"] for r in (0, 1)} == {"2"}
    assert any(line.startswith("[rank 1] env ") for line in log.splitlines())
    assert any(line.startswith("env ") for line in log.splitlines())  # rank 0 as it printed
    assert metrics_json(git_repo, "group") == {"rank_seen": 0, "loss": 0.5}
    assert show(git_repo, "group", "model.txt") == "the model of rank 0"
    record = run_json(git_repo, "group")
    assert record["status"] == "succeeded" and record["num_workers"] == 2
    assert record["executor"] == "local"


def _start(root: Path, marker: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "gitexp", "run", *args],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "MARKER": str(marker)},
    )


def _wait_pid(path: Path, proc: subprocess.Popen[str], timeout: float = 180) -> int:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, f"{path} never written"
        time.sleep(0.05)
    return int(path.read_text())


def _gone(pid: int, timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        stat = Path(f"/proc/{pid}/stat")
        if stat.exists() and stat.read_text().split(") ")[1].startswith("Z"):
            return True
        time.sleep(0.1)
    return False


def test_one_failing_rank_fails_the_group_and_stops_the_others(
    git_repo: Path, tmp_path: Path
) -> None:
    write_files(git_repo, {"failer.py": FAILER})
    marker = tmp_path / "rank"
    started = time.monotonic()
    proc = _start(
        git_repo, marker, "-n", "broken", "--num-workers", "2", "--", "python", "failer.py"
    )
    _out, err = proc.communicate(timeout=300)
    assert proc.returncode == 1, err
    # rank 0 was stopped, not waited for (it sleeps 600 s); generous for a loaded machine
    assert time.monotonic() - started < 240
    assert last_line(err).startswith(
        "gitexp: error: experiment 'broken' failed (exit code 3): rank 1 failed first; "
    )
    record = run_json(git_repo, "broken")
    assert record["status"] == "failed"
    assert record["exit_code"] == 3 and record["failed_rank"] == 1
    assert "[rank 1] rank 1 gives up" in show(git_repo, "broken", ".gitexp/output.log")
    assert _gone(int((tmp_path / "rank.0").read_text()))


def test_ctrl_c_stops_every_rank_and_records_the_group_interrupted(
    git_repo: Path, tmp_path: Path
) -> None:
    write_files(git_repo, {"waiters.py": WAITERS})
    marker = tmp_path / "rank"
    proc = _start(
        git_repo, marker, "-n", "stopped", "--num-workers", "3", "--", "python", "waiters.py"
    )
    pids = [_wait_pid(Path(f"{marker}.{rank}"), proc) for rank in range(3)]
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=180)
    assert proc.returncode == 130, err
    assert all(_gone(pid) for pid in pids)
    record = run_json(git_repo, "stopped")
    assert record["status"] == "interrupted" and record["num_workers"] == 3
    assert metrics_json(git_repo, "stopped") == {"loss": 0.75}


@pytest.mark.torch
def test_a_gloo_all_reduce_over_two_local_workers_is_recorded_once(git_repo: Path) -> None:
    write_files(git_repo, {"reduce.py": ALL_REDUCE})
    proc = run_gitexp("run", "-n", "reduced", "--num-workers", "2", "--", "python", "reduce.py")
    assert proc.returncode == 0, proc.stderr
    assert list(exp_refs(git_repo)) == ["reduced"]
    log = show(git_repo, "reduced", ".gitexp/output.log")
    assert "rank 0 of 2: sum 3.0" in log and "[rank 1] rank 1 of 2: sum 3.0" in log
    assert metrics_json(git_repo, "reduced") == {"sum": 3.0, "rank": 0}
    assert "model.pt" in tree_files(git_repo, "reduced")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--cpus", "2"], "--cpus is an option of the Ray executor (hint: add --executor ray)"),
        (["--address", "auto"], "--address is an option of the Ray executor"),
        (["--executor", "ray", "--memory", "lots"], "--memory 'lots' is not a size like 4GB"),
        (["--executor", "ray", "--address", "nowhere"], "--address 'nowhere' is not HOST:PORT"),
        (["--docker", "--num-workers", "2"], "--num-workers 2 needs the local or the Ray"),
    ],
)
def test_executor_flag_mistakes_are_one_line_and_write_nothing(
    git_repo: Path, args: list[str], message: str
) -> None:
    proc = run_gitexp("run", *args, "--", "python", "train.py")
    assert proc.returncode == 2, proc.stderr
    assert last_line(proc.stderr).startswith(f"gitexp: error: {message}")
    assert exp_refs(git_repo) == {}


@pytest.mark.parametrize(
    ("yaml", "message"),
    [
        ("distributed: {num_workers: many}\n", "`distributed.num_workers` 'many' is not a count"),
        ("executor: ray\nray: {cpus: lots}\n", "`ray.cpus` 'lots' is not a number >= 0"),
        ("executor: ray\nray: {placement: ROUND}\n", "`ray.placement` 'ROUND' is not one of"),
        ("executor: ray\nray: {adress: auto}\n", "unknown key"),
    ],
)
def test_a_wrong_ray_or_distributed_section_is_refused(
    git_repo: Path, yaml: str, message: str
) -> None:
    write_files(git_repo, {"gitexp.yaml": yaml})
    proc = run_gitexp("run", "--", "python", "train.py")
    assert proc.returncode == 2, proc.stderr
    assert message in last_line(proc.stderr)
    assert exp_refs(git_repo) == {}


def test_num_workers_from_gitexp_yaml(git_repo: Path) -> None:
    write_files(git_repo, {"gitexp.yaml": "distributed: {num_workers: 2}\n", "ranks.py": RANKS})
    proc = run_gitexp("run", "-n", "configured", "--", "python", "ranks.py")
    assert proc.returncode == 0, proc.stderr
    assert set(_envs(show(git_repo, "configured", ".gitexp/output.log"))) == {0, 1}
    assert run_json(git_repo, "configured")["num_workers"] == 2
