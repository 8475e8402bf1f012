"""`gitexp gc`: give back the disk space gitexp keeps for speed (idle run directories)."""

from __future__ import annotations

import sys

import typer


def gc() -> int:
    """Remove idle reusable run directories (runs going on keep theirs)."""
    from gitexp.config.settings import load_config
    from gitexp.exploring.housekeeping import clean_workdirs
    from gitexp.gitstore.repo import open_repo

    repo = open_repo()
    removed, freed = clean_workdirs(repo, load_config(repo.root))
    print(
        f"gitexp: removed {removed} idle run directories ({freed / 2**20:.1f} MB)", file=sys.stderr
    )
    return 0


def register(app: typer.Typer) -> None:
    app.command("gc")(gc)
