"""`gitexp run` end to end: one run becomes one commit on refs/experiments/<name>."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import git, last_line, make_repo, run_gitexp, write_files
from run_support import exp_refs, metrics_json, run_json, show, tree_files

RUN_JSON_KEYS = {
    "schema",
    "name",
    "command",
    "params",
    "overrides",
    "seed",
    "status",
    "exit_code",
    "started",
    "ended",
    "duration_s",
    "baseline",
    "dirty",
    "executor",
    "host",
    "python",
}


def test_run_records_one_commit_with_the_full_record(git_repo: Path) -> None:
    head = git(git_repo, "rev-parse", "HEAD").strip()
    proc = run_gitexp(
        "run", "-n", "first", "-p", "lr=0.2", "-p", "model.depth=6", "--", "python", "train.py"
    )
    assert proc.returncode == 0, proc.stderr
    assert "trained" in proc.stdout  # the command's output is shown
    assert last_line(proc.stderr).startswith("gitexp: first succeeded in ")
    assert exp_refs(git_repo).keys() == {"first"}

    record = run_json(git_repo, "first")
    assert record.keys() >= RUN_JSON_KEYS
    assert record["name"] == "first"
    assert record["command"] == ["python", "train.py"]
    assert record["params"] == {"lr": 0.2, "model": {"depth": 6}}
    assert record["overrides"] == ["lr=0.2", "model.depth=6"]
    assert record["status"] == "succeeded" and record["exit_code"] == 0
    assert record["baseline"] == head and record["dirty"] is False
    assert record["executor"] == "local"
    assert record["duration_s"] >= 0 and record["ended"] >= record["started"]
    assert isinstance(record["seed"], int)

    # parent is the baseline; message names the run; tree = workspace + record
    assert git(git_repo, "rev-parse", "refs/experiments/first^").strip() == head
    message = git(git_repo, "log", "-1", "--format=%B", "refs/experiments/first")
    assert message.startswith("gitexp: first\n\nsucceeded seed=")
    assert "lr=0.2" in message and "loss=" in message
    files = set(tree_files(git_repo, "first"))
    assert {"params.yaml", "train.py", ".gitignore"} <= files
    assert {
        ".gitexp/run.json",
        ".gitexp/metrics.json",
        ".gitexp/output.log",
        ".gitexp/history/loss.tsv",
        ".gitexp/env/requirements.txt",
        ".gitexp/env/system.json",
    } <= files
    assert not any(f.startswith(".gitexp/live") or f == ".gitexp/params.json" for f in files)
    # the params file in the commit is the one the run saw
    assert show(git_repo, "first", "params.yaml") == "lr: 0.2\nmodel:\n  depth: 6\n"
    assert "trained" in show(git_repo, "first", ".gitexp/output.log")
    assert metrics_json(git_repo, "first") == {"loss": 0.2 / 3, "acc": 0.56}
    system = json.loads(show(git_repo, "first", ".gitexp/env/system.json"))
    assert system["python"] == record["python"] and system["host"] == record["host"]
    assert "PyYAML==" in show(git_repo, "first", ".gitexp/env/requirements.txt")


def test_history_is_one_tsv_per_metric(git_repo: Path) -> None:
    assert run_gitexp("run", "-n", "h", "--", "python", "train.py").returncode == 0
    lines = show(git_repo, "h", ".gitexp/history/loss.tsv").splitlines()
    assert lines[0] == "step\tvalue\ttime"
    steps = [line.split("\t")[:2] for line in lines[1:]]
    assert steps == [["0", "0.1"], ["1", "0.05"], ["2", repr(0.1 / 3)]]


def test_command_from_config_and_plain_git_log(git_repo: Path) -> None:
    write_files(git_repo, {"gitexp.yaml": "command: python train.py\n"})
    proc = run_gitexp("run", "-n", "cfg")
    assert proc.returncode == 0, proc.stderr
    assert run_json(git_repo, "cfg")["command"] == ["python", "train.py"]
    assert "gitexp: cfg" in git(git_repo, "log", "--oneline", "refs/experiments/cfg")


def test_auto_name_is_readable_and_unique(git_repo: Path) -> None:
    for _ in range(2):
        assert run_gitexp("run", "--", "python", "train.py").returncode == 0
    names = list(exp_refs(git_repo))
    assert len(names) == 2 and names[0] != names[1]
    for name in names:
        adjective, noun, suffix = name.split("-")
        assert adjective.isalpha() and noun.isalpha() and len(suffix) == 4


def test_dirty_workspace_is_recorded_and_flagged(git_repo: Path) -> None:
    (git_repo / "train.py").write_text('print("edited")\n')
    (git_repo / "new_module.py").write_text("X = 1\n")
    (git_repo / "big.ignored").write_text("secret\n")
    assert run_gitexp("run", "-n", "d", "--", "python", "train.py").returncode == 0
    record = run_json(git_repo, "d")
    assert record["dirty"] is True
    assert show(git_repo, "d", "train.py") == 'print("edited")\n'
    files = tree_files(git_repo, "d")
    assert "new_module.py" in files and "big.ignored" not in files


def test_files_the_run_writes_are_committed_unless_ignored(git_repo: Path) -> None:
    write_files(
        git_repo,
        {
            "train.py": """\
                import os
                os.makedirs("out", exist_ok=True)
                open("out/model.txt", "w").write("weights")
                open("cache.ignored", "w").write("tmp")
                open("kept.ignored", "w").write("kept")
                """,
            "gitexp.yaml": "outputs: [kept.ignored]\n",
        },
    )
    assert run_gitexp("run", "-n", "w", "--", "python", "train.py").returncode == 0
    files = tree_files(git_repo, "w")
    assert "out/model.txt" in files
    assert "kept.ignored" in files  # named in outputs: kept even though ignored
    assert "cache.ignored" not in files
    assert not (git_repo / "out").exists()  # written in the run dir, not the user's


def test_run_from_a_subdirectory_runs_there(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "r", {"src/job.py": "import os; print(os.getcwd())\n"})
    proc = run_gitexp("run", "-n", "sub", "--", "python", "job.py", cwd=root / "src")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith("/src")
    ran_in = Path(proc.stdout.strip())
    assert ran_in.name == "src" and root not in ran_in.parents  # a private run dir
    assert run_json(root, "sub")["cwd"] == "src"


def test_env_given_to_the_process(git_repo: Path) -> None:
    write_files(
        git_repo,
        {
            "env.py": """\
                import json, os, sys
                keys = ["GITEXP_RUN_NAME", "GITEXP_SEED", "PYTHONHASHSEED", "GITEXP_RUN_DIR"]
                json.dump({k: os.environ.get(k) for k in keys}, open("env.json", "w"))
                json.dump({"stdin": sys.stdin.read(), "pgid": os.getpgid(0) == os.getpid()},
                          open("proc.json", "w"))
                """
        },
    )
    proc = run_gitexp("run", "-n", "envy", "--seed", "7", "--", "python", "env.py")
    assert proc.returncode == 0, proc.stderr
    env = json.loads(show(git_repo, "envy", "env.json"))
    assert env["GITEXP_RUN_NAME"] == "envy"
    assert env["GITEXP_SEED"] == env["PYTHONHASHSEED"] == "7"
    run_dir = Path(env["GITEXP_RUN_DIR"])
    from gitexp.gitstore.repo import open_repo
    from gitexp.running.workdirs import pool_dir

    assert run_dir.parent == pool_dir(open_repo(git_repo), None)  # a reused slot
    # stdin is /dev/null (a script never waits for input), own process group
    assert json.loads(show(git_repo, "envy", "proc.json")) == {"stdin": "", "pgid": True}


def test_keep_run_dir_keeps_it(git_repo: Path) -> None:
    write_files(git_repo, {"where.py": "import os; print(os.environ['GITEXP_RUN_DIR'])\n"})
    proc = run_gitexp("run", "-n", "k", "--keep-run-dir", "--", "python", "where.py")
    assert proc.returncode == 0
    run_dir = Path(proc.stdout.strip())
    assert (run_dir / "where.py").exists()


def test_quiet_does_not_echo_but_still_logs(git_repo: Path) -> None:
    proc = run_gitexp("run", "-q", "-n", "q", "--", "python", "train.py")
    assert proc.returncode == 0
    assert "trained" not in proc.stdout
    assert "trained" in show(git_repo, "q", ".gitexp/output.log")


def test_output_log_is_capped_keeping_head_and_tail(git_repo: Path) -> None:
    write_files(
        git_repo,
        {
            "gitexp.yaml": "log_max_bytes: 2000\n",
            "chatty.py": "print('FIRST')\nfor i in range(5000): print('x' * 20)\nprint('LAST')\n",
        },
    )
    proc = run_gitexp("run", "-q", "-n", "c", "--", "python", "chatty.py")
    assert proc.returncode == 0
    log = show(git_repo, "c", ".gitexp/output.log")
    assert log.startswith("FIRST") and log.rstrip().endswith("LAST")
    assert "bytes of output cut here" in log
    assert len(log) < 2200


def test_shell_operators_in_config_command_run_through_sh(git_repo: Path) -> None:
    write_files(git_repo, {"gitexp.yaml": "command: echo one > out.txt && echo two >> out.txt\n"})
    assert run_gitexp("run", "-n", "sh").returncode == 0
    assert show(git_repo, "sh", "out.txt") == "one\ntwo\n"
    assert run_json(git_repo, "sh")["command"][:2] == ["/bin/sh", "-c"]


def test_init_writes_config_then_run_uses_it(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "r", {"job.py": "print('job ran')\n", "params.yaml": "a: 1\n"})
    proc = run_gitexp("init", "--command", "python job.py", cwd=root)
    assert proc.returncode == 0, proc.stderr
    assert "command: python job.py" in (root / "gitexp.yaml").read_text()
    assert git(root, "status", "--porcelain") == "?? gitexp.yaml\n"  # nothing committed
    proc = run_gitexp("run", "-n", "from-init", cwd=root)
    assert proc.returncode == 0, proc.stderr
    assert "job ran" in proc.stdout
    again = run_gitexp("init", cwd=root)
    assert again.returncode == 2
    assert last_line(again.stderr).startswith("gitexp: error: gitexp.yaml already exists")
    assert run_gitexp("init", "--force", cwd=root).returncode == 0


def test_output_log_never_interleaves_streams_inside_a_line() -> None:
    from gitexp.running.executors.base import OutputSink

    sink = OutputSink(10_000, echo=False)
    sink.write("stdout", b"note: fine")
    sink.write("stderr", b"err_rate = 1e-3\n")
    sink.write("stdout", b"\nprogress 10%\rprogress 20%\r")
    sink.write("stderr", b"unfinished")
    assert sink.log_bytes() == (
        b"err_rate = 1e-3\nnote: fine\nprogress 10%\rprogress 20%\runfinished"
    )


def test_the_running_record_says_where_its_run_dir_is_and_the_final_one_not(
    git_repo: Path, tmp_path: Path
) -> None:
    import os
    import subprocess
    import sys
    import time

    write_files(git_repo, {"wait.py": "import os, pathlib, time\n"
        "pathlib.Path(os.environ['HERE']).write_text(os.environ['GITEXP_RUN_DIR'])\n"
        "while not pathlib.Path(os.environ['GO']).exists(): time.sleep(0.05)\n"})  # fmt: skip
    here, go = tmp_path / "here", tmp_path / "go"
    env = {**os.environ, "HERE": str(here), "GO": str(go)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "gitexp", "run", "-n", "w", "-q", "--", "python", "wait.py"],
        cwd=git_repo, env=env, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not here.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        running = run_json(git_repo, "w")
        assert running["status"] == "running"
        assert running["run_dir"] == here.read_text()
    finally:
        go.touch()
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    final = run_json(git_repo, "w")
    assert final["status"] == "succeeded" and "run_dir" not in final
