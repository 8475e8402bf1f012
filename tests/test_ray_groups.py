"""Ray beyond one plain run, against the loopback cluster of tests/ray_support.py: a
torch.distributed group in a placement group, a failing rank, Docker on the worker's
node, named outputs pushed to the DVC remote from the worker, and a reproduction that
goes to your cluster rather than the one the experiment names."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import last_line, ray_problem, require_backend, write_files
from docker_support import BASE_IMAGE, image_id, require_docker
from ray_support import Cluster, gitexp_on, ray_args, running_cluster
from run_support import exp_refs, metrics_json, run_json, show, tree_files
from sharing_support import make_world, md5, ok, store_files

pytestmark = [pytest.mark.ray, pytest.mark.slow]

SEEDED = """\
import random, gitexp
gitexp.seed_everything()
gitexp.log_metric("draw", random.random() * gitexp.params()["lr"])
"""
ALL_REDUCE = """\
import os, gitexp
import torch
import torch.distributed as dist
dist.init_process_group("gloo")
rank = dist.get_rank()
total = torch.tensor([float(rank + 1)])
dist.all_reduce(total)
print(f"rank {rank} of {dist.get_world_size()} at {os.environ['MASTER_ADDR']}: "
      f"sum {total.item()}", flush=True)
gitexp.log_metric("sum", total.item())
gitexp.log_metric("rank", rank)
if rank == 0:
    torch.save({"sum": total}, "model.pt")
dist.destroy_process_group()
"""
FAILER = """\
import os, sys, time
if os.environ["RANK"] == "1":
    print("rank 1 gives up", flush=True)
    sys.exit(3)
time.sleep(600)
"""
# a named output (log_artifact) and a big file nobody named (it travels back by size)
ARTIFACTS = """\
import random, gitexp
rnd = random.Random(7)
with open("model.bin", "wb") as f:
    f.write(bytes(rnd.getrandbits(8) for _ in range(300_000)))
gitexp.log_artifact("model.bin")
with open("big.log", "w") as f:
    f.write("x" * 5000)
gitexp.log_metric("acc", 0.9)
"""
PROBE = """\
import os, gitexp
gitexp.log_metric("lr_seen", gitexp.params()["lr"])
print("cwd", os.getcwd(), flush=True)
with open("made-in-container.txt", "w") as f:
    f.write("hello\\n")
