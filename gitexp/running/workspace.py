"""Prepare what a run executes: params with overrides, the command, the run dir.

Everything here happens before the experiment's ref exists, so every user
mistake (bad -p, unknown key, missing file, unknown command) is reported
before anything is written.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shlex
import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pygit2

from gitexp.common.errors import CommandNotFoundError, ConfigError, UsageError, WorkspaceError
from gitexp.config.settings import Config, command_argv
from gitexp.gitstore import contents, safenames, store
from gitexp.gitstore.repo import Repo
from gitexp.gitstore.status import work_tree_status
from gitexp.gitstore.trees import (
    Manifest,
    read_blob,
    snapshot_workdir,
    symlink_on_path,
    tree_with_files,
)
from gitexp.running import largefiles, notebooks
from gitexp.running import params as P

if TYPE_CHECKING:
    from gitexp.running.compose import Recipe

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Params:
    """Params per file after overrides, their merge, and the files that changed.

    ``record`` is what run.json learns of how they were made: ``compose`` (the
    recipe and every group's option) when composed from config groups."""

    by_file: dict[str, dict[str, Any]]
    merged: dict[str, Any]
    changed: dict[str, bytes]
    record: dict[str, Any] = field(default_factory=dict)


def resolve_params(
    repo: Repo,
    tree: pygit2.Oid,
    config: Config,
    overrides: list[str],
    values: dict[str, Any] | None = None,
    recipe: Recipe | None = None,
) -> Params:
    """Params files of ``tree`` with `-p` strings, then typed ``values``, applied.

    With ``params: {compose: ...}`` the first params file is composed instead
    (running/compose.py), on top of ``recipe`` (an earlier run's, for --from)."""
    P.refuse_repeats(overrides)
    if config.params_compose:
        return _composed(repo, tree, config, overrides, values or {}, recipe)
    parsed = [P.parse_override(text) for text in overrides]
    parsed += [P.typed_override(key, value) for key, value in (values or {}).items()]
    files, texts = _read_files(repo, tree, config, parsed)
    new = P.apply_overrides(files, parsed, config.params_files[0])
    changed = {n: P.dump_file(n, d, texts[n]) for n, d in new.items() if d != files[n]}
    return Params(new, P.merge(new), changed)


def _composed(
    repo: Repo,
    tree: pygit2.Oid,
    config: Config,
    overrides: list[str],
    values: dict[str, Any],
    recipe: Recipe | None,
) -> Params:
    """The first params file composed; `-p` of other files (``other.yaml:k=v``) as usual."""
    from gitexp.running import compose

    out, recipe = config.params_files[0], recipe or compose.Recipe(config.params_compose or "")
    picks, parsed = compose.split(repo, tree, recipe, overrides, values)
    own = [ov for ov in parsed if ov.file in (None, out)]
    rest = [ov for ov in parsed if ov.file not in (None, out)]
    done = compose.compose(repo, tree, recipe.then(picks, own))
    files, texts = _read_files(repo, tree, config, rest, skip=out)
    new = {out: done.params, **P.apply_overrides(files, rest, out)}
    changed = {n: P.dump_file(n, d, texts[n]) for n, d in new.items() if n != out and d != files[n]}
    data = P.dump_file(out, done.params)
    if read_blob(repo, tree, out) != data:
        changed[out] = data
    return Params(new, P.merge(new), changed, {"compose": done.record()})


def _read_files(
    repo: Repo, tree: pygit2.Oid, config: Config, parsed: list[P.Override], skip: str = ""
) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """The params files (and files a `-p file.yaml:k=v` names) parsed, and their texts."""
    files: dict[str, dict[str, Any]] = {}
    texts: dict[str, str] = {}
    # a file named by `-p file.yaml:key=v` is a params file of this run too
    targeted = [ov.file for ov in parsed if ov.file and ov.file not in config.params_files]
    for name in [*config.params_files, *dict.fromkeys(targeted)]:
        data = read_blob(repo, tree, name) if name != skip else None
        if data is None:
            if config.params_explicit and name in config.params_files and name != skip:
                raise ConfigError(
                    f"params file {name!r} not found", "create it or fix `params:` in gitexp.yaml"
                )
            continue
        if symlink_on_path(repo, tree, name):
            raise ConfigError(
                f"params file {name} is a symlink (to {data.decode('utf-8', 'replace')!r}); "
                "gitexp reads params files from the snapshot, where symlinks are not followed",
                "make it a regular file, or name the file it points to under `params:`",
            )
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigError(f"params file {name} is not UTF-8 text ({exc.reason})") from exc
        files[name], texts[name] = P.parse_file(name, text), text
    return files, texts


def run_params(
    repo: Repo,
    tree: pygit2.Oid,
    config: Config,
    overrides: list[str],
    values: dict[str, Any],
    start: str | None = None,
    pinned: Mapping[str, Any] | None = None,
) -> tuple[pygit2.Oid, Params]:
    """The params of a run and the tree they apply to, checked against the params
    schema before anything is written. ``start`` (--from NAME): that experiment's
    params files are laid over ``tree`` first (running/origin.py); a reproduction
    ``pinned`` its recorded run, whose params are composed again from its recipe."""
    from gitexp.running.compose import Recipe

    recipe = Recipe.from_record(((pinned or {}).get("run") or {}).get("compose"))
    origin: dict[str, Any] = {}
    if start:
        from gitexp.running import origin as earlier

        found = earlier.load(repo, start)
        tree, config, recipe = found.tree(repo, tree), found.config(config), found.recipe
        origin = found.record()
    params = resolve_params(repo, tree, config, overrides, values, recipe)
    if config.params_schema:
        from gitexp.running import schema

        schema.check(repo, tree, config.params_schema, params.merged)
    return tree, dataclasses.replace(params, record={**params.record, **origin})


def apply_params(repo: Repo, tree: pygit2.Oid, params: Params) -> pygit2.Oid:
    return tree_with_files(repo, tree, params.changed) if params.changed else tree


def resolve_command(
    command: list[str] | tuple[str, ...] | str | None, config: Config, merged: dict[str, Any]
) -> tuple[list[str], bool]:
    """The argv to execute (params substituted) and whether it goes through a shell."""
    chosen = command if command else config.command
    if not chosen:
        raise UsageError(
            "no command given and none configured",
            "run `gitexp run -- python train.py` or set `command:` in gitexp.yaml",
        )
    argv, via_shell = command_argv(tuple(chosen) if isinstance(chosen, list) else chosen)
    return P.render_command(argv, merged, quote=via_shell), via_shell


def check_command(repo: Repo, tree: pygit2.Oid, argv: list[str], cwd: str) -> None:
    """Refuse a program that exists neither in the snapshot nor on PATH."""
    if notebooks.is_notebook(argv):
        return notebooks.check(repo, tree, argv, cwd)
    program = argv[0]
    if "/" in program:
        rel = os.path.normpath(os.path.join(cwd, program))
        if os.path.isabs(program) and os.path.exists(program):
            return
        if read_blob(repo, tree, rel) is not None:
            return
        raise CommandNotFoundError(program)
    if shutil.which(program) is None:
        raise CommandNotFoundError(program, *_file_hint(repo, tree, argv, cwd))


def _file_hint(repo: Repo, tree: pygit2.Oid, argv: list[str], cwd: str) -> list[str]:
    """A file of the snapshot typed as if it were a program (`gitexp run train.py`)."""
    program = argv[0]
    if read_blob(repo, tree, os.path.normpath(os.path.join(cwd, program))) is None:
        return []
    rest = "".join(f" {shlex.quote(a)}" for a in argv[1:])
    if program.endswith(".py"):
        return [f"it is a Python file: gitexp run -- python {shlex.quote(program)}{rest}"]
    return [f"it is a file of the repository: gitexp run -- ./{shlex.quote(program)}{rest}"]


def check_links(repo: Repo, config: Config) -> dict[str, Path]:
    links = {}
    for rel in config.links:
        source = (repo.root / rel).resolve()
        if not source.exists():
            raise ConfigError(
                f"link path {rel!r} does not exist",
                "link: paths are never in an experiment (a clone or CI has them only if "
                "you put them there): provide the data at that path, or fix `link:` in "
                "gitexp.yaml",
            )
        links[rel] = source
    return links


def make_run_dir(config: Config, name: str) -> Path:
    root = config.run_root or os.environ.get("GITEXP_RUN_ROOT") or None
    safe = name.replace("/", "--")
    try:
        if root:
            Path(root).mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=f"gitexp-{safe}-", dir=root))
    except OSError as exc:
        where = root or tempfile.gettempdir()
        raise WorkspaceError(
            f"cannot create a run directory under {where}: {exc.strerror or exc}",
            "fix `run_root` in gitexp.yaml or GITEXP_RUN_ROOT",
        ) from exc


