"""Sources of randomness a rerun's record shows were not controlled.

When a reproduction's metrics differ and nothing in its environment did, the
script itself is nondeterministic. The hints name what the code imports that
draws random numbers (``random``, NumPy, PyTorch, TensorFlow) when nothing in
it seeds them (``seed_everything(``, ``random.seed(``, ``np.random.seed(``,
``default_rng(SEED)``). The code is the command's script and the modules of the tree
it imports, followed from one to the next (all of the tree's Python files for
a command with no script, such as ``python -c``); a tree too large to read
falls back to what is installed.
"""

from __future__ import annotations

import posixpath
import re
from typing import Any

from gitexp.common.mappings import flatten
from gitexp.exploring import envdiff
from gitexp.gitstore import sources, store
from gitexp.gitstore.repo import Repo

# `import a.b, c` / `from a.b import c` at a line's start (in quotes in a notebook's JSON)
_IMPORT = re.compile(rb'^[ \t]*"?(?:import|from)[ \t]+([\w.]+(?:[ \t]*,[ \t]*[\w.]+)*)', re.M)
_EVERYTHING = rb"seed_everything\("  # gitexp's, Lightning's, fastai's: all of them
_SEEDED = {
    "random": re.compile(_EVERYTHING + rb"|(?<![\w.])random\.seed\("),
    "numpy": re.compile(_EVERYTHING + rb"|(?:np|numpy)\.random\.seed\(|default_rng\([ \t]*[\w\"]"),
    "torch": re.compile(_EVERYTHING + rb"|torch\.manual_seed\("),
    "tensorflow": re.compile(_EVERYTHING + rb"|(?:tf|tensorflow)\.random\.set_seed\("),
}
# torch and TensorFlow seeded in the code, not run with --deterministic
_KERNELS = {
    "torch": "seeded, but ask for deterministic algorithms (`gitexp run --deterministic`)",
    "tensorflow": "seeded, but set TF_DETERMINISTIC_OPS=1 (`gitexp run --deterministic`)",
}
# module: (distribution, what to do)
SOURCES = {
    "random": ("", "seed it (random.seed(...), or gitexp.seed_everything())"),
    "numpy": ("numpy", "seed it (gitexp.seed_everything(), or `gitexp run --autolog`)"),
    "torch": (
        "torch",
        "seed it and ask for deterministic algorithms (`gitexp run --deterministic`)",
    ),
    "tensorflow": (
        "tensorflow",
        "seed it and set TF_DETERMINISTIC_OPS=1 (`gitexp run --deterministic`)",
    ),
}
_DETERMINISM = ("torch", "tensorflow")  # seeding is not enough: their kernels vary too


def hints(repo: Repo, commit: str) -> list[str]:
    """One line per uncontrolled source, and unset thread counts."""
    env = envdiff.environment(repo, commit)
    run = store.load(repo, "", repo.git[commit].id).run
    deterministic = bool(flatten(run.get("params") or {}).get("gitexp.deterministic"))
    tree = sources.python_sources(repo, commit)
    texts = _reached(tree, run) if tree is not None else None
    imported = {m for t in texts for m in _imports(t)} if texts is not None else None
    found = []
    for module, (package, how) in SOURCES.items():
        if imported is not None:
            used, said = module in imported, "is imported"
        else:
            used, said = not package or package in env.packages, "is installed"
        seeded = _seeded(texts, module)
        if not used or (deterministic if module in _DETERMINISM else seeded):
            continue
        found.append(f"{module} {said}: {_KERNELS[module] if seeded else how}")
    numeric = imported is None or bool(imported & {"numpy", "torch", "tensorflow"})
    if (env.env or {}).get("OMP_NUM_THREADS") is None and numeric and "numpy" in env.packages:
        found.append("OMP_NUM_THREADS is not set: parallel sums may round differently")
    return found


def _seeded(texts: list[bytes] | None, module: str) -> bool:
    return texts is not None and any(_SEEDED[module].search(t) for t in texts)


def _reached(tree: dict[str, bytes], run: dict[str, Any]) -> list[bytes]:
    """The texts of the command's scripts and of the tree's modules they import."""
    cwd = str(run.get("cwd") or ".")
    command = [str(a) for a in run.get("command") or []]
    todo = [p for a in command if (p := posixpath.normpath(posixpath.join(cwd, a))) in tree]
    if not todo:
        return list(tree.values())
    seen: set[str] = set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        roots = {posixpath.dirname(path), cwd, ""}
        for dotted in _imports(tree[path], full=True):
            todo += [m for r in roots for m in _module_files(tree, r, dotted)]
    return [tree[p] for p in sorted(seen)]


def _module_files(tree: dict[str, bytes], root: str, dotted: str) -> list[str]:
    base = posixpath.normpath(posixpath.join(root, *dotted.split(".")))
    return [p for p in (base + ".py", base + "/__init__.py") if p in tree]


def _imports(text: bytes, full: bool = False) -> set[str]:
    """Top-level module names (``full``: the dotted names) a text imports."""
    names = set()
    for match in _IMPORT.finditer(text):
        for item in match.group(1).split(b","):
            dotted = item.strip().decode()
            names.add(dotted if full else dotted.split(".")[0])
    return names
