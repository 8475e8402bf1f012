"""What a container image is built from: the rendered Dockerfile, its context, its tag.

No Docker SDK here (that lives in ``executors/docker.py``): this module only
decides *what* goes into an image, so it can be tested and reasoned about
without an engine. The tag is a content id of everything the build reads (the
Dockerfile, build args, and the files its COPY/ADD lines name, taken from the
experiment's tree), so an unchanged tree reuses its image, a changed
requirements file gets a new one, and a code-only change (the code is mounted,
not copied) reuses the environment image.
"""

from __future__ import annotations

import fnmatch
import hashlib
import io
import json
import os
import re
import shlex
import tarfile
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

# `X as X`: docker.py and the tests read these names from here
from gitexp.common.errors import ConfigError
from gitexp.common.layout import DOCKERFILE_IN_CONTEXT, META_DIR, WHEELS_DIR
from gitexp.common.paths import is_under
from gitexp.config.docker import DockerSettings
from gitexp.running.executors.wheel import gitexp_version, gitexp_wheel

IMAGE_REPO = "gitexp-env"
DEFAULT_REQUIREMENTS = "requirements.txt"
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_FROM = re.compile(r"\s*FROM\s+(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?", re.IGNORECASE)


@dataclass(frozen=True)
class ContextFile:
    mode: int  # 0o644, 0o755, or 0o120000 for a symlink (data = target)
    data: bytes


@dataclass(frozen=True)
class BuildContext:
    """The files a build sees (Dockerfile included) and the tag derived from them."""

    dockerfile: str
    files: dict[str, ContextFile] = field(default_factory=dict)
    build_args: dict[str, str] = field(default_factory=dict)

    @property
    def digest(self) -> str:
        h = hashlib.sha256()
        h.update(self.dockerfile.encode())
        h.update(json.dumps(self.build_args, sort_keys=True).encode())
        for path in sorted(self.files):
            f = self.files[path]
            h.update(f"\0{path}\0{f.mode:o}\0".encode() + hashlib.sha256(f.data).digest())
        return h.hexdigest()

    @property
    def tag(self) -> str:
        return f"{IMAGE_REPO}:{self.digest[:20]}"

    def tar(self) -> io.BytesIO:
        """The context as the uncompressed tar the Docker API takes."""
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            entries = {
                **self.files,
                DOCKERFILE_IN_CONTEXT: ContextFile(0o644, self.dockerfile.encode()),
            }
            for path in sorted(entries):
                _add(tar, path, entries[path])
        buf.seek(0)
        return buf


def _add(tar: tarfile.TarFile, path: str, f: ContextFile) -> None:
    info = tarfile.TarInfo(path)
    if f.mode == 0o120000:
        info.type = tarfile.SYMTYPE
        info.linkname = f.data.decode()
        tar.addfile(info)
        return
    info.size, info.mode = len(f.data), f.mode
    tar.addfile(info, io.BytesIO(f.data))


def dockerfile_for(run_dir: Path, settings: DockerSettings, pinned: str | None) -> tuple[str, str]:
    """(Dockerfile text, where it came from): the pinned text of a reproduction wins."""
    if pinned is not None:
        return pinned, "pinned"
    if settings.template:
        path = run_dir / settings.template
        if not path.is_file():
            raise ConfigError(
                f"docker template {settings.template!r} not found in the experiment",
                "commit it or fix `docker.template` in gitexp.yaml",
            )
        template, source = path.read_text(encoding="utf-8"), settings.template
    else:
        template, source = default_template(), "default"
    return render(template, _values(run_dir, settings)), source


def default_template() -> str:
    return (resources.files("gitexp") / "data" / "Dockerfile.template").read_text("utf-8")


def render(template: str, values: dict[str, str]) -> str:
    """Fill ``{{ name }}`` placeholders; an unknown name is a config error."""

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise ConfigError(
                f"unknown placeholder {{{{ {name} }}}} in the Docker template",
                f"known: {', '.join(sorted(values))}",
            )
        return values[name]

    return _PLACEHOLDER.sub(fill, template)


def _values(run_dir: Path, settings: DockerSettings) -> dict[str, str]:
    args = "\n".join(f"ARG {k}={json.dumps(v)}" for k, v in sorted(settings.build_args.items()))
    return {
        "base_image": settings.base_image,
        "build_args": args or "# (no build args)",
        "requirements": requirements_block(run_dir, settings.requirements),
        "gitexp_version": gitexp_version(),
        "wheels_dir": WHEELS_DIR,
    }


