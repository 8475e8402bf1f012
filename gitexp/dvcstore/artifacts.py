"""Large outputs through DVC: the commit holds `.dvc` pointers, the bytes live in DVC's cache.

At record time, files a run logged with ``log_artifact``, files matching
``outputs:`` and new files above ``artifacts.threshold`` are added to the
repository's DVC cache; the experiment tree gets ``<path>.dvc`` (DVC's own
format, so ``dvc pull`` in a checkout of the experiment works too) and
run.json lists them. Pointers gitexp writes carry ``meta: {gitexp: artifact}``
so they are never mistaken for inputs. DVC is imported only when a run has
something to store, or when artifacts are pushed or pulled.
"""

from __future__ import annotations

import configparser
import contextlib
import io
import json
import logging
import os
import re
import shutil
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import yaml

from gitexp.common.errors import BackendError, ConfigError
from gitexp.config.settings import Config
from gitexp.gitstore.record import RunRecord
from gitexp.gitstore.trees import Manifest
from gitexp.gitstore.treewalk import (
    LinkInTheWayError,
    SafeDir,
    UnsafeTreeError,
    check_path,
    unsafe_path,
)

log = logging.getLogger(__name__)
DEFAULT_THRESHOLD = 5 * 2**20
MARK = "artifact"
_UNITS = {"": 1, "B": 1, "KB": 2**10, "K": 2**10, "MB": 2**20, "M": 2**20, "GB": 2**30, "G": 2**30}
_MD5 = re.compile(r"^[0-9a-f]{32}(\.dir)?$")
NO_DVC_HINT = "run `gitexp init --dvc` (or `dvc init`) and commit .dvc/"
NO_REMOTE_HINT = (
    "add one with `dvc remote add -d storage <url>` and commit .dvc/config, "
    "or name one in gitexp.yaml as `artifacts: {remote: NAME}`"
)


@dataclass(frozen=True)
class Settings:
    """The `artifacts:` section of gitexp.yaml."""

    threshold: int = DEFAULT_THRESHOLD
    remote: str | None = None


def settings(config: Config) -> Settings:
    raw = config.section("artifacts")
    unknown = set(raw) - {"threshold", "remote"}
    if unknown:
        raise ConfigError(f"gitexp.yaml: unknown key `artifacts.{sorted(unknown)[0]}`")
    remote = raw.get("remote")
    return Settings(_size(raw.get("threshold", DEFAULT_THRESHOLD)), str(remote) if remote else None)


def _size(value: Any) -> int:
    text = str(value).strip().upper().replace(" ", "").replace("IB", "B")
    digits = text.rstrip("KMGB")
    unit = text[len(digits) :]
    try:
        if unit in _UNITS and float(digits) >= 0:
            return int(float(digits) * _UNITS[unit])
    except ValueError:
        pass
    raise ConfigError(f"gitexp.yaml: `artifacts.threshold` {value!r} is not a size like 5MB")


def dvc_ready(root: Path) -> bool:
    """True when the repository has DVC set up (a `.dvc/` folder)."""
    return (root / ".dvc").is_dir()


def init_dvc(root: Path, remote_url: str | None = None, remote_name: str = "storage") -> bool:
    """`dvc init` when the repository has no DVC yet (True if it did), and a default remote."""
    created = False
    if not dvc_ready(root):
        try:
            from dvc.repo import Repo as DvcRepo
        except ImportError as exc:
            raise BackendError("DVC is not installed", "pip install 'gitexp[dvc]'") from exc
        with contextlib.redirect_stdout(io.StringIO()):  # DVC prints its own banner
            DvcRepo.init(str(root))
        created = True
    if remote_url:
        dvc = _dvc_repo(root)
        with dvc.config.edit() as conf:
            conf["remote"][remote_name] = {"url": remote_url}
            conf["core"]["remote"] = remote_name
    return created


