"""Git LFS: the script sees contents, experiments hold pointers, objects travel.

Real repositories with real git-lfs (`git lfs install --local`, `git lfs
track "*.bin"`), a 3 MB tracked data file, bare remotes over plain paths.
"""

from __future__ import annotations

import hashlib
import marshal
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import git, last_line, make_repo, run_gitexp, write_files
from run_support import exp_refs, metrics_json, show

from gitexp.gitstore.attributes import Attributes

pytestmark = pytest.mark.lfs

SIZE = 3_000_000
READ = """\
import hashlib, os, gitexp
data = open("data.bin", "rb").read()
digest = hashlib.sha256(data).hexdigest()
st = os.stat("data.bin")
print("seen", len(data), digest, os.getcwd(), st.st_ino, st.st_mtime_ns)
gitexp.log_metric("size", len(data))
gitexp.log_metric("sum", int(digest[:12], 16))
"""
REWRITE = """\
import random
with open("data.bin", "r+b") as f:  # in place, as a careless script would
    f.write(random.Random(7).randbytes(3_000_000))
open("made.bin", "wb").write(b"new lfs file " * 1000)
"""


def _content(seed: int) -> bytes:
    return random.Random(seed).randbytes(SIZE)


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def lfs_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repository tracking *.bin with LFS, data.bin (3 MB) committed; cwd is its root."""
    root = make_repo(tmp_path / "repo", {"read.py": READ, "rewrite.py": REWRITE})
    git(root, "lfs", "install", "--local")
    git(root, "lfs", "track", "*.bin")
    (root / "data.bin").write_bytes(_content(1))
    git(root, "add", ".gitattributes", "data.bin")
    git(root, "commit", "-q", "-m", "data in LFS")
    monkeypatch.chdir(root)
    return root


def _run(root: Path, name: str, script: str = "read.py", *extra: str, **kw: Any) -> list[str]:
    proc = run_gitexp("run", "-n", name, *extra, "--", sys.executable, script, cwd=root, **kw)
    assert proc.returncode == 0, proc.stderr
    seen = [
        ln for ln in show(root, name, ".gitexp/output.log").splitlines() if ln.startswith("seen")
    ]
    return seen[0].split() if seen else []


def _blob(root: Path, rev: str) -> str:
    return git(root, "rev-parse", rev).strip()


def _pointer(root: Path, rev: str) -> dict[str, str]:
    text = git(root, "cat-file", "-p", rev)
    assert text.startswith("version https://git-lfs.github.com/spec/v1\n"), text[:80]
    return dict(line.split(" ", 1) for line in text.splitlines())


def _stored(root: Path, oid: str) -> Path:
    return root / ".git" / "lfs" / "objects" / oid[:2] / oid[2:4] / oid


def test_the_script_reads_the_content_and_the_experiment_keeps_the_pointer(lfs_repo: Path) -> None:
    for name, extra in (("pooled", ()), ("fresh", ("--keep-run-dir",))):
        seen = _run(lfs_repo, name, "read.py", *extra)
        assert seen[1:3] == [str(SIZE), _digest(_content(1))]  # not the 132-byte pointer
        assert metrics_json(lfs_repo, name)["size"] == SIZE
        # the unchanged file is HEAD's pointer blob, exactly what `git add` stores
        assert _blob(lfs_repo, f"refs/experiments/{name}:data.bin") == _blob(
            lfs_repo, "HEAD:data.bin"
        )
    assert git(lfs_repo, "hash-object", "--path=data.bin", "data.bin").strip() == _blob(
        lfs_repo, "HEAD:data.bin"
    )


def test_a_modified_lfs_file_is_snapshotted_as_git_add_would(lfs_repo: Path) -> None:
    (lfs_repo / "data.bin").write_bytes(_content(2))  # uncommitted
    index_before = git(lfs_repo, "ls-files", "-s")
    seen = _run(lfs_repo, "modified")
    assert seen[1:3] == [str(SIZE), _digest(_content(2))]
    blob = _blob(lfs_repo, "refs/experiments/modified:data.bin")
    assert blob == git(lfs_repo, "hash-object", "--path=data.bin", "data.bin").strip()
    pointer = _pointer(lfs_repo, blob)
    assert pointer["size"] == str(SIZE)
    oid = pointer["oid"].removeprefix("sha256:")
    assert _stored(lfs_repo, oid).read_bytes() == _content(2)
    # the user's index and file are untouched
    assert git(lfs_repo, "ls-files", "-s") == index_before
    assert (lfs_repo / "data.bin").read_bytes() == _content(2)


def test_a_rewritten_lfs_file_is_recorded_as_a_pointer_and_the_next_run_sees_the_original(
    lfs_repo: Path,
) -> None:
    _run(lfs_repo, "rewrites", "rewrite.py")
    pointer = _pointer(lfs_repo, "refs/experiments/rewrites:data.bin")  # not a 3 MB blob
    oid = pointer["oid"].removeprefix("sha256:")
    assert _stored(lfs_repo, oid).read_bytes() == random.Random(7).randbytes(SIZE)
    made = _pointer(lfs_repo, "refs/experiments/rewrites:made.bin")  # a new LFS file too
    assert made["size"] == str(len(b"new lfs file " * 1000))
    # the same pooled run dir: the rewrite is undone, the original content is back
    second = _run(lfs_repo, "after")
    assert second[2] == _digest(_content(1))
    assert _blob(lfs_repo, "refs/experiments/after:data.bin") == _blob(lfs_repo, "HEAD:data.bin")
    assert "data.bin" not in _touched(Path(second[3]))  # recording saw the content unchanged
    third = _run(lfs_repo, "again")
    assert third[3] == second[3], "not the same reused run dir"
    assert third[4:6] == second[4:6]  # content already there: not copied again
    assert "data.bin" not in _touched(Path(third[3]))


def _touched(slot: Path) -> list[str]:
    """What the slot's last run changed, as the pool remembers it (gitexp/running/workdirs.py)."""
    paths, _ = marshal.loads(slot.with_suffix(".dirty").read_bytes())
    return list(paths)


