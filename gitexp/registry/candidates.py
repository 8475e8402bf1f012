"""Files of a commit that could be a model: what `gitexp model register` offers when
``--path`` is missing or wrong, so the hint names real paths and a command to paste.

Left out: the ``.gitexp/`` record and every hidden path (``.dvc/``, ``.gitignore``),
source code, docs and the configuration gitexp and DVC read. A ``.dvc`` pointer
stands for the file it tracks (``model.pkl.dvc`` → ``model.pkl``), which is the
path ``--path`` takes. Files whose suffix says "model" come first.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

from gitexp.gitstore import trees
from gitexp.gitstore.repo import Repo

SHOWN = 10
LINK_MODE = 0o120000
NOT_MODELS = {".py", ".pyi", ".ipynb", ".sh", ".md", ".rst", ".toml", ".cfg", ".ini", ".lock"}
CONFIG = {"gitexp.yaml", "dvc.yaml", "dvc.lock", "Dockerfile", "Dockerfile.template"}
CONFIG |= {"requirements.txt", "LICENSE", "Makefile"}
MODEL_SUFFIXES = {".pkl", ".pickle", ".joblib", ".pt", ".pth", ".ckpt", ".onnx", ".h5"}
MODEL_SUFFIXES |= {".hdf5", ".keras", ".safetensors", ".bin", ".model", ".pb", ".tflite"}
MODEL_SUFFIXES |= {".cbm", ".ubj", ".gguf", ".msgpack"}


def listing_command(rev: str) -> str:
    """The command that lists every file of ``rev``, ready to paste."""
    return f"`git ls-tree -r --name-only {rev}`"


def of_commit(repo: Repo, commit: str) -> list[str]:
    """The files of the commit that could be a model, likely ones first."""
    obj: Any = repo.git[commit]  # duck-typed: pygit2 stays in gitexp/gitstore
    files = trees.blobs(repo, obj.tree_id)
    found = {_tracked(path) for path, _, mode in files if mode != LINK_MODE}
    kept = [p for p in found if _could_be_model(p)]
    return sorted(kept, key=lambda p: (PurePosixPath(p).suffix.lower() not in MODEL_SUFFIXES, p))


def _tracked(path: str) -> str:
    return path.removesuffix(".dvc") if path.endswith(".dvc") else path


def _could_be_model(path: str) -> bool:
    parts = PurePosixPath(path)
    if any(part.startswith(".") for part in parts.parts):  # .gitexp/, .dvc/, .gitignore
        return False
    return parts.suffix.lower() not in NOT_MODELS and parts.name not in CONFIG


def hint(repo: Repo, commit: str, rev: str) -> str:
    """``files in it that could be the model: a, b (and 3 more); all its files: CMD``."""
    every = listing_command(rev)
    found = of_commit(repo, commit)
    if not found:
        return f"no file in it looks like a model; all its files: {every}"
    shown = ", ".join(found[:SHOWN])
    rest = len(found) - SHOWN
    more = f" (and {rest} more)" if rest > 0 else ""
    return f"files in it that could be the model: {shown}{more}; all its files: {every}"