# --- record time -------------------------------------------------------------------------


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
        """run.json: ``artifacts`` (outputs in DVC) and ``dvc_inputs`` (data it read)."""
        extra = {**record.extra, "dvc_inputs": self.inputs} if self.inputs else record.extra
        return record.replace(artifacts=self.records, extra=extra)

    def keep(self, base: Callable[[str], bool]) -> Callable[[str], bool]:
        """Wrap the runner's keep(): stored paths become pointers, logged files are kept."""

        def keep(rel: str) -> bool:
            if _under(rel, self.replaced):
                return False
            return _under(rel, self.forced) or base(rel)

        return keep


def _under(rel: str, paths: Iterable[str]) -> bool:
    return any(rel == p or rel.startswith(p + "/") for p in paths)


def store_outputs(
    root: Path,
    config: Config,
    run_dir: Path,
    cwd: str,
    manifest: Manifest,
    keep: Callable[[str], bool],
) -> Stored:
    """Choose the run's artifacts and move them into DVC's cache (see module doc).

    ``manifest`` says which files the run found in place (unchanged ones are
    never artifacts); ``keep`` is the runner's rule for what the commit holds.
    A DVC failure never loses the run: the files are committed to git instead.
    """
    try:
        opts = settings(config)
    except ConfigError as exc:
        log.warning("%s; using the default artifacts threshold", exc)
        opts = Settings()
    cache = cache_dir(root)
    logged = _logged(run_dir, cwd)
    chosen: dict[str, str] = {p: "logged" for p in logged}
    inputs = []
    for rel, full in _files(run_dir):
        if _links_into(full, cache):
            inputs.append(rel)  # a DVC-tracked input linked in: never committed
        elif rel in chosen or _under(rel, chosen) or not _changed(manifest, rel, full):
            continue
        elif any(fnmatch(rel, pat) for pat in config.outputs):
            chosen[rel] = "outputs"
        elif keep(rel) and _size_of(full) >= opts.threshold:
            chosen[rel] = "size"
    base = Stored(
        replaced=frozenset(inputs), forced=frozenset(logged), inputs=_inputs(run_dir, manifest)
    )
    if not chosen:
        return base
    if not dvc_ready(root):
        return replace(base, warnings=_no_dvc_warnings(run_dir, chosen))
    try:
        records, pointers = _add_to_cache(root, run_dir, chosen)
    except Exception as exc:  # DVC's own errors are many; the run must still be recorded
        log.debug("adding artifacts to DVC failed", exc_info=True)
        warning = f"DVC could not store {', '.join(chosen)}: {exc}; committed to git"
        return replace(base, warnings=[warning])
    return replace(base, records=records, pointers=pointers, replaced=base.replaced | set(chosen))


def _inputs(run_dir: Path, manifest: Manifest) -> list[dict[str, Any]]:
    """The DVC-tracked inputs of the run (`dvc add` pointers in its tree)."""
    found = []
    for rel in sorted(r for r in manifest if r.endswith(".dvc")):
        folder = rel.rpartition("/")[0]
        for out in _input_outs(run_dir / rel):
            path = f"{folder}/{out['path']}" if folder else str(out["path"])
            found.append({"path": path, "md5": str(out["md5"]), "size": out.get("size")})
    return found


def _changed(manifest: Manifest, rel: str, full: Path) -> bool:
    known = manifest.get(rel)
    if known is None or full.is_symlink():
        return known is None
    st = full.stat()
    return (st.st_size, st.st_mtime_ns) != (known.size, known.mtime_ns)


def _size_of(full: Path) -> int:
    return full.lstat().st_size


def _logged(run_dir: Path, cwd: str) -> list[str]:
    """Paths given to log_artifact, relative to the run dir (outside ones are dropped)."""
    path = run_dir / ".gitexp" / "live" / "artifacts.jsonl"
    if not path.exists():
        return []
    found: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            raw = str(json.loads(line)["path"])
        except (ValueError, KeyError, TypeError):
            continue
        full = Path(os.path.normpath(run_dir / cwd / raw))
        if not full.is_relative_to(run_dir) or full == run_dir or not full.exists():
            log.warning("log_artifact(%r): not a file inside the run dir; ignored", raw)
            continue
        rel = full.relative_to(run_dir).as_posix()
        if rel not in found and not rel.startswith(".gitexp"):
            found.append(rel)
    return found


