"""Flags several commands share: where runs execute and what each asks for.

`gitexp run`, `gitexp sweep` and `gitexp queue add|run` take the same
executor flags; they become a ``gitexp.config.cluster.Options`` over
gitexp.yaml (docs/distributed.md).
"""

from __future__ import annotations

import typer

EXECUTOR = typer.Option(None, "--executor", "-e", help="local (default), docker or ray.")
ADDRESS = typer.Option(
    None, "--address", help="Ray cluster HOST:PORT, or auto (default: a local Ray)."
)
CPUS = typer.Option(None, "--cpus", min=0, help="CPUs per run (per worker) on Ray.")
GPUS = typer.Option(None, "--gpus", min=0, help="GPUs per run (per worker) on Ray.")
MEMORY = typer.Option(None, "--memory", help="Memory per run (per worker) on Ray, e.g. 4GB.")
NUM_WORKERS = typer.Option(
    None, "--num-workers", min=1, help="Run as one torch.distributed group of N processes."
)
