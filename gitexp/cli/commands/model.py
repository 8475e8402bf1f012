"""`gitexp model register|promote|demote|deprecate|list|show|get|pull`: the model registry
(annotated git tags in GTO's format; gitexp/registry/)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from gitexp.gitstore.repo import Repo

model_app = typer.Typer(help="Register models from experiments, promote them, get them back.")

MESSAGE = typer.Option(None, "--message", "-m", help="Tag message (default: GTO's sentence).")


@model_app.command("register")
def register_model(
    name: str = typer.Argument(..., help="Model name, e.g. churn."),
    experiment: str = typer.Option(
        ...,
        "--from",
        help="Experiment (name, prefix or commit); a sweep's name takes its best trial.",
    ),
    path: str = typer.Option(None, "--path", help="The model file or folder in the experiment."),
    version: str = typer.Option(None, "--version", help="Version as vX.Y.Z."),
    bump: str = typer.Option(None, "--bump", help="major, minor or patch (default: patch)."),
    message: str = MESSAGE,
    force: bool = typer.Option(False, "--force", help="Register an experiment that failed."),
) -> int:
    """Tag an experiment's commit as a new version of a model (NAME@vX.Y.Z)."""
    from gitexp.registry.registering import Request, register

    done = register(_repo(), Request(name, experiment, path, version, bump, message, force))
    where = f"{done.model_file.storage}: {done.model_file.path}"
    why = f" ({done.picked})" if done.picked else ""
    print(
        f"registered {done.model} {done.version} ({done.tag}) from {done.experiment}{why}, {where}"
    )
    return 0


@model_app.command("promote")
def promote(
    name: str = typer.Argument(..., help="Model name."),
    version: str = typer.Argument(..., help="Version, e.g. v1.2.0."),
    stage: str = typer.Option(..., "--stage", "-s", help="Stage, e.g. prod."),
    message: str = MESSAGE,
) -> int:
    """Assign a stage to a version (NAME#STAGE#N)."""
    from gitexp.registry.lifecycle import promote as promote_version

    change = promote_version(_repo(), name, version, stage, message)
    if change.tag is None:
        print(f"{change.model} {change.version} is in {stage} already; nothing to do")
    else:
        before = f" (was {change.previous})" if change.previous else ""
        print(f"promoted {change.model} {change.version} to {stage}{before} ({change.tag})")
    return 0


@model_app.command("demote")
def demote(
    name: str = typer.Argument(..., help="Model name."),
    stage: str = typer.Option(..., "--stage", "-s", help="Stage to take away."),
    version: str = typer.Option(None, "--version", help="Only from this version."),
    message: str = MESSAGE,
) -> int:
    """Take a stage away from the version(s) holding it (NAME#STAGE!#N)."""
    from gitexp.registry.lifecycle import demote as demote_stage

    for change in demote_stage(_repo(), name, stage, version, message):
        print(f"demoted {change.model} {change.version} from {stage} ({change.tag})")
    return 0


@model_app.command("deprecate")
def deprecate(
    name: str = typer.Argument(..., help="Model name."),
    version: str = typer.Argument(None, help="Version (default: the whole model)."),
    message: str = MESSAGE,
) -> int:
    """Deprecate a version (NAME@vX.Y.Z!#N) or the whole model (NAME@deprecated#N)."""
    from gitexp.registry.lifecycle import deprecate as deprecate_model

    change = deprecate_model(_repo(), name, version, message)
    what = f"{change.model} {change.version}" if change.version else f"model {change.model}"
    print(f"deprecated {what} ({change.tag})")
    return 0


@model_app.command("list")
def list_(
    name: str = typer.Argument(None, help="Only this model."),
    fmt: str = typer.Option("table", "--format", help="table, json, csv or md."),
    all_: bool = typer.Option(False, "--all", "-a", help="Also deprecated models."),
) -> int:
    """Models with their latest version and the version in each stage."""
    from gitexp.views.registry import models_table
    from gitexp.views.render import check_format

    check_format(fmt)
    found = _models(_repo(), name)
    shown = [m for m in found if all_ or name or not m["deprecated"]]
    print(models_table(shown, fmt))
    return 0


