"""`gitexp pull --artifacts`: a second clone gets the DVC objects of the experiments it
pulls (and only those) from a local-folder DVC remote; `push --all` sends every ref with
one glob refspec, conflicts held back unless --force.

The artifact tests need DVC: GITEXP_REQUIRE_DVC=1 turns its absence into a failure,
elsewhere they skip with the reason.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from conftest import git, last_line, make_repo, run_gitexp
from run_support import exp_refs, run_json
from sharing_support import make_world, md5, ok

pytestmark = pytest.mark.dvc  # conftest: skip, or fail under GITEXP_REQUIRE_DVC=1

# a seeded model (above the 1 KB threshold) and a logged folder of two files
TRAIN = """\
import os, random
import gitexp

rnd = random.Random(gitexp.current_run().seed)
with open("model.bin", "wb") as f:
    f.write(bytes(rnd.getrandbits(8) for _ in range(4000)))
os.makedirs("plots", exist_ok=True)
for name in ("a.txt", "b.txt"):
    with open(os.path.join("plots", name), "w") as f:
        f.write(name * 10 + str(gitexp.current_run().seed))
gitexp.log_artifact("plots")
"""


def cached(root: Path, md5_id: str) -> Path:
    """Where DVC 3 keeps an object in a repository's local cache."""
    return root / ".dvc" / "cache" / "files" / "md5" / md5_id[:2] / md5_id[2:]


def expected_model(seed: int) -> bytes:
    """The bytes TRAIN wrote for this seed, computed here, independently of any cache."""
    rnd = random.Random(seed)
    return bytes(rnd.getrandbits(8) for _ in range(4000))


def artifacts_of(root: Path, name: str) -> dict[str, dict[str, object]]:
    return {str(r["path"]): r for r in run_json(root, name)["artifacts"]}


@pytest.mark.slow
@pytest.mark.dvc
def test_pull_artifacts_fills_the_second_clones_dvc_cache_with_identical_bytes(
    tmp_path: Path,
) -> None:
    world = make_world(tmp_path, {"train.py": TRAIN})
    ok("run", "-n", "first", cwd=world.a)
    ok("run", "-n", "second", cwd=world.a)
    ok("push", "origin", "--all", cwd=world.a)
    first, second = artifacts_of(world.a, "first"), artifacts_of(world.a, "second")
    model1, model2 = str(first["model.bin"]["md5"]), str(second["model.bin"]["md5"])
    assert model1 != model2

    b = world.clone("b")
    assert not cached(b, model1).exists() and not cached(b, model2).exists()
    out = ok("pull", "origin", "first", "--artifacts", cwd=b)
    assert exp_refs(b) == {"first": exp_refs(world.a)["first"]}
    assert "pulled 1 experiment(s) from origin, 0 up to date" in out
    assert "artifact object(s) transferred" in out
    seed = int(run_json(b, "first")["seed"])
    assert cached(b, model1).read_bytes() == expected_model(seed)
    assert cached(b, model1).read_bytes() == cached(world.a, model1).read_bytes()
    assert md5(cached(b, model1)) == model1
    assert not cached(b, model2).exists()  # only the pulled experiment's objects

    plots = str(first["plots"]["md5"])  # a folder: its .dir listing and every file in it
    assert plots.endswith(".dir") and cached(b, plots).is_file()
    dest = tmp_path / "out"
    ok("artifacts", "pull", "first", "-o", str(dest), "--path", "plots", cwd=b)
    assert (dest / "plots" / "a.txt").read_text() == "a.txt" * 10 + str(seed)
    assert (dest / "plots" / "b.txt").read_text() == "b.txt" * 10 + str(seed)

    out = ok("pull", "origin", "--artifacts", cwd=b)
    assert "pulled 1 experiment(s) from origin, 1 up to date" in out
    assert exp_refs(b) == exp_refs(world.a)
    seed2 = int(run_json(b, "second")["seed"])
    assert cached(b, model2).read_bytes() == expected_model(seed2)


@pytest.mark.dvc
def test_pull_without_artifacts_leaves_the_dvc_cache_alone(tmp_path: Path) -> None:
    world = make_world(tmp_path, {"train.py": TRAIN})
    ok("run", "-n", "only", cwd=world.a)
    ok("push", "origin", "only", cwd=world.a)
    model = str(artifacts_of(world.a, "only")["model.bin"]["md5"])
    b = world.clone("b")
    out = ok("pull", "origin", cwd=b)
    assert "artifact object(s)" not in out
    assert exp_refs(b).keys() == {"only"}
    assert not cached(b, model).exists()


@pytest.mark.dvc
def test_pull_artifacts_missing_on_the_dvc_remote_is_an_error_refs_kept(tmp_path: Path) -> None:
    world = make_world(tmp_path, {"train.py": TRAIN})
    ok("run", "-n", "unsent", cwd=world.a)
    ok("push", "origin", "unsent", "--no-artifacts", cwd=world.a)  # refs, no DVC objects
    model = str(artifacts_of(world.a, "unsent")["model.bin"]["md5"])
    b = world.clone("b")
    proc = run_gitexp("pull", "origin", "--artifacts", cwd=b)
    assert proc.returncode == 1
    error = last_line(proc.stderr)
    assert error.startswith("gitexp: error: artifacts not transferred: ")
    assert model in error
    assert exp_refs(b) == exp_refs(world.a)  # the experiment itself arrived
    assert not cached(b, model).exists()


def test_push_all_sends_every_ref_holds_conflicts_back_and_force_overwrites(
    tmp_path: Path,
) -> None:
    files = {"train.py": "print('ok')\n", "gitexp.yaml": "command: python train.py\n"}
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(remote))
    a = make_repo(tmp_path / "a", files)
    git(a, "push", "-q", remote.as_uri(), "main")
    ok("run", "-n", "same", cwd=a)
    ok("run", "-n", "a-only", cwd=a)
    ok("push", remote.as_uri(), "--all", "--no-artifacts", cwd=a)
    assert exp_refs(remote) == exp_refs(a)

    b = tmp_path / "b"
    git(tmp_path, "clone", "-q", remote.as_uri(), str(b))
    ok("run", "-n", "same", cwd=b)
    ok("run", "-n", "b-only", cwd=b)
    proc = run_gitexp("push", remote.as_uri(), "--all", "--no-artifacts", cwd=b)
    assert proc.returncode == 1 and "gitexp: conflict: same is" in proc.stderr
    assert exp_refs(remote) == {**exp_refs(a), "b-only": exp_refs(b)["b-only"]}

    out = ok("push", remote.as_uri(), "--all", "--force", "--no-artifacts", cwd=b)
    assert "gitexp: forced: same" in out
    assert exp_refs(remote) == {**exp_refs(b), "a-only": exp_refs(a)["a-only"]}
