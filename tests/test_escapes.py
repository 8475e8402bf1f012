"""Text from a pulled experiment never drives the terminal.

An experiment's run.json and metrics.json come from whoever pushed it: a
metric name, the host or the command may hold escape sequences that retitle
the window, clear the screen or colour what follows. A commit with such a
record is pushed with plain git to a real bare remote, pulled with `gitexp
pull`, and shown every way: every control character is written out
(``\\x1b``), never printed raw; JSON keeps the exact value, escaped by the
encoder. A remote that advertises a ref whose name holds one (a fake
upload-pack in front of a real one) gets a warning that writes it out too.
"""

from __future__ import annotations

import json
import stat
import sys
from pathlib import Path

import pygit2
import pytest
from conftest import git, make_repo, run_gitexp

from gitexp.views.safetext import visible

TITLE = "\x1b]0;TITLE-HIJACK\x07\x1b[2J\x1b[31mRED"
METRIC = "\x1b[31mred-metric\x1b[0m"
HOST = "\x1b[31mhost\x9b0m\r"
RAW = ("\x1b", "\x07", "\x9b", "\r")


def ok(*args: str, cwd: Path) -> str:
    proc = run_gitexp(*args, cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout + proc.stderr


def hostile_commit(repo: Path, base: str) -> str:
    """A copy of experiment ``base`` whose record holds escape sequences."""
    r = pygit2.Repository(str(repo))
    commit = r.revparse_single(f"refs/experiments/{base}").peel(pygit2.Commit)
    meta = r[commit.tree[".gitexp"].id].peel(pygit2.Tree)
    run = json.loads(r[meta["run.json"].id].peel(pygit2.Blob).data)
    run.update(command=["python", "train.py", TITLE], host=HOST, params={"p\x1bq": "v\x07"})
    builder = r.TreeBuilder(meta)
    for name, value in (("run.json", run), ("metrics.json", {METRIC: 1.0, "acc": 2.0})):
        blob = r.create_blob(json.dumps(value).encode())
        builder.insert(name, blob, pygit2.enums.FileMode.BLOB)
    root = r.TreeBuilder(commit.tree)
    root.insert(".gitexp", builder.write(), pygit2.enums.FileMode.TREE)
    sig = commit.author
    oid = r.create_commit(None, sig, sig, "gitexp: evil", root.write(), commit.parent_ids)
    return str(oid)


@pytest.fixture
def pulled(tmp_path: Path) -> Path:
    """A clone that pulled ``evil`` (the hostile record) and ``plain`` from a bare remote."""
    author = make_repo(tmp_path / "author")
    ok("run", "-n", "plain", "--", sys.executable, "-c", "print('acc: 1')", cwd=author)
    git(author, "update-ref", "refs/experiments/evil", hostile_commit(author, "plain"))
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(author, "push", "-q", str(remote), "refs/experiments/*:refs/experiments/*")
    clone = make_repo(tmp_path / "clone")
    ok("pull", str(remote), cwd=clone)
    return clone


def assert_safe(text: str) -> None:
    assert not [c for c in RAW if c in text], repr(text)


@pytest.mark.parametrize(
    "args",
    [
        ("show",),
        ("show", "--wide"),
        ("show", "--format", "md"),
        ("show", "--format", "csv"),
        ("show", "--sort-by", "acc"),
        ("show", "evil"),
        ("log", "evil"),
        ("compare", "plain", "evil"),
    ],
)
def test_every_view_writes_control_characters_out(pulled: Path, args: tuple[str, ...]) -> None:
    out = ok(*args, cwd=pulled)
    assert_safe(out)
    assert "\\x1b[31mred-metric\\x1b[0m" in out  # shown, as text


def test_the_full_view_writes_out_host_command_and_params(pulled: Path) -> None:
    out = ok("show", "evil", cwd=pulled)
    assert "\\x1b]0;TITLE-HIJACK\\x07\\x1b[2J\\x1b[31mRED" in out
    assert "\\x1b[31mhost\\x9b0m\\r" in out
    assert "p\\x1bq" in out and "v\\x07" in out


def test_json_keeps_the_exact_value_escaped(pulled: Path) -> None:
    text = ok("show", "evil", "--format", "json", cwd=pulled)
    assert_safe(text)
    data = json.loads(text)
    assert data["metrics"][METRIC] == 1.0
    assert data["run"]["host"] == HOST
    listed = json.loads(ok("show", "--format", "json", cwd=pulled))
    assert {METRIC, "acc"} <= set(next(e for e in listed if e["name"] == "evil")["metrics"])


FAKE_UPLOAD_PACK = """\
#!{python}
# git-upload-pack (protocol v0) that renames one advertised ref
import os, subprocess, sys, threading
env = dict(os.environ); env.pop("GIT_PROTOCOL", None)
p = subprocess.Popen(["git-upload-pack", sys.argv[-1]], stdin=subprocess.PIPE,
                     stdout=subprocess.PIPE, env=env)
def pump():
    while (d := os.read(0, 65536)):
        p.stdin.write(d); p.stdin.flush()
    p.stdin.close()
threading.Thread(target=pump, daemon=True).start()
out = sys.stdout.buffer
while (size := p.stdout.read(4)):
    n = int(size, 16)
    if n == 0:
        out.write(b"0000"); out.flush(); break
    data = p.stdout.read(n - 4).replace(b"refs/experiments/plain", b"refs/experiments/a\\x1b[2Jb")
    out.write(b"%04x" % (len(data) + 4) + data); out.flush()
while (d := p.stdout.read1(65536)):
    out.write(d); out.flush()
p.wait()
"""


def test_an_invalid_ref_name_from_a_remote_is_written_out(tmp_path: Path) -> None:
    author = make_repo(tmp_path / "author")
    ok("run", "-n", "plain", "--", sys.executable, "-c", "print('acc: 1')", cwd=author)
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(author, "push", "-q", str(remote), "refs/experiments/*:refs/experiments/*")
    fake = tmp_path / "fake-upload-pack"
    fake.write_text(FAKE_UPLOAD_PACK.format(python=sys.executable))
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    clone = make_repo(tmp_path / "clone")
    git(clone, "remote", "add", "evil", remote.as_uri())
    git(clone, "config", "remote.evil.uploadpack", str(fake))
    proc = run_gitexp("pull", "evil", cwd=clone)
    assert proc.returncode == 0, proc.stderr
    assert_safe(proc.stderr)
    assert (
        "gitexp: warning: ignoring invalid experiment ref on evil: refs/experiments/a\\x1b[2Jb"
        in proc.stderr
    )
    assert git(clone, "for-each-ref", "refs/experiments") == ""


def test_visible_writes_out_controls_and_keeps_the_rest() -> None:
    assert visible("plain é 日本 ▁▂") == "plain é 日本 ▁▂"
    assert visible("a\x1b[31mb\x7fc\x9bd\u202ee") == "a\\x1b[31mb\\x7fc\\x9bd\\u202ee"
    assert visible("one\ntwo\tthree") == "one\\ntwo\\tthree"
    assert visible("one\ntwo\tthree\x1b", lines=True) == "one\ntwo\tthree\\x1b"
    assert visible(visible("\x1b")) == "\\x1b"  # written out once, never twice


def test_an_error_line_quoting_a_script_writes_its_escapes_out(tmp_path: Path) -> None:
    # the rerun's last line is quoted in reproduce's error: the script's words, not ours
    script = (
        "import os, gitexp\n"
        "if os.environ.get('BREAK'):\n"
        f"    print({TITLE!r})\n"
        "    raise SystemExit(4)\n"
        "gitexp.log_metric('acc', 1)\n"
    )
    repo = make_repo(tmp_path / "r", {"train.py": script})
    ok("run", "-n", "base", "--", "python", "train.py", cwd=repo)
    proc = run_gitexp("reproduce", "base", cwd=repo, env={"BREAK": "1"})
    assert proc.returncode == 1
    last = proc.stderr.splitlines()[-1]
    assert last.startswith("gitexp: base: rerun failed: exit code 4: ") and "RED" in last
    assert not any(c in last for c in RAW)


def test_every_error_line_is_one_line_with_controls_written_out(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from gitexp.cli.app import _fail

    assert _fail(f"error: git push failed: remote: {TITLE}\nsecond line", 1) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "RED" in err and "second line" in err
    assert not any(c in err for c in RAW)
