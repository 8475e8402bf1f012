"""The model registry (issue 22): annotated tags in GTO's format on experiment commits.

Real repositories, a real bare remote and a local-folder DVC remote
(sharing_support.make_world), the real `gitexp` CLI, and GTO itself reading
our tags and writing its own. The model bytes are computed here from the
run's seed, independently of any cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import git, last_line, run_gitexp
from run_support import run_json
from sharing_support import World, make_world, ok, store_files

from gitexp.registry import tagnames

DVC = pytest.mark.dvc  # conftest: skip, or fail under GITEXP_REQUIRE_DVC=1


def expected_model(seed: int) -> bytes:
    """What sharing_support.TRAIN wrote as model.bin for this seed."""
    rnd = random.Random(seed)
    return bytes(rnd.getrandbits(8) for _ in range(4000))


def seed_of(root: Path, name: str) -> int:
    return int(run_json(root, name)["seed"])


def json_out(*args: str, cwd: Path) -> Any:
    proc = run_gitexp(*args, "--format", "json", cwd=cwd)
    assert proc.returncode == 0, (args, proc.stderr)
    return json.loads(proc.stdout)


def models(root: Path) -> dict[str, dict[str, Any]]:
    return {m["model"]: m for m in json_out("model", "list", "--all", cwd=root)}


def state(root: Path) -> dict[str, tuple[str | None, dict[str, str]]]:
    """model → (latest, {stage: version}): what both gitexp and GTO say."""
    return {n: (m["latest"], m["stages"]) for n, m in models(root).items() if not m["deprecated"]}


def gto_state(root: Path) -> dict[str, tuple[str | None, dict[str, str]]]:
    import gto.api

    shown = gto.api.show(str(root))
    return {
        n: (m["version"], {s: v for s, v in m["stage"].items() if v})
        for n, m in shown.items()
        if m["active"]
    }


def tags(root: Path) -> list[str]:
    return git(root, "tag", "-l").split()


def tag_message(root: Path, tag: str) -> str:
    assert git(root, "cat-file", "-t", tag).strip() == "tag"  # annotated, as GTO needs
    return git(root, "tag", "-l", "--format=%(contents)", tag)


def fails(*args: str, cwd: Path, code: int = 2) -> str:
    """The one error line of a refused command."""
    proc = run_gitexp(*args, cwd=cwd)
    assert proc.returncode == code, (args, proc.stdout, proc.stderr)
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("gitexp: error: ")]
    assert len(lines) == 1, proc.stderr
    return lines[0]


def test_tag_names_follow_gtos_grammar_and_versions_semver() -> None:
    parse = tagnames.parse
    assert parse("churn@v1.2.0") == tagnames.TagName("churn", "register", "v1.2.0")
    assert parse("refs/tags/churn#prod#5") == tagnames.TagName("churn", "assign", None, "prod", 5)
    assert parse("churn#prod!#6").action == "unassign"
    assert parse("churn@v1.2.0!#7") == tagnames.TagName("churn", "deregister", "v1.2.0", None, 7)
    assert parse("churn@v1.2.0!").action == "deregister"
    assert parse("churn@deprecated") == tagnames.TagName("churn", "deprecate")
    assert parse("models=churn@v2.0.0-rc.1+b7").model == "models:churn"
    for other in ("v1.0", "release-3", "churn@1.0.0", "churn@created", "-x@v1.0.0", "a b#prod"):
        assert parse(other) is None, other
    order = ["v0.9.0", "v1.0.0-alpha", "v1.0.0-alpha.1", "v1.0.0-rc.1", "v1.0.0", "v10.0.0"]
    assert sorted(reversed(order), key=tagnames.version_key) == order
    assert tagnames.bump(None, None) == "v0.0.1" and tagnames.bump(None, "major") == "v1.0.0"
    assert (
        tagnames.bump("v1.2.3", None) == "v1.2.4" and tagnames.bump("v1.2.3", "minor") == "v1.3.0"
    )
    assert tagnames.bump("v1.0.0-rc.1", "major") == "v2.0.0"


def registered(world: World, *names: str) -> None:
    for name in names:
        ok("run", "-n", name, cwd=world.a)


@DVC
@pytest.mark.slow
def test_register_bump_promote_demote_deprecate_in_one_clone(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    registered(world, "exp1", "exp2", "exp3")
    a = world.a
    assert "churn v0.0.1" in ok("model", "register", "churn", "--from", "exp1", cwd=a)
    assert "v0.1.0" in ok("model", "register", "churn", "--from", "exp2", "--bump", "minor", cwd=a)
    ok("model", "register", "churn", "--from", "exp3", "--version", "v1.0.0", "-m", "Q3", cwd=a)
    ok("model", "promote", "churn", "v0.0.1", "--stage", "prod", cwd=a)
    ok("model", "promote", "churn", "v0.1.0", "--stage", "staging", cwd=a)
    out = ok("model", "promote", "churn", "v1.0.0", "--stage", "prod", cwd=a)
    assert "(was v0.0.1)" in out
    assert state(a) == {"churn": ("v1.0.0", {"prod": "v1.0.0", "staging": "v0.1.0"})}

    ok("model", "demote", "churn", "--stage", "staging", cwd=a)
    ok("model", "deprecate", "churn", "v1.0.0", cwd=a)  # leaves prod with it
    assert state(a) == {"churn": ("v0.1.0", {"prod": "v0.0.1"})}  # the older assignment stands
    assert "nothing to do" in ok("model", "promote", "churn", "v0.0.1", "--stage", "prod", cwd=a)

    assert sorted(tags(a)) == sorted(
        [
            "churn@v0.0.1",
            "churn@v0.1.0",
            "churn@v1.0.0",
            "churn#prod#1",
            "churn#staging#2",
            "churn#prod#3",
            "churn#staging!#4",
            "churn@v1.0.0!#5",
        ]
    )
    assert git(a, "rev-parse", "churn@v0.1.0^{commit}") == git(
        a, "rev-parse", "refs/experiments/exp2"
    )
    message = tag_message(a, "churn@v0.0.1")
    [model] = [r for r in run_json(a, "exp1")["artifacts"] if r["path"] == "model.bin"]
    acc = json.loads(git(a, "show", "refs/experiments/exp1:.gitexp/metrics.json"))["acc"]
    assert message.startswith("Registering artifact churn version v0.0.1\n")
    for line in ("experiment: exp1", "path: model.bin", "storage: dvc", f"md5: {model['md5']}"):
        assert line in message.splitlines()
    assert f'metrics: {{"acc": {acc}}}' in message
    assert tag_message(a, "churn@v1.0.0").startswith("Q3\n")

    history = json_out("model", "show", "churn", cwd=a)["history"]
    assert [(e["event"], e["version"], e["stage"]) for e in history][-3:] == [
        ("promoted", "v1.0.0", "prod"),
        ("demoted", "v0.1.0", "staging"),
        ("deprecated", "v1.0.0", None),
    ]
    assert history[0]["by"] == "Test Committer <committer@example.com>"
    assert history[0]["experiment"] == "exp1" and history[0]["metrics"] == {"acc": acc}

    ok("model", "deprecate", "churn", cwd=a)
    assert state(a) == {} and models(a)["churn"]["deprecated"]
    assert "churn" not in ok("model", "list", cwd=a)


@DVC
@pytest.mark.slow
def test_gto_reads_our_tags_and_we_read_gtos(tmp_path: Path) -> None:
    import gto.api

    world = make_world(tmp_path)
    registered(world, "exp1", "exp2")
    a = world.a
    ok("model", "register", "churn", "--from", "exp1", cwd=a)
    ok("model", "register", "churn", "--from", "exp2", "--bump", "major", cwd=a)
    ok("model", "promote", "churn", "v0.0.1", "--stage", "prod", cwd=a)
    ok("model", "promote", "churn", "v1.0.0", "--stage", "dev", cwd=a)
    ok("model", "promote", "churn", "v1.0.0", "--stage", "prod", cwd=a)
    ok("model", "promote", "churn", "v0.0.1", "--stage", "dev", cwd=a)
    ok("model", "demote", "churn", "--stage", "dev", "--version", "v0.0.1", cwd=a)
    ok("model", "register", "notes", "--from", "exp1", "--path", "notes.txt", cwd=a)
    ok("model", "deprecate", "notes", cwd=a)
    ours = state(a)
    assert ours == {"churn": ("v1.0.0", {"prod": "v1.0.0", "dev": "v1.0.0"})}
    assert gto_state(a) == ours
    assert gto.api.find_latest_version(str(a), "churn").version == "v1.0.0"

    # and the other way: tags GTO makes, on a commit that is no experiment
    gto.api.register(str(a), "scorer", "HEAD", version="v2.0.0")
    gto.api.assign(str(a), "scorer", "prod", version="v2.0.0")
    assert state(a)["scorer"] == ("v2.0.0", {"prod": "v2.0.0"})
    assert gto_state(a)["scorer"] == state(a)["scorer"]
    assert fails("model", "get", "scorer", "--stage", "prod", cwd=a).endswith(
        "(hint: it was registered by another tool: pass --path, or declare it in dvc.yaml)"
    )
    out = ok("model", "get", "scorer", "--stage", "prod", "--path", "train.py", "-o", "s.py", cwd=a)
    assert (a / "s.py").read_bytes() == (a / "train.py").read_bytes(), out


@DVC
@pytest.mark.slow
def test_push_then_a_fresh_clone_lists_and_gets_the_prod_model_from_dvc(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    registered(world, "exp1", "exp2")
    a = world.a
    ok("model", "register", "churn", "--from", "exp1", cwd=a)
    ok("model", "register", "churn", "--from", "exp2", cwd=a)
    ok("model", "promote", "churn", "v0.0.1", "--stage", "prod", cwd=a)
    git(a, "tag", "mine-lightweight")
    git(a, "tag", "-a", "release-1", "-m", "the user's own")
    out = ok("push", "origin", "exp1", cwd=a)  # only exp1's model tags go with it
    assert "1 experiment(s)" in out and "2 model tag(s)" in out
    remote_tags = git(world.remote, "tag", "-l").split()
    assert sorted(remote_tags) == ["churn#prod#1", "churn@v0.0.1"]

    b = world.clone("b")  # a plain `git clone`: tags and their commits come along
    assert state(b) == {"churn": ("v0.0.1", {"prod": "v0.0.1"})}
    assert not (b / ".dvc" / "cache").exists()
    printed = ok("model", "get", "churn", "--stage", "prod", "-o", "model.bin", cwd=b)
    assert (b / "model.bin").read_bytes() == expected_model(seed_of(a, "exp1"))
    assert str(b / "model.bin") in printed or "model.bin" in printed
    line = fails("model", "get", "churn", "--stage", "prod", "-o", "model.bin", cwd=b)
    assert line.startswith("gitexp: error: model.bin exists (hint:")

    # a damaged cache: the checksum check refuses, nothing lands at -o
    [cached] = [p for p in (b / ".dvc" / "cache" / "files").rglob("*") if p.is_file()]
    cached.chmod(0o644)
    cached.write_bytes(b"x" + cached.read_bytes()[1:])
    line = fails("model", "get", "churn", "--latest", "--version", "v0.0.1", cwd=b)
    assert line.startswith("gitexp: error: say which version: one of --version, --stage or")
    line = fails("model", "get", "churn", "--version", "v0.0.1", "-o", "again.bin", cwd=b, code=1)
    assert line.startswith("gitexp: error: checksum mismatch for churn v0.0.1: expected ")
    assert (
        not (b / "again.bin").exists()
        and [p.name for p in b.iterdir() if "gitexp-" in p.name] == []
    )

    # the library, in a clone: a verified copy kept under .git/gitexp/models
    c = world.clone("c")
    script = "import gitexp; print(gitexp.model_path('churn')); print(gitexp.model_path('churn'))"
    proc = subprocess.run([sys.executable, "-c", script], cwd=c, capture_output=True, text=True)
    first, second = proc.stdout.split()
    assert first == second and Path(first).read_bytes() == expected_model(seed_of(a, "exp1"))
    assert Path(first).is_relative_to(c.resolve() / ".git" / "gitexp" / "models")


@DVC
def test_a_small_model_and_a_folder_come_from_the_git_tree(tmp_path: Path) -> None:
    train = textwrap.dedent(
        """\
        import os
        import gitexp
        os.makedirs("weights/layer", exist_ok=True)
        open("weights/a.txt", "w").write("alpha")
        open("weights/layer/b.txt", "w").write("beta")
        open("notes.txt", "w").write("small %d" % gitexp.current_run().seed)
        """
    )
    world = make_world(tmp_path, {"train.py": train})
    registered(world, "exp1")
    a = world.a
    ok("model", "register", "notes", "--from", "exp1", "--path", "./notes.txt", cwd=a)
    ok("model", "register", "weights", "--from", "exp1", "--path", "weights/", cwd=a)
    assert "storage: git" in tag_message(a, "notes@v0.0.1").splitlines()
    blob = git(a, "rev-parse", "refs/experiments/exp1:notes.txt").strip()
    assert f"blob: {blob}" in tag_message(a, "notes@v0.0.1").splitlines()
    ok("push", "origin", "--all", "--no-artifacts", cwd=a)

    b = world.clone("b")
    ok("model", "get", "notes", "--latest", "-o", "out", cwd=b)  # no folder `out`: the file
    assert (b / "out").read_text() == f"small {seed_of(a, 'exp1')}"
    (b / "into").mkdir()
    ok("model", "get", "weights", "--version", "v0.0.1", "-o", "into", cwd=b)
    assert (b / "into/weights/a.txt").read_text() == "alpha"
    assert (b / "into/weights/layer/b.txt").read_text() == "beta"


@DVC
@pytest.mark.slow
def test_pull_brings_model_tags_and_never_the_users_other_tags(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    b = world.clone("b")  # before anything was registered
    registered(world, "exp1")
    a = world.a
    ok("model", "register", "churn", "--from", "exp1", cwd=a)
    ok("model", "promote", "churn", "v0.0.1", "--stage", "prod", cwd=a)
    git(a, "tag", "-a", "release-1", "-m", "the user's own")
    git(a, "push", "-q", "origin", "release-1")  # on the remote, pushed by plain git
    ok("push", "origin", "--all", cwd=a)

    out = ok("pull", "origin", cwd=b)
    assert "pulled 1 experiment(s)" in out and "2 model tag(s)" in out
    assert sorted(tags(b)) == ["churn#prod#1", "churn@v0.0.1"]
    assert state(b) == state(a)
    assert ", 0 model tag(s)" in ok("pull", "origin", cwd=b)  # up to date: nothing moves


@DVC
@pytest.mark.slow
def test_a_model_tag_differing_on_the_remote_is_never_moved(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    b = world.clone("b")
    registered(world, "exp1")
    ok("model", "register", "churn", "--from", "exp1", cwd=world.a)
    ok("push", "origin", "--all", cwd=world.a)
    before = git(world.remote, "rev-parse", "churn@v0.0.1").strip()

    ok("run", "-n", "other", cwd=b)
    ok("model", "register", "churn", "--from", "other", cwd=b)  # the same version, elsewhere
    proc = run_gitexp("push", "origin", "--all", "--force", cwd=b)
    assert proc.returncode == 1
    assert "gitexp: conflict: model tag churn@v0.0.1 is " in proc.stderr
    assert git(world.remote, "rev-parse", "churn@v0.0.1").strip() == before


@DVC
def test_plain_git_push_of_a_model_tag_sends_its_model_through_the_hook(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    ok("hooks", "install", cwd=world.a)
    registered(world, "exp1")
    ok("model", "register", "churn", "--from", "exp1", cwd=world.a)
    [model] = [r for r in run_json(world.a, "exp1")["artifacts"] if r["path"] == "model.bin"]
    assert model["md5"] not in store_files(world.store)

    env = {k: v for k, v in os.environ.items() if k != "GITEXP_SKIP_HOOK"}
    proc = subprocess.run(
        ["git", "push", "origin", "churn@v0.0.1"], cwd=world.a, env=env, capture_output=True
    )
    assert proc.returncode == 0, proc.stderr
    assert model["md5"] in store_files(world.store)

    b = world.clone("b")
    ok("model", "get", "churn", "--latest", "-o", "m.bin", cwd=b)
    assert (b / "m.bin").read_bytes() == expected_model(seed_of(world.a, "exp1"))


REGISTER = """\
import sys, time
from pathlib import Path
from gitexp.gitstore.repo import open_repo
from gitexp.registry.registering import Request, register
Path("ready-" + sys.argv[1]).write_text("")
while not Path("go").exists():
    time.sleep(0.001)
