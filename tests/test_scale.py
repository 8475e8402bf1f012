"""Scale (issue 26): single-name operations in any ref state, show paging and
streaming, `gitexp gc`, incremental push and pull. Correctness, not timing:
benchmarks/bench_scale.py measures; here the seams are counted."""

from __future__ import annotations

import json
import os
import pty
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pygit2
import pytest
from conftest import GIT_ENV, git, last_line, make_repo, run_gitexp

from gitexp.exploring.query import ColumnStats, all_columns, changed_columns
from gitexp.gitstore import refscan, store
from gitexp.gitstore.repo import open_repo

SIG = pygit2.Signature("Test Author", "author@example.com", 1_700_000_000, 0)


class Planter:
    """Experiments written with libgit2 in the real storage format (commit on the
    baseline, .gitexp/run.json and metrics.json, refs/experiments/NAME): hundreds
    in a second, where `gitexp run` takes a second each."""

    def __init__(self, root: Path) -> None:
        self.git = pygit2.Repository(str(root))
        self.base = self.git.head.peel(pygit2.Commit)
        self.clock = 0

    def plant(self, name: str, parent: str | None = None, **run: Any) -> str:
        self.clock += 1
        record = {
            "schema": 1,
            "name": name,
            "status": "succeeded",
            "started": f"2024-01-01T00:{self.clock // 60:02d}:{self.clock % 60:02d}.000+00:00",
            "baseline": str(self.base.id),
            "params": {"lr": self.clock % 7, "model": {"depth": 3}},
            "seed": self.clock,
            "host": "elsewhere",
            "pid": 1,
            **run,
        }
        metrics = {"loss": 1.0 / self.clock, "val": {"acc": (self.clock % 10) / 10}}
        meta = self.git.TreeBuilder()
        for file, data in (("run.json", record), ("metrics.json", metrics)):
            meta.insert(file, self.git.create_blob(json.dumps(data)), pygit2.enums.FileMode.BLOB)
        root = self.git.TreeBuilder(self.base.tree)
        root.insert(".gitexp", meta.write(), pygit2.enums.FileMode.TREE)
        parents = [pygit2.Oid(hex=parent)] if parent else [self.base.id]
        commit = self.git.create_commit(None, SIG, SIG, f"gitexp: {name}", root.write(), parents)
        self.git.references.create(store.ref_name(name), commit, force=True)
        return str(commit)


def repo_with(tmp_path: Path, names: list[str], where: str = "repo") -> tuple[Path, Planter]:
    root = make_repo(tmp_path / where, {"train.py": "print('hi')\n"})
    planter = Planter(root)
    for name in names:
        planter.plant(name)
    return root, planter


