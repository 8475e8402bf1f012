"""What a gitexp killed with SIGKILL leaves behind, and how `gitexp gc` cleans it:
temporary object files in .git/objects, Docker containers (stopped or still
running); and `gitexp show` reads the run `interrupted` as soon as gitexp is
gone, even before its parent has reaped it, while its command lives on."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import git, run_gitexp, write_files
from docker_support import BASE_IMAGE, containers_of, docker_cli, require_docker
from leftovers_support import HOLDER, kill, start, stop_group, wait_for

HOUR = 3600


def show(root: Path) -> list[dict[str, Any]]:
    proc = run_gitexp("show", "--format", "json", cwd=root)
    assert proc.returncode == 0, proc.stderr
    rows: list[dict[str, Any]] = json.loads(proc.stdout)
    return rows


def gc(root: Path, *args: str) -> list[str]:
    proc = run_gitexp("gc", *args, cwd=root)
    assert proc.returncode == 0, proc.stderr
    return [line.removeprefix("gitexp: ") for line in proc.stderr.splitlines()]


def leftover(root: Path, rel: str, size: int, age_s: float) -> Path:
    """A temporary object file (or, for a folder name ending in /, a quarantine
    folder holding one), last written ``age_s`` ago."""
    path = root / ".git/objects" / rel.rstrip("/")
    target = path / "pack-1.pack" if rel.endswith("/") else path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(os.urandom(size))
    moment = time.time() - age_s
    for p in {target, path}:
        os.utime(p, (moment, moment))
    return path


def test_gc_removes_temp_object_files_nothing_wrote_to_for_10_minutes(git_repo: Path) -> None:
    assert run_gitexp("run", "-q", "-n", "done", "--", "python", "train.py").returncode == 0
    old = [
        leftover(git_repo, "tmp_object_git2_2882510f547734b9", 2**20, 2 * HOUR),
        leftover(git_repo, "tmp_obj_Ab12Cd", 2**20, 11 * 60),
        leftover(git_repo, "3f/tmp_obj_Zz9", 2**19, 11 * 60),
        leftover(git_repo, "incoming-Qx81/", 2**19, 11 * 60),
    ]
    young = leftover(git_repo, "tmp_object_git2_9d655278c0d3a354", 2**20, 60)
    planned = gc(git_repo, "--dry-run")
    line = "remove 4 temporary object files a killed writer left in .git/objects (3.0 MB)"
    assert "would " + line in planned
    assert "1 temporary object files stay: written to in the last 10 minutes" in "\n".join(planned)
    assert all(p.exists() for p in old)  # a dry run changes nothing

    assert "removed" + line.removeprefix("remove") in gc(git_repo)
    assert not any(p.exists() for p in old) and young.exists()
    assert git(git_repo, "fsck", "--no-dangling").strip() == ""
    assert [row["name"] for row in show(git_repo)] == ["done"]


def test_while_an_experiment_runs_only_temp_files_an_hour_old_go(git_repo: Path) -> None:
    write_files(git_repo, {"hold.py": HOLDER})
    run, pid = start(git_repo, "run", "-n", "busy", "--", "python", "hold.py")
    try:
        quiet = leftover(git_repo, "tmp_object_git2_aaaa", 1000, 20 * 60)
        stale = leftover(git_repo, "tmp_object_git2_bbbb", 1000, 2 * HOUR)
        assert "removed 1 temporary object files" in "\n".join(gc(git_repo))
        assert quiet.exists() and not stale.exists()
        kill(run)  # nothing of this repository runs now (its command is an orphan)
        assert "removed 1 temporary object files" in "\n".join(gc(git_repo))
        assert not quiet.exists()
    finally:
        if run.poll() is None:
            kill(run)
        stop_group(pid)


def test_a_killed_run_reads_interrupted_before_its_parent_reaps_it(git_repo: Path) -> None:
    """The parent of a killed gitexp that reads its output first (subprocess.run)
    reaps it only when the orphaned command closes the pipe: a zombie is gone."""
    write_files(git_repo, {"hold.py": HOLDER})
    run, pid = start(git_repo, "run", "-n", "orphan", "--", "python", "hold.py")
    try:
        run.kill()  # not reaped yet: a zombie while the orphan holds its output
        assert wait_for(lambda: _state(run.pid) == "Z", 30)
        assert [(r["name"], r["status"]) for r in show(git_repo)] == [("orphan", "interrupted")]
        os.kill(pid, 0)  # the orphan lives on, in its own process group
        assert os.getpgid(pid) == pid
    finally:
        stop_group(pid)
        run.wait(timeout=30)


def _state(pid: int) -> str:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.rpartition(")")[2].split()[0]


@pytest.mark.docker
def test_gc_removes_the_containers_a_killed_docker_run_left(
    git_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_docker()
    monkeypatch.setenv("GITEXP_DOCKER_BASE_IMAGE", BASE_IMAGE)
    write_files(git_repo, {"hold.py": HOLDER})
    git(git_repo, "add", "-A")
    git(git_repo, "commit", "-qm", "holder")
    try:
        for name, hold in (("long", "600"), ("short", "0.5")):
            run, _ = start(git_repo, "run", "--docker", "-n", name, "--", "python", "hold.py", hold)
            kill(run)
        assert wait_for(lambda: _container_state("short") == "exited")
        assert _container_state("long") == "running"
        assert {r["name"]: r["status"] for r in show(git_repo)} == {
            "long": "interrupted",
            "short": "interrupted",
        }
        planned = "\n".join(gc(git_repo, "--dry-run"))
        assert "would remove 2 container(s) a killed gitexp left (1 still running)" in planned
        assert containers_of("long") and containers_of("short")
        done = "\n".join(gc(git_repo))
        assert "removed 2 container(s) a killed gitexp left (1 still running)" in done
        assert containers_of("long") == [] and containers_of("short") == []
        assert "container" not in "\n".join(gc(git_repo))
    finally:
        for name in ("long", "short"):
            for cid in containers_of(name):
                docker_cli("rm", "-f", cid)


def _container_state(name: str) -> str:
    ids = containers_of(name)
    return docker_cli("inspect", "--format", "{{.State.Status}}", ids[0]) if ids else ""
