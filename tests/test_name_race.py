"""A same-name race: of four `gitexp run -n same` started at once, one wins, and
every loser says the same line, hint included.

A loser learns the name is taken either from the look before the run
(`store.check_free`) or, when it looked before the winner's ref existed, from
the ref creation the winner won (running/reserve.py); both say
`experiment name 'same' is taken (hint: ...)`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from conftest import git, make_repo
from run_support import run_json

TAKEN = (
    "gitexp: error: experiment name 'same' is taken "
    "(hint: pick another -n/--name or remove it first)"
)
# holds the name until the test says so: the losers meet a `running` winner
WAIT = """\
import os, time
deadline = time.time() + 120
while not os.path.exists(os.environ["FLAG"]) and time.time() < deadline:
    time.sleep(0.02)
print("accuracy: 1")
"""


def _start(root: Path, flag: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "gitexp", "run", "-n", "same", "--", sys.executable, "wait.py"],
        cwd=root,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "FLAG": str(flag)},
    )


def test_every_loser_of_a_same_name_race_says_the_same_line(tmp_path: Path) -> None:
    # a few hundred untracked files: each run's snapshot takes a moment between its
    # look at the name and its ref creation, so losers meet both paths
    files = {f"data/f{i:04d}.txt": f"{i}\n" for i in range(400)}
    root = make_repo(tmp_path / "r", {"wait.py": WAIT, "params.yaml": "lr: 0.1\n"})
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    flag = tmp_path / "flag"
    procs = [_start(root, flag) for _ in range(4)]
    deadline = time.monotonic() + 120
    while sum(p.poll() is not None for p in procs) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    flag.touch()
    done = [(p.wait(timeout=120), *p.communicate()) for p in procs]
    codes = sorted(code for code, _, _ in done)
    assert codes == [0, 2, 2, 2], [err for _, _, err in done]
    lost = [err.strip().splitlines()[-1] for code, _, err in done if code == 2]
    assert lost == [TAKEN] * 3
    assert run_json(root, "same")["status"] == "succeeded"
    assert git(root, "for-each-ref", "--format=%(refname)", "refs/experiments/") == (
        "refs/experiments/same\n"
    )


def test_a_name_the_look_misses_but_git_holds_says_the_same_line(tmp_path: Path) -> None:
    """A symbolic ref there (`git symbolic-ref`) is no experiment to the look, yet
    git refuses to create the ref over it: the reservation's path, deterministically."""
    root = make_repo(tmp_path / "r", {"params.yaml": "lr: 0.1\n"})
    git(root, "symbolic-ref", "refs/experiments/same", "refs/heads/main")
    proc = subprocess.run(
        [sys.executable, "-m", "gitexp", "run", "-n", "same", "--", "true"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == TAKEN
    assert git(root, "symbolic-ref", "refs/experiments/same") == "refs/heads/main\n"
