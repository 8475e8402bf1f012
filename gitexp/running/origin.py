"""``gitexp run --from NAME``: the current code with the params of an earlier experiment.

The params of NAME are what its tree recorded: the contents of its params
files (run.json's ``params_files``) and, when its params were composed from
config groups, its config folder and recipe (run.json's ``compose``). They
are laid over the new run's snapshot before its own ``-p`` apply, so with no
``-p`` the run gets the very same params, and ``compare NAME NEW`` shows only
what was changed. The files named by a record are checked like any path from
a tree that may have come from a remote.

NAME's state does not change what it stands for:

- finished (any status), or ``running``: its tree holds its params as it
  runs them (a running experiment's reservation already has its overrides
  applied), so they are read as they are;
- ``queued``: its tree is the snapshot *before* its overrides (they apply
  when it runs, gitexp/queue/entries.py), so they are applied here, with the
  code that applies them at run time (``workspace.run_params``).

A queued run started ``--from NAME`` must not depend on what NAME becomes
before the queue reaches it: ``queue add`` pins the origin (``pin``), a tree
of its own (``origin.json`` and ``files/``) kept inside the queued commit
under ``.gitexp/from/``, and the entry runs ``--from pinned:<tree id>``.

A sweep loads its origin once for all its trials (``held``): each trial's
``--from held:<n>`` hands back that very ``Origin``, whose snapshot with the
params laid over it is made once too (``Origin.tree`` keeps it); its trials
then cost what trials without ``--from`` cost, and they all start from the
origin as it was when the sweep started.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gitexp.common.errors import StoreError
from gitexp.common.layout import META_DIR, RUN_JSON
from gitexp.config.settings import Config
from gitexp.gitstore import store, treewalk
from gitexp.gitstore.repo import Repo
from gitexp.gitstore.trees import read_blob, read_json, tree_with_files, without_meta
from gitexp.running.compose import Recipe, recorded_files

if TYPE_CHECKING:
    import pygit2

PINNED = "pinned:"  # a --from spec naming a pin (no experiment name has a ':')
HELD = "held:"  # a --from spec naming an origin this process holds (``held``)
PIN_DIR = f"{META_DIR}/from"  # where a queued commit keeps its pin
_RECORD = "origin.json"
_FILES = "files"
_QUEUED = "queued"  # run.json status of a queue entry (gitexp/queue/entries.py)


@dataclass(frozen=True)
class Origin:
    """An earlier experiment's params, as its commit recorded them."""

    name: str
    commit: str
    params_files: tuple[str, ...]
    files: dict[str, bytes] = field(default_factory=dict)
    recipe: Recipe | None = None
    #: {snapshot tree: that tree with the files laid over it}, made once each
    laid: dict[str, pygit2.Oid] = field(default_factory=dict, compare=False, repr=False)

    def config(self, config: Config) -> Config:
        """``config`` with the earlier run's params files and way of making params."""
        return dataclasses.replace(
            config,
            params_files=self.params_files or config.params_files,
            params_compose=self.recipe.config if self.recipe else None,
        )

    def tree(self, repo: Repo, tree: pygit2.Oid) -> pygit2.Oid:
        """The snapshot with the earlier run's params files (and config folder) in it;
        a second call for the same snapshot (the next trial of a sweep) writes nothing."""
        if not self.files:
            return tree
        found = self.laid.get(str(tree))
        if found is None or found not in repo.git:  # (another repository's, or pruned)
            found = self.laid[str(tree)] = tree_with_files(repo, tree, self.files)
        return found

    def record(self) -> dict[str, Any]:
        """What run.json says of the origin: ``from`` and ``from_commit``."""
        return {"from": self.name, "from_commit": self.commit}

    def pinned(self) -> dict[str, bytes]:
        """This origin as the files of a pin (``load`` reads them back)."""
        record = {
            "name": self.name,
            "commit": self.commit,
            "params_files": list(self.params_files),
            "compose": _recipe_record(self.recipe),
        }
        files = {f"{_FILES}/{path}": data for path, data in self.files.items()}
        return {_RECORD: json.dumps(record, indent=2).encode(), **files}


