"""Long trainings (issue 27): history format 2, read back every way, and old TSV histories.

Real runs with the real `gitexp run` make the experiments; the writer's
small-threshold cases are recorded into a real repository with the same
recording code and read back through `gitexp show` and the notebook API.
The 10-million-point run and the gigabyte of output are marked slow.
"""

from __future__ import annotations

import io
import json
import math
import re
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import git, make_repo, run_gitexp, write_files
from run_support import metrics_json, run_json, show, tree_files

import gitexp
from gitexp.common.downsample import Reducer, lttb
from gitexp.common.errors import UsageError
from gitexp.exploring import histories
from gitexp.exploring.notebook import history
from gitexp.gitstore import histfile as H
from gitexp.gitstore import store
from gitexp.gitstore.histsummary import SummaryBuilder
from gitexp.gitstore.repo import open_repo
from gitexp.running.follow import LiveReader
from gitexp.running.histwriter import HistoryWriter
from gitexp.running.recording import with_history

ROOT = Path(__file__).resolve().parent.parent
BUNDLE = Path(__file__).resolve().parent / "data" / "legacy-history.bundle"
LOSS = "2.0 * math.exp(-i / 300_000) + 0.1 * math.sin(i / 5_000)"  # smooth, with bumps


loss = eval(f"lambda i: {LOSS}", {"math": math})  # the same text the script runs


def run(repo: Path, name: str, script: str, *flags: str) -> subprocess.CompletedProcess[str]:
    write_files(repo, {"t.py": script})
    proc = run_gitexp("run", "-q", "-n", name, *flags, "--", sys.executable, "t.py", timeout=600)
    assert proc.returncode == 0, proc.stderr
    return proc


def summary_json(repo: Path, name: str, metric_path: str) -> dict[str, Any]:
    text = show(repo, name, f".gitexp/history/{metric_path}.hist/summary.json")
    return dict(json.loads(text))


# --- a real run: long series in chunks, short ones in TSV ---------------------------------------

LONG_RUN = f"""\
import math
import gitexp
for i in range(300_000):
    gitexp.log_metric("loss", {LOSS}, step=i)
    if i % 25 == 0:
        gitexp.log_metric("val/acc", i / 300_000)  # automatic steps, interleaved
gitexp.log_metric("loss", 9.5, step=17)  # a repeated step, out of order, the final value
gitexp.log_metric("lr", 0.01)  # logged once
"""


@pytest.fixture(scope="module")
def long_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = make_repo(tmp_path_factory.mktemp("long") / "repo", {"README.md": "x\n"})
    write_files(root, {"t.py": LONG_RUN})
    proc = run_gitexp("run", "-q", "-n", "long", "--", sys.executable, "t.py", cwd=root)
    assert proc.returncode == 0, proc.stderr
    return root


def expected_loss() -> tuple[list[int], list[float]]:
    steps = [*range(300_000), 17]
    return steps, [*(loss(i) for i in range(300_000)), 9.5]


def test_a_long_series_is_chunks_and_a_summary_short_ones_stay_tsv(long_run: Path) -> None:
    files = set(tree_files(long_run, "long"))
    assert {
        ".gitexp/history/loss.hist/summary.json",
        ".gitexp/history/loss.hist/000000.i8",
        ".gitexp/history/loss.hist/000001.i8",
        ".gitexp/history/val/acc.hist/summary.json",
        ".gitexp/history/val/acc.hist/000000.i8",
        ".gitexp/history/lr.tsv",
    } <= files
    assert not any(f.startswith(".gitexp/history/loss.hist/000002") for f in files)
    assert show(long_run, "long", ".gitexp/history/lr.tsv").splitlines()[1].split("\t")[:2] == [
        "0",
        "0.01",
    ]
    assert run_json(long_run, "long")["history_format"] == 2
    assert metrics_json(long_run, "long") == {"loss": 9.5, "val/acc": 299_975 / 300_000, "lr": 0.01}

    values = expected_loss()[1]
    told = summary_json(long_run, "long", "loss")
    assert told["format"] == 2 and told["count"] == 300_001 and told["step_type"] == "int"
    assert (told["first_step"], told["last_step"]) == (0, 17)
    assert (told["first"], told["last"]) == (values[0], 9.5)
    assert (told["min"], told["max"]) == (min(values), max(values))
    assert [c["points"] for c in told["chunks"]] == [262_144, 300_001 - 262_144]
    down = told["downsample"]
    assert 900 <= len(down["value"]) <= 1000
    assert down["step"][0] == 0 and down["step"][-1] == 17 and down["value"][-1] == 9.5
    assert max(down["value"]) == 9.5  # a spike survives downsampling


