"""`gitexp reproduce` of a colleague's experiment: its gitexp.yaml may not widen the
sandbox (outside links, host variables, network, GPUs) beyond what YOUR gitexp.yaml
allows, unless --trust. Experiments travel through a real bare remote."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import git, last_line, make_repo, run_gitexp
from docker_support import BASE_IMAGE, require_docker
from run_support import exp_refs, run_json
from sharing_support import ok

BENIGN = "command: python train.py\n"
HINT = " (hint: review it, then pass --trust)"
SECRET = "s3cret-value"
PROBE = """\
import os, gitexp
secret = os.environ.get("SOME_SECRET", "")
print("secret seen:", secret or "<none>")
gitexp.log_metric("secret_len", len(secret))
"""


@dataclass(frozen=True)
class Pair:
    """A colleague's clone and mine of one bare remote; ``outside`` and ``sibling``
    are folders next to both clones, outside either repository."""

    theirs: Path
    mine: Path
    outside: Path
    sibling: Path

    def share(self, name: str, config: str, *run_args: str, env: dict[str, str] | None = None):
        """The colleague edits gitexp.yaml (not committed), runs, pushes; I pull."""
        (self.theirs / "gitexp.yaml").write_text(config)
        ok("run", "-n", name, "-q", *run_args, cwd=self.theirs, env=env)
        ok("push", "origin", name, "--no-artifacts", cwd=self.theirs)
        ok("pull", "origin", name, cwd=self.mine)


def _train(outside: Path) -> str:
    """Leaves a mark in ``outside``, so a test sees whether a rerun ran."""
    mark = repr(str(outside / "touched-by-"))
    return (
        "import os, gitexp\n"
        f"open({mark} + os.environ['GITEXP_RUN_NAME'], 'w').close()\n"
        "gitexp.log_metric('acc', 0.5)\n"
    )


@pytest.fixture
def pair(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Pair:
    outside, sibling = tmp_path / "outside", tmp_path / "sibling"
    for folder in (outside, sibling):
        folder.mkdir()
        (folder / "data.txt").write_text("private\n")
    monkeypatch.setenv("GITEXP_RUN_ROOT", str(tmp_path / "runs"))  # `../` links land here
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(remote))
    files = {"train.py": _train(outside), "probe.py": PROBE, "gitexp.yaml": BENIGN}
    theirs = make_repo(tmp_path / "theirs", files)
    git(theirs, "remote", "add", "origin", remote.as_uri())
    git(theirs, "push", "-q", "origin", "main")
    git(tmp_path, "clone", "-q", remote.as_uri(), str(tmp_path / "mine"))
    return Pair(theirs, tmp_path / "mine", outside, sibling)


def _listing(*folders: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for f in folders for p in sorted(f.rglob("*")) if p.is_file()}


def _refused(pair: Pair, name: str, asks: str, *args: str) -> None:
    """Exit 2, the exact line, and nothing ran: no ref, no file touched outside."""
    refs, files = exp_refs(pair.mine), _listing(pair.outside, pair.sibling)
    proc = run_gitexp("reproduce", name, *args, cwd=pair.mine)
    message = f"gitexp: error: experiment {name!r} asks for more than your gitexp.yaml allows: "
    assert (proc.returncode, last_line(proc.stderr)) == (2, message + asks + HINT), proc.stderr
    assert exp_refs(pair.mine) == refs
    assert _listing(pair.outside, pair.sibling) == files


def _marks(outside: Path) -> list[str]:
    return sorted(p.name for p in outside.glob("touched-by-*"))


def test_outside_links_are_refused_without_trust_and_run_with_it(pair: Pair) -> None:
    pair.share("crafted", f"command: python train.py\nlink: [{pair.outside}, ../sibling/]\n")
    assert _marks(pair.outside) == ["touched-by-crafted"]  # the colleague's own run
    asks = (
        f"link {str(pair.outside)!r} (outside the repository), "
        "link '../sibling' (outside the repository)"
    )
    _refused(pair, "crafted", asks)

    proc = run_gitexp("reproduce", "crafted", "--trust", "-q", cwd=pair.mine)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.splitlines()[0] == f"gitexp: warning: --trust granted crafted: {asks}"
    assert last_line(proc.stderr) == "gitexp: crafted: metrics match"
    assert len(_marks(pair.outside)) == 2  # the rerun ran, and only with --trust
    assert exp_refs(pair.mine).keys() == {"crafted"}


def test_local_config_that_allows_the_links_needs_no_trust(pair: Pair) -> None:
    pair.share("crafted", f"command: python train.py\nlink: [{pair.outside}, ../sibling]\n")
    (pair.mine / "gitexp.yaml").write_text(f"{BENIGN}link: [{pair.outside}]\n")
    _refused(pair, "crafted", "link '../sibling' (outside the repository)")  # only what's left

    (pair.mine / "gitexp.yaml").write_text(f"{BENIGN}link: [{pair.outside}/, ../sibling]\n")
    proc = run_gitexp("reproduce", "crafted", "-q", "--save", "-n", "again", cwd=pair.mine)
    assert proc.returncode == 0, proc.stderr
    assert "--trust" not in proc.stderr
    assert "trusted" not in run_json(pair.mine, "again")
    assert "touched-by-again" in _marks(pair.outside)


def test_each_widening_is_named_and_links_inside_the_repo_are_fine(pair: Pair) -> None:
    cases = {
        "git-dir": ("link: [.git]\n", "link '.git' (inside .git)"),
        "net": ("docker:\n  network: host\n", "network 'host'"),
        "env": ("docker:\n  environment: [HOME, SOME_SECRET]\n", "environment HOME,SOME_SECRET"),
        "gpus": ("docker:\n  gpus: [0, 3]\n", "gpus 0,3"),
        "all": (
            f"link: [{pair.outside}]\ndocker:\n  network: host\n  environment: [AWS_KEY]\n"
            "  gpus: all\n",
            f"network 'host', environment AWS_KEY, link {str(pair.outside)!r} "
            "(outside the repository), gpus all",
        ),
    }
    for name, (extra, _) in cases.items():
        pair.share(name, BENIGN + extra)
    for name, (_, asks) in cases.items():
        _refused(pair, name, asks)

    # the ceiling is yours: allowing more than it asks lets it run with what it asked
    (pair.mine / "gitexp.yaml").write_text(
        BENIGN + "docker:\n  network: host\n  environment: [SOME_SECRET, HOME, X]\n  gpus: all\n"
    )
    for name in ("net", "env", "gpus"):
        assert run_gitexp("reproduce", name, "-q", cwd=pair.mine).returncode == 0, name
    _refused(
        pair, "all", f"environment AWS_KEY, link {str(pair.outside)!r} (outside the repository)"
    )


def test_a_link_inside_the_repository_needs_no_consent(pair: Pair) -> None:
    for clone in (pair.theirs, pair.mine):
        (clone / "data").mkdir()
        (clone / "data" / "x.csv").write_text("1\n")
    pair.share("inside", BENIGN + "link: [data/]\n")
    proc = run_gitexp("reproduce", "inside", "-q", cwd=pair.mine)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.docker
def test_secret_and_network_reach_the_container_only_when_granted(
    pair: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_docker()
    monkeypatch.setenv("GITEXP_DOCKER_BASE_IMAGE", BASE_IMAGE)
    monkeypatch.setenv("SOME_SECRET", SECRET)
    crafted = "command: python probe.py\ndocker:\n  network: host\n  environment: [SOME_SECRET]\n"
    pair.share("boxed", crafted, "--docker")
    assert run_json(pair.theirs, "boxed")["docker"]["runtime"]["network"] == "host"

    _refused(pair, "boxed", "network 'host', environment SOME_SECRET", "--save")
    (pair.mine / "gitexp.yaml").write_text(BENIGN + "docker:\n  network: host\n")
    _refused(pair, "boxed", "environment SOME_SECRET")

    proc = run_gitexp("reproduce", "boxed", "--trust", "--save", "-n", "granted", cwd=pair.mine)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"secret seen: {SECRET}" in proc.stdout
    record = run_json(pair.mine, "granted")
    runtime = record["docker"]["runtime"]
    assert (runtime["network"], runtime["environment"]) == ("host", ["SOME_SECRET"])
    assert record["trusted"] == ["environment SOME_SECRET"]

    (pair.mine / "gitexp.yaml").write_text(
        BENIGN + "docker:\n  network: host\n  environment: [SOME_SECRET]\n"
    )
    proc = run_gitexp("reproduce", "boxed", "--save", "-n", "allowed", cwd=pair.mine)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"secret seen: {SECRET}" in proc.stdout
    metrics = json.loads(git(pair.mine, "show", "refs/experiments/allowed:.gitexp/metrics.json"))
    assert metrics == {"secret_len": len(SECRET)}


def test_machine_local_settings_come_from_your_config(pair: Pair, tmp_path: Path) -> None:
    """The experiment's run_root names a folder on ITS author's machine; yours is used."""
    theirs_root, mine_root = tmp_path / "their-runs", tmp_path / "my-runs"
    pair.share("rooted", f"{BENIGN}run_root: {theirs_root}\n")
    shutil.rmtree(theirs_root)
    (pair.mine / "gitexp.yaml").write_text(f"{BENIGN}run_root: {mine_root}\n")
    proc = run_gitexp("reproduce", "rooted", "-q", cwd=pair.mine)
    assert proc.returncode == 0, proc.stderr
    assert mine_root.is_dir() and not theirs_root.exists()
