"""Shared fixtures: every test gets an isolated HOME and git identity, and real
git repositories in tmp dirs. Nothing here mocks git."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.com",
    "GIT_COMMITTER_NAME": "Test Committer",
    "GIT_COMMITTER_EMAIL": "committer@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
    "DVC_NO_ANALYTICS": "1",
    "RAY_USAGE_STATS_ENABLED": "0",
}


@pytest.fixture(autouse=True)
def isolated_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private HOME (so no user git config leaks in) and a fixed git identity."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    for key, value in GIT_ENV.items():
        monkeypatch.setenv(key, value)
    for key in ("GITEXP_RUN_DIR", "GITEXP_SEED", "GITEXP_RUN_NAME", "GITEXP_PARAMS_FILE"):
        monkeypatch.delenv(key, raising=False)
    import pygit2

    for level in (
        pygit2.enums.ConfigLevel.GLOBAL,
        pygit2.enums.ConfigLevel.XDG,
        pygit2.enums.ConfigLevel.SYSTEM,
    ):
        pygit2.settings.search_path[level] = str(home)
    return home


@functools.cache
def dvc_problem() -> str | None:
    """Why DVC tests cannot run here, or None when they can."""
    try:
        import dvc.repo  # noqa: F401
    except ImportError:
        return "DVC is not installed (pip install 'gitexp[dvc]')"
    if shutil.which("dvc") is None:
        return "the dvc command is not on PATH"
    return None


CHROMIUM = "/usr/bin/chromium"  # Debian's, driven by Playwright (never `playwright install`)


@functools.cache
def browser_problem() -> str | None:
    """Why the web UI's browser tests cannot run here, or None when they can."""
    try:
        import fastapi  # noqa: F401
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the web UI or Playwright is not installed (pip install -e '.[dev]')"
    if not Path(CHROMIUM).is_file():
        return f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    return None


@functools.cache
def lfs_problem() -> str | None:
    """Why Git LFS tests cannot run here, or None when they can."""
    if shutil.which("git-lfs") is None:
        return "git-lfs is not installed (apt-get install git-lfs)"
    return None


@functools.cache
def ray_problem() -> str | None:
    """Why Ray tests cannot run here, or None when they can."""
    try:
        import ray  # noqa: F401
    except ImportError:
        return "Ray is not installed (pip install 'gitexp[ray]')"
    if shutil.which("ray") is None:
        return "the ray command is not on PATH"
    return None


@functools.cache
def torch_problem() -> str | None:
    """Why torch.distributed tests cannot run here, or None when they can."""
    try:
        import torch.distributed as dist
    except ImportError:
        return "torch is not installed (pip install torch==2.13.0, the CPU build)"
    if not dist.is_available():
        return "this torch has no torch.distributed"
    return None


@pytest.fixture(autouse=True)
def _require_marked_backends(request: pytest.FixtureRequest) -> None:
    """Tests marked `dvc` (`lfs`, `ray`, `torch`) skip without DVC (git-lfs, Ray,
    torch), or fail when GITEXP_REQUIRE_DVC=1 (…_LFS, …_RAY, …_TORCH) in CI."""
    if request.node.get_closest_marker("dvc") is not None:
        require_backend("GITEXP_REQUIRE_DVC", dvc_problem())
    if request.node.get_closest_marker("browser") is not None:
        require_backend("GITEXP_REQUIRE_BROWSER", browser_problem())
    if request.node.get_closest_marker("lfs") is not None:
        require_backend("GITEXP_REQUIRE_LFS", lfs_problem())
    if request.node.get_closest_marker("ray") is not None:
        require_backend("GITEXP_REQUIRE_RAY", ray_problem())
    if request.node.get_closest_marker("torch") is not None:
        require_backend("GITEXP_REQUIRE_TORCH", torch_problem())


def require_backend(switch: str, problem: str | None) -> None:
    """Skip with the reason when a backend is missing; fail when ``switch`` is 1 (CI)."""
    if problem is None:
        return
    if os.environ.get(switch) == "1":
        pytest.fail(f"{switch}=1 but {problem}")
    pytest.skip(problem)  # outside CI only: GITEXP_REQUIRE_<X>=1 fails above


def git(cwd: Path, *args: str, check: bool = True) -> str:
    """Run real git and return its stdout."""
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {proc.stderr}")
    return proc.stdout


def write_files(root: Path, files: dict[str, str]) -> None:
    """Build a file tree in one call (contents are dedented)."""
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


TRAIN_PY = """\
import gitexp
p = gitexp.params()
seed = gitexp.seed_everything()
for i in range(3):
    gitexp.log_metric("loss", 1.0 / (i + 1) * p.get("lr", 1.0))
gitexp.log_metric("acc", 0.5 + p.get("model", {}).get("depth", 0) / 100)
print("trained", p, seed)
"""


def make_repo(root: Path, files: dict[str, str] | None = None) -> Path:
    """A real repository with one commit holding ``files``."""
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "-q", "-b", "main")
    write_files(root, files or {"README.md": "demo\n"})
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "initial")
    return root


@pytest.fixture
def git_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A repo with params.yaml, train.py and .gitignore committed; cwd is its root."""
    root = make_repo(
        tmp_path / "repo",
        {
            "params.yaml": "lr: 0.1\nmodel:\n  depth: 3\n",
            "train.py": TRAIN_PY,
            ".gitignore": "*.ignored\ndata/\n",
        },
    )
    monkeypatch.chdir(root)
    yield root


def run_gitexp(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """The real `gitexp` entry point in a subprocess (as a user types it)."""
    return subprocess.run(
        [sys.executable, "-m", "gitexp", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=timeout,
        check=False,
    )


def last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""