def load(repo: Repo, spec: str) -> Origin:
    """The experiment ``spec`` names (name, prefix, ref or commit id) as an origin;
    ``pinned:<tree id>`` is one that ``pin`` wrote, ``held:<n>`` one held here."""
    if spec.startswith(PINNED):
        return _load_pin(repo, spec[len(PINNED) :])
    if spec.startswith(HELD) and spec in _held:
        return _held[spec]
    name, commit = store.resolve(repo, spec)
    git: Any = repo.git
    tree = git[commit].tree_id
    run = read_json(repo, tree, RUN_JSON)
    names, recipe = _how_made(run)
    if run.get("status") == _QUEUED:
        tree = _as_it_will_run(repo, tree, run, names, recipe)
    files = {n: data for n in names if (data := read_blob(repo, tree, n)) is not None}
    if recipe is not None:
        files.update(recorded_files(repo, tree, recipe.config))
    return Origin(name, str(commit), tuple(names), files, recipe)


_held: dict[str, Origin] = {}
_numbers = itertools.count(1)


@contextmanager
def held(found: Origin) -> Iterator[str]:
    """A spec (``held:<n>``) that ``load`` answers with ``found`` itself, without
    reading git, for as long as the block runs: a sweep's trials share one load."""
    spec = f"{HELD}{next(_numbers)}"
    _held[spec] = found
    try:
        yield spec
    finally:
        del _held[spec]


def pin(repo: Repo, found: Origin) -> str:
    """Write ``found`` as a tree of its own; returns the spec that loads it back."""
    git: Any = repo.git
    tree = tree_with_files(repo, git.TreeBuilder().write(), found.pinned())
    return f"{PINNED}{tree}"


def pin_files(found: Origin) -> dict[str, bytes]:
    """The pin as files of a queued commit (under ``.gitexp/from/``), which keeps it
    reachable (and carries it on `git push`) until the entry runs."""
    return {f"{PIN_DIR}/{path}": data for path, data in found.pinned().items()}


def _how_made(run: dict[str, Any]) -> tuple[list[str], Recipe | None]:
    """A record's params files and compose recipe, their paths checked."""
    listed = run.get("params_files")
    names = [str(n) for n in listed] if isinstance(listed, list) else []
    recipe = Recipe.from_record(run.get("compose"))
    for path in [*names, *([recipe.config] if recipe else [])]:
        treewalk.check_path(path, "params file")
    return names, recipe


def _as_it_will_run(
    repo: Repo, tree: pygit2.Oid, run: dict[str, Any], names: list[str], recipe: Recipe | None
) -> pygit2.Oid:
    """A queued run's tree with its own origin and overrides applied, as `queue run` will."""
    from gitexp.running.workspace import apply_params, run_params

    if not names and recipe is None:
        return tree
    found = run.get("queue")
    queued: dict[str, Any] = found if isinstance(found, dict) else {}
    config = Config(params_files=tuple(names), params_compose=recipe.config if recipe else None)
    start = queued.get("from_pin") or queued.get("from")
    overrides = [str(text) for text in queued.get("overrides") or []]
    values = dict(queued.get("values") or {})
    laid, params = run_params(repo, without_meta(repo, tree), config, overrides, values, start)
    return apply_params(repo, laid, params)


def _load_pin(repo: Repo, tree_id: str) -> Origin:
    """The origin a pin holds: its record and its files, every path checked."""
    git: Any = repo.git
    tree = _pin_tree(git, tree_id)
    record = read_json(repo, tree, _RECORD)
    names, recipe = _how_made(record)
    files: dict[str, bytes] = {}
    if _FILES in tree:
        for entry in treewalk.entries(git, tree[_FILES].id):
            if entry.mode not in (treewalk.TREE, treewalk.LINK):
                files[entry.path] = treewalk.blob_data(git, entry)
    return Origin(str(record.get("name")), str(record.get("commit")), tuple(names), files, recipe)


def _pin_tree(git: Any, tree_id: str) -> Any:
    try:
        tree = git[tree_id]
    except (KeyError, ValueError):
        tree = None
    if getattr(tree, "type_str", None) != "tree":
        raise StoreError(
            f"the pinned --from params {tree_id[:12]!r} are missing from the object store",
            "fetch the queued experiment again, or remove it and queue it anew",
        )
    return tree


def _recipe_record(recipe: Recipe | None) -> dict[str, Any] | None:
    """A recipe as run.json's ``compose`` holds one (``Recipe.from_record`` reads it)."""
    if recipe is None:
        return None
    sets = [[key, value, add] for key, value, add in recipe.sets]
    data = {"config": recipe.config, "picks": recipe.picks, "overrides": sets}
    out: dict[str, Any] = json.loads(json.dumps(data, default=str))
    return out