def test_every_point_round_trips_through_the_notebook_api(long_run: Path) -> None:
    steps, values = expected_loss()
    frame = history("long", "loss", repo=long_run)
    assert str(frame["step"].dtype) == "int64" and len(frame) == 300_001
    assert frame["step"].tolist() == steps
    assert frame["value"].tolist() == values  # exact: the float64 bits round-trip
    assert frame["time"].notna().all()
    acc = history("long", "val/acc", repo=long_run)
    assert acc["step"].tolist() == list(range(12_000))  # automatic steps continue per series
    assert acc["value"].tolist() == [i / 300_000 for i in range(0, 300_000, 25)]
    everything = history("long", repo=long_run)
    assert everything.groupby("metric").size().to_dict() == {
        "loss": 300_001,
        "lr": 1,
        "val/acc": 12_000,
    }


def test_max_points_returns_the_downsample_and_never_more_points(long_run: Path) -> None:
    values = expected_loss()[1]
    small = gitexp.history("long", "loss", max_points=50, repo=long_run)  # the public name
    assert len(small) == 50
    assert small["step"].iloc[0] == 0 and small["step"].iloc[-1] == 17
    assert set(small["value"]) <= set(values)
    fine = history("long", "loss", max_points=5_000, repo=long_run)  # finer than stored: a pass
    assert 4_000 <= len(fine) <= 5_000 and fine["value"].max() == 9.5
    assert len(history("long", "lr", max_points=50, repo=long_run)) == 1  # shorter: as it is
    per_series = history("long", max_points=10, repo=long_run).groupby("metric").size()
    assert per_series.to_dict() == {"loss": 10, "lr": 1, "val/acc": 10}
    with pytest.raises(UsageError, match="max_points must be 1 or more"):
        history("long", "loss", max_points=0, repo=long_run)


def test_show_name_reads_summaries_not_chunks(long_run: Path, tmp_path: Path) -> None:
    """With every chunk object deleted, `show NAME` still reports each series in full."""
    copy = tmp_path / "copy"
    git(tmp_path, "clone", "-q", "--no-local", str(long_run), str(copy))
    git(copy, "fetch", "-q", str(long_run), "refs/experiments/*:refs/experiments/*")
    git(copy, "repack", "-q", "-a", "-d")
    chunks = [
        line.split()[2]
        for line in git(copy, "ls-tree", "-r", "refs/experiments/long").splitlines()
        if re.search(r"\.hist/\d+\.[if]8$", line)
    ]
    keep = "".join(
        oid + "\n"
        for oid in git(copy, "rev-list", "--objects", "--all").split()
        if len(oid) == 40 and oid not in chunks
    )
    subprocess.run(
        ["git", "pack-objects", "-q", str(copy / ".git/objects/pack/only")],
        cwd=copy,
        input=keep.encode(),
        check=True,
        capture_output=True,
    )
    for old in (copy / ".git/objects/pack").glob("pack-*"):
        old.unlink()
    assert git(copy, "cat-file", "-t", chunks[0], check=False) == ""  # really gone
    proc = run_gitexp("show", "long", cwd=copy)
    assert proc.returncode == 0, proc.stderr
    line = next(x for x in proc.stdout.splitlines() if x.split()[:1] == ["loss"] and "steps=" in x)
    assert "steps=300001" in line and "last=9.5" in line and "max=9.5" in line
    assert len(history("long", "loss", max_points=100, repo=copy)) == 100


