"""Files out of DVC's cache into a folder: a run's inputs linked, artifacts copied
(git-stored artifacts from their commit: gitexp/dvcstore/ingit.py).

The `.dvc` files and run.json records may come from a pulled tree and the
folder manifests from the cache: every path they name is checked before
the first link or file is made, and nothing is written through a symlink.
"""

from __future__ import annotations

import shutil
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from gitexp.common.errors import BackendError
from gitexp.dvcstore import ingit
from gitexp.dvcstore.cache import cache_dir, cached_files, checked_md5, input_outs
from gitexp.gitstore.treewalk import LinkInTheWayError, SafeDir, UnsafeTreeError, check_path


def link_inputs(root: Path, run_dir: Path, pointer_paths: Iterable[str]) -> list[str]:
    """Symlink DVC-tracked inputs (`dvc add`) from the cache into the run dir.

    Returns the paths that could not be linked because the cache lacks them.
    """
    cache = cache_dir(root)
    planned: dict[str, list[tuple[str, Path]] | None] = {}
    with SafeDir(run_dir) as out:
        for target, md5 in _input_targets(run_dir, pointer_paths):
            above = out.blocked(target)
            if above is not None:
                raise LinkInTheWayError(above)
            if target not in planned and out.lstat(target) is None:  # tracked files win
                planned[target] = cached_files(cache, md5, target, "DVC output path")
        for links in planned.values():
            for rel, source in links or []:
                out.symlink(rel, str(source))
    return [target for target, links in planned.items() if links is None]


def _input_targets(run_dir: Path, pointer_paths: Iterable[str]) -> list[tuple[str, str]]:
    """(path in the run dir, md5) of every output the `.dvc` files name, paths checked."""
    found = []
    for rel in pointer_paths:
        folder = rel.rpartition("/")[0]
        for out in input_outs(run_dir / rel):
            path = check_path(str(out["path"]), "DVC output path")
            found.append((f"{folder}/{path}" if folder else path, checked_md5(out["md5"], path)))
    return found


def checkout(
    root: Path, records: Iterable[dict[str, Any]], dest: Path, experiment: str | None = None
) -> list[Path]:
    """Copy artifacts to ``dest/<path>`` (real files, not links): DVC's from the local
    cache, git-stored ones (`ingit`) from the experiment's commit. Every path is
    checked, and every file found, before the first is written."""
    records = list(records)
    try:
        planned = _checkout_plan(cache_dir(root), check_records(records))
    except UnsafeTreeError as exc:
        raise exc.naming(experiment) if experiment else exc from None
    repo, held = _git_plan(root, [r for r in records if ingit.in_git(r)], experiment)
    with SafeDir(dest) as out:
        for path in [p for p, _ in planned] + [h.path for h in held]:
            above = out.blocked(path)
            if above is not None:
                raise LinkInTheWayError(above)
        for path, files in planned:
            _copy_out(out, dest, path, files)
        for item in held:
            _clear(out, dest, item.path)
            ingit.write(repo, out, item)
    return [dest / path for path, _ in planned] + [dest / h.path for h in held]


def _git_plan(
    root: Path, records: list[dict[str, Any]], experiment: str | None
) -> tuple[Any, list[ingit.Held]]:
    if not records:
        return None, []
    if experiment is None:
        raise BackendError("git-stored artifacts are written from their experiment: name it")
    return ingit.plan(root, experiment, [str(r["path"]) for r in records])


def _checkout_plan(
    cache: Path, records: list[tuple[str, str]]
) -> list[tuple[str, list[tuple[str, Path]]]]:
    """(artifact path, its files as (path, cache file)), every path checked."""
    planned = []
    for path, md5 in records:
        files = cached_files(cache, md5, path, "artifact path")
        if files is None:
            raise BackendError(
                f"artifact {path} ({md5}) is not in the DVC cache",
                "fetch it first: `gitexp artifacts pull NAME`",
            )
        planned.append((path, files))
    return planned


def check_records(
    records: Iterable[dict[str, Any]], experiment: str | None = None
) -> list[tuple[str, str]]:
    """(path, md5) of run.json's DVC artifact records, refused when either could leave
    the destination or the cache (records come from a possibly pulled run.json); a
    git-stored record's path is checked too."""
    try:
        checked = [(_checked_path(r), r) for r in records]
        return [(p, checked_md5(r.get("md5"), p)) for p, r in checked if not ingit.in_git(r)]
    except UnsafeTreeError as exc:
        raise exc.naming(experiment) if experiment else exc from None


def _checked_path(record: dict[str, Any]) -> str:
    value = record.get("path")
    return check_path(value if isinstance(value, str) else "", "artifact path")


def _copy_out(out: SafeDir, dest: Path, path: str, files: list[tuple[str, Path]]) -> None:
    """Replace what is at ``path`` (a file, a link or a folder) with the artifact's files."""
    _clear(out, dest, path)
    for rel, source in files:
        out.copy_in(rel, source)


def _clear(out: SafeDir, dest: Path, path: str) -> None:
    """Remove what is at ``path`` (a file, a link or a folder), so the artifact replaces it."""
    st = out.lstat(path)
    if st is not None and stat.S_ISDIR(st.st_mode):
        shutil.rmtree(dest / path)  # the folders above are real ones: `blocked` said so
    elif st is not None:
        out.unlink(path)
