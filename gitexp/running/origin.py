"""``gitexp run --from NAME``: the current code with the params of an earlier experiment.

The params of NAME are what its tree recorded: the contents of its params
files (run.json's ``params_files``) and, when its params were composed from
config groups, its config folder and recipe (run.json's ``compose``). They
are laid over the new run's snapshot before its own ``-p`` apply, so with no
``-p`` the run gets the very same params, and ``compare NAME NEW`` shows only
what was changed. The files named by a record are checked like any path from
a tree that may have come from a remote.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gitexp.common.layout import RUN_JSON
from gitexp.config.settings import Config
from gitexp.gitstore import store, treewalk
from gitexp.gitstore.repo import Repo
from gitexp.gitstore.trees import read_blob, read_json, tree_with_files
from gitexp.running.compose import Recipe, recorded_files

if TYPE_CHECKING:
    import pygit2


@dataclass(frozen=True)
class Origin:
    """An earlier experiment's params, as its commit recorded them."""

    name: str
    commit: str
    params_files: tuple[str, ...]
    files: dict[str, bytes] = field(default_factory=dict)
    recipe: Recipe | None = None

    def config(self, config: Config) -> Config:
        """``config`` with the earlier run's params files and way of making params."""
        return dataclasses.replace(
            config,
            params_files=self.params_files or config.params_files,
            params_compose=self.recipe.config if self.recipe else None,
        )

    def tree(self, repo: Repo, tree: pygit2.Oid) -> pygit2.Oid:
        """The snapshot with the earlier run's params files (and config folder) in it."""
        return tree_with_files(repo, tree, self.files) if self.files else tree

    def record(self) -> dict[str, Any]:
        """What run.json says of the origin: ``from`` and ``from_commit``."""
        return {"from": self.name, "from_commit": self.commit}


def load(repo: Repo, spec: str) -> Origin:
    """The experiment ``spec`` names (name, prefix, ref or commit id) as an origin."""
    name, commit = store.resolve(repo, spec)
    git: Any = repo.git
    tree = git[commit].tree_id
    run = read_json(repo, tree, RUN_JSON)
    listed = run.get("params_files")
    names = [str(n) for n in listed] if isinstance(listed, list) else []
    recipe = Recipe.from_record(run.get("compose"))
    for path in [*names, *([recipe.config] if recipe else [])]:
        treewalk.check_path(path, "params file")
    files = {n: data for n in names if (data := read_blob(repo, tree, n)) is not None}
    if recipe is not None:
        files.update(recorded_files(repo, tree, recipe.config))
    return Origin(name, str(commit), tuple(names), files, recipe)
