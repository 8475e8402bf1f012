"""`gitexp run --docker`: a real engine, real images, real containers (no mocks).

Images are content-tagged, so every test whose repo has the same env files
reuses the one image built by the first of them: the whole file costs a few
builds. Needs scripts/docker-up.sh (skips otherwise; GITEXP_REQUIRE_DOCKER=1
makes that a failure).
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from conftest import git, last_line, run_gitexp, write_files
from docker_support import BASE_IMAGE, containers_of, image_id, require_docker
from run_support import run_json, show

pytestmark = pytest.mark.docker

PROBE_PY = """\
import os, random, gitexp
p = gitexp.params()
gitexp.seed_everything()
gitexp.log_metric("lr_seen", p["lr"])
gitexp.log_metric("draw", random.random())
gitexp.log_metric("hashseed", int(os.environ["PYTHONHASHSEED"]))
print("cwd", os.getcwd(), "run_dir", os.environ["GITEXP_RUN_DIR"])
with open("made-in-container.txt", "w") as f:
    f.write("hello\\n")
"""


@pytest.fixture
def docker_repo(git_repo: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The shared git_repo plus probe.py, with the local base image selected."""
    require_docker()
    monkeypatch.setenv("GITEXP_DOCKER_BASE_IMAGE", BASE_IMAGE)
    write_files(git_repo, {"probe.py": PROBE_PY})
    commit_all(git_repo, "probe")
    return git_repo


def commit_all(root: Path, message: str) -> None:
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)


