"""`gitexp push` / `gitexp pull`: experiments through git, their artifacts through DVC."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from gitexp.gitstore.repo import Repo
    from gitexp.sharing.remotes import SyncResult


def push(
    remote: str = typer.Argument("origin", help="Git remote name or URL."),
    names: list[str] = typer.Argument(None, help="Experiments (names, prefixes or groups)."),
    all_: bool = typer.Option(False, "--all", "-A", help="Push every experiment."),
    force: bool = typer.Option(False, "--force", help="Overwrite differing experiments there."),
    no_artifacts: bool = typer.Option(False, "--no-artifacts", help="Refs only, no DVC push."),
    dvc_remote: str = typer.Option(None, "--dvc-remote", help="DVC remote (default: config)."),
) -> int:
    """Push experiments and their model tags to a git remote, their artifacts to DVC.

    One `git push` moves every ref; an experiment that differs on the remote is
    a conflict, never overwritten without --force.
    """
    from gitexp.common.errors import UsageError
    from gitexp.sharing.arguments import remote_and_names
    from gitexp.sharing.remotes import check_remote
    from gitexp.sharing.remotes import push as push_refs

    repo, remote_dvc = _open(dvc_remote)
    names = list(names or [])
    if not all_:  # `push e1`: the experiment e1, to origin
        remote, names = remote_and_names(repo, remote, names)
    if not names and not all_:
        check_remote(repo, remote)  # `push orgin`: the typo first, with its did-you-mean
        raise UsageError("name the experiments to push", "or push them all with --all")
    result = push_refs(
        repo,
        remote,
        list(names or []),
        force=force,
        with_artifacts=not no_artifacts,
        dvc_remote=remote_dvc,
    )
    return _report("pushed", "to", remote, result)


def pull(
    remote: str = typer.Argument("origin", help="Git remote name or URL."),
    names: list[str] = typer.Argument(None, help="Experiments (default: all the remote has)."),
    all_: bool = typer.Option(False, "--all", "-A", help="Pull every experiment (the default)."),
    force: bool = typer.Option(False, "--force", help="Overwrite differing experiments here."),
    with_artifacts: bool = typer.Option(False, "--artifacts", help="Also fetch DVC artifacts."),
    dvc_remote: str = typer.Option(None, "--dvc-remote", help="DVC remote (default: config)."),
) -> int:
    """Fetch experiments and their model tags from a git remote, optionally artifacts.

    One `git fetch` of the new refs; an experiment that differs here is a
    conflict, never overwritten without --force.
    """
    from gitexp.sharing.arguments import remote_and_names
    from gitexp.sharing.remotes import pull as pull_refs

    repo, remote_dvc = _open(dvc_remote)
    names = list(names or [])
    if not all_:  # `push e1`: the experiment e1, to origin
        remote, names = remote_and_names(repo, remote, names)
    specs = [] if all_ else names
    result = pull_refs(
        repo, remote, specs, force=force, with_artifacts=with_artifacts, dvc_remote=remote_dvc
    )
    return _report("pulled", "from", remote, result)


def _open(dvc_remote: str | None) -> tuple[Repo, str | None]:
    from gitexp.config.settings import load_config
    from gitexp.dvcstore.settings import artifacts_settings
    from gitexp.gitstore.repo import open_repo

    repo = open_repo()
    return repo, dvc_remote or artifacts_settings(load_config(repo.root)).remote


def _report(verb: str, prep: str, remote: str, result: SyncResult) -> int:
    """One line per conflict, one summary line; exit 1 when something was left out."""
    _warn_refs(verb, remote, result)
    for c in result.conflicts:
        print(
            f"gitexp: conflict: {c.name} is {c.local[:10]} here and {c.remote[:10]} on {remote}; "
            "left as is (rename one, or use --force)",
            file=sys.stderr,
        )
    for name in result.forced:
        print(f"gitexp: forced: {name}", file=sys.stderr)
    from gitexp.registry.resolving import way_out

    for c in result.tag_conflicts:
        print(
            f"gitexp: conflict: model tag {c.name} is {c.local[:10]} here and {c.remote[:10]} "
            f"on {remote}; left as is ({way_out(c.name, remote)})",
            file=sys.stderr,
        )
    where = "here" if verb == "pulled" else f"on {remote}"  # the side the version differs on
    for tag, version in result.held_back.items():
        print(f"gitexp: held back {tag}: its version {version} differs {where}", file=sys.stderr)
    moved = len(result.transferred) + len(result.forced)
    line = f"gitexp: {verb} {moved} experiment(s) {prep} {remote}"
    line += f", {len(result.up_to_date)} up to date"
    if result.conflicts:
        line += f", {len(result.conflicts)} conflict(s) left as they are"
    if result.counts_tags():
        line += f", {len(result.tags)} model tag(s)"
    if result.held_back:
        line += f", {len(result.held_back)} held back"  # after the tag count (counts_tags)
    if result.artifacts is not None:
        line += f", {result.artifacts.transferred} artifact object(s) transferred"
    print(line, file=sys.stderr)
    if result.artifacts is not None and result.artifacts.failed:
        missing = ", ".join(result.artifacts.failed[:5])
        print(f"gitexp: error: artifacts not transferred: {missing}", file=sys.stderr)
        return 1
    return 1 if result.conflicts or result.tag_conflicts or result.held_back else 0


def _warn_refs(verb: str, remote: str, result: SyncResult) -> None:
    """A line for each ref left where it is: an invalid name (the remote's), or a
    ref to no commit; a name from the remote is written out (views/safetext.py)."""
    from gitexp.views.safetext import visible

    for ref in result.ignored:
        print(
            f"gitexp: warning: ignoring invalid experiment ref on {remote}: {visible(ref)}",
            file=sys.stderr,
        )
    where = f"on {remote}" if verb == "pulled" else "here"
    for ref, kind in result.not_commits.items():
        hint = "" if verb == "pulled" else f" (`gitexp remove {ref.split('/', 2)[2]}` deletes it)"
        print(
            f"gitexp: warning: ignoring {visible(ref)} {where}: it points at {kind}, "
            f"not a commit{hint}",
            file=sys.stderr,
        )


def register(app: typer.Typer) -> None:
    app.command("push")(push)
    app.command("pull")(pull)
