"""Who ran an experiment: `show NAME` and its JSON name the experiment commit's author,
also in a colleague's clone after push and pull (found by the fourth team trial)."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import git, make_repo, run_gitexp

ANA = {"GIT_AUTHOR_NAME": "Ana Lyst", "GIT_AUTHOR_EMAIL": "ana@example.org"}


def ok(*args: str, cwd: Path, env: dict[str, str] | None = None) -> str:
    proc = run_gitexp(*args, cwd=cwd, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_show_name_says_who_ran_it_in_every_clone(tmp_path: Path) -> None:
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(remote))
    ana = make_repo(tmp_path / "ana", {"train.py": "print('acc: 0.5')\n"})
    git(ana, "remote", "add", "origin", remote.as_uri())
    git(ana, "push", "-q", "origin", "main")
    ok("run", "-q", "-n", "hers", "--", "python", "train.py", cwd=ana, env=ANA)
    ok("push", "origin", "--all", cwd=ana)
    bo = tmp_path / "bo"
    git(tmp_path, "clone", "-q", remote.as_uri(), str(bo))
    ok("pull", "origin", cwd=bo)
    ok("run", "-q", "-n", "his", "--", "python", "train.py", cwd=bo)  # the fixture's identity
    for clone in (ana, bo):
        record = json.loads(ok("show", "hers", "--format", "json", cwd=clone))
        assert record["author"] == "Ana Lyst <ana@example.org>"
        header = ok("show", "hers", cwd=clone).splitlines()[:8]
        assert any(
            line.split() == ["author", "Ana", "Lyst", "<ana@example.org>"] for line in header
        )
    his = json.loads(ok("show", "his", "--format", "json", cwd=bo))["author"]
    assert his == git(bo, "log", "-1", "--format=%an <%ae>", "refs/experiments/his").strip()
    assert "Ana" not in his