def test_a_worktree_uses_the_shared_lfs_store(lfs_repo: Path, tmp_path: Path) -> None:
    other = tmp_path / "other-worktree"
    git(lfs_repo, "worktree", "add", "-q", str(other))
    (other / "data.bin").write_bytes(_content(5))
    seen = _run(other, "from-worktree")
    assert seen[2] == _digest(_content(5))
    pointer = _pointer(lfs_repo, "refs/experiments/from-worktree:data.bin")
    assert _stored(lfs_repo, pointer["oid"].removeprefix("sha256:")).is_file()


def _remote(tmp_path: Path, root: Path) -> Path:
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(remote))
    git(root, "remote", "add", "origin", str(remote))  # a plain path, as many set it
    git(root, "push", "-q", "origin", "main")  # the LFS pre-push hook sends HEAD's objects
    return remote


def _remote_objects(remote: Path) -> set[str]:
    return {p.name for p in (remote / "lfs" / "objects").rglob("*") if p.is_file()}


@pytest.mark.slow
def test_push_clone_pull_and_reproduce_with_lfs_objects(lfs_repo: Path, tmp_path: Path) -> None:
    remote = _remote(tmp_path, lfs_repo)
    (lfs_repo / "data.bin").write_bytes(_content(3))
    _run(lfs_repo, "shared")
    oid = _pointer(lfs_repo, "refs/experiments/shared:data.bin")["oid"].removeprefix("sha256:")
    (lfs_repo / ".git" / "hooks" / "pre-push").unlink()  # gitexp pushes LFS objects itself
    proc = run_gitexp("push", "origin", "shared", cwd=lfs_repo)
    assert proc.returncode == 0, proc.stderr
    assert oid in _remote_objects(remote)

    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(remote), str(clone))  # no LFS config: pointers checked out
    assert run_gitexp("pull", "origin", cwd=clone).returncode == 0
    assert _stored(clone, oid).read_bytes() == _content(3)
    done = run_gitexp("reproduce", "shared", cwd=clone)
    assert done.returncode == 0, done.stderr + done.stdout
    assert metrics_json(lfs_repo, "shared")["size"] == SIZE  # compared: contents, not pointers

    bare = tmp_path / "refs-only"  # plain `git fetch`: no LFS object at all
    git(tmp_path, "clone", "-q", str(remote), str(bare))
    git(bare, "fetch", "-q", "origin", "refs/experiments/*:refs/experiments/*")
    assert not _stored(bare, oid).exists()
    done = run_gitexp("reproduce", "shared", cwd=bare)
    assert done.returncode == 0, done.stderr + done.stdout
    assert _stored(bare, oid).read_bytes() == _content(3)


