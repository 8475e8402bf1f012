"""Which files of a finished run become artifacts, chosen at record time.

Files the run logged with ``log_artifact``, files matching ``outputs:`` and
new files above ``artifacts.threshold`` are added to the repository's DVC
cache (gitexp/dvcstore/cache.py); the experiment tree gets ``<path>.dvc``
pointers instead of the files, and run.json lists them. Without DVC (or when
DVC fails) they are committed to git, and run.json still lists the logged and
``outputs:`` ones, as ``"store": "git"`` (gitexp/dvcstore/ingit.py).
DVC-tracked inputs linked into the run dir are never committed. DVC is
imported only when a run has something to store.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

from gitexp.common.errors import ConfigError
from gitexp.common.layout import LIVE_ARTIFACTS, LIVE_DIR, META_DIR
from gitexp.common.paths import is_under, under_any
from gitexp.config.settings import Config
from gitexp.dvcstore import cache, ingit
from gitexp.dvcstore.settings import Settings, artifacts_settings
from gitexp.gitstore.record import RunRecord
from gitexp.gitstore.trees import Manifest
from gitexp.running.confine import inside

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Stored:
    """What recording does with a run dir: files replaced by pointers, files forced in."""

    records: list[dict[str, Any]] = field(default_factory=list)
    pointers: dict[str, bytes] = field(default_factory=dict)
    replaced: frozenset[str] = frozenset()
    forced: frozenset[str] = frozenset()
    warnings: list[str] = field(default_factory=list)
    inputs: list[dict[str, Any]] = field(default_factory=list)

    def apply(self, record: RunRecord) -> RunRecord:
        """run.json: ``artifacts`` (in DVC, or in git) and ``dvc_inputs`` (data it read)."""
        extra = {**record.extra, "dvc_inputs": self.inputs} if self.inputs else record.extra
        return record.replace(artifacts=self.records, extra=extra)

    def plus_pushed(self, records: list[dict[str, Any]]) -> Stored:
        """With the outputs an executor pushed to the DVC remote from elsewhere
        (ExecResult.artifacts): listed, and their pointers committed."""
        if not records:
            return self
        pointers = {f"{r['path']}.dvc": cache.pointer(r) for r in records}
        return replace(
            self, records=[*self.records, *records], pointers={**self.pointers, **pointers}
        )

    def keep(self, base: Callable[[str], bool]) -> Callable[[str], bool]:
        """Wrap the runner's keep(): stored paths become pointers, logged files are kept."""

        def keep(rel: str) -> bool:
            if under_any(rel, self.replaced):
                return False
            return under_any(rel, self.forced) or base(rel)

        return keep


def store_outputs(
    root: Path,
    config: Config,
    run_dir: Path,
    cwd: str,
    manifest: Manifest,
    keep: Callable[[str], bool],
    changed: Iterable[str] | None = None,
    in_lfs: Callable[[str], bool] = lambda rel: False,
) -> Stored:
    """Choose the run's artifacts and move them into DVC's cache (see module doc).

    ``manifest`` says which files the run found in place (unchanged ones are
    never artifacts); ``changed``, when known, lists the others, so only they
    are looked at; ``keep`` is the runner's rule for what the commit holds.
    A DVC failure never loses the run: the files are committed to git instead.
    """
    logged = _logged(run_dir, cwd)
    candidates = _files(run_dir) if changed is None else [(r, run_dir / r) for r in changed]
    candidates = _confined(root, run_dir, candidates)
    chosen, inputs = _choose(root, config, candidates, manifest, keep, logged, in_lfs)
    base = Stored(
        replaced=frozenset(inputs), forced=frozenset(logged), inputs=_inputs(run_dir, manifest)
    )
    if not chosen:
        return base
    if not cache.dvc_ready(root):
        in_git = ingit.records(run_dir, chosen, in_lfs)
        return replace(base, records=in_git, warnings=_no_dvc_warnings(run_dir, chosen))
    try:
        records, pointers = cache.add(root, run_dir, chosen)
    except Exception as exc:  # DVC's own errors are many; the run must still be recorded
        log.debug("adding artifacts to DVC failed", exc_info=True)
        warning = f"DVC could not store {', '.join(chosen)}: {exc}; committed to git"
        return replace(base, records=ingit.records(run_dir, chosen, in_lfs), warnings=[warning])
    return replace(base, records=records, pointers=pointers, replaced=base.replaced | set(chosen))


