"""Recording never loses a run: heartbeats, Ctrl-C while recording, `git gc` beside runs,
and a summary cache that a partial read does not empty."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pygit2
import pytest
from conftest import git, last_line, run_gitexp, write_files
from run_support import exp_refs, metrics_json, run_json, show, tree_files


def _start(root: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "gitexp", "run", *args],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


def _show_json(root: Path) -> dict[str, dict[str, object]]:
    proc = run_gitexp("show", "--format", "json", cwd=root)
    assert proc.returncode == 0, proc.stderr
    return {row["name"]: row for row in json.loads(proc.stdout)}


# --- heartbeat -----------------------------------------------------------------------


def _lease(root: Path, commit: str) -> str | None:
    """The lease of ``commit`` if its record says `running`."""
    record = json.loads(git(root, "show", f"{commit}:.gitexp/run.json"))
    return str(record["lease_until"]) if record["status"] == "running" else None


def test_a_running_experiment_renews_its_lease(git_repo: Path, tmp_path: Path) -> None:
    """The script runs until the test has seen the lease move (an event, not a sleep:
    on a loaded machine a fixed nap may end before the test saw a beat)."""
    go = tmp_path / "go"
    write_files(git_repo, {"t.py": f"import os, time\nwhile not os.path.exists({str(go)!r}):\n"
                                   "    time.sleep(0.05)\nprint('acc: 1')\n"})  # fmt: skip
    proc = _start(git_repo, "-n", "beat", "--", "python", "t.py", env={"GITEXP_HEARTBEAT_S": "0.2"})
    seen: list[str] = []
    leases: set[str | None] = set()
    deadline = time.monotonic() + 180
    # the reservation, then renewed commits whose lease (whole seconds) moved forward
    while len(seen) < 3 or len(leases - {None}) < 2:
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        refs = exp_refs(git_repo)
        if "beat" in refs and refs["beat"] not in seen:
            seen.append(refs["beat"])
            leases.add(_lease(git_repo, refs["beat"]))
        time.sleep(0.1)
    go.touch()
    assert proc.wait(timeout=120) == 0, proc.stderr.read() if proc.stderr else ""
    assert len(seen) >= 3, seen  # the reservation, then renewed commits
    final = run_json(git_repo, "beat")
    assert final["status"] == "succeeded" and "lease_until" not in final
    head = git(git_repo, "rev-parse", "HEAD").strip()
    parent = git(git_repo, "rev-parse", "refs/experiments/beat^").strip()
    assert parent == head  # heartbeats never stack up in the history


def _fake_running(root: Path, name: str, host: str, lease: str) -> None:
    """A `running` record as another machine's gitexp writes it, committed with pygit2."""
    repo = pygit2.Repository(str(root))
    base = repo.revparse_single(f"refs/experiments/{name}")
    record = json.loads(git(root, "show", f"refs/experiments/{name}:.gitexp/run.json"))
    record.update(status="running", host=host, pid=4242, lease_until=lease, exit_code=None)
    meta = repo.TreeBuilder(base.tree[".gitexp"].id)
    meta.insert("run.json", repo.create_blob(json.dumps(record).encode()), pygit2.GIT_FILEMODE_BLOB)
    top = repo.TreeBuilder(base.tree)
    top.insert(".gitexp", meta.write(), pygit2.GIT_FILEMODE_TREE)
    sig = pygit2.Signature("other", "other@example.com")
    commit = repo.create_commit(None, sig, sig, "gitexp: remote", top.write(), base.parent_ids)
    repo.references.create(f"refs/experiments/{name}", commit, force=True)


def test_a_dead_run_on_another_host_reads_interrupted_once_its_lease_expired(
    git_repo: Path, tmp_path: Path
) -> None:
    for name in ("dead", "alive"):
        assert run_gitexp("run", "-q", "-n", name, "--", "python", "train.py").returncode == 0
    _fake_running(git_repo, "dead", "gpu-box-7", "2026-01-01T00:00:00+00:00")
    _fake_running(git_repo, "alive", "gpu-box-7", "2999-01-01T00:00:00+00:00")
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(remote))
    git(git_repo, "push", "-q", str(remote), "main", "refs/experiments/*:refs/experiments/*")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(remote), str(clone))
    assert run_gitexp("pull", str(remote), cwd=clone).returncode == 0
    rows = _show_json(clone)
    assert rows["dead"]["status"] == "interrupted"
    assert rows["alive"]["status"] == "running"


# --- Ctrl-C while recording ----------------------------------------------------------

BIG_OUTPUT = """\
import os
os.makedirs("out")
for i in range(2000):  # hashing 128 MB into git takes seconds
    with open(f"out/{i:04d}.bin", "wb") as f:
        f.write(os.urandom(65536))
print("accuracy: 0.75")
print("script done", flush=True)
"""


