"""Experiments from a remote are untrusted: trees git would never check out are refused.

`git fetch` does not check objects, so a colleague's (or an attacker's)
remote can serve an experiment whose tree holds ``..``, ``.git/hooks/...``,
a symlink followed by a folder of the same name, and so on. Each evil commit
here is built with pygit2 writing raw tree objects (TreeBuilder refuses these
names), pushed with real `git push` to a real bare remote, pulled with
`gitexp pull` into a clean clone, and then applied / reproduced: the command
must exit 2 with one line naming the path, and write nothing anywhere.
A NUL byte cannot be put in a tree entry name at all (it ends the name in
git's format), and libgit2 cannot even parse a tree with an empty name, so
neither has a case here (the name rule refuses both all the same).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import pygit2
import pytest
from conftest import git, last_line, make_repo, run_gitexp
from run_support import repo_state

from gitexp.gitstore.treewalk import LinkInTheWayError, SafeDir, unsafe_name, unsafe_path

TRAIN = """\
import gitexp
gitexp.log_metric("acc", 1.0)
print("trained")
open("result.txt", "w").write("done")
"""
GITEXP_YAML = "command: python train.py\n"
HOOK = b"#!/bin/sh\ntouch hook-ran\n"
Raw = list[tuple[int, bytes, pygit2.Oid]]  # (mode, name, object) of one raw tree entry


@dataclass(frozen=True)
class Share:
    """A bare remote, the author's clone ``a`` with experiment ``good``, and
    ``outside``: a folder next to the clones that nothing may write into."""

    tmp: Path
    remote: Path
    a: Path
    outside: Path

    def clone(self, name: str = "b") -> Path:
        target = self.tmp / name
        git(self.tmp, "clone", "-q", self.remote.as_uri(), str(target))
        return target


@pytest.fixture
def share(tmp_path: Path) -> Share:
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(remote))
    a = make_repo(tmp_path / "a", {"train.py": TRAIN, "gitexp.yaml": GITEXP_YAML})
    git(a, "remote", "add", "origin", remote.as_uri())
    git(a, "push", "-q", "origin", "main")
    proc = run_gitexp("run", "--name", "good", cwd=a)
    assert proc.returncode == 0, proc.stderr
    git(a, "push", "-q", "origin", "refs/experiments/good:refs/experiments/good")
    outside = tmp_path / "outside"
    outside.mkdir()
    return Share(tmp_path, remote, a, outside)


def raw_tree(repo: pygit2.Repository, entries: Raw) -> pygit2.Oid:
    """A tree object written byte by byte: no name is checked, duplicates are kept
    (entries sorted as git sorts them, so lookups by path still work)."""
    ordered = sorted(entries, key=lambda e: e[1] + (b"/" if e[0] == 0o40000 else b""))
    data = b"".join(b"%o %s\0" % (mode, name) + oid.raw for mode, name, oid in ordered)
    return repo.odb.write(pygit2.enums.ObjectType.TREE, data)


def entries_of(tree: pygit2.Tree) -> Raw:
    return [(int(e.filemode), e.raw_name, e.id) for e in tree]


def blob(repo: pygit2.Repository, data: bytes) -> pygit2.Oid:
    return repo.create_blob(data)


def nested(repo: pygit2.Repository, names: list[bytes], leaf: bytes, data: bytes) -> Raw:
    """One top-level entry: folders ``names`` holding an executable file ``leaf``."""
    entry: tuple[int, bytes, pygit2.Oid] = (0o100755, leaf, blob(repo, data))
    for name in reversed(names):
        entry = (0o40000, name, raw_tree(repo, [entry]))
    return [entry]


def craft(share: Share, name: str, extra: Raw, run: dict[str, object] | None = None) -> str:
    """Experiment ``name``: a copy of ``good`` with raw entries added to its top tree
    (and run.json fields replaced), pushed to the remote with plain `git push`."""
    repo = pygit2.Repository(str(share.a))
    good = repo.revparse_single("refs/experiments/good").peel(pygit2.Commit)
    top = entries_of(good.tree)
    if run is not None:
        meta = good.tree[".gitexp"].peel(pygit2.Tree)
        record = json.loads(meta["run.json"].peel(pygit2.Blob).data)
        record.update(run, name=name)
        files = [e for e in entries_of(meta) if e[1] != b"run.json"]
        files.append((0o100644, b"run.json", blob(repo, json.dumps(record).encode())))
        top = [e for e in top if e[1] != b".gitexp"] + [
            (0o40000, b".gitexp", raw_tree(repo, files))
        ]
    tree = raw_tree(repo, top + extra)
    sig = pygit2.Signature("Mallory", "mallory@example.com")
    commit = repo.create_commit(None, sig, sig, f"gitexp: {name}", tree, [good.parents[0].id])
    ref = f"refs/experiments/{name}"
    repo.references.create(ref, commit, force=True)
    git(share.a, "push", "-q", "origin", f"{ref}:{ref}")
    return str(commit)


def pulled(share: Share) -> Path:
    """A fresh clone that pulled every experiment of the remote with gitexp."""
    b = share.clone()
    proc = run_gitexp("pull", "origin", cwd=b)
    assert proc.returncode == 0, proc.stderr
    return b


def refs(root: Path) -> str:
    return git(root, "for-each-ref", "--format=%(refname) %(objectname)")


def listing(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))


def assert_refused(args: list[str], cwd: Path, expected: str, share: Share) -> None:
    """Exit 2, exactly ``expected`` as the last line, and nothing written anywhere."""
    before, hooks = repo_state(cwd), listing(cwd / ".git" / "hooks")
    tmp, refs_before = sorted(os.listdir(share.tmp)), refs(cwd)
    proc = run_gitexp(*args, cwd=cwd)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert last_line(proc.stderr) == expected
    assert repo_state(cwd) == before
    assert listing(cwd / ".git" / "hooks") == hooks
    assert listing(share.outside) == []
    assert not (share.tmp / "evil.txt").exists()
    assert sorted(os.listdir(share.tmp)) == tmp  # where '..' of the work tree points
    assert refs(cwd) == refs_before  # other experiments intact
    git(cwd, "checkout", "-q", "-b", "after")  # a planted post-checkout hook would run here
    assert not (cwd / "hook-ran").exists()
    git(cwd, "checkout", "-q", "main")
    git(cwd, "branch", "-q", "-D", "after")


def unsafe(name: str, path: str) -> str:
    owner = f"experiment {name!r}"
    return f"gitexp: error: {owner} holds an unsafe path {path!r} (refused; nothing was written)"


EVIL = {
    # name: (top-level raw entries built from the repo, the path the error names)
    "dotdot": (lambda r: nested(r, [b".."], b"evil.txt", b"x"), ".."),
    "dotdot-deep": (lambda r: nested(r, [b"sub", b".."], b"evil.txt", b"x"), "sub/.."),
    "hook": (lambda r: nested(r, [b".git", b"hooks"], b"post-checkout", HOOK), ".git"),
    "hook-upper": (lambda r: nested(r, [b".GIT", b"hooks"], b"x", HOOK), ".GIT"),
    "hook-space": (lambda r: nested(r, [b".git ", b"hooks"], b"post-checkout", HOOK), ".git "),
    "hook-dots": (lambda r: nested(r, [b".git..", b"hooks"], b"post-checkout", HOOK), ".git.."),
    "hook-ntfs": (lambda r: nested(r, [b"GIT~1", b"hooks"], b"post-checkout", HOOK), "GIT~1"),
    "hook-nested": (lambda r: nested(r, [b"src", b".git", b"hooks"], b"x", HOOK), "src/.git"),
    "backslash": (lambda r: nested(r, [], b"..\\evil.txt", b"x"), "..\\evil.txt"),
    "control": (lambda r: nested(r, [], b"bad\x01name", b"x"), "bad\x01name"),
    "newline": (lambda r: nested(r, [], b"two\nlines", b"x"), "two\nlines"),
    "dot": (lambda r: nested(r, [b"."], b"evil.txt", b"x"), "."),
}


@pytest.mark.parametrize("case", sorted(EVIL))
def test_apply_refuses_an_unsafe_tree_and_writes_nothing(share: Share, case: str) -> None:
    build, path = EVIL[case]
    craft(share, "evil", build(pygit2.Repository(str(share.a))))
    b = pulled(share)
    assert_refused(["apply", "evil"], b, unsafe("evil", path), share)
    assert_refused(["apply", "evil", "--force"], b, unsafe("evil", path), share)


def test_absolute_name_and_slash_in_a_name_are_refused(share: Share) -> None:
    repo = pygit2.Repository(str(share.a))
    target = str(share.outside / "abs.txt")
    craft(share, "abs", nested(repo, [], target.encode(), b"x"))
    craft(share, "slash", nested(repo, [], b"sub/../../evil.txt", b"x"))
    b = pulled(share)
    assert_refused(["apply", "abs"], b, unsafe("abs", target), share)
    assert_refused(["apply", "slash"], b, unsafe("slash", "sub/../../evil.txt"), share)


def symlink_then_folder(share: Share) -> Raw:
    """``out -> <outside>`` and then a folder ``out/`` holding ``file``: duplicate names."""
    repo = pygit2.Repository(str(share.a))
    link = (0o120000, b"out", blob(repo, str(share.outside).encode()))
    return [link, *nested(repo, [b"out"], b"file", b"through the link")]


def test_symlink_then_file_of_the_same_name_is_refused(share: Share) -> None:
    craft(share, "through", symlink_then_folder(share))
    b = pulled(share)
    assert_refused(["apply", "through"], b, unsafe("through", "out"), share)


def test_reproduce_refuses_an_unsafe_tree_and_runs_nothing(share: Share) -> None:
    repo = pygit2.Repository(str(share.a))
    craft(share, "evil", nested(repo, [b".git", b"hooks"], b"post-checkout", HOOK))
    craft(share, "up", nested(repo, [b".."], b"evil.txt", b"x"))
    b = pulled(share)
    refs_before = refs(b)
    for name, path in (("evil", ".git"), ("up", "..")):
        proc = run_gitexp("reproduce", name, cwd=b)
        assert proc.returncode == 2, proc.stderr
        assert last_line(proc.stderr) in {
            unsafe(name, path),
            f"gitexp: error: the tree holds an unsafe path {path!r} (refused; nothing was written)",
        }
        assert "trained" not in proc.stdout  # the command never ran
    assert listing(share.outside) == []
    assert not (b / "result.txt").exists() and not (share.tmp / "evil.txt").exists()
    assert refs(b) == refs_before  # no rerun left behind
    git(b, "checkout", "-q", "-b", "after")
    assert not (b / "hook-ran").exists()
    assert run_gitexp("reproduce", "good", cwd=b).returncode == 0  # the honest one still runs


def test_artifact_path_from_run_json_is_refused_before_anything_is_fetched(share: Share) -> None:
    record = {"path": "../../x", "md5": "0" * 32, "size": 1, "reason": "logged"}
    craft(share, "loot", [], run={"artifacts": [record]})
    b = pulled(share)
    out = share.tmp / "out" / "deep"
    proc = run_gitexp("artifacts", "pull", "loot", "--out", str(out), cwd=b)
    assert proc.returncode == 2, proc.stderr
    assert last_line(proc.stderr) == (
        "gitexp: error: experiment 'loot' holds an unsafe artifact path '../../x' "
        "(refused; nothing was written)"
    )
    assert not out.exists() and not (share.tmp / "x").exists()


def put_in_cache(cache: Path, data: bytes, suffix: str = "") -> str:
    """Store ``data`` as a DVC 3 object (files/md5/ab/cdef...) and return its id."""
    md5_id = hashlib.md5(data).hexdigest() + suffix
    path = cache / "files" / "md5" / md5_id[:2] / md5_id[2:]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return md5_id


def dvc_pointer(repo: pygit2.Repository, md5_id: str, path: str) -> Raw:
    text = f"outs:\n- md5: {md5_id}\n  path: {path}\n  hash: md5\n"
    return [(0o100644, b"data.dvc", blob(repo, text.encode()))]


@pytest.mark.parametrize("folder", [False, True], ids=["file", "folder-manifest"])
def test_dvc_input_paths_are_refused_before_anything_is_linked(share: Share, folder: bool) -> None:
    """A `.dvc` file's output path (or a relpath in a DVC folder manifest, `.dir`)
    that leaves the run dir: the input is never linked, the command never runs."""
    b = share.clone()
    cache = b / ".dvc" / "cache"  # the victim's own cache already holds the objects
    obj = put_in_cache(cache, b"secret data")
    if folder:
        manifest = json.dumps([{"md5": obj, "relpath": "../../../evil-link"}]).encode()
        obj = put_in_cache(cache, manifest, ".dir")
    path, bad = ("data", "data/../../../evil-link") if folder else ("../../evil-link",) * 2
    craft(share, "inputs", dvc_pointer(pygit2.Repository(str(share.a)), obj, path))
    assert run_gitexp("pull", "origin", cwd=b).returncode == 0
    runs = share.tmp / "runs"
    runs.mkdir()
    env = {"GITEXP_RUN_ROOT": str(runs)}  # a run dir two levels below share.tmp
    refs_before = refs(b)
    proc = run_gitexp("reproduce", "inputs", cwd=b, env=env)
    assert proc.returncode == 2, proc.stderr
    assert last_line(proc.stderr) in {
        f"gitexp: error: {owner} holds an unsafe DVC output path {bad!r} "
        "(refused; nothing was written)"
        for owner in ("experiment 'inputs'", "the tree")
    }
    assert "trained" not in proc.stdout
    assert not os.path.lexists(share.tmp / "evil-link")
    assert refs(b) == refs_before


@pytest.mark.dvc
def test_artifact_folder_manifest_relpath_is_refused(share: Share) -> None:
    """A `.dir` manifest fetched from the DVC remote names ``../../x``: refused on checkout."""
    store = share.tmp / "dvc-store"
    obj = put_in_cache(store, b"payload")
    manifest = json.dumps([{"md5": obj, "relpath": "../../x"}]).encode()
    top = put_in_cache(store, manifest, ".dir")
    record = {"path": "model", "md5": top, "size": 7, "nfiles": 1, "reason": "logged"}
    craft(share, "loot", [], run={"artifacts": [record]})
    b = pulled(share)
    proc = run_gitexp("init", "--no-hooks", "--dvc", "--dvc-remote", str(store), cwd=b)
    assert proc.returncode == 0, proc.stderr
    out = share.tmp / "out" / "deep"
    proc = run_gitexp("artifacts", "pull", "loot", "--out", str(out), cwd=b)
    assert proc.returncode == 2, proc.stderr
    assert last_line(proc.stderr) == (
        "gitexp: error: experiment 'loot' holds an unsafe artifact path 'model/../../x' "
        "(refused; nothing was written)"
    )
    assert not (share.tmp / "out" / "x").exists()
    assert listing(out) == [] if out.exists() else True


def test_invalid_ref_names_on_the_remote_are_ignored_with_a_warning(share: Share) -> None:
    good = git(share.a, "rev-parse", "refs/experiments/good").strip()
    for bad in ("bad$(id)", "_hidden", "-rf"):
        git(share.a, "push", "-q", "origin", f"{good}:refs/experiments/{bad}")
    b = share.clone()
    proc = run_gitexp("pull", "origin", cwd=b)
    assert proc.returncode == 0, proc.stderr
    warnings = [ln for ln in proc.stderr.splitlines() if "warning" in ln]
    assert warnings == [
        f"gitexp: warning: ignoring invalid experiment ref on origin: refs/experiments/{bad}"
        for bad in ("-rf", "_hidden", "bad$(id)")
    ]
    assert last_line(proc.stderr) == "gitexp: pulled 1 experiment(s) from origin, 0 up to date"
    assert git(b, "for-each-ref", "--format=%(refname)", "refs/experiments/") == (
        "refs/experiments/good\n"
    )
    proc = run_gitexp("pull", "origin", "_hidden", cwd=b)
    assert proc.returncode == 2
    assert last_line(proc.stderr) == (
        "gitexp: error: refusing refs/experiments/_hidden on origin: not a valid experiment "
        "name (hint: gitexp never makes such a name; ask whoever pushed it to remove it)"
    )
    assert git(b, "for-each-ref", "refs/experiments/_hidden") == ""
    remote_refs = git(share.remote, "for-each-ref", "refs/experiments/")
    proc = run_gitexp("push", "origin", "--all", "--no-artifacts", cwd=b)
    assert proc.returncode == 0, proc.stderr
    # pushing never lists the remote's refs (one git push), so it neither warns
    # about nor touches the remote's invalid names
    assert [ln for ln in proc.stderr.splitlines() if "warning" in ln] == []
    assert git(share.remote, "for-each-ref", "refs/experiments/") == remote_refs


def test_apply_never_writes_through_a_symlink_in_the_work_tree(share: Share) -> None:
    (share.a / "out").mkdir()
    (share.a / "out" / "file.txt").write_text("from the experiment")
    assert run_gitexp("run", "--name", "folder", cwd=share.a).returncode == 0
    git(share.a, "push", "-q", "origin", "refs/experiments/folder:refs/experiments/folder")
    b = pulled(share)
    os.symlink(share.outside, b / "out")  # the user's own (untracked) link
    expected = (
        "gitexp: error: refusing to apply 'folder': 'out' is a symbolic link in the work tree "
        "and the experiment has a folder there (nothing was written) "
        "(hint: move 'out' out of the way first)"
    )
    assert_refused(["apply", "folder"], b, expected, share)
    assert_refused(["apply", "folder", "--force"], b, expected, share)
    (b / "out").unlink()
    assert run_gitexp("apply", "folder", cwd=b).returncode == 0
    assert (b / "out" / "file.txt").read_text() == "from the experiment"


def test_a_normal_tree_with_symlinks_still_materializes(share: Share) -> None:
    """A link to a file inside the tree and a link to an absolute outside path are
    written as links (never written through) by apply and by reproduce."""
    (share.a / "data.txt").write_text("inside")
    os.symlink("data.txt", share.a / "inside-link")
    os.symlink(share.outside, share.a / "outside-link")
    (share.a / "train.py").write_text(TRAIN + "print(open('inside-link').read())\n")
    assert run_gitexp("run", "--name", "links", cwd=share.a).returncode == 0
    git(share.a, "push", "-q", "origin", "refs/experiments/links:refs/experiments/links")
    b = pulled(share)
    proc = run_gitexp("reproduce", "links", cwd=b)
    assert proc.returncode == 0, proc.stderr
    assert "inside" in proc.stdout
    proc = run_gitexp("apply", "links", cwd=b)
    assert proc.returncode == 0, proc.stderr
    assert os.readlink(b / "inside-link") == "data.txt"
    assert (b / "inside-link").read_text() == "inside"
    assert os.readlink(b / "outside-link") == str(share.outside)
    assert listing(share.outside) == []


@pytest.mark.parametrize(
    "name",
    [
        "..",
        ".",
        "",
        ".git",
        ".GIT",
        ".Git ",
        ".git.",
        ".git::$INDEX_ALLOCATION",
        "git~1",
        "GIT~1",
        ".g\u200cit",
        "a\\b",
        "a/b",
        "tab\there",
        "del\x7f",
    ],
)
def test_names_git_refuses_are_refused(name: str) -> None:
    assert unsafe_name(name)


@pytest.mark.parametrize(
    "name", ["...", ".github", ".gitignore", ".gitexp", "git~2", ".git-x", "a b", "é", "x.git"]
)
def test_ordinary_names_pass(name: str) -> None:
    assert not unsafe_name(name)
    assert not unsafe_path(f"dir/{name}" if name else "dir")


def test_paths_from_records_stay_inside() -> None:
    for path in ("../x", "/etc/passwd", "a//b", "a/./b", "a/", "", "a/.git/config"):
        assert unsafe_path(path), path
    assert not unsafe_path("models/model.bin")


def test_safe_dir_never_writes_through_a_symlink(tmp_path: Path) -> None:
    """The write guard below the validation: a link already in the destination is
    never followed, neither as a folder above the file nor as the file itself."""
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "victim").write_text("keep")
    os.symlink(outside, root / "dir-link")
    os.symlink(outside / "victim", root / "file-link")
    with SafeDir(root) as out:
        with pytest.raises(LinkInTheWayError, match="below 'dir-link'"):
            out.write_file("dir-link/new", b"x", 0o100644)
        with pytest.raises(LinkInTheWayError, match="'file-link': a symbolic link"):
            out.write_file("file-link", b"x", 0o100644)
        assert out.blocked("dir-link/deeper/file") == "dir-link"
        out.write_file("real/file", b"ok", 0o100755)
    assert sorted(os.listdir(outside)) == ["victim"]
    assert (outside / "victim").read_text() == "keep"
    assert (root / "real" / "file").read_bytes() == b"ok"
    assert os.access(root / "real" / "file", os.X_OK)