def populate(
    repo: Repo,
    tree: pygit2.Oid,
    run_dir: Path,
    links: dict[str, Path],
    write: Callable[[Repo, pygit2.Oid, Path], Manifest] = contents.checkout,
) -> Manifest:
    """Write the tree (``write``: in full, or a reused run dir brought up to date) and
    put links to read-only inputs in place (``link:`` paths, and data tracked with
    `dvc add`, from DVC's cache)."""
    manifest = write(repo, tree, run_dir)
    pointers = [rel for rel in manifest if rel.endswith(".dvc")]
    if pointers:
        from gitexp.dvcstore.checkout import link_inputs

        for rel in link_inputs(repo.root, run_dir, pointers):
            log.warning("%s is tracked by DVC but not in the cache; run `dvc pull`", rel)
    for rel, source in links.items():
        target = run_dir / rel
        if target.exists() or target.is_symlink():
            continue  # a tracked file wins over a link of the same name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(source, target_is_directory=source.is_dir())
    return manifest


def snapshot(repo: Repo, config: Config, allow_large: bool = False) -> str:
    """The work tree as a tree id, taken once and reused by many runs of one driver
    (``RunRequest(tree=...)``): a sweep's trials all run the same code."""
    return str(snapshot_tree(repo, config, tuple(check_links(repo, config)), allow_large))


