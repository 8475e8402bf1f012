"""First use of the CLI: --version, -h, signals by name, a full disk in one line."""

from __future__ import annotations

import errno
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import git, last_line, make_repo, run_gitexp, write_files
from run_support import repo_state, run_json

import gitexp
from gitexp.cli.app import disk_message
from gitexp.cli.commands import COMMANDS
from gitexp.common.errors import describe_exit, signal_name

# --- --version and -h ---------------------------------------------------------------


def test_version_prints_the_package_version() -> None:
    from importlib.metadata import version

    proc = run_gitexp("--version")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"gitexp {gitexp.__version__}\n"
    assert gitexp.__version__ == version("gitexp")  # one version, pyproject and package


def test_version_imports_no_command_module() -> None:
    code = (
        "import sys\nfrom gitexp.cli import main\nrc = main(['--version'])\n"
        "print(rc, sorted(m for m in sys.modules if m.startswith('gitexp.commands')))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.splitlines()[-1] == "0 []"


@pytest.mark.parametrize("args", [[], *([c] for c in COMMANDS), ["hooks", "install"]])
def test_dash_h_is_help_on_every_command(args: list[str]) -> None:
    short = run_gitexp(*args, "-h", env={"COLUMNS": "100"})
    assert short.returncode == 0, short.stderr
    assert f"Usage: gitexp {' '.join(args)}".rstrip() in short.stdout
    assert short.stdout == run_gitexp(*args, "--help", env={"COLUMNS": "100"}).stdout


# --- signals by name ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "status", "text"),
    [
        (None, "failed", "failed"),
        (0, "succeeded", "succeeded"),
        (3, "failed", "failed (exit code 3)"),
        (5, "interrupted", "interrupted (exit code 5)"),
        (-signal.SIGKILL, "failed", "failed (killed by SIGKILL)"),
        (-signal.SIGSEGV, "failed", "failed (killed by SIGSEGV)"),
        (-signal.SIGINT, "interrupted", "interrupted by Ctrl-C (SIGINT)"),
        (-signal.SIGTERM, "interrupted", "interrupted by SIGTERM"),
        (-signal.SIGINT, "failed", "failed (killed by Ctrl-C (SIGINT))"),
        (-99, "failed", "failed (killed by signal 99)"),
    ],
)
def test_describe_exit(code: int | None, status: str, text: str) -> None:
    assert describe_exit(code, status) == text


def test_signal_names() -> None:
    assert signal_name(signal.SIGINT) == "Ctrl-C (SIGINT)"
    assert signal_name(signal.SIGTERM) == "SIGTERM"
    assert signal_name(signal.SIGHUP) == "SIGHUP"


def test_child_killed_by_a_signal_is_named_everywhere(git_repo: Path) -> None:
    write_files(git_repo, {"die.py": "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n"})
    proc = run_gitexp("run", "-n", "killed", "--", "python", "die.py")
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert lines[-2].startswith("gitexp: killed failed (killed by SIGKILL) in ")
    assert lines[-1] == (
        "gitexp: error: experiment 'killed' failed (killed by SIGKILL); "
        "recorded as refs/experiments/killed"
    )
    assert "-9" not in proc.stderr
    assert run_json(git_repo, "killed")["exit_code"] == -signal.SIGKILL  # the record keeps -9
    out = run_gitexp("show", "killed").stdout
    assert "  status           failed (killed by SIGKILL)\n" in out


WAIT_FOR_CTRL_C = """\
import os, time
open(os.environ["MARKER"], "w").close()
time.sleep(600)
"""


