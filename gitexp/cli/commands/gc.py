"""`gitexp gc`: pack refs and objects, drop stale cache rows, remove idle run
directories (and, asked for, unreferenced `gitexp-env` images); safe beside runs."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from gitexp.exploring.cleanup import Report
    from gitexp.gitstore.repo import Repo


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
    idle run directories go (a killed run's too; a running one's never); so do
    what a killed gitexp left: temporary object files in .git/objects nothing
    wrote to for 10 minutes (an hour while experiments run) and its Docker
    containers, stopped or still running. Says
    only what it changes, and which unreachable objects git keeps for now.
    Safe while experiments run.
    """
    from gitexp.config.settings import load_config
    from gitexp.exploring.cleanup import collect
    from gitexp.gitstore.repo import open_repo

    repo = open_repo()
    recovered = [] if dry_run else _recover(repo)  # before its scratch dir counts as idle
    report = collect(repo, load_config(repo.root), dry_run=dry_run, images=images)
    for line in _lines(report, images, recovered):
        print(f"gitexp: {line}", file=sys.stderr)
    return 0


def _recover(repo: Repo) -> list[str]:
    """In-process runs killed with their process, recorded with what they flushed."""
    from gitexp.inprocess.recovery import recover_dead

    return recover_dead(repo)


def _lines(report: Report, images: bool, recovered: list[str]) -> list[str]:
    """One line for each thing done (or, with --dry-run, to do); "nothing to do"
    when there is none, and what git keeps either way."""
    lines = _done(report)
    if recovered:
        lines.insert(
            0, f"recorded {len(recovered)} killed in-process run(s): " + ", ".join(recovered)
        )
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
    lines += _containers(report)
    lines = lines or ["nothing to do"]
    if report.temp_kept:
        lines.append(
            f"{report.temp_kept:,} temporary object files stay: written to in the last"
            " 10 minutes (the last hour while an experiment runs)"
        )
    if report.kept_objects:
        lines.append(f"{report.kept_objects:,} unreachable loose objects stay {_kept(report)}")
    return lines + report.notes


def _done(report: Report) -> list[str]:
    """A line for each kind of thing gc changed (or would): none for nothing."""
    r = report
    freed = sum(size for _, size in r.workdirs) / 2**20
    counted = [
        (len(r.workdirs), "remove", "removed",
         f"{len(r.workdirs):,} idle run directories ({freed:.1f} MB)"),
        (r.stale_leases, "remove", "removed",
         f"{r.stale_leases:,} lease files of run directories already gone"),
        (r.temp_objects, "remove", "removed",
         f"{r.temp_objects:,} temporary object files a killed writer left in .git/objects"
         f" ({r.temp_bytes / 2**20:.1f} MB)"),
        (r.cache_rows, "drop", "dropped",
         f"{r.cache_rows:,} cache rows of commits no experiment points at"),
        (r.loose_refs + r.loose_objects, "pack", "packed",
         f"{r.loose_refs:,} loose refs and {r.loose_objects:,} loose objects (git gc)"),
        (r.pruned_objects, "prune", "pruned",
         f"{r.pruned_objects:,} unreachable loose objects {_older(r.prune_expire)} (git gc)"),
    ]  # fmt: skip
    return [
        f"{'would ' + verb if r.dry_run else past} {what}" for n, verb, past, what in counted if n
    ]


def _containers(report: Report) -> list[str]:
    """The orphaned containers gc removed (or would), and an older gitexp's it leaves."""
    lines = []
    done = report.containers
    if done:
        verb = "would remove" if report.dry_run else "removed"
        running = sum(1 for _, _, was_running in done if was_running)
        which = ", ".join(f"{cid} ({name})" for cid, name, _ in done[:5])
        more = ", …" if len(done) > 5 else ""
        lines.append(
            f"{verb} {len(done)} container(s) a killed gitexp left"
            f" ({running} still running): {which}{more}"
        )
    old = report.old_containers
    if old:
        ids = " ".join(cid for cid, _ in old)
        lines.append(
            f"{len(old)} container(s) of experiments no longer running, from an older gitexp:"
            f" remove them with `docker rm -f {ids}`"
        )
    return lines


def _age(expire: str) -> str | None:
    """``2.weeks.ago`` as "2 weeks"; None for anything else (a date, "never")."""
    if not expire.endswith(".ago"):
        return None
    return expire.removesuffix(".ago").replace(".", " ")


def _older(expire: str) -> str:
    age = _age(expire)
    return f"older than {age}" if age else f"(gc.pruneExpire={expire})"


def _kept(report: Report) -> str:
    age = _age(report.prune_expire)
    if age:
        return f"until they are {age} old (git gc prunes them then)"
    return f"(gc.pruneExpire={report.prune_expire})"


def register(app: typer.Typer) -> None:
    app.command("gc")(gc)