def run_docker(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_gitexp("run", "--docker", *args, cwd=root)


def test_run_in_container_records_image_and_dockerfile(docker_repo: Path) -> None:
    proc = run_docker(
        docker_repo, "-n", "boxed", "-p", "lr=0.25", "--seed", "7", "--", "python", "probe.py"
    )
    assert proc.returncode == 0, proc.stderr
    assert "cwd /gitexp/run run_dir /gitexp/run" in proc.stdout  # logs streamed
    run = run_json(docker_repo, "boxed")
    assert run["status"] == "succeeded" and run["executor"] == "docker"
    d = run["docker"]
    assert d["image_id"] == image_id(d["image"]) and d["image_id"].startswith("sha256:")
    assert d["base_image"] == BASE_IMAGE and d["base_image_id"] == image_id(BASE_IMAGE)
    assert d["python"].startswith("3.")
    dockerfile = show(docker_repo, "boxed", ".gitexp/env/Dockerfile")
    assert f"FROM {BASE_IMAGE}\n" in dockerfile and "{{" not in dockerfile
    assert "gitexp==" in show(docker_repo, "boxed", ".gitexp/env/requirements.txt")
    metrics = json.loads(show(docker_repo, "boxed", ".gitexp/metrics.json"))
    assert metrics["lr_seen"] == 0.25 and metrics["hashseed"] == 7  # params and seed got in
    assert show(docker_repo, "boxed", "made-in-container.txt") == "hello\n"
    assert "dockerfile" not in run  # the runner moved it into .gitexp/env/
    assert containers_of("boxed") == []


def test_container_run_gets_the_same_metrics_as_a_local_run(docker_repo: Path) -> None:
    for name, extra in (("here", ()), ("there", ("--docker",))):
        proc = run_gitexp("run", *extra, "-n", name, "--seed", "11", "--", "python", "probe.py")
        assert proc.returncode == 0, proc.stderr
    local = json.loads(show(docker_repo, "here", ".gitexp/metrics.json"))
    boxed = json.loads(show(docker_repo, "there", ".gitexp/metrics.json"))
    assert local == boxed


def test_same_tree_reuses_the_image(docker_repo: Path) -> None:
    for name in ("first", "second"):
        assert run_docker(docker_repo, "-n", name, "--", "python", "probe.py").returncode == 0
    first, second = (run_json(docker_repo, n)["docker"] for n in ("first", "second"))
    assert second["reused"] is True
    assert second["image"] == first["image"] and second["image_id"] == first["image_id"]


def test_changed_requirements_get_a_new_image(docker_repo: Path) -> None:
    # comment-only requirements: pip installs nothing, so no network is needed; a token of
    # this test run in them, so no image left by an earlier run of the suite is reused
    token = uuid.uuid4().hex
    images = []
    for version in ("one", "two"):
        (docker_repo / "requirements.txt").write_text(f"# pinned set {version} {token}\n")
        commit_all(docker_repo, f"requirements {version}")
        proc = run_docker(docker_repo, "-n", f"req-{version}", "--", "python", "probe.py")
        assert proc.returncode == 0, proc.stderr
        images.append(run_json(docker_repo, f"req-{version}")["docker"])
        building = f"gitexp: building image {images[-1]['image']} for this environment"
        assert building in proc.stderr  # a minute of silence otherwise
    again = run_docker(docker_repo, "-n", "req-again", "--", "python", "probe.py")
    assert again.returncode == 0 and "building image" not in again.stderr  # reused
    assert images[0]["image"] != images[1]["image"]
    assert images[0]["image_id"] != images[1]["image_id"]
    dockerfile = show(docker_repo, "req-two", ".gitexp/env/Dockerfile")
    assert 'COPY ["requirements.txt"' in dockerfile and "pip install" in dockerfile


def test_code_change_reuses_the_environment_image(docker_repo: Path) -> None:
    assert run_docker(docker_repo, "-n", "v1", "--", "python", "probe.py").returncode == 0
    (docker_repo / "probe.py").write_text(PROBE_PY + "print('v2')\n")
    assert run_docker(docker_repo, "-n", "v2", "--", "python", "probe.py").returncode == 0
    assert (
        run_json(docker_repo, "v2")["docker"]["image"]
        == run_json(docker_repo, "v1")["docker"]["image"]
    )


def test_reproduce_through_runner_builds_from_the_pinned_dockerfile(
    docker_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gitexp.config.settings import load_config
    from gitexp.gitstore.repo import open_repo
    from gitexp.running.runner import RunRequest, run_experiment

    assert (
        run_docker(docker_repo, "-n", "orig", "--seed", "3", "--", "python", "probe.py").returncode
        == 0
    )
    run = run_json(docker_repo, "orig")
    pinned = show(docker_repo, "orig", ".gitexp/env/Dockerfile") + "# pinned by the test\n"
    # today's config points at a base image that does not exist: only the pinned text can work
    monkeypatch.setenv("GITEXP_DOCKER_BASE_IMAGE", "gitexp-test-no-such-base:0")
    repo = open_repo(docker_repo)
    commit = git(docker_repo, "rev-parse", "refs/experiments/orig").strip()
    request = RunRequest(
        command=run["command"],
        name="rerun",
        seed=run["seed"],
        executor="docker",
        tree=commit,
        baseline=run["baseline"],
        cwd=run["cwd"],
        pinned={"run": run, "dockerfile": pinned},
        echo=False,
    )
    result = run_experiment(repo, load_config(repo.root), request)
    assert result.status == "succeeded"
    assert result.metrics == json.loads(show(docker_repo, "orig", ".gitexp/metrics.json"))
    assert show(docker_repo, "rerun", ".gitexp/env/Dockerfile") == pinned
    assert run_json(docker_repo, "rerun")["docker"]["dockerfile"] == "pinned"


def test_gitexp_reproduce_reruns_in_the_container(docker_repo: Path) -> None:
    assert run_docker(docker_repo, "-n", "ci", "--", "python", "probe.py").returncode == 0
    proc = run_gitexp("reproduce", "ci", "--save", "-n", "ci-again", "-q", cwd=docker_repo)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    again = run_json(docker_repo, "ci-again")
    assert again["executor"] == "docker" and again["docker"]["dockerfile"] == "pinned"
    assert show(docker_repo, "ci-again", ".gitexp/env/Dockerfile") == show(
        docker_repo, "ci", ".gitexp/env/Dockerfile"
    )


def test_links_are_mounted_read_only(docker_repo: Path) -> None:
    write_files(docker_repo, {"data/input.txt": "42\n", "gitexp.yaml": "link: [data]\n"})
    write_files(
        docker_repo,
        {
            "reader.py": """\
            import gitexp
            gitexp.log_metric("value", int(open("data/input.txt").read()))
            try:
                open("data/input.txt", "w").write("0")
            except OSError as exc:
                print("write refused, errno", exc.errno)
            """
        },
    )
    commit_all(docker_repo, "reader")
    proc = run_docker(docker_repo, "-n", "linked", "--", "python", "reader.py")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(show(docker_repo, "linked", ".gitexp/metrics.json")) == {"value": 42}
    assert "write refused, errno 30" in proc.stdout  # EROFS (no `name: number`: not a metric)
    assert (docker_repo / "data/input.txt").read_text() == "42\n"


def test_no_daemon_is_a_one_line_error_and_nothing_is_written(docker_repo: Path) -> None:
    proc = run_gitexp(
        "run",
        "--docker",
        "--",
        "python",
        "probe.py",
        cwd=docker_repo,
        env={"DOCKER_HOST": f"unix://{docker_repo}/no-engine.sock"},
    )
    assert proc.returncode == 1
    line = last_line(proc.stderr)
    assert line.startswith(
        f"gitexp: error: no Docker engine reachable at unix://{docker_repo}/no-engine.sock"
    )
    assert "hint: start one" in line and "DOCKER_HOST" in line
    assert proc.stderr.count("\n") == 1
    assert git(docker_repo, "for-each-ref", "refs/experiments/") == ""


def test_missing_base_image_is_a_clear_error(docker_repo: Path) -> None:
    proc = run_gitexp(
        "run",
        "--docker",
        "-n",
        "nobase",
        "--",
        "python",
        "probe.py",
        cwd=docker_repo,
        env={"GITEXP_DOCKER_BASE_IMAGE": "gitexp-test-no-such-base:0"},
    )
    assert proc.returncode == 1
    line = last_line(proc.stderr)
    assert line.startswith(
        "gitexp: error: base image 'gitexp-test-no-such-base:0' is not here and could not be pulled"
    )
    assert "GITEXP_DOCKER_BASE_IMAGE" in line
    assert proc.stderr == line + "\n"  # said once, before the name was taken (more in
    assert git(docker_repo, "for-each-ref", "refs/experiments/") == ""  # test_docker_preflight)


def test_failing_build_step_is_named_with_its_log_tail(docker_repo: Path) -> None:
    write_files(
        docker_repo,
        {
            "ci/Dockerfile.template": "FROM {{ base_image }}\nRUN echo about-to-fail && exit 3\n",
            "gitexp.yaml": "docker:\n  template: ci/Dockerfile.template\n",
        },
    )
    commit_all(docker_repo, "broken image")
    proc = run_docker(docker_repo, "-n", "badbuild", "--", "python", "probe.py")
    assert proc.returncode == 1
    line = last_line(proc.stderr)
    assert re.match(
        r"gitexp: error: image build failed at Step 2/\d+ : RUN echo about-to-fail && exit 3: ",
        line,
    )
    assert "returned a non-zero code: 3" in line
    assert "about-to-fail" in proc.stderr.replace(line, "")  # the tail was shown
    assert proc.stderr.count("image build failed at Step 2/") == 1  # said once, by the CLI
    run = run_json(docker_repo, "badbuild")
    assert run["status"] == "failed" and "Step 2/" in run["error"]
    assert "about-to-fail" in show(docker_repo, "badbuild", ".gitexp/output.log")


def test_ctrl_c_stops_the_container_and_records_interrupted(docker_repo: Path) -> None:
    write_files(
        docker_repo,
        {
            "slow.py": """\
            import time, gitexp
            gitexp.log_metric("progress", 1)
            print("ready", flush=True)
            time.sleep(120)
            """
        },
    )
    commit_all(docker_repo, "slow")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gitexp",
            "run",
            "--docker",
            "-n",
            "stopped",
            "--",
            "python",
            "slow.py",
        ],
        cwd=docker_repo,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("ready"):
            break
    assert containers_of("stopped"), "the run's container should be up"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    run = run_json(docker_repo, "stopped")
    assert run["status"] == "interrupted"
    assert json.loads(show(docker_repo, "stopped", ".gitexp/metrics.json")) == {"progress": 1}
    assert containers_of("stopped") == []


def test_container_killed_for_memory_is_reported(docker_repo: Path) -> None:
    write_files(
        docker_repo,
        {
            "hog.py": "blob = bytearray(200 * 1024 * 1024)\nprint(len(blob))\n",
            "gitexp.yaml": "docker:\n  memory: 20m\n",
        },
    )
    commit_all(docker_repo, "hog")
    proc = run_docker(docker_repo, "-n", "hog", "--", "python", "hog.py")
    assert proc.returncode == 1
    assert "container killed for memory (limit 20m" in proc.stderr
    run = run_json(docker_repo, "hog")
    assert run["status"] == "failed" and run["exit_code"] == 137
    assert run["error"].startswith("container killed for memory (limit 20m")
    assert run["docker"]["oom_killed"] is True
    assert containers_of("hog") == []


def test_command_missing_in_the_image_exits_127(docker_repo: Path) -> None:
    proc = run_docker(docker_repo, "-n", "nocmd", "--", "no-such-program-xyz")
    assert proc.returncode == 1
    run = run_json(docker_repo, "nocmd")
    assert run["status"] == "failed" and run["exit_code"] == 127
    assert "no-such-program-xyz" in show(docker_repo, "nocmd", ".gitexp/output.log")
    assert containers_of("nocmd") == []


# --- no engine needed -------------------------------------------------------


def test_unknown_docker_key_is_a_usage_error(git_repo: Path) -> None:
    write_files(git_repo, {"gitexp.yaml": "docker:\n  gpu: all\n"})
    proc = run_gitexp("run", "--docker", "--", "python", "train.py")
    assert proc.returncode == 2
    assert last_line(proc.stderr) == (
        "gitexp: error: gitexp.yaml: unknown key `docker.gpu` (hint: did you mean `docker.gpus`?)"
    )
    assert git(git_repo, "for-each-ref", "refs/experiments/") == ""


def test_docker_settings_validate_and_env_overrides_base() -> None:
    from gitexp.common.errors import ConfigError
    from gitexp.config.docker import docker_settings
    from gitexp.config.settings import Config

    raw = {"base_image": "cfg:1", "gpus": 2, "environment": ["TOKEN"], "memory": "1g"}
    s = docker_settings(Config(sections={"docker": raw}), environ={})
    assert (s.base_image, s.gpus, s.passthrough, s.memory) == ("cfg:1", 2, ("TOKEN",), "1g")
    assert s.network == "none" and s.build_network == "host"
    env = {"GITEXP_DOCKER_BASE_IMAGE": "env:2"}
    assert docker_settings(Config(sections={"docker": raw}), environ=env).base_image == "env:2"
    with pytest.raises(ConfigError, match=r"docker\.gpus"):
        docker_settings(Config(sections={"docker": {"gpus": "some"}}), environ={})


def test_tag_follows_what_the_build_reads(tmp_path: Path) -> None:
    from gitexp.common.layout import WHEELS_DIR
    from gitexp.config.docker import DockerSettings
    from gitexp.running.executors import images as C
    from gitexp.running.executors.wheel import gitexp_wheel

    settings = DockerSettings(base_image="base:1")
    write_files(tmp_path, {"train.py": "print(1)\n", "requirements.txt": "six==1.16.0\n"})

    def tag() -> str:
        dockerfile, _ = C.dockerfile_for(tmp_path, settings, None)
        return C.build_context(tmp_path, dockerfile, (), {}).tag

    first = tag()
    (tmp_path / "train.py").write_text("print(2)\n")  # code is mounted, not built in
    assert tag() == first
    (tmp_path / "requirements.txt").write_text("six==1.17.0\n")
    assert tag() != first
    context = C.build_context(tmp_path, C.dockerfile_for(tmp_path, settings, None)[0], (), {})
    assert sorted(context.files) == [
        f"{WHEELS_DIR}/{gitexp_wheel()[0]}",
        "requirements.txt",
    ]


def test_copy_sources_and_base_images_parse_dockerfiles() -> None:
    from gitexp.running.executors import images as C

    text = (
        "FROM a:1 AS build\nCOPY --from=build /x /y\nFROM build\nFROM b:2\n"
        'COPY ["src dir", "/app/"]\nADD https://x/y.tgz /tmp/\n'
        "COPY --chown=1 ./a.txt b/ \\\n  /dst/\n"
    )
    assert C.copy_sources(text) == ["src dir", "a.txt", "b"]
    assert C.base_images(text) == ["a:1", "b:2"]


def test_unknown_placeholder_is_a_config_error(tmp_path: Path) -> None:
    from gitexp.common.errors import ConfigError
    from gitexp.config.docker import DockerSettings
    from gitexp.running.executors import images as C

    write_files(tmp_path, {"T": "FROM {{ base_img }}\n"})
    with pytest.raises(ConfigError, match=r"unknown placeholder \{\{ base_img \}\}"):
        C.dockerfile_for(tmp_path, DockerSettings(base_image="b", template="T"), None)


def test_gitexp_wheel_is_reproducible_and_importable(tmp_path: Path) -> None:
    from gitexp.running.executors.wheel import gitexp_version, gitexp_wheel

    name, data = gitexp_wheel()
    gitexp_wheel.cache_clear()
    assert gitexp_wheel() == (name, data)
    wheel = tmp_path / name
    wheel.write_bytes(data)
    code = "import gitexp, gitexp.tracking; print(gitexp.__file__, gitexp.__version__)"
    out = subprocess.run(
        [sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(wheel)!r}); {code}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert str(wheel) in out and gitexp_version() in out
