"""The tracking library (`import gitexp`): light import, no-op outside a run, records inside."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from conftest import run_gitexp, write_files
from run_support import metrics_json, run_json, show, tree_files

HEAVY = (
    "pygit2",
    "dvc",
    "optuna",
    "docker",
    "numpy",
    "pandas",
    "yaml",
    "typer",
    "torch",
    "tensorflow",
)


def _python(
    code: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        check=False,
    )


def test_import_pulls_in_no_heavy_module(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import gitexp"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    imported = {line.split("|")[-1].strip().split(".")[0] for line in proc.stderr.splitlines()}
    assert "gitexp" in imported
    assert not imported & set(HEAVY), imported & set(HEAVY)


def test_outside_a_run_every_call_is_a_noop_with_one_notice(tmp_path: Path) -> None:
    write_files(tmp_path, {"params.yaml": "lr: 0.3\n"})
    proc = _python(
        """
import gitexp
gitexp.log_metric("loss", 1.0)
gitexp.log_metric("loss", 0.5, step=3)
gitexp.log_metrics({"a": 1, "b": {"c": 2}})
gitexp.log_param("x", 1)
gitexp.log_params({"y": 2})
gitexp.log_artifact("model.pkl")
print(gitexp.params(), gitexp.current_run())
""",
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "{'lr': 0.3} None"
    assert proc.stderr.count("gitexp:") == 1
    assert "not inside `gitexp run`" in proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["params.yaml"]  # nothing written


def test_inside_a_run_metrics_history_and_logged_params(git_repo: Path) -> None:
    write_files(
        git_repo,
        {
            "t.py": """\
                import gitexp
                run = gitexp.current_run()
                print("run", run.name, run.seed)
                for i in range(5):
                    gitexp.log_metric("loss", 1.0 / (i + 1))
                gitexp.log_metric("val/acc", 0.7, step=10)
                gitexp.log_metric("val/acc", 0.8, step=20)
                gitexp.log_metrics({"test": {"f1": 0.5, "auc": 0.75}}, step=1)
                gitexp.log_param("optimizer", "adam")
                gitexp.log_params({"n_features": 12, "arch": {"kind": "mlp"}})
                """
        },
    )
    proc = run_gitexp("run", "-n", "lib", "--seed", "11", "--", "python", "t.py")
    assert proc.returncode == 0, proc.stderr
    assert "run lib 11" in proc.stdout
    assert "not inside" not in proc.stderr
    assert metrics_json(git_repo, "lib") == {
        "loss": 0.2,
        "val/acc": 0.8,
        "test": {"f1": 0.5, "auc": 0.75},
    }
    loss = show(git_repo, "lib", ".gitexp/history/loss.tsv").splitlines()
    assert [line.split("\t")[0] for line in loss[1:]] == ["0", "1", "2", "3", "4"]
    assert all(float(line.split("\t")[2]) > 1e9 for line in loss[1:])  # unix times
    acc = show(git_repo, "lib", ".gitexp/history/val/acc.tsv").splitlines()
    assert [line.split("\t")[:2] for line in acc[1:]] == [["10", "0.7"], ["20", "0.8"]]
    assert ".gitexp/history/test.f1.tsv" in tree_files(git_repo, "lib")
    record = run_json(git_repo, "lib")
    assert record["logged_params"] == {
        "optimizer": "adam",
        "n_features": 12,
        "arch": {"kind": "mlp"},
    }
    # logged params join the run's params (and stay listed on their own)
    assert record["params"] == {"lr": 0.1, "model": {"depth": 3}, **record["logged_params"]}


def test_invalid_metric_name_raises_in_the_script(git_repo: Path) -> None:
    write_files(git_repo, {"t.py": "import gitexp\ngitexp.log_metric('a\\tb', 1)\n"})
    proc = run_gitexp("run", "-n", "bad", "--", "python", "t.py")
    assert proc.returncode == 1
    assert "invalid metric name" in show(git_repo, "bad", ".gitexp/output.log")


def test_sigkilled_child_keeps_what_was_flushed(git_repo: Path) -> None:
    write_files(
        git_repo,
        {
            "t.py": """\
                import os, signal, time, gitexp
                for i in range(100):
                    gitexp.log_metric("loss", float(i), step=i)
                live = os.path.join(os.environ["GITEXP_RUN_DIR"], ".gitexp/live/metrics.tsv")
                while not os.path.exists(live) or "loss\t99\t" not in open(live).read():
                    time.sleep(0.05)  # until the periodic flush (1 s) wrote the buffer
                gitexp.log_metric("lost", 1.0)  # buffered, never flushed
                os.kill(os.getpid(), signal.SIGKILL)
                """
        },
    )
    proc = run_gitexp("run", "-n", "killed", "--", "python", "t.py")
    assert proc.returncode == 1
    record = run_json(git_repo, "killed")
    assert record["status"] == "failed" and record["exit_code"] == -signal.SIGKILL
    assert metrics_json(git_repo, "killed") == {"loss": 99.0}
    assert len(show(git_repo, "killed", ".gitexp/history/loss.tsv").splitlines()) == 101


def test_sigterm_to_the_child_flushes_the_buffer(git_repo: Path) -> None:
    write_files(
        git_repo,
        {
            "t.py": """\
                import os, signal, gitexp
                gitexp.log_metric("loss", 0.25)
                os.kill(os.getpid(), signal.SIGTERM)
                """
        },
    )
    proc = run_gitexp("run", "-n", "term", "--", "python", "t.py")
    assert proc.returncode == 1
    assert run_json(git_repo, "term")["exit_code"] == -signal.SIGTERM
    assert metrics_json(git_repo, "term") == {"loss": 0.25}


def test_sigterm_inside_a_flush_still_ends_the_script(git_repo: Path) -> None:
    # the main thread stopped while it holds the recorder's lock (a flush at that
    # moment): the handler's own flush must not wait for it forever
    write_files(
        git_repo,
        {
            "t.py": """\
                import os, signal, time, gitexp
                from gitexp.tracking import recorder
                gitexp.log_metric("loss", 0.25)
                with recorder._recorder.lock:
                    os.kill(os.getpid(), signal.SIGTERM)
                    time.sleep(600)
                """
        },
    )
    proc = run_gitexp("run", "-n", "term", "--", "python", "t.py", timeout=120)
    assert proc.returncode == 1
    assert run_json(git_repo, "term")["exit_code"] == -signal.SIGTERM


def test_the_flushing_thread_leaves_ctrl_c_and_sigterm_to_the_main_thread(
    git_repo: Path,
) -> None:
    # a signal taken by another thread waits for the main thread to leave its sleep
    write_files(
        git_repo,
        {
            "t.py": """\
                import threading, gitexp
                gitexp.log_metric("loss", 0.25)
                for t in threading.enumerate():
                    if t is not threading.main_thread():
                        status = open(f"/proc/self/task/{t.native_id}/status").read()
                        mask = next(x for x in status.splitlines() if x.startswith("SigBlk"))
                        print("blocked", int(mask.split()[1], 16))
                """
        },
    )
    proc = run_gitexp("run", "-n", "masks", "--", "python", "t.py")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    masks = [int(line.split()[1]) for line in lines if line.startswith("blocked")]
    assert masks  # the flushing thread
    for sig in (signal.SIGINT, signal.SIGTERM):
        assert all(m & (1 << (sig - 1)) for m in masks)


def test_exception_in_the_script_keeps_metrics(git_repo: Path) -> None:
    write_files(
        git_repo,
        {"t.py": "import gitexp\ngitexp.log_metric('loss', 0.5)\nraise RuntimeError('x')\n"},
    )
    assert run_gitexp("run", "-n", "exc", "--", "python", "t.py").returncode == 1
    assert metrics_json(git_repo, "exc") == {"loss": 0.5}


def test_log_metric_is_cheap(tmp_path: Path) -> None:
    """Not the benchmark (benchmarks/ has it): a loose floor against a slow hot path."""
    run_dir = tmp_path / "run"
    proc = _python(
        """