def test_push_to_a_plain_path_with_the_lfs_hook_installed(lfs_repo: Path, tmp_path: Path) -> None:
    """git-lfs's own pre-push hook fails for a remote given as a path that is no
    configured remote; gitexp sends the objects itself and tells the hook to skip."""
    assert (lfs_repo / ".git" / "hooks" / "pre-push").is_file()
    other = tmp_path / "other.git"
    git(tmp_path, "init", "-q", "--bare", str(other))
    _run(lfs_repo, "rewrote", "rewrite.py")
    oid = _pointer(lfs_repo, "refs/experiments/rewrote:data.bin")["oid"].removeprefix("sha256:")
    proc = run_gitexp("push", str(other), "--all", cwd=lfs_repo)
    assert proc.returncode == 0, proc.stderr
    assert oid in _remote_objects(other)
    assert "rewrote" in exp_refs(other)


def test_a_missing_object_is_fetched_when_the_run_dir_is_written(
    lfs_repo: Path, tmp_path: Path
) -> None:
    remote = _remote(tmp_path, lfs_repo)
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(remote), str(clone))
    assert (clone / "data.bin").stat().st_size < 200  # a pointer, and no object here
    seen = _run(clone, "fetched")  # git-lfs smudge fetches it from origin
    assert seen[2] == _digest(_content(1))


def _path_without_lfs(tmp_path: Path) -> dict[str, str]:
    """A PATH with git (and python) but no git-lfs."""
    bin_dir = tmp_path / "bin-no-lfs"
    bin_dir.mkdir()
    for tool in ("git",):
        found = [d for d in os.environ["PATH"].split(os.pathsep) if (Path(d) / tool).exists()]
        (bin_dir / tool).symlink_to(Path(found[0]) / tool)
    return {"PATH": str(bin_dir)}


def test_without_git_lfs_one_clear_line_and_no_pointer_for_the_script(
    lfs_repo: Path, tmp_path: Path
) -> None:
    env = _path_without_lfs(tmp_path)
    for name in ("unchanged", "modified"):
        if name == "modified":
            (lfs_repo / "data.bin").write_bytes(_content(4))
        proc = run_gitexp("run", "-n", name, "--", sys.executable, "read.py", env=env)
        assert proc.returncode == 1
        assert last_line(proc.stderr) == (
            "gitexp: error: data.bin is tracked by Git LFS but git-lfs is not installed "
            "(hint: install git-lfs (apt-get install git-lfs, brew install git-lfs) and try again)"
        )
        assert "seen" not in proc.stdout + proc.stderr


def test_a_repository_without_lfs_attributes_never_needs_git_lfs(
    git_repo: Path, tmp_path: Path
) -> None:
    write_files(
        git_repo,
        {".gitattributes": "*.bin binary\n", "w.py": "open('out.bin', 'wb').write(b'x' * 5000)\n"},
    )
    git(git_repo, "add", ".gitattributes")
    git(git_repo, "commit", "-q", "-m", "attributes, no LFS")
    env = _path_without_lfs(tmp_path)
    proc = run_gitexp("run", "-n", "plain", "--", sys.executable, "w.py", env=env)
    assert proc.returncode == 0, proc.stderr
    assert show(git_repo, "plain", "out.bin") == "x" * 5000  # a plain blob


