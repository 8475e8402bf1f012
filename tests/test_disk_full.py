"""A full disk is one line and a recorded run, never an internal error or a lost metric."""

from __future__ import annotations

from pathlib import Path

from conftest import git, last_line, run_gitexp, write_files
from disk_support import small_disk  # noqa: F401 (fixture)
from run_support import metrics_json, only_experiment, run_json


def test_full_disk_while_the_tree_is_written_is_one_line_and_a_failed_run(
    git_repo: Path,
    small_disk: Path,  # noqa: F811
) -> None:
    (git_repo / "big.bin").write_bytes(b"x" * 2_000_000)  # more than the 1 MiB disk
    git(git_repo, "add", "big.bin")
    git(git_repo, "commit", "-q", "-m", "big")
    proc = run_gitexp("run", "--", "python", "train.py", env={"GITEXP_RUN_ROOT": str(small_disk)})
    assert proc.returncode == 1, proc.stderr
    line = last_line(proc.stderr)
    assert line.startswith(
        "gitexp: error: cannot write the run directory: No space left on device: "
    )
    assert str(small_disk) in line  # names where it could not write
    assert "Traceback" not in proc.stderr
    record = run_json(git_repo, only_experiment(git_repo))
    assert record["status"] == "failed"
    assert "No space left on device" in record["error"]
    left = [p for p in small_disk.rglob("*") if p.is_file() and p.suffix != ".lease"]
    assert left == []  # no half-written run dir is left behind


def test_full_disk_in_the_script_keeps_earlier_metrics_without_a_traceback(
    git_repo: Path,
    small_disk: Path,  # noqa: F811
) -> None:
    write_files(
        git_repo,
        {
            "t.py": """\
                import os, time, gitexp
                gitexp.log_metric("early", 1.0)
                live = os.path.join(os.environ["GITEXP_RUN_DIR"], ".gitexp/live/metrics.tsv")
                while not os.path.exists(live) or "early" not in open(live).read():
                    time.sleep(0.05)  # until the periodic flush wrote it
                try:
                    with open("fill.ignored", "wb") as f:
                        while True:
                            f.write(b"x" * 65536)
                except OSError as exc:
                    print("disk full:", exc.strerror)
                for i in range(5000):  # more than the free end of the file's last page
                    gitexp.log_metric("late", float(i))
                """
        },
    )
    proc = run_gitexp(
        "run", "-n", "full", "--", "python", "t.py", env={"GITEXP_RUN_ROOT": str(small_disk)}
    )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr and "Exception ignored" not in proc.stderr
    warnings = [line for line in proc.stderr.splitlines() if "cannot write" in line]
    assert len(warnings) == 1, proc.stderr
    assert warnings[0].startswith("gitexp: warning: cannot write ")
    assert "No space left on device" in warnings[0]
    assert run_json(git_repo, "full")["status"] == "succeeded"
    assert metrics_json(git_repo, "full") == {"early": 1.0}