def requirements_block(run_dir: Path, configured: str | None) -> str:
    """COPY + pip install of the experiment's requirements file (or lock), if it has one."""
    rel = configured or DEFAULT_REQUIREMENTS
    if not (run_dir / rel).is_file():
        if configured:
            raise ConfigError(
                f"requirements file {configured!r} not found in the experiment",
                "commit it or fix `docker.requirements` in gitexp.yaml",
            )
        return "# (no requirements.txt in the experiment)"
    target = "/tmp/gitexp-requirements/" + Path(rel).name
    return (
        f"COPY {json.dumps([rel, target])}\n"
        f"RUN python -m pip install --no-cache-dir -r {shlex.quote(target)}"
    )


def build_context(
    run_dir: Path, dockerfile: str, exclude: tuple[str, ...], build_args: dict[str, str]
) -> BuildContext:
    """The run-dir files the Dockerfile's COPY/ADD lines name, plus the gitexp wheel."""
    sources = copy_sources(dockerfile)
    files: dict[str, ContextFile] = {}
    if sources:
        wheel_name, wheel = gitexp_wheel()
        candidates = {f"{WHEELS_DIR}/{wheel_name}": ContextFile(0o644, wheel)}
        candidates.update(_tree_files(run_dir, exclude))
        files = {p: f for p, f in candidates.items() if any(_matches(p, s) for s in sources)}
    return BuildContext(dockerfile, files, dict(build_args))


def copy_sources(dockerfile: str) -> list[str]:
    """Context paths named by COPY/ADD (not ``--from`` stages, not URLs), normalized."""
    out: list[str] = []
    for line in re.sub(r"\\\r?\n", " ", dockerfile).splitlines():
        m = re.match(r"\s*(COPY|ADD)\s+(.+)", line, re.IGNORECASE)
        if not m:
            continue
        args = m.group(2).strip()
        parts = _json_list(args) if args.startswith("[") else shlex.split(args, comments=False)
        if any(p.startswith("--from") for p in parts):
            continue
        words = [p for p in parts if not p.startswith("--")]
        for src in words[:-1]:
            if not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", src):
                out.append(os.path.normpath(src.lstrip("/")))
    return out


def _json_list(text: str) -> list[str]:
    try:
        parts = json.loads(text)
    except json.JSONDecodeError:
        return shlex.split(text)
    return [str(p) for p in parts] if isinstance(parts, list) else []


def _matches(path: str, source: str) -> bool:
    if source in (".", ""):
        return True
    if any(c in source for c in "*?["):
        return fnmatch.fnmatchcase(path, source) or any(
            fnmatch.fnmatchcase(path[:i], source) for i in _prefix_ends(path)
        )
    return is_under(path, source)


def _prefix_ends(path: str) -> list[int]:
    return [i for i, c in enumerate(path) if c == "/"]


def _tree_files(run_dir: Path, exclude: tuple[str, ...]) -> dict[str, ContextFile]:
    """Files of the materialized tree: not .gitexp/, not linked inputs."""
    out: dict[str, ContextFile] = {}
    skip = (META_DIR, *exclude)
    for dirpath, dirnames, filenames in os.walk(run_dir):
        rel_dir = os.path.relpath(dirpath, run_dir)
        prefix = "" if rel_dir == "." else rel_dir.replace(os.sep, "/") + "/"
        dirnames[:] = sorted(d for d in dirnames if prefix + d not in skip)
        for name in filenames:
            rel = prefix + name
            if rel in skip:
                continue
            full = Path(dirpath) / name
            out[rel] = _context_file(full)
    return out


def _context_file(path: Path) -> ContextFile:
    if path.is_symlink():
        return ContextFile(0o120000, os.readlink(path).encode())
    return ContextFile(0o755 if os.access(path, os.X_OK) else 0o644, path.read_bytes())


def planned_base_images(settings: DockerSettings, read: Callable[[str], bytes | None]) -> list[str]:
    """The images a fresh build will start FROM, known before the run dir exists:
    the template's FROM lines with ``{{ base_image }}`` filled in. A template not in
    the tree, or a FROM with another placeholder, is left to the build to report."""
    if settings.template is None:
        template = default_template()
    else:
        data = read(settings.template)
        if data is None:
            return []
        template = data.decode("utf-8", errors="replace")
    froms = [line for line in template.splitlines() if _FROM.match(line)]
    known = {"base_image": settings.base_image}
    filled = [_PLACEHOLDER.sub(lambda m: known.get(m.group(1), "$unknown"), f) for f in froms]
    return base_images("\n".join(filled))


def base_images(dockerfile: str) -> list[str]:
    """External images the Dockerfile starts FROM (stages and ``$ARG`` refs left out)."""
    stages: set[str] = set()
    images: list[str] = []
    for line in dockerfile.splitlines():
        m = _FROM.match(line)
        if not m:
            continue
        image, alias = m.group(1), m.group(2)
        if image.lower() not in stages and "$" not in image and image != "scratch":
            images.append(image)
        if alias:
            stages.add(alias.lower())
    return images
