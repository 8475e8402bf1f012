"""The pre-push hook: a plain `git push` of experiment refs sends their DVC artifacts;
an existing hook is chained (kept as .legacy, run first, restored on uninstall)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from conftest import git, last_line, run_gitexp
from run_support import exp_refs, run_json
from sharing_support import make_world, ok, store_files

pytestmark = pytest.mark.dvc  # conftest: skip, or fail under GITEXP_REQUIRE_DVC=1


LEGACY = """\
#!/bin/sh
echo "legacy $1" >> "{log}"
cat >> "{log}"
exit {code}
"""


def test_plain_git_push_sends_artifacts_through_the_hook(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    ok("hooks", "install", cwd=world.a)
    ok("run", "-n", "hooked", cwd=world.a)
    [model] = [r for r in run_json(world.a, "hooked")["artifacts"] if r["path"] == "model.bin"]
    assert model["md5"] not in store_files(world.store)

    proc = git_push(world.a, "refs/experiments/hooked:refs/experiments/hooked")
    assert proc.returncode == 0, proc.stderr
    assert "gitexp: pushed" in proc.stderr
    assert model["md5"] in store_files(world.store)
    assert exp_refs(world.remote).keys() == {"hooked"}


@pytest.mark.slow
def test_existing_hook_is_chained_and_restored(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    hooks = world.a / ".git" / "hooks"
    log = tmp_path / "legacy.log"
    (hooks / "pre-push").write_text(LEGACY.format(log=log, code=0))
    (hooks / "pre-push").chmod(0o755)

    out = ok("hooks", "install", cwd=world.a)
    assert "pre-push.legacy" in out
    assert (hooks / "pre-push.legacy").read_text() == LEGACY.format(log=log, code=0)
    ok("run", "-n", "chained", cwd=world.a)
    assert git_push(world.a, "refs/experiments/chained:refs/experiments/chained").returncode == 0
    lines = log.read_text().splitlines()
    assert lines[0] == "legacy origin"
    assert lines[1].startswith("refs/experiments/chained ")  # the hook's stdin reached it
    assert store_files(world.store)  # and gitexp's part ran too

    # a failing user hook still stops the push
    (hooks / "pre-push.legacy").write_text(LEGACY.format(log=log, code=1))
    ok("run", "-n", "blocked", cwd=world.a)
    assert git_push(world.a, "refs/experiments/blocked:refs/experiments/blocked").returncode != 0
    assert "blocked" not in exp_refs(world.remote)

    ok("hooks", "install", cwd=world.a)  # re-install: updates, keeps the legacy hook
    assert (hooks / "pre-push.legacy").exists()
    ok("hooks", "uninstall", cwd=world.a)
    assert (hooks / "pre-push").read_text() == LEGACY.format(log=log, code=1)
    assert not (hooks / "pre-push.legacy").exists()


def test_uninstall_refuses_a_foreign_hook(git_repo: Path) -> None:
    hook = git_repo / ".git" / "hooks" / "pre-push"
    hook.write_text("#!/bin/sh\nexit 0\n")
    proc = run_gitexp("hooks", "uninstall", cwd=git_repo)
    assert proc.returncode == 2
    assert last_line(proc.stderr) == f"gitexp: error: {hook} is not gitexp's hook; left as is"
    assert hook.read_text() == "#!/bin/sh\nexit 0\n"


def test_hook_ships_as_package_data_and_top_level_link_points_to_it() -> None:
    root = Path(__file__).resolve().parents[1]
    link = root / "hooks" / "pre-push"
    assert link.is_symlink() and not os.path.isabs(os.readlink(link))
    assert link.resolve() == (root / "gitexp" / "data" / "hooks" / "pre-push").resolve()
    from gitexp.sharing.githooks import MARKER, script

    text = script()
    assert MARKER in text and "@INSTALL_PYTHON@" not in text


def test_hook_ignores_pushes_without_experiments(git_repo: Path, tmp_path: Path) -> None:
    remote = tmp_path / "plain.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    ok("hooks", "install", cwd=git_repo)
    proc = subprocess_push(git_repo, remote.as_uri(), "main")
    assert proc.returncode == 0, proc.stderr
    assert "gitexp" not in proc.stderr


def git_push(root: Path, refspec: str) -> subprocess.CompletedProcess[str]:
    return subprocess_push(root, "origin", refspec)


def subprocess_push(root: Path, remote: str, refspec: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "push", remote, refspec], cwd=root, capture_output=True, text=True, check=False
    )
