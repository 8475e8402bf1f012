"""Params composed from config groups, the way Hydra does it.

With ``params: {compose: conf/config.yaml}`` in gitexp.yaml, the params of a
run are not one file but a primary config with a ``defaults:`` list and
group folders beside it (``conf/model/resnet.yaml``). ``-p model=vit`` picks
an option of a group; any other ``-p`` sets a key of the composed config,
with the same rules as a plain params file (``+key`` adds, unknown keys get
a did-you-mean). Hydra composes, OmegaConf resolves ``${...}``: nothing of
either is re-implemented here, and neither is imported unless a config asks.

Composition reads the snapshot, never the work tree: the config folder is
copied out of the run's tree (every path checked) into a temporary folder
that Hydra reads. Hydra keeps global state, so one composition runs at a
time in a process (a sweep's trials compose from several threads).

What a run was composed from (``Recipe``: the primary config, the options
picked, the keys set) is recorded in run.json under ``compose`` together
with every group's chosen option, so ``gitexp run --from`` can compose the
same params again and change only what it is told.
"""

from __future__ import annotations

import copy
import json
import posixpath
import re
import tempfile
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gitexp.common import suggest
from gitexp.common.errors import ConfigError, ParamError
from gitexp.common.mappings import flatten
from gitexp.gitstore import treewalk
from gitexp.gitstore.repo import Repo
from gitexp.gitstore.trees import read_blob
from gitexp.running import params as P

if TYPE_CHECKING:
    import pygit2

_HYDRA = threading.Lock()  # Hydra's GlobalHydra is one per process
_YAML = (".yaml", ".yml")
Groups = dict[str, set[str]]  # group path ("model", "model/encoder") -> its options


@dataclass(frozen=True)
class Recipe:
    """What a composition is made of: the primary config, the group options picked
    (``-p model=vit``) and the keys set afterwards, in order (key, value, add)."""

    config: str
    picks: dict[str, str] = field(default_factory=dict)
    sets: tuple[tuple[str, Any, bool], ...] = ()

    def then(self, picks: dict[str, str], sets: Iterable[P.Override]) -> Recipe:
        """This recipe with more picks (a later pick of a group wins) and sets."""
        more = tuple((ov.key, ov.value, ov.add) for ov in sets)
        return Recipe(self.config, {**self.picks, **picks}, self.sets + more)

    @classmethod
    def from_record(cls, data: Any) -> Recipe | None:
        """The recipe run.json's ``compose`` holds; None when it holds none."""
        if not isinstance(data, dict) or not isinstance(data.get("config"), str):
            return None
        found = data.get("picks")
        picks = found if isinstance(found, dict) else {}
        sets = [s for s in data.get("overrides") or [] if isinstance(s, list) and len(s) == 3]
        return cls(
            data["config"],
            {str(k): str(v) for k, v in picks.items()},
            tuple((str(k), v, bool(add)) for k, v, add in sets),
        )


@dataclass(frozen=True)
class Composed:
    """The resolved params and what they came from."""

    params: dict[str, Any]
    choices: dict[str, str | None]  # every group's option, as Hydra chose it
    recipe: Recipe

    def record(self) -> dict[str, Any]:
        """run.json's ``compose``: JSON through and through (a YAML date becomes text)."""
        sets = [[k, v, add] for k, v, add in self.recipe.sets]
        data = {
            "config": self.recipe.config,
            "choices": self.choices,
            "picks": self.recipe.picks,
            "overrides": sets,
        }
        out: dict[str, Any] = json.loads(json.dumps(data, default=str))
        return out


def split(
    repo: Repo, tree: pygit2.Oid, recipe: Recipe, texts: list[str], values: dict[str, Any]
) -> tuple[dict[str, str], list[P.Override]]:
    """``-p`` texts and typed values into group picks and key overrides; a pick of an
    option the group does not have is refused with a did-you-mean."""
    groups = group_options(repo, tree, recipe.config)
    picks: dict[str, str] = {}
    rest: list[P.Override] = []
    for text in texts:
        key, sep, option = text.partition("=")
        if sep and key.lstrip("+") in groups:
            picks[key.lstrip("+")] = option.strip()
        else:
            rest.append(P.parse_override(text))
    for key, value in values.items():
        if key.lstrip("+") in groups:
            picks[key.lstrip("+")] = str(value)
        else:
            rest.append(P.typed_override(key, value))
    for group, option in picks.items():
        check_option(groups, group, option)
    return picks, rest


def check_option(groups: Groups, group: str, option: str) -> None:
    """Refuse an option the group's folder has no file for, naming the close one."""
    if option in groups[group]:
        return
    known = sorted(groups[group])
    hint = suggest.hint(option, known, "did you mean `{}`?")
    raise ParamError(
        f"config group {group!r} has no option {option!r}",
        hint or f"its options: {', '.join(known) or 'none'}",
    )


def group_options(repo: Repo, tree: pygit2.Oid, config: str) -> Groups:
    """Every group below the primary config's folder and its options (file stems)."""
    return _groups(_config_files(repo, tree, config))


def _groups(files: Iterable[str]) -> Groups:
    groups: Groups = {}
    for path in files:
        folder, name = posixpath.split(path)
        if folder and name.endswith(_YAML):
            groups.setdefault(folder, set()).add(name.rsplit(".", 1)[0])
    return groups