def _running(marker: Path, name: str, script: str) -> subprocess.Popen[str]:
    """`gitexp run -n NAME -- python SCRIPT`, once the script has written ``marker``."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "gitexp", "run", "-n", name, "--", "python", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "MARKER": str(marker)},
    )
    deadline = time.monotonic() + 180  # generous: a loaded machine starts slowly
    while not marker.exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    return proc


def test_ctrl_c_reads_as_ctrl_c(git_repo: Path, tmp_path: Path) -> None:
    write_files(git_repo, {"wait.py": WAIT_FOR_CTRL_C})
    proc = _running(tmp_path / "started", "stopped", "wait.py")
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=180)
    assert proc.returncode == 130, err
    assert last_line(err) == (
        "gitexp: error: experiment 'stopped' interrupted by Ctrl-C (SIGINT); "
        "recorded as refs/experiments/stopped"
    )
    assert "gitexp: stopped interrupted by Ctrl-C (SIGINT) in " in err
    assert run_json(git_repo, "stopped")["exit_code"] == -signal.SIGINT
    shown = run_gitexp("show", "stopped").stdout
    assert "  status           interrupted by Ctrl-C (SIGINT)\n" in shown


CHECKPOINT_ON_SIGTERM = """\
import os, signal, time

def checkpoint(signum, frame):
    open("checkpoint.txt", "w").write(signal.Signals(signum).name)
    print("checkpoint saved", flush=True)
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)

signal.signal(signal.SIGTERM, checkpoint)
open(os.environ["MARKER"], "w").close()
time.sleep(600)
"""


def test_sigterm_reaches_the_script_as_sigterm(git_repo: Path, tmp_path: Path) -> None:
    """A batch scheduler's SIGTERM to `gitexp run` is what the script receives (its
    checkpoint handler runs, as it would without gitexp), and the record says so."""
    write_files(git_repo, {"job.py": CHECKPOINT_ON_SIGTERM})
    proc = _running(tmp_path / "started", "preempted", "job.py")
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=180)
    assert "checkpoint saved" in out, (out, err)
    assert last_line(err) == (
        "gitexp: error: experiment 'preempted' interrupted by SIGTERM; "
        "recorded as refs/experiments/preempted"
    )
    record = run_json(git_repo, "preempted")
    assert (record["status"], record["exit_code"]) == ("interrupted", -signal.SIGTERM)
    assert git(git_repo, "show", "refs/experiments/preempted:checkpoint.txt") == "SIGTERM"


# --- a reader that stops early --------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [["show", "one"], ["show"], ["log", "one"], ["compare", "one", "one"], ["model", "list"]],
)
def test_a_closed_pipe_is_a_quiet_exit(git_repo: Path, args: list[str]) -> None:
    """`gitexp show NAME | head -1`: the reader has what it wanted; no crash report."""
    write_files(git_repo, {"t.py": "for i in range(50):\n    print(f'loss: {i}')\n"})
    assert run_gitexp("run", "-q", "-n", "one", "--", "python", "t.py").returncode == 0
    read, write = os.pipe()
    os.close(read)  # closed before gitexp writes anything: every write fails with EPIPE
    proc = subprocess.run(
        [sys.executable, "-m", "gitexp", *args],
        stdout=write,
        stderr=subprocess.PIPE,
        text=True,
        timeout=120,
        check=False,
    )
    os.close(write)
    assert (proc.returncode, proc.stderr) == (0, "")


# --- a full disk ----------------------------------------------------------------------


def _limited(*args: str, cwd: Path, limit: int) -> subprocess.CompletedProcess[str]:
    """`gitexp ARGS` unable to write any file past ``limit`` bytes: a real EFBIG
    (Python ignores SIGXFSZ, so the write fails with an OSError)."""

    def limit_file_size() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return subprocess.run(
        [sys.executable, "-m", "gitexp", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        preexec_fn=limit_file_size,
        timeout=120,
        check=False,
    )


def test_file_too_large_is_one_line_not_an_internal_error(tmp_path: Path) -> None:
    """The CLI's last line of defence: an OSError of a full disk that no layer
    below turned into a GitexpError (here `gitexp init` writing gitexp.yaml)."""
    root = make_repo(tmp_path / "repo", {"README.md": "x\n"})
    proc = _limited("init", "--no-hooks", cwd=root, limit=64)  # the file is ~600 bytes
    assert proc.returncode == 1, proc.stderr
    assert last_line(proc.stderr) == (
        "gitexp: error: file too large "
        "(hint: a file hit the size limit of this process; check `ulimit -f`)"
    )
    assert "Traceback" not in proc.stderr
    assert not (Path.home() / ".cache" / "gitexp" / "crash.log").exists()


def test_file_too_large_during_a_run_is_one_line(tmp_path: Path) -> None:
    """A tracked file larger than the process may write, materialized for the run."""
    root = make_repo(tmp_path / "repo", {"t.py": "print('never runs')\n"})
    (root / "big.bin").write_bytes(os.urandom(2 << 20))
    git(root, "add", "big.bin")
    git(root, "commit", "-q", "-m", "big file")
    before = repo_state(root)
    proc = _limited("run", "-n", "big", "--", "python", "t.py", cwd=root, limit=1 << 20)
    assert proc.returncode == 1, proc.stderr
    line = last_line(proc.stderr)
    assert line.startswith("gitexp: error: ") and "file too large" in line.lower(), line
    assert "internal error" not in proc.stderr and "Traceback" not in proc.stderr
    assert "never runs" not in proc.stdout
    assert repo_state(root) == before
    assert not (Path.home() / ".cache" / "gitexp" / "crash.log").exists()


@pytest.mark.parametrize(
    ("code", "text"),
    [
        (errno.ENOSPC, "no space left on device: /data/run/model.pkl"),
        (errno.EDQUOT, "disk quota exceeded: /data/run/model.pkl"),
        (errno.EROFS, "read-only file system: /data/run/model.pkl"),
    ],
)
def test_disk_message_names_the_file(code: int, text: str) -> None:
    assert disk_message(OSError(code, os.strerror(code), "/data/run/model.pkl")) == text


# --- why a run failed -------------------------------------------------------------------


def test_show_name_says_why_a_run_failed(git_repo: Path) -> None:
    """run.json's `error` (here a sweep objective the script never logged) is on screen."""
    write_files(git_repo, {"params.yaml": "x: 1\n", "t.py": "print('loss: 1')\n"})
    git(git_repo, "add", "-A")
    git(git_repo, "commit", "-qm", "script")
    proc = run_gitexp(
        "sweep", "-n", "s", "-p", "x=int(1,3)", "--objective", "val.acc:max",
        "--trials", "1", "--", "python", "t.py",
    )  # fmt: skip
    assert proc.returncode != 0
    shown = run_gitexp("show", "s/trial-0000").stdout
    assert "  status           failed\n" in shown
    assert "  error            objective metric 'val.acc' was not logged\n" in shown
    assert run_gitexp("run", "-q", "-n", "fine", "--", "python", "t.py").returncode == 0
    assert "  error " not in run_gitexp("show", "fine").stdout  # nothing to explain