@model_app.command("show")
def show(
    name: str = typer.Argument(..., help="Model name."),
    fmt: str = typer.Option("table", "--format", help="table, json, csv or md."),
) -> int:
    """A model's versions and history: who did what when, from which experiment."""
    from gitexp.registry import report
    from gitexp.registry.state import find
    from gitexp.registry.tagstore import read_tags
    from gitexp.views.registry import model_details
    from gitexp.views.render import check_format

    check_format(fmt)
    repo = _repo()
    model = find(read_tags(repo), name)
    experiments = _experiments(repo)
    data = report.model_dict(model, experiments)
    print(model_details(data, report.history(model, experiments), fmt))
    return 0


@model_app.command("get")
def get(
    name: str = typer.Argument(..., help="Model name."),
    version: str = typer.Option(None, "--version", help="This version."),
    stage: str = typer.Option(None, "--stage", "-s", help="The version in this stage."),
    latest: bool = typer.Option(False, "--latest", help="The highest active version."),
    out: Path = typer.Option(None, "--out", "-o", help="File (or folder) to write."),
    path: str = typer.Option(None, "--path", help="File to take when the tag names none."),
    force: bool = typer.Option(False, "--force", help="Overwrite what is at --out."),
    dvc_remote: str = typer.Option(None, "--dvc-remote", help="DVC remote (default: config)."),
) -> int:
    """Write a version's file, fetched from DVC or git, checksum verified; prints its path."""
    from gitexp.registry.fetching import get as get_model

    done = get_model(
        _repo(),
        name,
        out,
        version=version,
        stage=stage,
        latest=latest,
        path=path,
        force=force,
        dvc_remote=dvc_remote,
    )
    print(done.path)
    return 0


@model_app.command("pull")
def pull(
    names: list[str] = typer.Argument(..., help="Models whose tags to pull, e.g. churn."),
    remote: str = typer.Option("origin", "--remote", help="Git remote name or URL."),
    take_remote: bool = typer.Option(
        False, "--take-remote", help="Replace this repository's differing tags with the remote's."
    ),
) -> int:
    """Pull a model's tags; with --take-remote, the remote's win where they differ.

    A replaced or dropped tag is kept under refs/gitexp/dropped-tags/, and the
    command that registers its experiment again (the next version) is printed.
    """
    import sys

    from gitexp.registry.resolving import BACKUP_PREFIX, pull_models, way_out

    done = pull_models(_repo(), remote, list(names), take_remote)
    for tag in done.conflicts:
        print(f"gitexp: conflict: model tag {tag} differs on {remote}; {way_out(tag, remote)}",
              file=sys.stderr)  # fmt: skip
    for tag in done.replaced:
        print(f"replaced {tag} with {remote}'s (yours: {BACKUP_PREFIX}{tag})")
    for tag in done.dropped:
        print(f"dropped {tag}: it needed a replaced version (kept: {BACKUP_PREFIX}{tag})")
    for again in done.again:
        print(f"register {again.experiment} again with: {again.again}")
    print(f"{len(done.fetched)} model tag(s) pulled from {remote}")
    return 1 if done.conflicts else 0


def _repo() -> Repo:
    from gitexp.gitstore.repo import open_repo

    return open_repo()


def _experiments(repo: Repo) -> dict[str, str]:
    from gitexp.gitstore import store

    return {sha: name for name, sha in sorted(store.ref_targets(repo).items(), reverse=True)}


def _models(repo: Repo, name: str | None) -> list[dict[str, Any]]:
    from gitexp.registry import report
    from gitexp.registry.state import find, models
    from gitexp.registry.tagstore import read_tags

    tags = read_tags(repo)
    chosen = [find(tags, name)] if name else list(models(tags).values())
    experiments = _experiments(repo)
    return [report.model_dict(m, experiments) for m in chosen]


def register(app: typer.Typer) -> None:
    app.add_typer(model_app, name="model")