def _files(run_dir: Path) -> Iterable[tuple[str, Path]]:
    for dirpath, dirnames, filenames in os.walk(run_dir):
        base = Path(dirpath)
        dirnames[:] = [d for d in dirnames if d not in {".git", ".gitexp", ".dvc"}]
        for name in filenames:
            full = base / name
            yield full.relative_to(run_dir).as_posix(), full


def _links_into(full: Path, cache: Path) -> bool:
    return full.is_symlink() and os.path.realpath(full).startswith(str(cache) + os.sep)


def _no_dvc_warnings(run_dir: Path, chosen: dict[str, str]) -> list[str]:
    return [
        f"{rel} ({_human(_path_size(run_dir / rel))}, {why}) committed to git because "
        f"DVC is not set up (hint: {NO_DVC_HINT})"
        for rel, why in chosen.items()
    ]


def _add_to_cache(
    root: Path, run_dir: Path, chosen: dict[str, str]
) -> tuple[list[dict[str, Any]], dict[str, bytes]]:
    from dvc_data.hashfile.build import build
    from dvc_data.hashfile.transfer import transfer

    odb = _dvc_repo(root).cache.local
    records, pointers = [], {}
    for rel, why in sorted(chosen.items()):
        staging, meta, obj = build(odb, str(run_dir / rel), odb.fs, "md5")
        transfer(staging, odb, _object_ids(obj), shallow=False, hardlink=False)
        record = {"path": rel, "md5": obj.hash_info.value, "size": meta.size, "reason": why}
        if meta.nfiles is not None:
            record["nfiles"] = meta.nfiles
        records.append(record)
        pointers[rel + ".dvc"] = pointer(record)
    return records, pointers


def _object_ids(obj: Any) -> set[Any]:
    from dvc_data.hashfile.tree import Tree

    ids = {obj.hash_info}
    if isinstance(obj, Tree):
        ids |= {oid for _, _, oid in obj}
    return ids


def pointer(record: dict[str, Any]) -> bytes:
    """A DVC 3 `.dvc` file for one artifact (``path`` relative to the pointer's folder)."""
    out: dict[str, Any] = {"md5": record["md5"], "size": record["size"]}
    if "nfiles" in record:
        out["nfiles"] = record["nfiles"]
    out.update({"hash": "md5", "path": record["path"].rsplit("/", 1)[-1]})
    data = {"meta": {"gitexp": MARK}, "outs": [out]}
    return yaml.safe_dump(data, sort_keys=False).encode()


# --- inputs ------------------------------------------------------------------------------


def cache_dir(root: Path) -> Path:
    """DVC's cache folder of a repository, as `.dvc/config(.local)` sets it."""
    dvc_dir = root / ".dvc"
    parser = configparser.ConfigParser()
    parser.read([dvc_dir / "config", dvc_dir / "config.local"], encoding="utf-8")
    configured = parser.get("cache", "dir", fallback=None)
    return Path(os.path.normpath(dvc_dir / configured)) if configured else dvc_dir / "cache"


def cache_path(cache: Path, md5: str) -> Path:
    return cache / "files" / "md5" / md5[:2] / md5[2:]


def link_inputs(root: Path, run_dir: Path, pointer_paths: Iterable[str]) -> list[str]:
    """Symlink DVC-tracked inputs (`dvc add`) from the cache into the run dir.

    The `.dvc` files come from the (possibly pulled) tree and the folder
    manifests from the DVC cache: every path they name is checked before
    the first link is made, and no link is made through a symlink.
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
                planned[target] = _cached(cache, md5, target, "DVC output path")
        for links in planned.values():
            for rel, source in links or []:
                out.symlink(rel, str(source))
    return [target for target, links in planned.items() if links is None]


def _input_targets(run_dir: Path, pointer_paths: Iterable[str]) -> list[tuple[str, str]]:
    """(path in the run dir, md5) of every output the `.dvc` files name, paths checked."""
    found = []
    for rel in pointer_paths:
        folder = rel.rpartition("/")[0]
        for out in _input_outs(run_dir / rel):
            path = check_path(str(out["path"]), "DVC output path")
            found.append((f"{folder}/{path}" if folder else path, _checked_md5(out["md5"], path)))
    return found


def _cached(cache: Path, md5: str, target: str, what: str) -> list[tuple[str, Path]] | None:
    """(path, cache file) of an object's files, paths checked; None when the cache lacks it."""
    source = cache_path(cache, md5)
    if not md5.endswith(".dir"):
        return [(target, source)] if source.exists() else None
    entries = _manifest(cache, md5)
    if entries is None:
        return None
    files = []
    for relpath, file_md5 in entries:
        path = f"{target}/{relpath}"
        if unsafe_path(relpath):
            raise UnsafeTreeError(path, what=what)
        files.append((path, cache_path(cache, file_md5)))
    return files if all(f.exists() for _, f in files) else None


