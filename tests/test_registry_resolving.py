"""Two clones registered the same version: the way out (gitexp/registry/resolving.py).

`gitexp model pull MODEL --take-remote` replaces the local tags that differ on
the remote with the remote's, drops the local tags that needed them, keeps
every one of them under refs/gitexp/dropped-tags/, and says the exact command
that registers the local experiment again as the next version. The conflict
line of push and pull, and register's "already has version" hint, name that
command. Real clones of a bare remote, the real `gitexp` CLI; models are small
files stored in git.
"""

from __future__ import annotations

from pathlib import Path

from conftest import git, last_line, run_gitexp
from sharing_support import ok
from test_registry_push import clone, registered, remote_tags, world

WAY_OUT = "`gitexp model pull toy --remote origin --take-remote` takes origin's"


def split(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A registered exp1 as toy@v0.0.1, promoted it to prod and pushed; B registered
    its own run `other` as v0.0.1 and promoted it too, before pulling."""
    remote, a = world(tmp_path)
    b = clone(remote, "b")
    registered(a, "exp1")
    ok("model", "promote", "toy", "v0.0.1", "--stage", "prod", cwd=a)
    ok("push", "origin", "--all", cwd=a)
    registered(b, "other")
    ok("model", "promote", "toy", "v0.0.1", "--stage", "prod", cwd=b)
    return remote, a, b


def sha(root: Path, rev: str) -> str:
    return git(root, "rev-parse", rev).strip()


def test_take_remote_ends_the_split_and_the_run_registers_again(tmp_path: Path) -> None:
    remote, a, b = split(tmp_path)
    pulled = run_gitexp("pull", "origin", cwd=b)
    assert pulled.returncode == 1
    assert f"on origin; left as is ({WAY_OUT})" in pulled.stderr
    again = run_gitexp("model", "register", "toy", "--from", "other", "--path", "model.txt", cwd=b)
    assert again.returncode == 2
    assert "`gitexp model pull toy --take-remote` drops it here, then `gitexp model register " in (
        last_line(again.stderr)
    )
    mine = sha(b, "refs/tags/toy@v0.0.1")

    out = ok("model", "pull", "toy", "--take-remote", cwd=b)
    assert "replaced toy@v0.0.1 with origin's (yours: refs/gitexp/dropped-tags/toy@v0.0.1)" in out
    command = "gitexp model register toy --from other --path model.txt --bump patch"
    assert f"register other again with: {command}" in out
    for tag in ("toy@v0.0.1", "toy#prod#1"):
        assert sha(b, f"refs/tags/{tag}") == sha(remote, f"refs/tags/{tag}")
    assert sha(b, "refs/gitexp/dropped-tags/toy@v0.0.1") == mine  # nothing lost

    ok("model", "register", "toy", "--from", "other", "--bump", "patch", cwd=b)  # no --path
    ok("model", "promote", "toy", "v0.0.2", "--stage", "prod", cwd=b)
    for verb in ("push", "pull", "push"):  # no exit 1 ever after
        assert "conflict" not in ok(verb, "origin", *(["--all"] if verb == "push" else []), cwd=b)
    ok("pull", "origin", cwd=a)
    ok("model", "get", "toy", "--stage", "prod", "-o", "got.txt", cwd=a)
    assert (a / "got.txt").read_text() == "model of other"
    assert "toy@v0.0.2" in remote_tags(remote)


def test_without_take_remote_only_new_tags_come_and_the_conflict_is_said(
    tmp_path: Path,
) -> None:
    remote, _, b = split(tmp_path)
    ok("model", "promote", "toy", "v0.0.1", "--stage", "staging", cwd=b)  # toy#staging#2, here
    before = sorted(git(b, "tag", "-l").split())

    proc = run_gitexp("model", "pull", "toy", cwd=b)
    assert proc.returncode == 1
    line = f"gitexp: conflict: model tag toy@v0.0.1 differs on origin; {WAY_OUT}"
    assert line in proc.stderr.splitlines()
    assert sorted(git(b, "tag", "-l").split()) == before  # nothing replaced

    out = ok("model", "pull", "toy", "--take-remote", cwd=b)
    assert "dropped toy#staging#2: it needed a replaced version" in out
    assert sorted(git(b, "tag", "-l").split()) == remote_tags(remote)
    assert sha(b, "refs/gitexp/dropped-tags/toy#staging#2")  # kept aside, not a tag
    nope = run_gitexp("model", "pull", "toy", "--remote", "orgin", cwd=b)
    assert nope.returncode == 2
    assert last_line(nope.stderr).startswith("gitexp: error: no git remote named 'orgin'")