"""


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    require_backend("GITEXP_REQUIRE_RAY", ray_problem())
    with running_cluster(num_cpus=2) as started:
        yield started


@pytest.mark.torch
def test_a_two_worker_torch_job_on_ray_is_one_experiment(cluster: Cluster, git_repo: Path) -> None:
    write_files(git_repo, {"reduce.py": ALL_REDUCE})
    args = ["run", "-n", "reduced", *ray_args(cluster), "--num-workers", "2", "--cpus", "1"]
    proc = gitexp_on(cluster, git_repo, *args, "--", "python", "reduce.py")
    assert proc.returncode == 0, proc.stderr
    assert list(exp_refs(git_repo)) == ["reduced"]
    log = show(git_repo, "reduced", ".gitexp/output.log")
    assert "rank 0 of 2 at 127.0.0.1: sum 3.0" in log
    assert "[rank 1] rank 1 of 2 at 127.0.0.1: sum 3.0" in log
    assert metrics_json(git_repo, "reduced") == {"sum": 3.0, "rank": 0}
    assert "model.pt" in tree_files(git_repo, "reduced")
    record = run_json(git_repo, "reduced")
    assert record["num_workers"] == 2 and record["executor"] == "ray"


def test_a_failing_rank_on_ray_fails_the_group(cluster: Cluster, git_repo: Path) -> None:
    write_files(git_repo, {"failer.py": FAILER})
    started = time.monotonic()
    args = ["run", "-n", "broken", *ray_args(cluster), "--num-workers", "2"]
    proc = gitexp_on(cluster, git_repo, *args, "--", "python", "failer.py")
    assert proc.returncode == 1, proc.stderr
    assert time.monotonic() - started < 240  # rank 0 was stopped, not its 600 s waited for
    record = run_json(git_repo, "broken")
    assert record["status"] == "failed" and record["exit_code"] == 3
    assert record["failed_rank"] == 1
    assert "[rank 1] rank 1 gives up" in show(git_repo, "broken", ".gitexp/output.log")


@pytest.mark.dvc
def test_a_named_output_goes_from_the_worker_to_the_dvc_remote(
    cluster: Cluster, tmp_path: Path
) -> None:
    world = make_world(tmp_path, {"art.py": ARTIFACTS})
    proc = gitexp_on(
        cluster, world.a, "run", "-n", "art", *ray_args(cluster), "--", "python", "art.py"
    )
    assert proc.returncode == 0, proc.stderr
    records = {r["path"]: r for r in run_json(world.a, "art")["artifacts"]}
    model = records["model.bin"]
    assert model["pushed"] is True and model["size"] == 300_000
    assert model["md5"] in store_files(world.store)  # on the remote, pushed from the worker
    cache = world.a / ".dvc" / "cache" / "files" / "md5"
    assert not (cache / model["md5"][:2] / model["md5"][2:]).exists()  # only its md5 came back
    assert "big.log" in records and "pushed" not in records["big.log"]  # by size: came back
    files = tree_files(world.a, "art")
    assert "model.bin.dvc" in files and "model.bin" not in files
    out = tmp_path / "out"
    ok("artifacts", "pull", "art", "-o", str(out), cwd=world.a)
    assert md5(out / "model.bin") == model["md5"]
    ok("push", "origin", "art", cwd=world.a)  # nothing missing from the local cache


@pytest.mark.docker
def test_a_worker_runs_the_job_in_the_image_it_builds_on_its_node(
    cluster: Cluster, git_repo: Path
) -> None:
    require_docker()
    yaml = f"docker:\n  base_image: {BASE_IMAGE}\nray:\n  executor: docker\n"
    write_files(git_repo, {"probe.py": PROBE, "gitexp.yaml": yaml})
    args = ["run", "-n", "boxed", "-p", "lr=0.25", *ray_args(cluster), "--", "python", "probe.py"]
    proc = gitexp_on(cluster, git_repo, *args)
    assert proc.returncode == 0, proc.stderr
    assert "cwd /gitexp/run" in proc.stdout  # the container's folder, streamed from the worker
    record = run_json(git_repo, "boxed")
    assert record["executor"] == "ray" and record["ray"]["worker_executor"] == "docker"
    assert record["docker"]["image_id"] == image_id(record["docker"]["image"])
    assert f"FROM {BASE_IMAGE}\n" in show(git_repo, "boxed", ".gitexp/env/Dockerfile")
    assert show(git_repo, "boxed", "made-in-container.txt") == "hello\n"
    assert metrics_json(git_repo, "boxed") == {"lr_seen": 0.25}


def test_a_reproduction_goes_to_your_cluster_not_the_one_the_experiment_names(
    cluster: Cluster, git_repo: Path
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))  # never listening: the author's cluster, unreachable
        theirs = f"127.0.0.1:{sock.getsockname()[1]}"
        write_files(
            git_repo, {"train.py": SEEDED, "gitexp.yaml": f"ray: {{address: '{theirs}'}}\n"}
        )
        args = ["run", "-n", "orig", "-p", "lr=0.2", "--seed", "5", "--executor", "ray"]
        proc = gitexp_on(
            cluster, git_repo, *args, "--address", cluster.address, "--", "python", "train.py"
        )
        assert proc.returncode == 0, proc.stderr
        assert show(git_repo, "orig", "gitexp.yaml") == f"ray: {{address: '{theirs}'}}\n"
        (git_repo / "gitexp.yaml").write_text(f"ray: {{address: '{cluster.address}'}}\n")
        proc = gitexp_on(cluster, git_repo, "reproduce", "orig", "-q")
    assert proc.returncode == 0, proc.stderr  # ran on the local file's cluster, matched
    assert last_line(proc.stderr) == "gitexp: orig: metrics match"