def snapshot_tree(
    repo: Repo, config: Config, links: tuple[str, ...], allow_large: bool
) -> pygit2.Oid:
    """The work tree's tree; large untracked files as DVC pointers (or refused)."""
    status = work_tree_status(repo)
    refuse_unmerged(repo, status)
    safenames.refuse_in_status(status, links)  # before a name is reserved, DVC's cache too
    safenames.refuse_in_commit(repo, repo.head_commit().tree_id)
    large = largefiles.handle(repo, config, links, status, allow_large)
    exclude = (*links, *large.paths)
    tree = store.retry(lambda: snapshot_workdir(repo, exclude, status), "cannot snapshot")
    if large.pointers:
        tree = tree_with_files(repo, tree, large.pointers)
    return tree


_OPERATIONS = {
    "MERGE": "merge",
    "REBASE": "rebase",
    "CHERRYPICK": "cherry-pick",
    "REVERT": "revert",
}


def refuse_unmerged(repo: Repo, status: dict[str, int]) -> None:
    """Files with conflict markers would run (and be recorded as a failed experiment):
    refuse before anything is reserved, naming them and the operation to finish."""
    unmerged = sorted(
        p for p, flags in status.items() if flags & pygit2.enums.FileStatus.CONFLICTED
    )
    if not unmerged:
        return
    state = repo.git.state().name
    doing = next((verb for key, verb in _OPERATIONS.items() if state.startswith(key)), "merge")
    shown = ", ".join(unmerged[:5]) + (
        f" and {len(unmerged) - 5} more" if len(unmerged) > 5 else ""
    )
    raise UsageError(
        f"cannot run during a {doing}: unmerged files {shown}",
        f"resolve them and finish the {doing} (git add, then git {doing} --continue or "
        f"git commit), or abort it (git {doing} --abort)",
    )