print(register(open_repo(), Request("churn", sys.argv[1], bump=sys.argv[2] or None)).version)
"""


@DVC
@pytest.mark.slow
def test_concurrent_registrations_never_get_the_same_version(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    names = [f"exp{i}" for i in range(4)]
    registered(world, *names)
    a = world.a
    (a / "register.py").write_text(REGISTER)
    bumps = ["", "", "minor", ""]
    procs = [
        subprocess.Popen(
            [sys.executable, "register.py", n, b],
            cwd=a,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n, b in zip(names, bumps, strict=True)
    ]
    while len(list(a.glob("ready-*"))) < len(procs) and all(p.poll() is None for p in procs):
        time.sleep(0.01)
    (a / "go").write_text("")  # all four, loaded, look at the tags at once
    outputs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err for _, err in outputs]
    versions = [out.strip() for out, _ in outputs]
    assert len(set(versions)) == 4, versions
    assert sorted(t for t in tags(a) if "@" in t) == sorted(f"churn@{v}" for v in versions)
    by_version = {v["version"]: v["experiment"] for v in models(a)["churn"]["versions"]}
    assert sorted(by_version.values()) == names  # each tag on its own experiment

    # the same explicit version from two processes: exactly one gets it
    ok("run", "-n", "exp4", cwd=a)
    ok("run", "-n", "exp5", cwd=a)
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gitexp",
                "model",
                "register",
                "twin",
                "--from",
                n,
                "--version",
                "v3.0.0",
            ],
            cwd=a,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in ("exp4", "exp5")
    ]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert sorted(p.returncode for p in procs) == [0, 2], errors
    assert any("model 'twin' version v3.0.0 exists already" in e for e in errors)


@DVC
def test_events_reach_gitexp_yaml_callbacks(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    a = world.a
    log = tmp_path / "events.jsonl"
    (a / "listen.py").write_text(
        "import json\n"
        "def on_event(event, payload):\n"
        "    if event.startswith('model_'):\n"
        f"        open({str(log)!r}, 'a').write(json.dumps([event, payload]) + '\\n')\n"
    )
    with open(a / "gitexp.yaml", "a") as f:
        f.write("callbacks: ['listen:on_event']\n")
    registered(world, "exp1")
    ok("model", "register", "churn", "--from", "exp1", cwd=a)
    ok("model", "promote", "churn", "v0.0.1", "--stage", "prod", cwd=a)
    ok("model", "demote", "churn", "--stage", "prod", cwd=a)
    events = [json.loads(line) for line in log.read_text().splitlines()]
    assert [e for e, _ in events] == ["model_registered", "model_promoted", "model_demoted"]
    commit = git(a, "rev-parse", "refs/experiments/exp1").strip()
    reg, promoted = events[0][1], events[1][1]
    assert reg["name"] == "exp1" and reg["ref"] == "refs/experiments/exp1"
    assert (reg["model"], reg["version"], reg["tag"], reg["commit"]) == (
        "churn",
        "v0.0.1",
        "churn@v0.0.1",
        commit,
    )
    assert reg["path"] == "model.bin" and reg["storage"] == "dvc" and len(reg["checksum"]) == 32
    assert set(reg["metrics"]) == {"acc"}
    assert (promoted["stage"], promoted["tag"], promoted["previous"]) == (
        "prod",
        "churn#prod#1",
        None,
    )


FAIL = "import sys\nsys.exit(3)\n"


@DVC
@pytest.mark.slow
def test_each_mistake_is_one_line_and_changes_nothing(tmp_path: Path) -> None:
    world = make_world(tmp_path, {"fail.py": FAIL})
    registered(world, "exp1", "exp2")
    a = world.a
    assert run_gitexp("run", "-n", "broken", "--", "python", "fail.py", cwd=a).returncode == 1
    ok("model", "register", "churn", "--from", "exp1", "--version", "v1.0.0", cwd=a)
    before = sorted(tags(a))
    mistakes = {
        ("model", "register", "churn", "--from", "nope"): "no experiment named 'nope'",
        ("model", "register", "churn", "--from", "exp2", "--version", "v1.0.0"): (
            "model 'churn' version v1.0.0 exists already (experiment 'exp1')"
        ),
        ("model", "register", "churn", "--from", "exp1"): (
            "model 'churn' already has version v1.0.0 on this commit"
        ),
        ("model", "register", "churn", "--from", "exp2", "--version", "1.0"): (
            "invalid version '1.0'"
        ),
        ("model", "register", "bad name", "--from", "exp2"): "invalid model name 'bad name'",
        ("model", "register", "churn", "--from", "exp2", "--bump", "huge"): (
            "invalid --bump 'huge' (hint: use major, minor or patch)"
        ),
        ("model", "register", "churn", "--from", "exp2", "--path", "nope.bin"): (
            "path 'nope.bin' is not in experiment 'exp2'"
        ),
        ("model", "register", "churn", "--from", "exp2", "--path", "../x"): "unsafe",
        ("model", "register", "churn", "--from", "broken"): (
            "experiment 'broken' failed (exit code 3); refusing to register it as a model"
        ),
        ("model", "promote", "churn", "v1.0.0", "--stage", "pr od"): "invalid stage 'pr od'",
        ("model", "promote", "churn", "v9.9.9", "--stage", "prod"): (
            "model 'churn' has no version 'v9.9.9'"
        ),
        ("model", "promote", "nope", "v1.0.0", "--stage", "prod"): "no model named 'nope'",
        ("model", "demote", "churn", "--stage", "prod"): (
            "model 'churn' has no version in stage 'prod'"
        ),
        ("model", "get", "churn", "--stage", "prod"): "model 'churn' has no version in stage",
    }
    for args, expected in mistakes.items():
        line = fails(*args, cwd=a)
        assert expected in line, (args, line)
    assert sorted(tags(a)) == before

    (a / ".gto").write_text("stages: [dev, prod]\n")  # GTO's own list of stages
    assert "invalid stage 'qa' (hint: .gto allows: dev, prod)" in fails(
        "model", "promote", "churn", "v1.0.0", "--stage", "qa", cwd=a
    )
    hint = "(hint: pass --force to register it anyway)"
    assert last_line(
        run_gitexp("model", "register", "m", "--from", "broken", cwd=a).stderr
    ).endswith(hint)
    ok("model", "register", "m", "--from", "broken", "--path", "fail.py", "--force", cwd=a)
    blob = hashlib.sha1(b"blob %d\0" % len(FAIL) + FAIL.encode()).hexdigest()
    assert f"blob: {blob}" in tag_message(a, "m@v0.0.1").splitlines()