def compose(repo: Repo, tree: pygit2.Oid, recipe: Recipe) -> Composed:
    """Compose with Hydra, set the keys, resolve with OmegaConf: plain params."""
    files = _config_files(repo, tree, recipe.config)
    with tempfile.TemporaryDirectory(prefix="gitexp-compose-") as tmp:
        _write(files, Path(tmp))
        name = posixpath.basename(recipe.config).rsplit(".", 1)[0]
        with _HYDRA:
            raw, choices = _hydra(Path(tmp), name, recipe)
    label = recipe.config
    overrides = [P.Override(None, k, copy.deepcopy(v), add, f"{k}=") for k, v, add in recipe.sets]
    for ov in overrides:
        _check_top(raw, ov, _groups(files))
    raw = P.apply_overrides({label: raw}, overrides, label)[label]
    used = {recipe.config: files.get(posixpath.basename(recipe.config), b"")}
    folder = posixpath.dirname(recipe.config)
    for group, option in choices.items():  # the group files Hydra merged in
        rel = f"{group}/{option}.yaml"
        if rel in files:
            used[posixpath.join(folder, rel)] = files[rel]
    return Composed(_resolve(raw, label, used), choices, recipe)


def recorded_files(repo: Repo, tree: pygit2.Oid, config: str) -> dict[str, bytes]:
    """The files of the primary config's folder by their path in the tree (``--from``)."""
    folder = posixpath.dirname(config)
    files = _config_files(repo, tree, config)
    return {posixpath.join(folder, rel): data for rel, data in files.items()}


def _config_files(repo: Repo, tree: pygit2.Oid, config: str) -> dict[str, bytes]:
    """The files of the primary config's folder, by path below it (checked)."""
    if read_blob(repo, tree, config) is None:
        raise ConfigError(
            f"compose config {config!r} not found",
            "create it, or fix `params: {compose: ...}` in gitexp.yaml",
        )
    folder = posixpath.dirname(config)
    git: Any = repo.git
    top = git[tree][folder].id if folder else tree
    found = {}
    for entry in treewalk.entries(git, top):
        if entry.mode not in (treewalk.TREE, treewalk.LINK):
            found[entry.path] = treewalk.blob_data(git, entry)
    return found


def _write(files: dict[str, bytes], root: Path) -> None:
    with treewalk.SafeDir(root) as out:
        for rel, data in files.items():
            out.write_file(rel, data, 0)


def _hydra(conf: Path, name: str, recipe: Recipe) -> tuple[dict[str, Any], dict[str, str | None]]:
    """Hydra's composition, unresolved, and the option it chose for each group.

    A pick of a group the defaults list lacks is appended (``+group=option``),
    as Hydra asks, so ``-p`` works the same for both."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf import OmegaConf, open_dict
    from omegaconf.errors import OmegaConfBaseException

    appended: set[str] = set()
    while True:
        overrides = [f"{'+' * (g in appended)}{g}={o}" for g, o in recipe.picks.items()]
        try:
            with initialize_config_dir(str(conf), version_base=None, job_name="gitexp"):
                cfg = hydra_compose(name, overrides, return_hydra_config=True)
            break
        except (HydraException, OmegaConfBaseException) as exc:
            missing = _not_in_defaults(str(exc), set(recipe.picks) - appended)
            if missing is None:
                raise ConfigError(f"cannot compose {recipe.config}: {_first_line(exc)}") from exc
            appended.add(missing)
    choices = {
        str(k): None if v is None else str(v)
        for k, v in cfg.hydra.runtime.choices.items()
        if not str(k).startswith("hydra/")
    }
    with open_dict(cfg):
        del cfg["hydra"]
    raw = OmegaConf.to_container(cfg, resolve=False)
    return ({str(k): v for k, v in raw.items()} if isinstance(raw, dict) else {}), choices


def _not_in_defaults(message: str, candidates: set[str]) -> str | None:
    """The group Hydra could not override because the defaults list lacks it."""
    if "No match in the defaults list" not in message:
        return None
    return next((g for g in candidates if f"Could not override '{g}'" in message), None)


def _check_top(raw: dict[str, Any], ov: P.Override, groups: Groups) -> None:
    """A key whose first part is neither a key nor a group: did-you-mean over both."""
    top = ov.key.split(".", 1)[0]
    if ov.add or top in raw:
        return
    known = [*groups, *raw, *flatten(raw)]
    hint = suggest.hint(ov.key, known, "did you mean `{}`?") or suggest.hint(
        top, known, "did you mean `{}`?"
    )
    raise ParamError(
        f"unknown param or config group {top!r}", hint or f"use -p +{ov.key}=... to add it"
    )


def _missing_in(used: dict[str, bytes], key: str) -> str | None:
    """The file whose ``LEAF: ???`` line left ``key`` without a value (Hydra keeps no
    origin per key); the group files first, where such placeholders usually are."""
    leaf = re.escape(key.rsplit(".", 1)[-1]).encode()
    line = re.compile(rb"^[ \t]*" + leaf + rb"[ \t]*:[ \t]*[\"']?\?\?\?", re.MULTILINE)
    found = [path for path, text in used.items() if line.search(text)]
    return found[-1] if found else None


def _resolve(
    raw: dict[str, Any], label: str, used: dict[str, bytes] | None = None
) -> dict[str, Any]:
    """``${...}`` resolved by OmegaConf; a value left ``???`` is refused, naming the
    file of ``used`` (path: text) that left it so."""
    from omegaconf import OmegaConf
    from omegaconf.errors import MissingMandatoryValue, OmegaConfBaseException

    try:
        done = OmegaConf.to_container(OmegaConf.create(raw), resolve=True, throw_on_missing=True)
    except MissingMandatoryValue as exc:
        key = getattr(exc, "full_key", "") or "?"
        where = _missing_in(used or {}, key) or label
        raise ParamError(
            f"param {key!r} has no value (??? in {where})", f"give it one: -p {key}=..."
        ) from exc
    except (OmegaConfBaseException, ValueError) as exc:
        raise ConfigError(f"cannot resolve the params of {label}: {_first_line(exc)}") from exc
    return {str(k): v for k, v in done.items()} if isinstance(done, dict) else {}


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