def _manifest(cache: Path, md5: str) -> list[tuple[str, str]] | None:
    """(relpath, md5) of a DVC folder manifest (`.dir`); None when absent or malformed."""
    try:
        data = json.loads(cache_path(cache, md5).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, list) or not all(isinstance(e, dict) for e in data):
        return None
    entries = [(e.get("relpath"), e.get("md5")) for e in data]
    ok = all(isinstance(r, str) and isinstance(m, str) and _MD5.match(m) for r, m in entries)
    return [(str(r), str(m)) for r, m in entries] if ok else None


def _checked_md5(value: Any, path: str) -> str:
    """An object id names a file in the cache: only hex (and `.dir`) may."""
    md5 = str(value)
    if not _MD5.match(md5):
        raise UnsafeTreeError(path, what="checksum for")
    return md5


def missing(root: Path, records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The records whose objects the local DVC cache lacks."""
    cache = cache_dir(root)
    return [r for r in records if not _complete(cache, str(r["md5"]))]


def _input_outs(path: Path) -> list[dict[str, Any]]:
    try:
        return _parse_outs(path.read_bytes())
    except OSError:
        return []


def _parse_outs(text: bytes) -> list[dict[str, Any]]:
    try:
        data = yaml.safe_load(text)
    except (ValueError, yaml.YAMLError):
        return []
    if not isinstance(data, dict) or (data.get("meta") or {}) == {"gitexp": MARK}:
        return []
    outs = data.get("outs") or []
    return [o for o in outs if isinstance(o, dict) and o.get("md5") and o.get("path")]


# --- transfer ----------------------------------------------------------------------------


def _dvc_repo(root: Path) -> Any:
    if not dvc_ready(root):
        raise BackendError(f"DVC is not set up in {root}", NO_DVC_HINT)
    try:
        from dvc.repo import Repo as DvcRepo
    except ImportError as exc:
        raise BackendError("DVC is not installed", "pip install 'gitexp[dvc]'") from exc
    return DvcRepo(str(root))


def check_remote(root: Path, remote: str | None) -> str:
    """The DVC remote artifacts go to; a clear error when there is none."""
    from dvc.config import NoRemoteError
    from dvc.repo import Repo as DvcRepo

    dvc = _dvc_repo(root)
    assert isinstance(dvc, DvcRepo)
    try:
        name: str = dvc.cloud.get_remote(remote).name
    except NoRemoteError as exc:
        raise BackendError("no DVC remote is configured for the artifacts", NO_REMOTE_HINT) from exc
    except Exception as exc:
        raise BackendError(f"DVC remote {remote!r}: {exc}", NO_REMOTE_HINT) from exc
    return name


@dataclass(frozen=True)
class Transfer:
    """Outcome of a push or fetch of artifact objects."""

    transferred: int
    failed: list[str]


def push(root: Path, records: Iterable[dict[str, Any]], remote: str | None) -> Transfer:
    """Send the objects of these artifacts from the local DVC cache to the remote."""
    dvc = _dvc_repo(root)
    remote = check_remote(root, remote)
    ids: set[Any] = set()
    missing = []
    for record in records:
        obj = _load(dvc.cache.local, str(record["md5"]))
        if obj is None:
            missing.append(str(record["path"]))
        else:
            ids |= _object_ids(obj)
    result = dvc.cloud.push(ids, remote=remote) if ids else None
    failed = missing + [str(h.value) for h in (result.failed if result else ())]
    return Transfer(len(result.transferred) if result else 0, failed)


def fetch(root: Path, records: Iterable[dict[str, Any]], remote: str | None) -> Transfer:
    """Bring the objects of these artifacts from the DVC remote into the local cache."""
    from dvc_data.hashfile.hash_info import HashInfo

    dvc = _dvc_repo(root)
    remote = check_remote(root, remote)
    # an id names a file in the cache: a pulled run.json must not pick where it goes
    wanted = {_checked_md5(r.get("md5"), str(r.get("path"))) for r in records}
    tops = {HashInfo("md5", md5) for md5 in wanted}
    first = dvc.cloud.pull(tops, remote=remote)
    ids: set[Any] = set()
    for md5 in wanted:
        obj = _load(dvc.cache.local, md5) if md5.endswith(".dir") else None
        if obj is not None and _manifest(cache_dir(root), md5) is not None:
            ids |= _object_ids(obj) - tops
    second = dvc.cloud.pull(ids, remote=remote) if ids else None
    failed = [str(h.value) for r in (first, second) if r for h in r.failed]
    failed += [m for m in wanted if not _complete(cache_dir(root), m)]
    moved = len(first.transferred) + (len(second.transferred) if second else 0)
    return Transfer(moved, sorted(set(failed)))


def _load(odb: Any, md5: str) -> Any:
    from dvc_data.hashfile.hash_info import HashInfo
    from dvc_data.hashfile.tree import Tree

    info = HashInfo("md5", md5)
    if md5.endswith(".dir"):
        try:
            return Tree.load(odb, info)
        except (FileNotFoundError, ValueError):
            return None
    return odb.get(md5) if odb.exists(md5) else None


def _complete(cache: Path, md5: str) -> bool:
    if not md5.endswith(".dir"):
        return cache_path(cache, md5).exists()
    entries = _manifest(cache, md5)
    return entries is not None and all(cache_path(cache, m).exists() for _, m in entries)


def checkout(
    root: Path, records: Iterable[dict[str, Any]], dest: Path, experiment: str | None = None
) -> list[Path]:
    """Copy artifacts from the local cache to ``dest/<path>`` (real files, not links).

    Paths come from run.json and the DVC folder manifests, both untrusted:
    all are checked (and nothing may be written below a symlink in ``dest``)
    before the first file is written.
    """
    try:
        planned = _checkout_plan(cache_dir(root), check_records(records))
    except UnsafeTreeError as exc:
        raise exc.naming(experiment) if experiment else exc from None
    with SafeDir(dest) as out:
        for path, _ in planned:
            above = out.blocked(path)
            if above is not None:
                raise LinkInTheWayError(above)
        for path, files in planned:
            _copy_out(out, dest, path, files)
    return [dest / path for path, _ in planned]


def _checkout_plan(
    cache: Path, records: list[tuple[str, str]]
) -> list[tuple[str, list[tuple[str, Path]]]]:
    """(artifact path, its files as (path, cache file)), every path checked."""
    planned = []
    for path, md5 in records:
        files = _cached(cache, md5, path, "artifact path")
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
    """(path, md5) of run.json artifact records, refused when either could leave the
    destination or the cache (records come from a possibly pulled run.json)."""
    try:
        return [_checked_record(record) for record in records]
    except UnsafeTreeError as exc:
        raise exc.naming(experiment) if experiment else exc from None


def _checked_record(record: dict[str, Any]) -> tuple[str, str]:
    value = record.get("path")
    path = check_path(value if isinstance(value, str) else "", "artifact path")
    return path, _checked_md5(record.get("md5"), path)


def _copy_out(out: SafeDir, dest: Path, path: str, files: list[tuple[str, Path]]) -> None:
    """Replace what is at ``path`` (a file, a link or a folder) with the artifact's files."""
    st = out.lstat(path)
    if st is not None and stat.S_ISDIR(st.st_mode):
        shutil.rmtree(dest / path)  # the folders above are real ones: `blocked` said so
    elif st is not None:
        out.unlink(path)
    for rel, source in files:
        out.copy_in(rel, source)


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
