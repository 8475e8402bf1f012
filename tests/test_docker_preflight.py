"""`gitexp run --docker` on a host that lacks what the image needs: told once, early.

A base image that is not here and cannot be pulled (no registry in reach:
an unknown name does it without network) is found before the experiment's
name is reserved: one line, exit 1, no experiment, the name stays free, and
the hint names a local `gitexp-base:*` image when there is one. A command
that fails on a module the image lacks gets one hint line after its output.
Real engine, real images (tests/docker_support.py).
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import git, run_gitexp, write_files
from docker_support import BASE_IMAGE, docker_cli, require_docker
from run_support import run_json, show

from gitexp.config.docker import DockerSettings
from gitexp.running.executors.baseimage import hint
from gitexp.running.executors.images import planned_base_images
from gitexp.running.executors.missingmodule import missing_module, module_hint

pytestmark = pytest.mark.docker
MISSING = "gitexp-no-such-base:1"
NOT_PULLED = f"gitexp: error: base image '{MISSING}' is not here and could not be pulled ("


@pytest.fixture
def repo(git_repo: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    require_docker()
    monkeypatch.setenv("GITEXP_DOCKER_BASE_IMAGE", BASE_IMAGE)
    write_files(git_repo, {"hello.py": "print('hello from the image')\n"})
    commit_all(git_repo, "hello")
    return git_repo


def commit_all(root: Path, message: str) -> None:
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)


def refs(root: Path) -> str:
    return git(root, "for-each-ref", "refs/experiments/")


def run_docker(root: Path, *args: str, base: str | None = None) -> subprocess.CompletedProcess[str]:
    env = None if base is None else {"GITEXP_DOCKER_BASE_IMAGE": base}
    return run_gitexp("run", "--docker", *args, cwd=root, env=env)


def local_hint() -> str:
    """What the hint says about local images, as this engine has them."""
    tags = docker_cli("image", "ls", "gitexp-base", "--format", "{{.Repository}}:{{.Tag}}")
    if not [t for t in tags.split() if not t.endswith(":<none>")]:
        return "pull or build one"
    return "is here: `export GITEXP_DOCKER_BASE_IMAGE=gitexp-base:"


def test_missing_base_image_records_nothing_and_leaves_the_name_free(repo: Path) -> None:
    proc = run_docker(repo, "-n", "first", "--", "python", "hello.py", base=MISSING)
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith(NOT_PULLED)  # said once
    assert local_hint() in proc.stderr and "in gitexp.yaml" in proc.stderr
    assert refs(repo) == ""  # no failed experiment
    again = run_docker(repo, "-n", "first", "--", "python", "hello.py")
    assert again.returncode == 0, again.stderr  # the name was still free
    assert run_json(repo, "first")["status"] == "succeeded"


def test_missing_base_image_from_gitexp_yaml(repo: Path) -> None:
    write_files(repo, {"gitexp.yaml": f"docker:\n  base_image: {MISSING}\n"})
    commit_all(repo, "config")
    proc = run_docker(repo, "--", "python", "hello.py", base="")  # the variable unset
    assert proc.returncode == 1
    assert proc.stderr.startswith(NOT_PULLED) and proc.stderr.count("\n") == 1
    assert refs(repo) == ""


def test_template_from_line_is_checked_before_the_run(repo: Path) -> None:
    write_files(
        repo,
        {
            "ci/Dockerfile.template": f"FROM {{{{ base_image }}}} AS deps\nFROM {MISSING}\n",
            "gitexp.yaml": "docker:\n  template: ci/Dockerfile.template\n",
        },
    )
    commit_all(repo, "template")
    proc = run_docker(repo, "-n", "tpl", "--", "python", "hello.py")
    assert proc.returncode == 1
    assert proc.stderr.startswith(NOT_PULLED) and proc.stderr.count("\n") == 1
    assert proc.stderr.endswith(
        f"(hint: pull or build it, or change `FROM {MISSING}` in ci/Dockerfile.template)\n"
    )
    assert refs(repo) == ""


@pytest.fixture
def vanishing_base() -> Iterator[str]:
    """A second tag of the base image, removed again at the end of the test."""
    tag = f"gitexp-test-vanishing-base:{uuid.uuid4().hex[:8]}"
    docker_cli("tag", BASE_IMAGE, tag)
    yield tag
    docker_cli("rmi", tag)


def test_reproduce_names_the_pinned_base_image(repo: Path, vanishing_base: str) -> None:
    proc = run_docker(repo, "-n", "orig", "--", "python", "hello.py", base=vanishing_base)
    assert proc.returncode == 0, proc.stderr
    assert f"FROM {vanishing_base}\n" in show(repo, "orig", ".gitexp/env/Dockerfile")
    docker_cli("rmi", run_json(repo, "orig")["docker"]["image"])  # built FROM the tag alone
    docker_cli("rmi", vanishing_base)  # untag: the image stays, as BASE_IMAGE
    before = refs(repo)
    rerun = run_gitexp("reproduce", "orig", "-q", "--allow-empty", cwd=repo)
    assert rerun.returncode == 1
    line = f"gitexp: error: base image '{vanishing_base}' is not here and could not be pulled"
    assert rerun.stderr.startswith(line) and rerun.stderr.count("\n") == 1
    assert "the experiment's Dockerfile is pinned to it" in rerun.stderr
    assert refs(repo) == before


def test_module_missing_in_the_image_gets_one_hint_after_the_failure(repo: Path) -> None:
    write_files(repo, {"needs.py": "print('starting')\nimport gitexp_absent_pkg\n"})
    commit_all(repo, "needs a package")
    proc = run_docker(repo, "-n", "needs", "--", "python", "needs.py")
    assert proc.returncode == 1
    lines = proc.stderr.splitlines()
    hint_line = (
        "gitexp: hint: the image has no module 'gitexp_absent_pkg': add `gitexp_absent_pkg` "
        "to requirements.txt in the repository; the next `--docker` run builds an image "
        "with it (docs/docker.md)"
    )
    assert lines.count(hint_line) == 1
    error = lines.index("ModuleNotFoundError: No module named 'gitexp_absent_pkg'")
    assert lines.index(hint_line) == error + 1  # right after the traceback
    assert hint_line in show(repo, "needs", ".gitexp/output.log")
    assert run_json(repo, "needs")["status"] == "failed"


def test_other_failures_get_no_module_hint(repo: Path) -> None:
    write_files(repo, {"boom.py": "raise SystemExit('boom')\n"})
    commit_all(repo, "boom")
    proc = run_docker(repo, "-n", "boom", "--", "python", "boom.py")
    assert proc.returncode == 1 and "boom" in proc.stderr
    assert "hint: the image has no module" not in proc.stderr


def test_module_hint_names_the_package_and_skips_the_repositorys_modules(
    tmp_path: Path,
) -> None:
    plain = DockerSettings(base_image="b:1")
    out = b"Traceback ...\nModuleNotFoundError: No module named 'yaml.constructor'\n"
    assert missing_module(out) == "yaml"
    assert missing_module(b"ImportError: cannot import name 'x'\n") is None
    text = module_hint("yaml", plain, tmp_path)
    assert text is not None and "add `PyYAML` to requirements.txt" in text
    mine = DockerSettings(base_image="b:1", requirements="env/req.lock", template="d.tpl")
    text = module_hint("sklearn", mine, tmp_path)
    assert text is not None and "add `scikit-learn` to env/req.lock" in text
    assert "d.tpl installs it where it has {{ requirements }}" in text
    (tmp_path / "helpers.py").write_text("")
    assert module_hint("helpers", plain, tmp_path) is None  # the repository's own: a path issue


def test_planned_base_images_follow_the_template() -> None:
    settings = DockerSettings(base_image="base:1", template="t")
    files = {
        "t": b"FROM {{ base_image }} AS deps\nFROM deps\nFROM --platform=x other:2\n",
        "u": b"FROM {{ gitexp_version }}\nRUN true\n",
    }
    assert planned_base_images(settings, files.get) == ["base:1", "other:2"]
    assert planned_base_images(DockerSettings(base_image="base:1"), files.get) == ["base:1"]
    assert planned_base_images(DockerSettings(base_image="b", template="u"), files.get) == []
    assert planned_base_images(DockerSettings(base_image="b", template="gone"), files.get) == []


def test_base_image_hint_fits_where_the_name_came_from() -> None:
    s = DockerSettings(base_image="python:3.11-slim", template="ci/D")
    assert "export GITEXP_DOCKER_BASE_IMAGE=gitexp-base:py311" in hint(
        "python:3.11-slim", s, False, ["gitexp-base:py311"]
    )
    assert "scripts/docker-up.sh" in hint("python:3.11-slim", s, False, [])
    assert "change `FROM other:1` in ci/D" in hint("other:1", s, False, ["gitexp-base:py311"])
    assert "pinned" in hint("python:3.11-slim", s, True, ["gitexp-base:py311"])