def _choose(
    root: Path,
    config: Config,
    candidates: Iterable[tuple[str, Path]],
    manifest: Manifest,
    keep: Callable[[str], bool],
    logged: list[str],
    in_lfs: Callable[[str], bool],
) -> tuple[dict[str, str], list[str]]:
    """({path: why it goes to DVC}, DVC inputs linked into the run dir); a large file
    Git LFS tracks stays with LFS unless named (logged, `outputs:`)."""
    threshold = _settings(config).threshold
    linked_from = cache.cache_dir(root)
    chosen: dict[str, str] = {p: "logged" for p in logged}
    inputs = []
    for rel, full in candidates:
        if _links_into(full, linked_from):
            inputs.append(rel)  # a DVC-tracked input linked in: never committed
        elif rel in chosen or under_any(rel, chosen) or not _changed(manifest, rel, full):
            continue
        elif any(fnmatch(rel, pat) for pat in config.outputs):
            chosen[rel] = "outputs"
        elif keep(rel) and full.lstat().st_size >= threshold and not in_lfs(rel):
            chosen[rel] = "size"
    return chosen, inputs


def _confined(
    root: Path, run_dir: Path, candidates: Iterable[tuple[str, Path]]
) -> list[tuple[str, Path]]:
    """Leave out symlinks that lead out of the run dir (a pulled tree may hold
    them): such a link is committed as a link, its target never stored. Links
    into DVC's cache are the run's inputs and stay."""
    linked_from = cache.cache_dir(root)
    return [(r, f) for r, f in candidates if _links_into(f, linked_from) or inside(run_dir, r)]


def _settings(config: Config) -> Settings:
    try:
        return artifacts_settings(config)
    except ConfigError as exc:
        log.warning("%s; using the default artifacts threshold", exc)
        return Settings()


def _inputs(run_dir: Path, manifest: Manifest) -> list[dict[str, Any]]:
    """The DVC-tracked inputs of the run (`dvc add` pointers in its tree)."""
    found = []
    for rel in sorted(r for r in manifest if r.endswith(".dvc")):
        folder = rel.rpartition("/")[0]
        for out in cache.input_outs(run_dir / rel):
            path = f"{folder}/{out['path']}" if folder else str(out["path"])
            found.append({"path": path, "md5": str(out["md5"]), "size": out.get("size")})
    return found


def _changed(manifest: Manifest, rel: str, full: Path) -> bool:
    known = manifest.get(rel)
    if known is None or full.is_symlink():
        return known is None
    st = full.stat()
    return (st.st_size, st.st_mtime_ns) != (known.size, known.mtime_ns)


def _logged(run_dir: Path, cwd: str) -> list[str]:
    """Paths given to log_artifact, relative to the run dir (outside ones are dropped)."""
    path = run_dir / LIVE_DIR / LIVE_ARTIFACTS
    if not path.exists():
        return []
    found: dict[str, None] = {}  # in order, once each
    with path.open(encoding="utf-8", errors="replace") as lines:  # a line at a time
        for line in lines:
            try:
                raw = str(json.loads(line)["path"])
            except (ValueError, KeyError, TypeError):
                continue
            full = Path(os.path.normpath(run_dir / cwd / raw))
            outside = not full.is_relative_to(run_dir) or not inside(run_dir, str(full))
            if outside or full == run_dir or not full.exists():
                log.warning("log_artifact(%r): not a file inside the run dir; ignored", raw)
                continue
            rel = full.relative_to(run_dir).as_posix()
            if not is_under(rel, META_DIR):
                found.setdefault(rel)
    return list(found)


def _files(run_dir: Path) -> Iterable[tuple[str, Path]]:
    for dirpath, dirnames, filenames in os.walk(run_dir):
        base = Path(dirpath)
        dirnames[:] = [d for d in dirnames if d not in {".git", META_DIR, ".dvc"}]
        for name in filenames:
            full = base / name
            yield full.relative_to(run_dir).as_posix(), full


def _links_into(full: Path, folder: Path) -> bool:
    return full.is_symlink() and os.path.realpath(full).startswith(str(folder) + os.sep)


def _no_dvc_warnings(run_dir: Path, chosen: dict[str, str]) -> list[str]:
    return [
        f"{rel} ({_human(_path_size(run_dir / rel))}, {why}) committed to git because "
        f"DVC is not set up (hint: {cache.NO_DVC_HINT})"
        for rel, why in chosen.items()
    ]


def _path_size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _human(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"