def ok(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    proc = run_gitexp(*args, cwd=cwd, env=env)
    assert proc.returncode == 0, (args, proc.stdout, proc.stderr)
    return proc


def shown(cwd: Path, *args: str) -> list[str]:
    return [
        row["name"] for row in json.loads(ok("show", "--format", "json", *args, cwd=cwd).stdout)
    ]


# --- single names in every ref state -------------------------------------------------


def test_single_names_with_packed_and_loose_refs_mixed(tmp_path: Path) -> None:
    root, planter = repo_with(tmp_path, ["packed-one", "grp/a", "leaf", "gone", "both"])
    git(root, "pack-refs", "--all")
    assert not (root / ".git/refs/experiments/packed-one").exists()  # in packed-refs only
    newer = planter.plant("both")  # loose now shadows the packed one
    planter.plant("loose/x")
    git(root, "update-ref", "-d", "refs/experiments/gone")  # packed, then deleted

    assert json.loads(ok("show", "packed-one", "--format", "json", cwd=root).stdout)["name"] == (
        "packed-one"
    )
    assert json.loads(ok("show", "both", "--format", "json", cwd=root).stdout)["commit"] == newer
    proc = run_gitexp("show", "gone", cwd=root)
    assert proc.returncode == 2
    assert last_line(proc.stderr).startswith("gitexp: error: no experiment named 'gone'")
    assert shown(root, "grp/") == ["grp/a"]
    assert json.loads(ok("show", "packed", "--format", "json", cwd=root).stdout)["name"] == (
        "packed-one"
    )  # a unique prefix
    for name, error in [
        ("packed-one", "experiment name 'packed-one' is taken"),
        ("grp", "experiment name 'grp' is a group of experiments"),  # packed folder
        ("leaf/x", "experiment name 'leaf/x' is under 'leaf', an experiment"),  # packed leaf
        ("loose", "experiment name 'loose' is a group of experiments"),
        ("both/sub", "experiment name 'both/sub' is under 'both', an experiment"),
    ]:
        proc = run_gitexp("run", "-n", name, "--", "python", "train.py", cwd=root)
        assert proc.returncode == 2, proc.stderr
        assert last_line(proc.stderr).startswith(f"gitexp: error: {error}"), proc.stderr
    ok("run", "-q", "-n", "gone", "--", "python", "train.py", cwd=root)  # free again
    ok("remove", "packed-one", cwd=root)
    assert "refs/experiments/packed-one" not in git(root, "for-each-ref")


def test_ref_reader_matches_git_in_every_state(tmp_path: Path) -> None:
    names = [f"s{i % 3}/t-{i:03d}" for i in range(60)] + [f"run-{i:02d}" for i in range(40)]
    root, planter = repo_with(tmp_path, names)
    git(root, "tag", "-a", "-m", "m", "model@v1.0.0")  # a ^peeled line in packed-refs
    git(root, "pack-refs", "--all")
    for i in range(0, 40, 3):
        planter.plant(f"run-{i:02d}", extra=i)  # loose over packed
    planter.plant("s1/t-999")
    repo = open_repo(root)
    every = {
        line.split()[1][len(store.REF_PREFIX) :]: line.split()[0]
        for line in git(root, "for-each-ref", "--format=%(objectname) %(refname)").splitlines()
        if line.split()[1].startswith(store.REF_PREFIX)
    }
    assert store.ref_targets(repo) == every
    for prefix in ["", "s1/", "s1/t-0", "run-1", "run-", "s", "zzz", "s1/t-999", "run-00/"]:
        assert store.under(repo, prefix) == {
            n: c for n, c in every.items() if n.startswith(prefix)
        }, prefix
    tags = refscan.under(repo, "refs/tags/", strip=len("refs/tags/"))
    assert tags == {"model@v1.0.0": git(root, "rev-parse", "model@v1.0.0").strip()}
    packed = root / ".git/packed-refs"  # as an old git wrote it: no "sorted" trait
    lines = packed.read_text().splitlines()
    records = [ln for ln in lines[1:] if not ln.startswith("^")]
    packed.write_text("# pack-refs with: peeled\n" + "\n".join(reversed(records)) + "\n")
    assert store.ref_targets(repo) == every


def test_one_name_never_reads_every_ref(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """2,000 experiments, packed and loose: the instrumented seams count what a
    single-name operation reads (a listing of every ref, or every cache row, fails)."""
    root, planter = repo_with(tmp_path, [f"exp-{i:04d}" for i in range(2000)])
    ok("show", "--format", "json", cwd=root)  # the cache, complete
    git(root, "pack-refs", "--all")
    for i in range(0, 2000, 97):
        planter.plant(f"exp-{i:04d}", seed=i)
    planter.plant("grp/a")
    monkeypatch.chdir(root)
    from gitexp.exploring import housekeeping, readmodel, summary_db

    read: list[int] = []
    real = refscan._packed

    def counted(path: Path, prefix: str, strip: int = 0) -> dict[str, str]:
        found = real(path, prefix, strip)
        read.append(len(found))
        return found

    def refuse(*args: object, **kwargs: object) -> object:
        raise AssertionError("a single-name operation listed everything")

    monkeypatch.setattr(refscan, "_packed", counted)
    monkeypatch.setattr(store, "ref_targets", refuse)
    monkeypatch.setattr(summary_db, "read_all", refuse)
    monkeypatch.setattr(pygit2.references.References, "iterator", refuse)
    monkeypatch.setattr(pygit2.references.References, "__iter__", refuse)
    repo = open_repo(root)
    for taken in ("exp-0097", "exp-0098", "grp"):
        with pytest.raises(Exception, match=r"taken|group"):
            store.check_free(repo, taken)
    store.check_free(repo, "exp-2000")
    assert store.resolve(repo, "exp-1999")[0] == "exp-1999"
    assert store.resolve(repo, "grp/")[0] == "grp/a"
    assert readmodel.detail(repo, "exp-0194").summary.name == "exp-0194"
    assert [s.name for s in readmodel.get_summaries(repo, ["exp-0001", "exp-1940"])] == [
        "exp-0001",
        "exp-1940",
    ]
    housekeeping.remove(repo, housekeeping.select_for_removal(repo, ["exp-0500"], False, None))
    assert store.lookup(repo, "exp-0500") is None
    assert max(read) <= 2  # packed-refs records read per question: the answer's, no more


# --- show: paging, streaming ------------------------------------------------------------


@pytest.fixture(scope="module")
def many(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """1,050 experiments (one sweep of 30 trials among them), cache complete."""
    with pytest.MonkeyPatch.context() as env:  # module-wide: the autouse env is not set yet
        home = tmp_path_factory.mktemp("home")
        for key, value in {**GIT_ENV, "HOME": str(home)}.items():
            env.setenv(key, value)
        root, planter = repo_with(tmp_path_factory.mktemp("many"), [])
        for i in range(1020):
            planter.plant(f"exp-{i:04d}")
        for t in range(30):
            planter.plant(f"sw/trial-{t:04d}", sweep="sw", trial=t, sweep_objectives=["loss:min"])
        ok("show", "--format", "json", "--all", cwd=root)
    return root


def on_terminal(cwd: Path, *args: str) -> tuple[str, str]:
    """stdout through a real pseudo-terminal (what a person sees), and stderr."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gitexp", *args],
        cwd=cwd,
        stdout=slave,
        stderr=subprocess.PIPE,
        env={**os.environ, "COLUMNS": "200"},
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 1 << 16)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    stderr = proc.stderr.read().decode() if proc.stderr else ""
    assert proc.wait() == 0, stderr
    return b"".join(chunks).decode(), stderr


def rows_of(table: str) -> list[str]:
    return [ln.split()[0] for ln in table.splitlines() if ln.startswith(("exp-", "sw/"))]


def test_a_terminal_table_shows_the_first_thousand_and_says_how_many_more(many: Path) -> None:
    out, err = on_terminal(many, "show")
    rows = rows_of(out)
    assert len(rows) == 1000 and rows[0] == "sw/" and rows[1] == "exp-1019"
    assert "gitexp: showing 1,000 of 1,021; --all shows every one, --limit N the first N" in err
    out, err = on_terminal(many, "show", "--all")
    assert len(rows_of(out)) == 1021 and "gitexp: showing" not in err  # 1,020 and the sweep
    out, err = on_terminal(many, "show", "--limit", "5", "--asc")
    assert rows_of(out) == ["exp-0000", "exp-0001", "exp-0002", "exp-0003", "exp-0004"]
    assert "gitexp: showing 5 of 1,021;" in err


def test_piped_output_has_every_row(many: Path) -> None:
    piped = ok("show", "--trials", cwd=many, env={"COLUMNS": ""})
    assert len(rows_of(piped.stdout)) == 1050 and "gitexp: showing" not in piped.stderr
    names = shown(many)
    assert len(names) == 1021 and names[:2] == ["sw/", "exp-1019"]
    assert shown(many, "--limit", "3") == ["sw/", "exp-1019", "exp-1018"]
    assert shown(many, "--trials", "--asc")[:2] == ["exp-0000", "exp-0001"]
    # the streamed JSON is what the full read model gives (a filter takes that path)
    full = json.loads(ok("show", "--format", "json", "-f", "status!=nothing", cwd=many).stdout)
    assert json.loads(ok("show", "--format", "json", cwd=many).stdout) == full
    folded = full[0]
    assert folded["trials"] == 30 and folded["best"][0]["name"] == "sw/trial-0029"
    proc = run_gitexp("show", "--limit", "3", "--all", cwd=many)
    assert proc.returncode == 2
    assert last_line(proc.stderr) == "gitexp: error: --limit and --all do not go together"


def test_csv_streams_every_row_with_the_full_header(many: Path) -> None:
    lines = ok("show", "--format", "csv", "--trials", cwd=many).stdout.splitlines()
    assert lines[0].split(",")[:4] == ["name", "created", "status", "baseline"]
    assert "lr" in lines[0] and "val.acc" in lines[0] and len(lines) == 1 + 1050
    assert lines[1].startswith("sw/trial-0029,") and lines[-1].startswith("exp-0000,")
    table = ok("show", "--format", "md", "--trials", "--only-changed", cwd=many).stdout
    csv = ok("show", "--format", "csv", "--trials", "--only-changed", cwd=many).stdout
    assert csv.splitlines()[0].split(",") == [
        h.strip() for h in table.splitlines()[0].split("|")[1:-1]
    ]
    assert "depth" not in csv.splitlines()[0]  # equal everywhere
    assert len(ok("show", "--format", "csv", "-n", "2", cwd=many).stdout.splitlines()) == 3


def test_column_stats_agree_with_the_whole_list_functions() -> None:
    rng = random.Random(7)
    for _ in range(200):
        rows = [
            {k: rng.choice([None, 1, 2, "x"]) for k in rng.sample("abcde", rng.randint(0, 5))}
            for _ in range(rng.randint(0, 6))
        ]
        stats = ColumnStats()
        for row in rows:
            stats.add(row)
        assert stats.columns == all_columns(rows)
        assert stats.changed(stats.columns) == changed_columns(rows, all_columns(rows)), rows


# --- gitexp gc ---------------------------------------------------------------------------


def cache_rows(root: Path) -> set[str]:
    with sqlite3.connect(root / ".git/gitexp/index.sqlite") as conn:
        return {r[0] for r in conn.execute("SELECT commit_id FROM summary")}


def loose_experiment_refs(root: Path) -> int:
    return sum(len(f) for _, _, f in os.walk(root / ".git/refs/experiments"))


def test_gc_packs_drops_stale_cache_rows_and_dry_run_touches_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, _ = repo_with(tmp_path, [f"e-{i}" for i in range(20)])
    ok("show", cwd=root)
    gone = git(root, "rev-parse", "refs/experiments/e-3").strip()
    git(root, "update-ref", "-d", "refs/experiments/e-3")
    before = (loose_experiment_refs(root), cache_rows(root), git(root, "count-objects", "-v"))

    err = ok("gc", "--dry-run", cwd=root).stderr
    assert "would drop 1 cache rows of commits no experiment points at" in err
    assert "would pack 20 loose refs and " in err  # and refs/heads/main
    # e-3's commit, two trees, run.json and metrics.json: unreachable and recent, kept
    kept = "gitexp: 5 unreachable loose objects stay until they are 2 weeks old"
    assert kept in err
    after = (loose_experiment_refs(root), cache_rows(root), git(root, "count-objects", "-v"))
    assert after == before

    err = ok("gc", cwd=root).stderr
    assert "dropped 1 cache rows" in err and "packed 20 loose refs and " in err
    assert loose_experiment_refs(root) == 0
    assert gone not in cache_rows(root) and len(cache_rows(root)) == 19
    assert "refs/experiments/e-7" in (root / ".git/packed-refs").read_text()
    assert loose_objects(root) == 5
    from gitexp.exploring import streaming, summary_cache

    def refuse(*args: object) -> object:
        raise AssertionError("packing invalidated the cache: a commit was read again")

    monkeypatch.setattr(summary_cache, "read_entry", refuse)  # keyed by commit id: still warm
    assert len(list(streaming.Stream(open_repo(root)))) == 19
    assert len(shown(root)) == 19
    assert ok("gc", cwd=root).stderr.startswith("gitexp: nothing to do\n" + kept)


# says where it runs (written whole: the test reads it as soon as it exists), then
# waits for the flag
WAITER = """\
import os, pathlib, sys, time
pathlib.Path(sys.argv[1] + ".tmp").write_text(os.environ["GITEXP_RUN_DIR"])
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
while not pathlib.Path(sys.argv[2]).exists():
    time.sleep(0.05)
"""


def start(root: Path, name: str, where: Path, flag: Path) -> subprocess.Popen[bytes]:
    script = ["python", "waiter.py", str(where), str(flag)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "gitexp", "run", "-q", "-n", name, "--", *script],
        cwd=root,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 180
    while not where.exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr
        time.sleep(0.05)
    return proc


def test_gc_removes_a_killed_runs_directory_and_keeps_a_running_ones(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo", {"waiter.py": WAITER})
    running = start(root, "running", tmp_path / "where-running", tmp_path / "go")
    killed = start(root, "killed", tmp_path / "where-killed", tmp_path / "never")
    os.killpg(killed.pid, signal.SIGKILL)
    killed.wait()
    try:
        dead_dir = Path((tmp_path / "where-killed").read_text())
        live_dir = Path((tmp_path / "where-running").read_text())
        assert dead_dir.is_dir() and live_dir.is_dir() and dead_dir != live_dir
        assert "would remove 1 idle run directories" in ok("gc", "--dry-run", cwd=root).stderr
        assert dead_dir.is_dir()
        assert "removed 1 idle run directories" in ok("gc", cwd=root).stderr
        assert not dead_dir.exists() and (live_dir / "waiter.py").is_file()
    finally:
        (tmp_path / "go").touch()
        (tmp_path / "never").touch()  # the killed run's script lives on (own session): end it
    assert running.wait(timeout=180) == 0, running.stderr
    statuses = {
        r["name"]: r["status"] for r in json.loads(ok("show", "--format", "json", cwd=root).stdout)
    }
    assert statuses == {"killed": "interrupted", "running": "succeeded"}


@pytest.mark.docker
def test_gc_images_removes_only_this_repositorys_unused_ones(tmp_path: Path) -> None:
    from docker_support import BASE_IMAGE, docker_cli, image_id, require_docker

    require_docker()
    tag = f"gitexp-env:scaletest-{uuid.uuid4().hex[:8]}"
    images = {k: f"{tag}-{k}" for k in ("used", "dropped", "elsewhere")}
    for key, image in images.items():
        dockerfile = f"FROM {BASE_IMAGE}\nLABEL scaletest={key}\n"
        subprocess.run(["docker", "build", "-q", "-t", image, "-"], input=dockerfile.encode(),
                       capture_output=True, check=True)  # fmt: skip
    try:
        root, planter = repo_with(tmp_path, [])
        for key in ("used", "dropped"):
            docker = {"image": images[key], "image_id": image_id(images[key])}
            planter.plant(f"in-{key}", executor="docker", docker=docker)
        assert "image" not in ok("gc", cwd=root).stderr  # both in use: nothing to say
        ok("remove", "in-dropped", cwd=root)
        err = ok("gc", "--dry-run", "--images", cwd=root).stderr
        assert (
            f"1 gitexp-env image(s) experiments here used and none uses now: {images['dropped']}"
            in err
        )
        assert image_id(images["dropped"])
        planter.plant("busy", status="running", host=socket.gethostname(), pid=os.getpid())
        assert "images kept: 1 experiment(s) running" in ok("gc", "--images", cwd=root).stderr
        assert image_id(images["dropped"])
        git(root, "update-ref", "-d", "refs/experiments/busy")
        assert "removed 1 gitexp-env image(s)" in ok("gc", "--images", cwd=root).stderr
        assert not image_id(images["dropped"])
        assert image_id(images["used"]) and image_id(images["elsewhere"])  # another repo's
    finally:
        docker_cli("image", "rm", "-f", *images.values())


# --- sharing at scale --------------------------------------------------------------------


def recording_git(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """A `git` on PATH that logs each call, then runs the real one."""
    bin_dir, calls = tmp_path / "bin", tmp_path / "git-calls"
    bin_dir.mkdir()
    shim = bin_dir / "git"
    shim.write_text(f'#!/bin/sh\necho "$1 $*" >> {calls}\nexec {shutil.which("git")} "$@"\n')
    shim.chmod(0o755)
    return {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}, calls


def loose_objects(bare: Path) -> int:
    line = git(bare, "count-objects", "-v").splitlines()[0]
    return int(line.split(":")[1])


def test_incremental_push_sends_only_the_new_ones_in_one_git_push(tmp_path: Path) -> None:
    root, planter = repo_with(tmp_path, [f"old-{i:03d}" for i in range(300)])
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(root, "push", "-q", remote.as_uri(), "refs/experiments/*:refs/experiments/*")
    for i in range(5):
        planter.plant(f"new-{i}")
    env, calls = recording_git(tmp_path)
    objects = loose_objects(remote)

    proc = ok("push", remote.as_uri(), "--all", "--no-artifacts", cwd=root, env=env)
    assert last_line(proc.stderr) == (
        f"gitexp: pushed 5 experiment(s) to {remote.as_uri()}, 300 up to date"
    )
    verbs = [line.split()[0] for line in calls.read_text().splitlines()]
    assert verbs.count("push") == 1 and "ls-remote" not in verbs
    assert loose_objects(remote) - objects <= 5 * 5  # commit, 2 trees, 2 blobs each; no more
    assert len(git(remote, "for-each-ref", "refs/experiments/").splitlines()) == 305


def test_push_never_overwrites_a_differing_experiment_even_a_fast_forward(tmp_path: Path) -> None:
    root, planter = repo_with(tmp_path, ["same", "moved"])
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(root, "remote", "add", "origin", remote.as_uri())
    git(root, "config", "--add", "remote.origin.fetch", "+refs/experiments/*:refs/experiments/*")
    ok("push", "origin", "--all", cwd=root)  # a remote that tracks experiments: by URL
    theirs = git(remote, "rev-parse", "refs/experiments/moved").strip()
    mine = planter.plant("moved", parent=theirs)  # a descendant: git would fast-forward
    planter.plant("fresh")
    proc = run_gitexp("push", "origin", "--all", cwd=root)
    assert proc.returncode == 1
    assert f"gitexp: conflict: moved is {mine[:10]} here and {theirs[:10]} on origin" in proc.stderr
    assert last_line(proc.stderr) == (
        "gitexp: pushed 1 experiment(s) to origin, 1 up to date, 1 conflict(s) left as they are"
    )
    assert git(remote, "rev-parse", "refs/experiments/moved").strip() == theirs
    assert "forced: moved" in ok("push", "origin", "moved", "--force", cwd=root).stderr
    assert git(remote, "rev-parse", "refs/experiments/moved").strip() == mine


def test_incremental_pull_fetches_only_the_new_ones(tmp_path: Path) -> None:
    root, planter = repo_with(tmp_path, [f"old-{i:03d}" for i in range(300)])
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(root, "push", "-q", remote.as_uri(), "main", "refs/experiments/*:refs/experiments/*")
    peer = tmp_path / "peer"
    git(tmp_path, "clone", "-q", remote.as_uri(), str(peer))
    git(peer, "fetch", "-q", "origin", "refs/experiments/*:refs/experiments/*")
    for i in range(5):
        planter.plant(f"new-{i}")
    git(root, "push", "-q", remote.as_uri(), "refs/experiments/*:refs/experiments/*")
    env, calls = recording_git(tmp_path)
    proc = ok("pull", "origin", cwd=peer, env=env)
    assert last_line(proc.stderr) == "gitexp: pulled 5 experiment(s) from origin, 300 up to date"
    fetches = [line for line in calls.read_text().splitlines() if line.startswith("fetch")]
    assert len(fetches) == 1 and fetches[0].count("refs/experiments/") == 2 * 5
    assert len(git(peer, "for-each-ref", "refs/experiments/").splitlines()) == 305


def test_a_group_listing_keeps_every_other_cached_row(tmp_path: Path) -> None:
    # `show grp/` reads only the group's refs: that is no reason to drop the others'
    # rows, or the next full `show` reads every experiment again
    names = [f"exp-{i:04d}" for i in range(150)] + ["grp/a", "grp/b"]
    root, _ = repo_with(tmp_path, names)
    assert len(shown(root)) == 152
    before = cache_rows(root)
    assert shown(root, "grp/") == ["grp/b", "grp/a"]
    assert cache_rows(root) == before
