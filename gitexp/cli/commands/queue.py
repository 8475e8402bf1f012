"""`gitexp queue add|run|list|remove|retry`: runs recorded now, executed later (N at a time)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import typer

from gitexp.cli import flags
from gitexp.cli.commands.run import PROGRAM_SETTINGS, ProgramCommand
from gitexp.common.layout import MAX_SEED

if TYPE_CHECKING:
    from gitexp.queue.drain import Drained

queue_app = typer.Typer(help="Queue runs now, execute them later (locally or on Ray).")


@queue_app.command("add", cls=ProgramCommand, context_settings=PROGRAM_SETTINGS)
def add(
    command: list[str] = typer.Argument(None, help="Command to run (after --)."),
    param: list[str] = typer.Option(
        [], "--param", "-p", help="Param override: key=value, +new=value, file.yaml:key=value."
    ),
    name: str = typer.Option(None, "--name", "-n", help="Experiment name (default: generated)."),
    seed: int = typer.Option(
        None, "--seed", min=0, max=MAX_SEED, help="Seed (default: config, else random)."
    ),
    executor: str = flags.EXECUTOR,
    address: str = flags.ADDRESS,
    cpus: float = flags.CPUS,
    gpus: float = flags.GPUS,
    memory: str = flags.MEMORY,
    num_workers: int = flags.NUM_WORKERS,
    allow_large: bool = typer.Option(
        False, "--allow-large", help="Snapshot large untracked files into git anyway."
    ),
    origin: str = typer.Option(
        None, "--from", help="Start from the params of this experiment (-p applies on top)."
    ),
) -> int:
    """Record a run as `queued` (checked as `gitexp run` checks it); prints its name."""
    from gitexp.config.cluster import Options
    from gitexp.config.settings import load_config
    from gitexp.gitstore.repo import open_repo
    from gitexp.queue.entries import add as add_entry
    from gitexp.running.runner import RunRequest

    repo = open_repo()
    request = RunRequest(
        command=list(command) if command else None,
        overrides=tuple(param),
        name=name,
        seed=seed,
        allow_large=allow_large,
        from_experiment=origin,
    )
    options = Options(executor, address, cpus, gpus, memory, num_workers)
    entry = add_entry(repo, load_config(repo.root), request, options)
    print(entry.name)
    return 0


@queue_app.command("run")
def run(
    names: list[str] = typer.Argument(None, help="Only these queued runs (default: all)."),
    jobs: int = typer.Option(1, "--jobs", "-j", min=1, help="Runs at once."),
    executor: str = flags.EXECUTOR,
    address: str = flags.ADDRESS,
    cpus: float = flags.CPUS,
    gpus: float = flags.GPUS,
    memory: str = flags.MEMORY,
    remote: str = typer.Option(
        None, "--remote", help="Claim entries on this remote first (default: origin, if any)."
    ),
    offline: bool = typer.Option(
        False, "--offline", help="Run without claiming on the remote (another clone may too)."
    ),
) -> int:
    """Execute the queued runs, oldest first, until none is left.

    An entry the remote has is claimed there first (one clone runs it) and its
    run is published back there when recorded.
    """
    from gitexp.config.cluster import Options
    from gitexp.config.settings import load_config
    from gitexp.gitstore.repo import open_repo
    from gitexp.queue.drain import drain
    from gitexp.queue.shared import has_remote, remote_for

    repo = open_repo()
    options = Options(executor, address, cpus, gpus, memory)
    shared = remote_for(repo, remote, offline)
    if offline and has_remote(repo):
        _note("warning: --offline: entries pulled from a remote may be run by another clone too")
    wanted = list(names or []) or None
    drained = drain(repo, load_config(repo.root), options, jobs, wanted, _note, shared)
    return _report(drained)


def _note(text: str) -> None:
    print(f"gitexp: {text}", file=sys.stderr)


def _report(drained: Drained) -> int:
    from gitexp.common.errors import EXIT_INTERRUPTED, GitexpError

    counts: dict[str, int] = {}
    for done in drained.done:
        word = done.result.status if done.result is not None else done.how
        counts[word] = counts.get(word, 0) + 1
    parts = [f"{n} {word}" for word, n in sorted(counts.items())] or ["nothing to run"]
    _note(f"queue: {', '.join(parts)}; {drained.left} still queued")
    if drained.interrupted:
        error = GitexpError("the queue was interrupted", "`gitexp queue run` continues it")
        error.exit_code = EXIT_INTERRUPTED
        raise error
    bad = [
        d
        for d in drained.done
        if d.how != "taken" and (d.result is None or d.result.status != "succeeded")
    ]
    if bad:
        raise GitexpError(f"{len(bad)} queued run(s) did not succeed", "see `gitexp show`")
    return 0


@queue_app.command("list")
def list_(fmt: str = typer.Option("table", "--format", help="table, json, csv or md.")) -> int:
    """The queued runs, oldest first: name, when queued, command, params, flags."""
    from gitexp.common.mappings import flatten
    from gitexp.gitstore.repo import open_repo
    from gitexp.queue.entries import queued
    from gitexp.views.render import check_format, render, to_json

    check_format(fmt)
    entries = queued(open_repo())
    if fmt == "json":
        shown = [
            {"name": e.name, "commit": e.commit, "params": e.params, **e.spec} for e in entries
        ]
        print(to_json(shown))
        return 0
    rows = [
        [
            e.name,
            e.queued_at[:19].replace("T", " "),
            " ".join(e.command),
            " ".join(f"{k}={v}" for k, v in flatten(e.params).items()),
            " ".join(f"--{k.replace('_', '-')} {v}" for k, v in e.options.given().items()),
        ]
        for e in entries
    ]
    text, _ = render(["name", "queued", "command", "params", "flags"], rows, fmt)
    print(text)
    return 0


@queue_app.command("remove")
def remove(
    names: list[str] = typer.Argument(None, help="Queued runs to take off the queue."),
    everything: bool = typer.Option(False, "--all", help="Empty the queue."),
) -> int:
    """Take queued runs off the queue (their refs are deleted)."""
    from gitexp.common.errors import UsageError
    from gitexp.gitstore.repo import open_repo
    from gitexp.queue.entries import queued
    from gitexp.queue.entries import remove as remove_entries

    repo = open_repo()
    if everything == bool(names or []):
        raise UsageError("name the queued runs to remove, or pass --all (not both)")
    chosen = [e.name for e in queued(repo)] if everything else list(names or [])
    removed = remove_entries(repo, chosen)
    _note(f"removed {len(removed)} queued run(s)")
    return 0


@queue_app.command("retry")
def retry(
    names: list[str] = typer.Argument(..., help="Interrupted or failed runs from the queue."),
    name: str = typer.Option(
        None, "--name", "-n", help="Queue it under this name; the old record stays as it is."
    ),
) -> int:
    """Put interrupted or failed queued runs back in the queue, same request, same place.

    The run's ref moves back to its queued entry; the record it replaces is kept
    as refs/gitexp/retried/NAME/<commit>. With --name the entry is queued again
    under that name and the record stays where it is.
    """
    from gitexp.common.errors import UsageError
    from gitexp.gitstore.repo import open_repo
    from gitexp.queue.retry import retry as retry_entry

    if name is not None and len(names) > 1:
        raise UsageError("--name gives one run a new name: name one run")
    repo = open_repo()
    for spec in names:
        done = retry_entry(repo, spec, name)
        kept = f"; its {done.was} record is kept as {done.kept}" if done.kept else ""
        _note(f"{done.name}: queued again{kept}")
        if done.remote:
            _note(f"{done.name} was claimed on {done.remote}: run it here with "
                  f"`gitexp queue run --offline {done.name}`")  # fmt: skip
        print(done.name)
    return 0


def register(app: typer.Typer) -> None:
    app.add_typer(queue_app, name="queue")
