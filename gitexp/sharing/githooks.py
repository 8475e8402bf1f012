"""Git hooks: `gitexp hooks install` puts a pre-push hook in place that sends the
DVC artifacts of pushed refs/experiments/* along with a plain `git push`, and
the DVC-stored model of each pushed model tag (``git push origin churn@v1.0.0``,
``--tags``, ``--follow-tags``; gitexp/registry/travel.py).

Like pre-commit, an existing user hook is never clobbered: it is kept as
``pre-push.legacy`` and the gitexp hook runs it first (its failure stops the
push); uninstalling puts it back.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from gitexp.common.errors import UsageError
from gitexp.dvcstore.transfer import Transfer, push
from gitexp.gitstore import gitenv, store
from gitexp.gitstore.repo import Repo

HOOK = "pre-push"
MARKER = "gitexp-managed-hook"
LEGACY_SUFFIX = ".legacy"
ZERO = "0" * 40


@dataclass(frozen=True)
class Installed:
    path: Path
    legacy: Path | None  # where the user's previous hook now lives
    replaced: bool  # an older gitexp hook was updated


def hooks_dir(repo: Repo) -> Path:
    """The folder git runs hooks from (core.hooksPath respected)."""
    out = subprocess.run(
        ["git", "rev-parse", "--git-path", "hooks"],
        cwd=repo.root,
        env=gitenv.for_git(),
        capture_output=True,
        text=True,
        check=False,
    )
    rel = out.stdout.strip() if out.returncode == 0 else str(repo.git_dir / "hooks")
    return (repo.root / rel).resolve()


def script() -> str:
    """The hook text, bound to the Python that runs gitexp now."""
    text = (resources.files("gitexp") / "data" / "hooks" / HOOK).read_text(encoding="utf-8")
    python = sys.executable.replace("'", "'\"'\"'")
    return text.replace("@INSTALL_PYTHON@", python)


def is_ours(path: Path) -> bool:
    try:
        return MARKER in path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False


def install(repo: Repo) -> Installed:
    """Write the pre-push hook; an existing foreign hook becomes pre-push.legacy."""
    folder = hooks_dir(repo)
    folder.mkdir(parents=True, exist_ok=True)
    path, legacy = folder / HOOK, folder / (HOOK + LEGACY_SUFFIX)
    ours = is_ours(path)
    moved = None
    if path.exists() and not ours:
        if legacy.exists():
            raise UsageError(
                f"both {path} and {legacy} exist and neither is gitexp's",
                "merge them into one, then run `gitexp hooks install` again",
            )
        path.rename(legacy)
        moved = legacy
    path.write_text(script(), encoding="utf-8")
    path.chmod(0o755)
    return Installed(path, moved or (legacy if legacy.exists() else None), ours)


def uninstall(repo: Repo) -> Path | None:
    """Remove gitexp's hook and restore pre-push.legacy; returns the removed path."""
    folder = hooks_dir(repo)
    path, legacy = folder / HOOK, folder / (HOOK + LEGACY_SUFFIX)
    if not path.exists():
        return None
    if not is_ours(path):
        raise UsageError(f"{path} is not gitexp's hook; left as is")
    path.unlink()
    if legacy.exists():
        legacy.rename(path)
    return path


def pushed_experiments(lines: Iterable[str]) -> dict[str, str]:
    """name → local commit of the experiment refs in pre-push's stdin (deletions skipped)."""
    found = {}
    for line in lines:
        parts = line.split()
        if len(parts) != 4:
            continue
        _local_ref, local_sha, remote_ref, _remote_sha = parts
        if remote_ref.startswith(store.REF_PREFIX) and local_sha != ZERO:
            found[remote_ref[len(store.REF_PREFIX) :]] = local_sha
    return found


def pre_push(repo: Repo, lines: Iterable[str], dvc_remote: str | None) -> Transfer | None:
    """The hook's work: push the DVC artifacts of the experiments being pushed, and
    the DVC objects the pushed model tags recorded."""
    from gitexp.registry.travel import dvc_records, pushed_tags
    from gitexp.sharing.remotes import artifact_records_for

    if os.environ.get("GITEXP_SKIP_HOOK"):
        return None
    lines = list(lines)
    commits = pushed_experiments(lines)
    records = artifact_records_for(repo, commits) if commits else []
    records += dvc_records(repo, pushed_tags(lines))
    unique = list({str(r["md5"]): r for r in records}.values())
    if not unique:
        return None
    return push(repo.root, unique, dvc_remote)