import time, gitexp
log = gitexp.log_metric
log("x", 0.0)
n = 200_000
t = time.perf_counter()
for i in range(n):
    log("x", 0.5)
print(n / (time.perf_counter() - t))
""",
        tmp_path,
        {"GITEXP_RUN_DIR": str(run_dir)},
    )
    assert proc.returncode == 0, proc.stderr
    assert float(proc.stdout) > 100_000
    lines = (run_dir / ".gitexp" / "live" / "metrics.tsv").read_text().splitlines()
    assert len(lines) == 200_001  # flushed at exit, nothing lost


def test_params_inside_a_run_is_the_merged_run_params(git_repo: Path) -> None:
    write_files(
        git_repo,
        {"t.py": "import gitexp, json\nprint(json.dumps(gitexp.params()))\n"},
    )
    (git_repo / "params.yaml").write_text("lr: 0.9\n")  # uncommitted edit counts
    proc = run_gitexp("run", "-n", "pp", "--", "python", "t.py")
    assert json.loads(proc.stdout) == {"lr": 0.9}


def test_non_integer_steps_are_stored_as_given(git_repo: Path) -> None:
    write_files(
        git_repo,
        {
            "t.py": """\
                import gitexp
                gitexp.log_metric("lr", 0.1, step=1.5)
                gitexp.log_metric("lr", 0.2, step=2)
                gitexp.log_metric("lr", 0.3, step=2.75)
                gitexp.log_metric("lr", 0.4)  # continues after the last step
                """
        },
    )
    proc = run_gitexp("run", "-n", "steps", "--", "python", "t.py")
    assert proc.returncode == 0, proc.stderr
    assert run_json(git_repo, "steps")["status"] == "succeeded"
    history = show(git_repo, "steps", ".gitexp/history/lr.tsv").splitlines()[1:]
    assert [line.split("\t")[:2] for line in history] == [
        ["1.5", "0.1"],
        ["2", "0.2"],
        ["2.75", "0.3"],
        ["3.75", "0.4"],
    ]


def test_a_step_that_is_not_a_number_raises_in_the_script(git_repo: Path) -> None:
    write_files(
        git_repo,
        {
            "t.py": "import gitexp\n"
            "gitexp.log_metric('loss', 0.5)\n"
            "gitexp.log_metric('loss', 1, 'x')\n"
        },
    )
    proc = run_gitexp("run", "-n", "bad-step", "--", "python", "t.py")
    assert proc.returncode == 1  # the script failed; gitexp did not (70)
    log = show(git_repo, "bad-step", ".gitexp/output.log")
    assert "TypeError: log_metric('loss') step must be a number, got 'x'" in log
    assert metrics_json(git_repo, "bad-step") == {"loss": 0.5}


def test_garbage_in_the_live_file_never_breaks_recording(git_repo: Path) -> None:
    write_files(
        git_repo,
        {
            "t.py": """\
                import os, time, gitexp
                gitexp.log_metric("ok", 1.0)
                live = os.path.join(os.environ["GITEXP_RUN_DIR"], ".gitexp/live/metrics.tsv")
                while not os.path.exists(live) or "ok\t" not in open(live).read():
                    time.sleep(0.05)  # flushed by the library before the garbage goes in
                with open(live, "a") as f:
                    f.write("bad\\tstep?\\t1\\t2\\nworse\\t1\\tnan?\\t1\\ncut\\t1\\t0.5")
                """
        },
    )
    proc = run_gitexp("run", "-n", "garbage", "--", "python", "t.py")
    assert proc.returncode == 0, proc.stderr
    assert metrics_json(git_repo, "garbage") == {"ok": 1.0}