def test_the_documented_numpy_reader_reads_a_long_series(
    long_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = (ROOT / "docs" / "storage-format.md").read_text()
    snippet = doc.split("<!-- numpy-reader -->", 1)[1].split("```python\n", 1)[1].split("```")[0]
    assert "import gitexp" not in snippet and len(snippet.strip().splitlines()) == 4
    archive = subprocess.run(
        ["git", "archive", "refs/experiments/long", ".gitexp/history"],
        cwd=long_run,
        capture_output=True,
        check=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(tmp_path, filter="data")
    monkeypatch.chdir(tmp_path)
    names: dict[str, Any] = {}
    exec(snippet, names)  # the documentation's own code
    steps, values = expected_loss()
    assert names["step"].dtype == np.int64 and names["step"].tolist() == steps
    assert names["value"].tolist() == values
    frame = history("long", "loss", repo=long_run)
    # the notebook API's times are datetime64[ns]: float seconds round-trip to within 1 µs
    seconds = frame["time"].astype("int64").to_numpy() / 1e9
    assert np.allclose(names["time"], seconds, rtol=0, atol=1e-6)


# --- the writer: thresholds, budget, chunk types, sources, read back ----------------------------


def record(repo: Path, writer: HistoryWriter, name: str) -> str:
    """Commit the writer's history as an experiment, with the recording code."""
    r = open_repo(repo)
    head = r.head_commit()
    tree = with_history(r, head.tree.id, writer.finish())
    commit = store.write_commit(r, tree, head.id, f"gitexp: {name}\n")
    git(repo, "update-ref", f"refs/experiments/{name}", str(commit))
    writer.close()
    return str(commit)


def test_writer_chunks_budget_and_sources_read_back_exactly(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    writer = HistoryWriter(tmp_path / "spool", tsv_max=5, chunk_points=7, budget=600)
    inf, nan = math.inf, math.nan
    mixed = [(3, 1.0, 1.0), (1, nan, 1.0), (1, inf, 2.0), (2.5, -inf, 2.0), (9, 4.0, None)]
    for step, value, when in mixed * 3:  # 15 points: columnar, decimal steps, repeats
        writer.extend("odd/one", [step], [value], [when])
    writer.add_points("big", [(2**70, 1.5, None), (2, 2.5, None)])  # an int beyond int64
    writer.extend("short", [0, 1], [0.5, 0.25], [10.0, 10.0])  # 2 points: stays TSV...
    for i in range(40):  # ...until many series pass the budget
        writer.extend(f"m{i:02d}", list(range(4)), [float(i)] * 4, [1.0] * 4)
    writer.add_points("gone", [(0, 1.0, None)] * 20)
    writer.replace("gone", [(5, 2.0, None)])  # DVCLive's series wins the name
    assert writer.held == sum(s.held() for s in writer.series.values()) <= 600
    record(repo, writer, "w")
    files = set(tree_files(repo, "w"))
    # 4 points in a list pass the budget: columnar; 15 points, 7 a chunk; a chunk with
    # a decimal step stores float64 steps, the next one (9 only) int64 again
    chunks = {f.rsplit("/", 1)[1] for f in files if f.startswith(".gitexp/history/odd/one.hist/")}
    assert chunks == {"summary.json", "000000.f8", "000001.f8", "000002.i8"}
    assert ".gitexp/history/big.hist/000000.f8" in files  # 2**70 is no int64
    assert any(f.startswith(".gitexp/history/m") and ".hist/" in f for f in files)  # budget
    assert not any(
        f.startswith(".gitexp/history/gone.hist/00000") and f.endswith("1.i8") for f in files
    )

    r = open_repo(repo)
    found = histories.series_blobs(r, git(repo, "rev-parse", "refs/experiments/w").strip())
    assert set(found) == {"odd/one", "big", "short", "gone", *(f"m{i:02d}" for i in range(40))}
    got = histories.points(r, found["odd/one"])
    assert [(s, v if v == v else "nan", t) for s, v, t in got] == [
        (s, v if v == v else "nan", t) for s, v, t in mixed * 3
    ]
    assert histories.points(r, found["gone"]) == [(5, 2.0, None)]
    assert histories.points(r, found["short"]) == [(0, 0.5, 10.0), (1, 0.25, 10.0)]
    assert [p[1] for p in histories.points(r, found["big"])] == [1.5, 2.5]
    for i in range(40):
        assert histories.points(r, found[f"m{i:02d}"]) == [(s, float(i), 1.0) for s in range(4)]
    told = histories.summary(r, found["odd/one"])
    assert (told.count, told.first_step, told.last_step, told.first, told.last) == (15, 3, 9, 1, 4)
    assert (told.min, told.max, told.integral_steps) == (-inf, inf, False)
    assert [p[1] for p in told.downsample] == [1.0, 4.0] * 3  # finite values only


def test_show_and_history_of_nonfinite_decimal_and_repeated_steps(git_repo: Path) -> None:
    script = """\
        import gitexp
        for i in range(12_000):
            value = float("nan") if i % 1000 == 7 else float(i % 97)
            gitexp.log_metric("x", value, step=i // 2)  # every step twice
        gitexp.log_metric("x", float("inf"), step=3.5)
        gitexp.log_metric("x", -1.0, step=0)
        """
    run(git_repo, "odd", script)
    frame = history("odd", "x")
    assert len(frame) == 12_002 and str(frame["step"].dtype) == "float64"
    assert frame["step"].tolist()[:4] == [0, 0, 1, 1] and frame["step"].tolist()[-2:] == [3.5, 0]
    assert frame["value"].isna().sum() == 12 and frame["value"].iloc[-2] == math.inf
    proc = run_gitexp("show", "odd")
    line = next(x for x in proc.stdout.splitlines() if x.split()[:1] == ["x"] and "steps=" in x)
    assert "steps=12002" in line and "last=-1" in line and "min=-1" in line and "max=inf" in line
    assert proc.stdout.count("\n") < 80  # a summary, not a dump


def test_many_interleaved_metrics_past_the_column_parser_limit(git_repo: Path) -> None:
    script = """\
        import gitexp
        for i in range(10_050):
            gitexp.log_metrics({f"m{k:02d}": i * 1.0 + k for k in range(20)}, step=i)
        """
    run(git_repo, "many", script)
    everything = history("many")
    assert everything.groupby("metric").size().to_dict() == {f"m{k:02d}": 10_050 for k in range(20)}
    m07 = everything[everything["metric"] == "m07"]
    assert m07["value"].tolist() == [i + 7.0 for i in range(10_050)]
    assert summary_json(git_repo, "many", "m19")["last"] == 10_049 + 19.0


# --- format 1: an experiment recorded before this format ----------------------------------------


@pytest.fixture
def legacy(tmp_path: Path) -> Path:
    """A clone of the bundle made by gitexp before issue 27, with its experiment."""
    root = tmp_path / "legacy"
    git(tmp_path, "clone", "-q", "-b", "main", str(BUNDLE), str(root))
    git(root, "fetch", "-q", str(BUNDLE), "refs/experiments/*:refs/experiments/*")
    return root


def test_old_tsv_histories_read_as_before(legacy: Path) -> None:
    assert "history_format" not in run_json(legacy, "legacy")
    assert not any(".hist/" in f for f in tree_files(legacy, "legacy"))
    loss = history("legacy", "loss", repo=legacy)
    assert loss["step"].tolist() == [0, 1, 2, 3, 4, 2]
    assert loss["value"].tolist() == [1.0, 0.5, 1 / 3, 0.25, 0.2, 0.1]
    odd = history("legacy", "odd", repo=legacy)
    assert odd["step"].tolist() == [0, 1, 2, 1.5] and odd["value"].isna().tolist()[0]
    assert history("legacy", "a b%c", repo=legacy)["value"].tolist() == [3.0]
    assert history("legacy", "val/acc", repo=legacy)["step"].tolist() == [0, 1]
    long = history("legacy", "long", max_points=10, repo=legacy)
    assert len(long) == 10 and long["step"].iloc[0] == 0 and long["step"].iloc[-1] == 1999
    proc = run_gitexp("show", "legacy", cwd=legacy)
    assert proc.returncode == 0, proc.stderr
    lines = {x.split()[0]: x for x in proc.stdout.splitlines() if "steps=" in x}
    assert "steps=2000" in lines["long"] and "min=-0.999" in lines["long"]
    assert "steps=6" in lines["loss"] and "last=0.1" in lines["loss"]
    assert "min=-inf max=inf" in lines["odd"]


def test_a_new_run_beside_an_old_one(legacy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(legacy)
    run(legacy, "new", "import gitexp\nfor i in range(10_001): gitexp.log_metric('loss', 1.0)\n")
    assert history("new", "loss", repo=legacy)["value"].sum() == 10_001
    proc = run_gitexp("compare", "legacy", "new", cwd=legacy)
    assert proc.returncode == 0, proc.stderr


# --- following the live file while the command runs -------------------------------------------


def test_the_live_reader_takes_whole_lines_as_they_come(tmp_path: Path) -> None:
    path = tmp_path / "metrics.tsv"
    got: list[tuple[str, float]] = []

    def take(block: list[Any]) -> None:
        got.extend((c.name, v) for c in block for v in c.values)

    reader = LiveReader(path, block_bytes=64)
    reader.read(take)  # no file yet
    path.write_bytes(b"a\t0\t1.0\t5.0\na\t1\t2.0\t5.0\nb\t0\t3")
    reader.read(take)
    assert got == [("a", 1.0), ("a", 2.0)]  # the unfinished line waits
    with path.open("ab") as f:
        f.write(b".0\t5.0\n" + b"x" * 150 + b"\t0\t9.0\t5.0\n" + b"a\t2\t4.0\t6.0\n")
    reader.read(take)
    assert got == [("a", 1.0), ("a", 2.0), ("b", 3.0), ("a", 4.0)]  # a 150-byte line: skipped
    assert reader.intact() and reader.offset == path.stat().st_size
    data = path.read_bytes()
    path.write_bytes(data[:20] + b"Z" + data[21:])  # what was read changed under it
    assert not reader.intact()


def test_points_read_while_running_are_dropped_when_the_file_is_cut_back(git_repo: Path) -> None:
    """The library cuts a failed append back and writes again: what the follower read
    of it must not stay in the record."""
    script = """\
        import os, time
        import gitexp
        from gitexp.tracking import recorder
        for i in range(20_000):
            gitexp.log_metric("loss", 1.0, step=i)
        recorder._recorder.flush()
        time.sleep(1.5)  # the follower reads them
        live = os.path.join(os.environ["GITEXP_RUN_DIR"], ".gitexp", "live", "metrics.tsv")
        os.truncate(live, 0)
        for i in range(3):
            gitexp.log_metric("loss", 2.0, step=i)
        """
    run(git_repo, "cut", script)
    assert history("cut", "loss")["value"].tolist() == [2.0, 2.0, 2.0]


def test_a_slow_script_is_recorded_while_it_runs(git_repo: Path) -> None:
    script = """\
        import time
        import gitexp
        from gitexp.tracking import recorder
        for burst in range(4):
            for i in range(15_000):
                gitexp.log_metric("loss", burst + i / 15_000)
            gitexp.log_metric("acc", float(burst))
            recorder._recorder.flush()
            time.sleep(0.6)
        """
    run(git_repo, "slow", script)
    frame = history("slow", "loss")
    assert frame["step"].tolist() == list(range(60_000))
    assert frame["value"].tolist() == [b + i / 15_000 for b in range(4) for i in range(15_000)]
    assert history("slow", "acc")["value"].tolist() == [0.0, 1.0, 2.0, 3.0]


# --- the pieces -----------------------------------------------------------------------------------


def test_chunks_round_trip_every_step_type() -> None:
    from array import array

    steps = array("q", [-(2**63), 0, 2**63 - 1])
    values = array("d", [math.nan, -0.0, math.inf])
    times = array("d", [1.5, math.nan, 2.5])
    s, v, t = H.decode_chunk(H.encode_chunk(steps, values, times), "i8")
    assert list(s) == list(steps) and str(list(v)) == "[nan, -0.0, inf]"
    assert math.isnan(t[1]) and (t[0], t[2]) == (1.5, 2.5)
    with pytest.raises(H.FormatError):
        H.decode_chunk(b"not zlib", "i8")
    assert H.chunk_files(["000010.f8", "summary.json", "000002.i8", "x.hist"]) == [
        ("000002.i8", "i8"),
        ("000010.f8", "f8"),
    ]


def test_summaries_of_a_series_fed_in_blocks() -> None:
    builder = SummaryBuilder()
    builder.add([5, 6], [math.nan, 2.0], [None, None])
    builder.add([1], [math.inf], [1.0])
    builder.add([0.5], [-3.0], [1.0])
    s = builder.result()
    assert (s.count, s.first_step, s.last_step, s.last, s.min, s.max) == (
        4,
        5,
        0.5,
        -3,
        -3,
        math.inf,
    )
    assert math.isnan(s.first) and not s.integral_steps
    assert [p[1] for p in s.downsample] == [2.0, -3.0]  # finite values only
    once = SummaryBuilder()
    once.add([7], [42.0], [None])
    assert once.result().downsample == [(7, 42.0, None)]
    empty = SummaryBuilder().result()
    assert empty.count == 0 and empty.first_step is None and empty.downsample == []


def test_downsample_keeps_the_shape_ends_and_extremes() -> None:
    n = 1_000_000
    reducer = Reducer()
    for lo in range(0, n, 65_536):
        values = [math.sin(i / 40_000) for i in range(lo, min(n, lo + 65_536))]
        if lo == 393_216:
            values[123] = 50.0  # one spike
        reducer.add(range(lo, lo + len(values)), values, [None] * len(values))
    kept = reducer.result()
    assert 990 <= len(kept) <= 1000
    xs = [p[0] for p in kept]
    assert xs == sorted(set(xs)) and xs[0] == 0 and xs[-1] == n - 1
    assert max(p[2] for p in kept) == 50.0 and min(p[2] for p in kept) < -0.9999
    # the line through the kept points stays near the curve everywhere
    worst = max(
        abs(np.interp(i, xs, [p[2] for p in kept]) - math.sin(i / 40_000))
        for i in range(0, n, 997)
        if abs(i - 393_339) > 2_000
    )
    assert worst < 0.01
    assert lttb([(i, i, float(i), None) for i in range(10)], 3)[1][0] in range(1, 9)


# --- slow: ten million points, and a gigabyte of output -----------------------------------------


def peak_mb(argv: list[str], cwd: Path) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run ``argv``; the high-water mark of its own memory (VmHWM), read from /proc."""
    proc = subprocess.Popen(
        argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    seen = [0]
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            try:
                status = Path(f"/proc/{proc.pid}/status").read_text()
            except OSError:
                return
            seen.extend(int(x.split()[1]) for x in status.splitlines() if x.startswith("VmHWM:"))
            done.wait(0.02)

    watcher = threading.Thread(target=watch)
    watcher.start()
    out, err = proc.communicate(timeout=1800)
    done.set()
    watcher.join()
    return subprocess.CompletedProcess(argv, proc.returncode, out, err), max(seen) / 1024


@pytest.mark.slow
def test_ten_million_points_bounded_memory_exact_round_trip_fast_show(git_repo: Path) -> None:
    n = 10_000_000
    write_files(
        git_repo,
        {
            "t.py": f"""\
                import math
                import gitexp
                log = gitexp.log_metric
                for i in range({n}):
                    log("loss", {LOSS}, i)
                """
        },
    )
    argv = [sys.executable, "-m", "gitexp", "run", "-q", "-n", "ten", "--", sys.executable, "t.py"]
    proc, peak = peak_mb(argv, git_repo)
    assert proc.returncode == 0, proc.stderr
    assert peak < 200, f"gitexp peaked at {peak:.0f} MB"
    r = open_repo(git_repo)
    oid = histories.series_blobs(r, git(git_repo, "rev-parse", "refs/experiments/ten").strip())[
        "loss"
    ]
    at = 0
    for steps, values, _ in histories.iter_columns(r, oid):
        k = len(values)
        assert np.array_equal(np.asarray(steps, np.int64), np.arange(at, at + k))
        expected = np.fromiter(map(loss, range(at, at + k)), np.float64, k)
        assert np.array_equal(np.asarray(values, np.float64), expected)  # bit for bit
        at += k
    assert at == n
    t0 = time.perf_counter()
    shown = run_gitexp("show", "ten")
    took = time.perf_counter() - t0
    assert shown.returncode == 0 and "steps=10000000" in shown.stdout
    baseline = time.perf_counter()
    assert run_gitexp("show", "--format", "json").returncode == 0  # the CLI's own start-up
    startup = time.perf_counter() - baseline
    assert took < 0.5 or took - startup < 0.5, f"show took {took:.2f}s ({startup:.2f}s start-up)"


@pytest.mark.slow
def test_a_gigabyte_of_output_is_capped_and_never_held(git_repo: Path) -> None:
    script = """\
        import sys
        out = sys.stdout.buffer
        line = b"x" * 1023 + b"\\n"
        for i in range(1 << 20):  # 1 GiB of lines
            out.write(line)
        out.write(b"y" * (64 << 20))  # and 64 MiB without a newline
        out.write(b"\\nthe end\\n")
        """
    write_files(git_repo, {"t.py": script})
    argv = [sys.executable, "-m", "gitexp", "run", "-q", "-n", "chatty", "--", "python", "t.py"]
    proc, peak = peak_mb(argv, git_repo)
    assert proc.returncode == 0, proc.stderr
    assert peak < 200, f"gitexp peaked at {peak:.0f} MB"
    log = subprocess.run(
        ["git", "show", "refs/experiments/chatty:.gitexp/output.log"],
        cwd=git_repo,
        capture_output=True,
        check=True,
    ).stdout
    assert len(log) < 1_000_000 + 200 and log.startswith(b"x" * 1023 + b"\n")
    assert log.endswith(b"\nthe end\n") and b"bytes of output cut here]" in log
