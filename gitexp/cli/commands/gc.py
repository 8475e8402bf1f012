"""`gitexp gc`: pack refs and objects, drop stale cache rows, remove idle run
directories (and, asked for, unreferenced `gitexp-env` images); safe beside runs."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from gitexp.exploring.cleanup import Report


def gc(
    dry_run: bool = typer.Option(
        False, "--dry-run", "-n", help="Say what would go; change nothing."
    ),
    images: bool = typer.Option(
        False,
        "--images",
        help="Also remove gitexp-env Docker images experiments here used and none uses now.",
    ),
) -> int:
    """Pack refs and objects, drop stale cache rows, remove idle run directories.

    `git gc` packs; cache rows of commits no experiment points at are dropped;
    idle run directories go (a killed run's too; a running one's never). Safe
    while experiments run.
    """
    from gitexp.config.settings import load_config
    from gitexp.exploring.cleanup import collect
    from gitexp.gitstore.repo import open_repo

    repo = open_repo()
    report = collect(repo, load_config(repo.root), dry_run=dry_run, images=images)
    for line in _lines(report, images):
        print(f"gitexp: {line}", file=sys.stderr)
    return 0


def _lines(report: Report, images: bool) -> list[str]:
    would = "would " if report.dry_run else ""
    freed = sum(size for _, size in report.workdirs) / 2**20
    done = "would remove" if report.dry_run else "removed"
    lines = [
        f"{done} {len(report.workdirs)} idle run directories ({freed:.1f} MB)",
        f"{'would drop' if report.dry_run else 'dropped'} {report.cache_rows:,} cache rows "
        "of commits no experiment points at",
        f"{would}pack {report.loose_refs:,} loose refs and {report.loose_objects:,} loose "
        "objects (git gc)",
    ]
    unused = report.unreferenced_images
    if report.images_removed:
        lines.append(f"removed {len(report.images_removed)} gitexp-env image(s)")
    elif unused and (report.dry_run or not images):
        hint = "" if images else " (remove them with --images)"
        lines.append(
            f"{len(unused)} gitexp-env image(s) experiments here used and none uses now{hint}: "
            + ", ".join(unused[:5])
            + (", …" if len(unused) > 5 else "")
        )
    return lines + report.notes


def register(app: typer.Typer) -> None:
    app.command("gc")(gc)
