"""The files of an experiment's tree that gitexp parses before a rerun, bounded in size.

A pulled experiment is untrusted, and its gitexp.yaml and params files are
parsed before anything reruns (YAML in pure Python: seconds per megabyte; a
60 MB gitexp.yaml held `gitexp reproduce` for half a minute). Above
``MAX_BYTES`` (1 MiB, far above any real settings or params file) such a file
is refused in one line before it is read: its size comes from the object's
header, nothing is inflated.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from gitexp.common.errors import ConfigError
from gitexp.config.settings import CONFIG_FILE, load_config
from gitexp.gitstore.repo import Repo
from gitexp.gitstore.trees import read_blob

MAX_BYTES = 1 << 20


class RecordedFileTooBig(ConfigError):
    """A settings or params file of an experiment's tree is larger than gitexp parses."""

    def __init__(self, name: str, path: str, size: int) -> None:
        super().__init__(
            f"experiment {name!r}: {path} is {size:,} bytes, more than the {MAX_BYTES:,} "
            "gitexp parses from an experiment",
            "such a file is no real settings or params file; check where the experiment came from",
        )


def config_bytes(repo: Repo, commit: str, name: str) -> bytes | None:
    """The experiment's gitexp.yaml (None: it has none), once it and the params
    files it names are known to be no larger than ``MAX_BYTES``."""
    tree = repo.git.revparse_single(f"{commit}^{{tree}}")
    check_size(repo, tree, CONFIG_FILE, name)
    data = read_blob(repo, tree.id, CONFIG_FILE)
    for path in _params_files(data):
        check_size(repo, tree, path, name)
    return data


def check_size(repo: Repo, tree: Any, path: str, name: str) -> None:
    """Refuse ``path`` of ``tree`` above ``MAX_BYTES`` (an absent one passes)."""
    try:
        entry = tree[path]
    except (KeyError, ValueError):
        return
    _, size = repo.git.odb.read_header(entry.id)
    if size > MAX_BYTES:
        raise RecordedFileTooBig(name, path, size)


def _params_files(config: bytes | None) -> tuple[str, ...]:
    """The params files a gitexp.yaml names (the default one without it); none when
    it cannot be read (the caller reports that, in its words)."""
    with tempfile.TemporaryDirectory(prefix="gitexp-config-") as tmp:
        if config is not None:
            (Path(tmp) / CONFIG_FILE).write_bytes(config)
        try:
            return load_config(Path(tmp)).params_files
        except ConfigError:
            return ()
