"""`gitexp sweep [SWEEP.yaml|NAME] [options] [-- COMMAND...]` and `gitexp sweep show NAME`."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click
import typer
from typer.core import TyperGroup

from gitexp.cli import flags
from gitexp.common.layout import MAX_SEED

if TYPE_CHECKING:
    from gitexp.sweeps.launch import SweepSummary

COMMAND_KEY = "sweep_command"


class _SweepGroup(TyperGroup):
    """`gitexp sweep ARGS` runs a sweep unless ARGS start with a subcommand (`show`);
    what follows `--` is the command every trial runs."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if "--" in args:
            cut = args.index("--")
            ctx.meta[COMMAND_KEY] = args[cut + 1 :]
            args = args[:cut]
        if not args or args[0] not in self.commands:
            args = ["start", *args]
        return super().parse_args(ctx, args)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name, command, rest = super().resolve_command(ctx, args)
        return ("" if name == "start" else name), command, rest  # usage: `gitexp sweep`


sweep_app = typer.Typer(cls=_SweepGroup, help="Hyperparameter search with Optuna.")


@sweep_app.command("start", hidden=True)
def start(
    ctx: typer.Context,
    source: str = typer.Argument(
        None,
        metavar="[SWEEP.yaml|NAME] [-- COMMAND...]",
        help="A sweep file, or a name under gitexp.yaml sweeps:.",
    ),
    name: str = typer.Option(None, "--name", "-n", help="Sweep name (trials: NAME/trial-NNNN)."),
    param: list[str] = typer.Option(
        [], "--param", "-p", help="KEY=SPACE: float(lo,hi[,log]), int(lo,hi[,step]), choice(a,b)."
    ),
    objective: list[str] = typer.Option(
        [], "--objective", "-o", help="METRIC[:min|max] (repeat for multi-objective)."
    ),
    sampler: str = typer.Option(None, "--sampler", help="grid, random, tpe, cmaes, qmc, nsga2."),
    pruner: str = typer.Option(None, "--pruner", help="none, median, hyperband, sha."),
    trials: int = typer.Option(None, "--trials", help="Trials to run."),
    timeout: float = typer.Option(None, "--timeout", help="Start no trial after SECONDS."),
    jobs: int = typer.Option(None, "--jobs", "-j", help="Trials at once (default 1)."),
    seed: int = typer.Option(
        None, "--seed", min=0, max=MAX_SEED, help="Seeds the sampler and every trial."
    ),
    resume: bool = typer.Option(False, "--resume", help="Continue the sweep NAME."),
    origin: str = typer.Option(
        None, "--from", help="Every trial starts from this experiment's params."
    ),
    executor: str = flags.EXECUTOR,
    address: str = flags.ADDRESS,
    cpus: float = flags.CPUS,
    gpus: float = flags.GPUS,
    memory: str = flags.MEMORY,
    num_workers: int = flags.NUM_WORKERS,
    grid: bool = typer.Option(False, "--grid", hidden=True),  # a slip for --sampler grid
) -> int:
    """Search params with Optuna; every trial is an experiment. See also `gitexp sweep show`."""
    if grid:
        from gitexp.common.errors import UsageError

        raise UsageError("no such option '--grid'", "a grid search is `--sampler grid`")
    from gitexp.config.cluster import Options as Cluster
    from gitexp.config.cluster import with_options
    from gitexp.config.settings import load_config
    from gitexp.gitstore.repo import open_repo
    from gitexp.sweeps.launch import start as run_sweep
    from gitexp.sweeps.spec import Options

    command = tuple(ctx.meta.get(COMMAND_KEY) or ())
    options = Options(
        source, name, tuple(param), tuple(objective), sampler, pruner, trials, timeout, jobs,
        seed, command, origin,
    )  # fmt: skip
    repo = open_repo()
    cluster = Cluster(executor, address, cpus, gpus, memory, num_workers)
    config = with_options(load_config(repo.root), cluster)  # every trial runs there
    listeners, note, progress = _progress()
    try:
        summary = run_sweep(repo, config, options, resume, listeners, note)
    finally:
        if progress is not None:
            progress.bar.stop()
    return _report(summary)


def _progress() -> tuple[list[Any], Any, Any]:
    """A progress bar when stderr is a terminal; otherwise only the summary is printed."""
    if not sys.stderr.isatty():
        return [], lambda text: print(f"gitexp: {text}", file=sys.stderr), None
    from gitexp.views.sweep_progress import EVENTS, SweepProgress

    progress = SweepProgress()
    return [(progress, EVENTS)], progress.note, progress


def _report(summary: SweepSummary) -> int:
    from gitexp.common.errors import EXIT_INTERRUPTED, GitexpError
    from gitexp.views.sweeps import summary_lines

    for line in summary_lines(summary):
        print(f"gitexp: {line}", file=sys.stderr)
    tally = summary.tally
    if summary.ended == "interrupted":
        error = GitexpError(
            f"sweep {summary.name!r} interrupted",
            f"continue it with `gitexp sweep --resume --name {summary.name}`",
        )
        error.exit_code = EXIT_INTERRUPTED
        raise error
    if tally.failed and not (tally.succeeded or tally.pruned):
        raise GitexpError(
            f"every trial of sweep {summary.name!r} failed",
            f"see `gitexp sweep show {summary.name}` and a trial's output.log",
        )
    return 0


@sweep_app.command("show")
def show(
    name: str = typer.Argument(..., help="The sweep's name."),
    sort_by: str = typer.Option(None, "--sort-by", "-s", help="Param or metric to sort by."),
    order: bool = typer.Option(None, "--asc/--desc", help="Sort order."),
    filters: list[str] = typer.Option([], "--filter", "-f", help="KEY OP VALUE (repeatable)."),
    limit: int = typer.Option(None, "--limit", min=0, help="Show at most N trials."),
    fmt: str = typer.Option("table", "--format", help="table, json, csv or md."),
) -> int:
    """A sweep's trials, best trial or Pareto front, param importances, and its storage."""
    from gitexp.exploring.query import Query
    from gitexp.gitstore.repo import open_repo
    from gitexp.sweeps.results import report
    from gitexp.views import sweeps as view
    from gitexp.views.render import check_format

    check_format(fmt)
    descending = None if order is None else not order
    query = Query(tuple(filters), sort_by, descending, limit=limit)
    data = report(open_repo(), name)
    print(view.render_report(data, query, fmt))
    return 0


def register(app: typer.Typer) -> None:
    app.add_typer(sweep_app, name="sweep")