CHECKED = [
    "x.bin", "data/sub/q.txt", "data/q", "top.pt", "a/top.pt", "w/weights/m.ckpt",
    "weights/m.ckpt", "w/weights/d/m.ckpt", "my file.bin", "my_file.bin", "a/z.dat",
    "a/b/c/z.dat", "a/q/z.dat", "keep.bin", "sub/keep.bin", "bx.h5", "dx.h5", "sub/ax.h5",
    "quoted name.pkl", "quoted_name.pkl", "models/x/y", "a/t.txt", "t.txt", "a/not.bin",
    "a/b/c/q.txt", "x.BIN",
]  # fmt: skip


def test_attribute_matching_agrees_with_git_check_attr(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "attrs")
    files = {
        ".gitattributes": (
            "*.bin filter=lfs diff=lfs merge=lfs -text\n# a comment\ndata/** filter=lfs\n"
            "/top.pt filter=lfs\n**/weights/*.ckpt filter=lfs\nmy[[:space:]]file.bin filter=lfs\n"
            "a/**/z.dat filter=lfs\nkeep.bin -filter\n[a-c]x.h5 filter=lfs\n"
            '"quoted name.pkl" filter=lfs\nmodels/ filter=lfs\n'
        ),
        "a/.gitattributes": "*.txt\tfilter=lfs\nnot.bin !filter\n",
        "a/b/.gitattributes": "z.dat -filter\n",
    }
    write_files(root, files)
    out = subprocess.run(
        ["git", "check-attr", "--stdin", "filter"],
        cwd=root,
        input="\n".join(CHECKED) + "\n",
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    expected = {}
    for line in out.splitlines():
        path, _, value = line.rpartition(": filter: ")
        expected[path] = value if value not in ("unspecified", "unset", "set") else None

    def read(folder: str) -> bytes | None:
        path = root / folder / ".gitattributes"
        return path.read_bytes() if path.is_file() else None

    attrs = Attributes("filter", read, None, "lfs")
    assert {p: attrs.value(p) for p in CHECKED} == expected
    assert expected["x.bin"] == "lfs" and expected["keep.bin"] is None  # a real mix


def test_apply_writes_the_content_not_the_pointer(lfs_repo: Path) -> None:
    (lfs_repo / "data.bin").write_bytes(_content(3))
    _run(lfs_repo, "three")
    git(lfs_repo, "checkout", "--", "data.bin")  # back to HEAD's content
    assert (lfs_repo / "data.bin").read_bytes() == _content(1)
    proc = run_gitexp("apply", "three")
    assert proc.returncode == 0, proc.stderr
    assert (lfs_repo / "data.bin").read_bytes() == _content(3)  # 3 MB, not 132 bytes
    again = run_gitexp("apply", "three", "--force")  # the same content: nothing to write
    assert again.returncode == 0, again.stderr
    assert "0 written" in again.stdout + again.stderr


def test_a_large_new_file_that_lfs_tracks_stays_with_lfs(lfs_repo: Path) -> None:
    (lfs_repo / "big.bin").write_bytes(random.Random(9).randbytes(6 * 2**20))  # > 5 MB
    _run(lfs_repo, "big")  # not refused as a large untracked file: LFS takes it
    blob = _blob(lfs_repo, "refs/experiments/big:big.bin")
    assert _pointer(lfs_repo, blob)["size"] == str(6 * 2**20)


def test_the_notebook_api_reads_an_lfs_file_as_its_content(lfs_repo: Path) -> None:
    import gitexp

    _run(lfs_repo, "nb")
    assert gitexp.load("nb", repo=lfs_repo).read("data.bin") == _content(1)
