"""Named outputs of a run on another machine go from there straight to the DVC remote.

On the worker, after the command, the new files the run named as outputs
(``gitexp.log_artifact`` paths, and files matching ``outputs:``) are hashed
into a scratch DVC cache and pushed to the repository's DVC remote
(``artifacts.remote``, else the default remote of the snapshot's
``.dvc/config``), content-addressed as `dvc push` stores them. Only their
records (path, md5, size) travel back (``ExecResult.artifacts``); recording
lists them and commits their ``.dvc`` pointers, marked ``pushed`` (they are
on the remote, never in the driver's DVC cache).

Without DVC on the worker, without a DVC remote, or when the push fails,
the files travel back in the archive as before and a note in the log says
why. Files that become artifacts by size alone always travel back: which
files git ignores is the driver's to tell. Files the snapshot held are never
offloaded (their new content must replace the old one in the tree).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import tempfile
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

from gitexp.common.layout import LIVE_ARTIFACTS, LIVE_DIR, META_DIR
from gitexp.common.paths import is_under
from gitexp.config.settings import Config

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Offloaded:
    """What went to the DVC remote: run.json records, and a note when nothing could."""

    records: list[dict[str, Any]] = field(default_factory=list)
    note: str = ""

    @property
    def paths(self) -> list[str]:
        return [str(r["path"]) for r in self.records]


def offload(
    run_dir: Path, cwd: str, config: Config, before: dict[str, Any], driver_host: str
) -> Offloaded:
    """Push the run's new named outputs to the DVC remote (see the module doc)."""
    chosen = _named(run_dir, cwd, config, before)
    if not chosen or not (run_dir / ".dvc").is_dir():
        return Offloaded()
    had_tmp = (run_dir / ".dvc" / "tmp").exists()
    try:
        records = _push(run_dir, config, chosen, driver_host)
    except Exception as exc:  # no DVC here, no remote, a remote out of reach: send them back
        log.debug("offloading to the DVC remote failed", exc_info=True)
        return Offloaded(note=f"{', '.join(sorted(chosen))} sent back, not pushed: {exc}")
    finally:
        if not had_tmp:  # DVC's own scratch files are no result of the run
            shutil.rmtree(run_dir / ".dvc" / "tmp", ignore_errors=True)
    _forget_logged(run_dir, cwd, {str(r["path"]) for r in records})
    return Offloaded(records)


def _named(run_dir: Path, cwd: str, config: Config, before: dict[str, Any]) -> dict[str, str]:
    """{path: why} of the new files the run named as outputs."""
    chosen = {rel: "logged" for rel in _logged(run_dir, cwd)}
    for rel in _new_files(run_dir, before):
        if rel not in chosen and any(fnmatch(rel, pat) for pat in config.outputs):
            chosen[rel] = "outputs"
    return {rel: why for rel, why in chosen.items() if rel not in before}


def _new_files(run_dir: Path, before: dict[str, Any]) -> list[str]:
    found = []
    for dirpath, dirnames, filenames in os.walk(run_dir):
        dirnames[:] = [d for d in dirnames if d not in {".git", META_DIR, ".dvc"}]
        for name in filenames:
            rel = (Path(dirpath) / name).relative_to(run_dir).as_posix()
            if rel not in before:
                found.append(rel)
    return found


def _logged(run_dir: Path, cwd: str) -> list[str]:
    """log_artifact paths that are files or folders inside the run dir."""
    path = run_dir / LIVE_DIR / LIVE_ARTIFACTS
    found: list[str] = []
    for raw in _artifact_paths(path):
        full = Path(os.path.normpath(run_dir / cwd / raw))
        if full.is_relative_to(run_dir) and full != run_dir and full.exists():
            rel = full.relative_to(run_dir).as_posix()
            if rel not in found and not is_under(rel, META_DIR):
                found.append(rel)
    return found


def _artifact_paths(path: Path) -> list[str]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(str(json.loads(line)["path"]))
        except (ValueError, KeyError, TypeError):
            continue
    return out


def _push(
    run_dir: Path, config: Config, chosen: dict[str, str], driver_host: str
) -> list[dict[str, Any]]:
    """Hash into a scratch cache, push to the remote; the run.json records."""
    from dvc.repo import Repo as DvcRepo

    from gitexp.dvcstore.cache import store
    from gitexp.dvcstore.settings import artifacts_settings

    with tempfile.TemporaryDirectory(prefix="gitexp-dvc-") as scratch:
        settings = {"core": {"no_scm": True}, "cache": {"dir": scratch}}
        dvc = DvcRepo(str(run_dir), config=settings)
        remote = artifacts_settings(config).remote
        _check_reachable(dvc, remote, driver_host)
        odb = dvc.cache.local
        records, ids = [], set()
        for rel, why in sorted(chosen.items()):
            record, objects = store(odb, run_dir, rel, why)
            records.append({**record, "pushed": True})
            ids |= objects
        result = dvc.cloud.push(ids, remote=remote)
        if result.failed:
            raise RuntimeError(f"{len(result.failed)} object(s) not pushed")
    return records


def _check_reachable(dvc: Any, remote: str | None, driver_host: str) -> None:
    """A remote that is a folder is one of the driver's machine: pushing to the same
    path on another host would leave the objects where nobody looks for them."""
    fs = dvc.cloud.get_remote(remote).fs
    if fs.protocol == "local" and socket.gethostname() != driver_host:
        raise RuntimeError("the DVC remote is a folder of the driver's machine")


def _forget_logged(run_dir: Path, cwd: str, gone: set[str]) -> None:
    """Drop offloaded paths from the live artifacts file (the driver never sees them)."""
    path = run_dir / LIVE_DIR / LIVE_ARTIFACTS
    if not path.exists() or not gone:
        return
    kept = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            raw = str(json.loads(line)["path"])
        except (ValueError, KeyError, TypeError):
            kept.append(line)
            continue
        rel = Path(os.path.normpath(run_dir / cwd / raw))
        if not (rel.is_relative_to(run_dir) and rel.relative_to(run_dir).as_posix() in gone):
            kept.append(line)
    path.write_text("".join(k + "\n" for k in kept), encoding="utf-8")
