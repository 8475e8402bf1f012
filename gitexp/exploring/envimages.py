"""The `gitexp-env` Docker images no experiment of this repository references,
for `gitexp gc --images`.

An experiment's run.json names the image it ran in (``docker.image``, its
content tag, and ``docker.image_id``). Images are listed and removed through
the `docker` command line, as git is driven through `git`: the Docker SDK
stays in the container executor. Removal is never forced, so Docker itself
refuses an image a container (running or stopped) still uses.

Images are shared by every repository on the machine, and an image is the
pinned environment of the experiments that ran in it (a rebuild later may
install other package versions): an image is this repository's to remove
only when one of its experiments once named it. Those names are remembered
in ``.git/gitexp/images.json`` (by every `gitexp gc`, and by `gitexp remove`
for the experiments it removes); an image another repository built, or one a
run is building right now, is never in it unless this repository used it.
Removing is asked for explicitly (`gitexp gc --images`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from gitexp.common.layout import META_DIR, RUN_JSON_NAME
from gitexp.gitstore import store
from gitexp.gitstore.repo import MISSING_OBJECT, Repo
from gitexp.gitstore.trees import read_json

IMAGE_REPO = "gitexp-env"  # as gitexp/running/executors/images.py names them
KNOWN_FILE = "images.json"


@dataclass(frozen=True)
class Image:
    id: str  # sha256:...
    tags: tuple[str, ...]  # gitexp-env:<content tag>, ...


def docker_available() -> bool:
    return shutil.which("docker") is not None


def listed() -> list[Image]:
    """The local `gitexp-env` images, one per image id (with all its tags)."""
    out = _docker("image", "ls", "--no-trunc", "--format", "{{.ID}} {{.Repository}}:{{.Tag}}")
    tags: dict[str, list[str]] = {}
    for line in out.splitlines():
        image_id, _, tag = line.partition(" ")
        if tag.startswith(IMAGE_REPO + ":"):
            tags.setdefault(image_id, []).append(tag)
    return [Image(i, tuple(sorted(t))) for i, t in sorted(tags.items())]


def referenced(repo: Repo, commits: Iterable[str]) -> set[str]:
    """Image ids and tags the run.json of these commits name (3 objects each)."""
    found: set[str] = set()
    for commit in commits:
        docker = _run_json(repo, commit).get("docker")
        if isinstance(docker, dict):
            found.update(str(docker[k]) for k in ("image", "image_id") if docker.get(k))
    return found


def _run_json(repo: Repo, commit: str) -> dict[str, Any]:
    if store.not_a_commit(repo, commit) is not None:
        return {}  # a ref to a tag, tree or blob names no image
    try:
        obj: Any = repo.git[commit]
        tree = obj.tree
        if META_DIR not in tree:
            return {}
        return read_json(repo, tree[META_DIR].id, RUN_JSON_NAME)
    except MISSING_OBJECT:
        return {}


def known(repo: Repo) -> set[str]:
    """Image ids and tags experiments of this repository have ever named."""
    try:
        names = json.loads((repo.state_dir / KNOWN_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set()
    return {str(n) for n in names} if isinstance(names, list) else set()


def remember(repo: Repo, names: set[str]) -> None:
    """Add to the images this repository's experiments named (written atomically)."""
    merged = known(repo) | names
    path = repo.state_dir / KNOWN_FILE
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(sorted(merged), indent=0), encoding="utf-8")
        tmp.replace(path)
    except OSError:
        pass  # a read-only repository: such images are kept, which is safe


def removable(images: list[Image], used: set[str], ours: set[str]) -> list[Image]:
    """The images this repository named once (``ours``) and names no more (``used``)."""
    return [i for i in images if _named(i, ours) and not _named(i, used)]


def _named(image: Image, names: set[str]) -> bool:
    return image.id in names or not names.isdisjoint(image.tags)


def remove(image: Image) -> str | None:
    """Remove one image (each tag, then the id); the reason when Docker refuses."""
    try:
        _docker("image", "rm", *image.tags)
    except RuntimeError as exc:
        return str(exc)
    return None


def _docker(*args: str) -> str:
    proc = subprocess.run(["docker", *args], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        lines = [ln.strip() for ln in proc.stderr.splitlines() if ln.strip()]
        raise RuntimeError(lines[-1] if lines else f"docker exited with {proc.returncode}")
    return proc.stdout