def _loose_objects(root: Path) -> int:
    folders = (root / ".git" / "objects").glob("[0-9a-f][0-9a-f]")
    return sum(len(os.listdir(folder)) for folder in folders)


def _interrupt_while_recording(root: Path, presses: int) -> tuple[int, str]:
    write_files(root, {"big.py": BIG_OUTPUT})
    proc = _start(root, "-n", "rec", "--", "python", "big.py")
    assert proc.stdout is not None and proc.stderr is not None
    for line in proc.stdout:
        if "script done" in line:
            break
    # the reservation is written; a new object means gitexp is recording (not a sleep:
    # on a loaded machine gitexp may still be waiting for the command to end)
    before, deadline = _loose_objects(root), time.monotonic() + 180
    while _loose_objects(root) <= before:
        assert proc.poll() is None, "recording was too fast to interrupt"
        assert time.monotonic() < deadline, "gitexp never started recording"
        time.sleep(0.02)
    assert proc.poll() is None, "recording was too fast to interrupt"
    proc.send_signal(signal.SIGINT)
    errors: list[str] = []
    for line in proc.stderr:
        errors.append(line)
        if "finishing the record" in line:
            break
    if presses > 1:
        proc.send_signal(signal.SIGINT)
    errors += proc.stderr.readlines()
    return proc.wait(timeout=300), "".join(errors)


@pytest.mark.slow
def test_one_ctrl_c_while_recording_finishes_the_record(git_repo: Path) -> None:
    code, stderr = _interrupt_while_recording(git_repo, presses=1)
    assert code == 0, stderr
    assert "finishing the record of rec" in stderr
    record = run_json(git_repo, "rec")
    assert record["status"] == "succeeded" and record["exit_code"] == 0
    assert "out/1999.bin" in tree_files(git_repo, "rec")
    assert metrics_json(git_repo, "rec") == {"accuracy": 0.75}


@pytest.mark.slow
def test_a_second_ctrl_c_aborts_with_a_partial_record(git_repo: Path) -> None:
    code, stderr = _interrupt_while_recording(git_repo, presses=2)
    assert code == 130, stderr
    assert last_line(stderr) == "gitexp: interrupted"
    record = run_json(git_repo, "rec")
    assert record["status"] == "interrupted" and record["exit_code"] == 0
    assert metrics_json(git_repo, "rec") == {"accuracy": 0.75}  # what was collected is kept
    assert "script done" in show(git_repo, "rec", ".gitexp/output.log")
    assert "out/0000.bin" not in tree_files(git_repo, "rec")  # the run's files: not recorded


# --- git gc beside running experiments -----------------------------------------------


@pytest.mark.slow
def test_git_gc_prune_now_beside_runs_is_one_line_never_a_crash(git_repo: Path) -> None:
    """`git gc --prune=now` beside running experiments is unsafe (git says so for any
    writer): it can delete an object even after a ref reached it. gitexp must still
    never crash: each run succeeds (its objects checked when its ref moved) or fails
    with one line, and `show` lists whatever is left, broken records included."""
    write_files(git_repo, {"job.py": "import gitexp\ngitexp.log_metric('x', 1.0)\n"})
    stop = threading.Event()

    def gc_loop() -> None:
        while not stop.is_set():
            subprocess.run(["git", "gc", "-q", "--prune=now"], cwd=git_repo, capture_output=True)

    looper = threading.Thread(target=gc_loop)
    looper.start()
    try:
        procs = [_start(git_repo, "-q", "--", "python", "job.py") for _ in range(8)]
        results = [(p.wait(timeout=240), *p.communicate()) for p in procs]
    finally:
        stop.set()
        looper.join()
    for code, _, err in results:
        assert code in (0, 1), err  # never an internal error (70)
        assert "Traceback" not in err and "internal error" not in err
        if code:
            assert [ln for ln in err.splitlines() if ln.startswith("gitexp: error:")], err
    rows = _show_json(git_repo)
    assert {row["status"] for row in rows.values()} <= {"succeeded", "failed", "broken"}
    assert len([c for c, _, _ in results if c == 0]) <= len(rows)


# --- the summary cache ---------------------------------------------------------------


def test_show_one_or_compare_keeps_the_cache_of_the_others(git_repo: Path) -> None:
    for i in range(130):  # more rows than the prune threshold (100)
        git(git_repo, "update-ref", f"refs/experiments/e{i:03d}", "HEAD")
    assert run_gitexp("run", "-q", "-n", "real", "--", "python", "train.py").returncode == 0
    assert len(_show_json(git_repo)) == 131
    index = git_repo / ".git" / "gitexp" / "index.sqlite"
    count = "SELECT COUNT(*) FROM summary"
    before = sqlite3.connect(index).execute(count).fetchone()[0]
    assert run_gitexp("show", "real").returncode == 0
    assert run_gitexp("compare", "real", "e001").returncode == 0
    assert sqlite3.connect(index).execute(count).fetchone()[0] == before