def test_an_empty_listing_says_how_to_get_experiments(git_repo: Path) -> None:
    proc = run_gitexp("show")
    assert (proc.returncode, proc.stdout) == (0, "")
    assert proc.stderr == (
        "gitexp: no experiments yet (hint: `gitexp run` records one; "
        "`gitexp pull` fetches a remote's)\n"
    )
    assert run_gitexp("run", "-q", "-n", "one", "--", "true").returncode == 0
    proc = run_gitexp("show", "-f", "status=failed")
    assert (proc.returncode, proc.stderr) == (0, "gitexp: no experiments match\n")


def test_a_logged_count_reads_as_an_integer_in_git_log_too(git_repo: Path) -> None:
    """Metrics are stored as floats: 3000000.0 is `3000000`, never `3e+06`."""
    write_files(git_repo, {"n.py": "print('n_samples: 3000000')\nprint('acc: 0.912345')\n"})
    proc = run_gitexp("run", "-q", "-n", "counted", "--", "python", "n.py")
    assert proc.returncode == 0, proc.stderr
    assert last_line(proc.stderr).endswith("| n_samples=3000000 acc=0.912345")
    message = git(git_repo, "log", "-1", "--format=%B", "refs/experiments/counted")
    assert "n_samples=3000000" in message and "acc=0.912345" in message
