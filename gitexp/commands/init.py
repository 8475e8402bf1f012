"""`gitexp init`: write gitexp.yaml so `gitexp run` knows what to run."""

from __future__ import annotations

import sys

import typer


def init(
    command: str = typer.Option(None, "--command", "-c", help="Command `gitexp run` runs."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing gitexp.yaml."),
) -> int:
    """Set up this repository for gitexp (writes gitexp.yaml; commits nothing)."""
    from gitexp.config import CONFIG_FILE, write_default_config
    from gitexp.errors import UsageError
    from gitexp.repo import open_repo

    repo = open_repo()
    target = repo.root / CONFIG_FILE
    if target.exists() and not force:
        raise UsageError(f"{CONFIG_FILE} already exists", "use --force to overwrite it")
    write_default_config(repo.root, command)
    print(f"wrote {target}", file=sys.stderr)
    print("next: commit it, then `gitexp run -p key=value`", file=sys.stderr)
    return 0


def register(app: typer.Typer) -> None:
    app.command("init")(init)
