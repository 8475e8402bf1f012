"""The `gitexp` command: a Typer app and one thin module per command group."""

from gitexp.cli.app import main, run

__all__ = ["main", "run"]
