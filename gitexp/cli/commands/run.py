"""`gitexp run`: run a command as an experiment and record it as a commit."""

from __future__ import annotations

import math
import os
import sys
from typing import TYPE_CHECKING, Any

import click
import typer
from typer.core import TyperCommand

from gitexp.cli import flags
from gitexp.common.layout import MAX_SEED

if TYPE_CHECKING:
    from gitexp.config.settings import Config
    from gitexp.integrations.zerocode import ZeroCode
    from gitexp.running.runner import RunResult


def run(
    command: list[str] = typer.Argument(None, help="Command to run (after --)."),
    param: list[str] = typer.Option(
        [], "--param", "-p", help="Param override: key=value, +new=value, file.yaml:key=value."
    ),
    name: str = typer.Option(None, "--name", "-n", help="Experiment name (default: generated)."),
    origin: str = typer.Option(
        None, "--from", help="Start from the params of this experiment (-p applies on top)."
    ),
    seed: int = typer.Option(
        None, "--seed", min=0, max=MAX_SEED, help="Seed (default: config, else random)."
    ),
    executor: str = flags.EXECUTOR,
    docker: bool = typer.Option(False, "--docker", help="Same as --executor docker."),
    address: str = flags.ADDRESS,
    cpus: float = flags.CPUS,
    gpus: float = flags.GPUS,
    memory: str = flags.MEMORY,
    num_workers: int = flags.NUM_WORKERS,
    keep_run_dir: bool = typer.Option(False, "--keep-run-dir", help="Keep the run directory."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Do not echo the command's output."),
    allow_large: bool = typer.Option(
        False, "--allow-large", help="Snapshot large untracked files into git anyway."
    ),
    autolog: bool = typer.Option(
        None,
        "--autolog/--no-autolog",
        help="Zero-code mode: autolog and seed an unmodified Python script (default: config).",
    ),
    deterministic: bool = typer.Option(
        None,
        "--deterministic/--no-deterministic",
        help="Seed as --autolog does and ask for deterministic kernels (torch, TensorFlow).",
    ),
) -> int:
    """Run an experiment: snapshot, execute in isolation, commit to refs/experiments/NAME."""
    from gitexp.common.errors import RunFailedError
    from gitexp.config.cluster import Options, with_options
    from gitexp.config.settings import load_config
    from gitexp.gitstore.repo import open_repo
    from gitexp.integrations.zerocode import command_env
    from gitexp.running.notebooks import is_notebook
    from gitexp.running.runner import RunRequest, run_experiment

    if is_notebook(command or []) and len(command) > 1:  # nb.ipynb -p k=v -n NAME
        return _with_notebook_options(list(command))
    repo = open_repo()
    chosen = "docker" if docker else executor
    cluster = Options(chosen, address, cpus, gpus, memory, num_workers)
    config = with_options(load_config(repo.root), cluster)  # the flags over gitexp.yaml
    zero_code = _zero_code(config, chosen or config.executor, autolog, deterministic)
    request = RunRequest(
        command=list(command) if command else None,
        overrides=tuple(param),
        name=name,
        seed=seed,
        executor=chosen,
        keep_run_dir=keep_run_dir,
        echo=not quiet,
        allow_large=allow_large,
        env=command_env(zero_code, os.environ),  # MLflow into the run, zero-code mode
        extra={"zero_code": zero_code.record()} if zero_code.active else {},
        from_experiment=origin,
    )
    result = run_experiment(repo, config, request)
    for warning in result.warnings:
        print(f"gitexp: warning: {warning}", file=sys.stderr)
    print(_summary(result), file=sys.stderr)
    if result.status != "succeeded":
        why = _why(result.record.extra)
        raise RunFailedError(result.name, result.exit_code, result.status, why)
    return 0


def _why(extra: dict[str, Any]) -> str | None:
    """What the record knows beyond the exit code: a notebook's failed cell, the rank
    of a group that failed first."""
    if extra.get("failed_rank") is not None:
        return f"rank {extra['failed_rank']} failed first"
    error = extra.get("error")
    return str(error) if error else None


def _with_notebook_options(command: list[str]) -> int:
    """`gitexp run analysis.ipynb -p lr=0.1 -n NAME`: a notebook takes no arguments,
    so what follows it is parsed as gitexp's own options (added to those before it)."""
    import click
    from click.core import ParameterSource

    ctx = click.get_current_context()
    later = ctx.command.make_context(  # an unknown option here is the notebook's
        ctx.info_name,
        [*command[1:], "--", command[0]],
        parent=ctx.parent,
        ignore_unknown_options=True,
    )
    extra = [a for a in later.params.get("command") or [] if a not in (command[0], "--")]
    if extra:  # an unknown option, or a second command
        from gitexp.common.errors import UsageError

        raise UsageError(
            f"a notebook takes no arguments, got {' '.join(extra)!r}",
            "pass values with -p key=value (its `parameters` cell)",
        )
    given = dict(ctx.params, command=[command[0]])
    for key, value in later.params.items():
        if key == "command" or later.get_parameter_source(key) is not ParameterSource.COMMANDLINE:
            continue
        given[key] = [*given[key], *value] if key == "param" else value
    callback = ctx.command.callback
    assert callback is not None
    return int(ctx.invoke(callback, **given))


def _zero_code(
    config: Config, executor: str, autolog: bool | None, deterministic: bool | None
) -> ZeroCode:
    """gitexp.yaml's setting with the flags over it. It needs the local executor:
    asked for by a flag otherwise, a usage error; by the config, one warning."""
    from dataclasses import replace

    from gitexp.common.errors import UsageError

    chosen = config.zero_code
    if autolog is not None:
        chosen = replace(chosen, autolog=autolog)
    if deterministic is not None:
        chosen = replace(chosen, deterministic=deterministic)
    if not chosen.active or executor == "local":
        return chosen
    hint = "call gitexp.autolog() and gitexp.seed_everything() in the script instead"
    if autolog or deterministic:
        flag = "--autolog" if autolog else "--deterministic"
        raise UsageError(f"{flag} needs the local executor, not {executor!r}", hint)
    print(
        f"gitexp: warning: zero-code mode (gitexp.yaml `autolog`/`seed`) needs the local "
        f"executor; this {executor} run goes without it ({hint})",
        file=sys.stderr,
    )
    return replace(chosen, autolog=False, seed=False, deterministic=False)


def _summary(result: RunResult) -> str:
    """One line per run: how it ended (a signal by name, not -9), time, metrics."""
    from gitexp.common.errors import describe_exit
    from gitexp.common.mappings import flatten
    from gitexp.common.numbers import number

    shown = " ".join(
        f"{k}={number(v)}" if isinstance(v, float) and math.isfinite(v) else f"{k}={v}"
        for k, v in list(flatten(result.metrics).items())[:8]
    )
    duration = result.record.duration_s
    took = f" in {duration:.2f}s" if duration is not None else ""
    ended = describe_exit(result.exit_code, result.status)
    return f"gitexp: {result.name} {ended}{took}" + (f" | {shown}" if shown else "")


class ProgramCommand(TyperCommand):
    """A command that runs a program (`run`, `queue add`): gitexp's options end at
    the program's name or at ``--`` (``allow_interspersed_args`` off), so the
    program's own options pass through as they are (``gitexp run python train.py
    --lr 0.1``). An unknown option before that is a mistake, not a program:
    refused in one line with a did-you-mean among this command's options."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.NoSuchOption as exc:
            raise unknown_option(self, exc) from None


def unknown_option(command: click.Command, exc: click.NoSuchOption) -> click.NoSuchOption:
    """click's `No such option` error, its did-you-mean from gitexp's one rule."""
    from gitexp.common.suggest import closest

    names = [n for p in command.params for n in (*p.opts, *p.secondary_opts) if n[:1] == "-"]
    best = closest(exc.option_name, [*names, "--help"])
    error = click.NoSuchOption(exc.option_name, ctx=exc.ctx)
    error.possibilities = [best] if best else None
    return error


PROGRAM_SETTINGS = {"allow_interspersed_args": False}


def register(app: typer.Typer) -> None:
    app.command("run", cls=ProgramCommand, context_settings=PROGRAM_SETTINGS)(run)
