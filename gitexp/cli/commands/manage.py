"""`gitexp remove`, `rename`, `apply` and `branch`: housekeeping on experiments."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from gitexp.exploring import apply as applying
    from gitexp.gitstore import stash
    from gitexp.gitstore.repo import Repo


def remove(
    names: list[str] = typer.Argument(None, help="Experiments (name, prefix, ref or commit id)."),
    failed: bool = typer.Option(False, "--failed", help="Also every failed experiment."),
    all_of: str = typer.Option(None, "--all-of", help="Also every experiment of this baseline."),
    dry_run: bool = typer.Option(False, "--dry-run", help="List what would go; remove nothing."),
    force: bool = typer.Option(False, "--force", help="Remove running experiments too."),
    remote: str = typer.Option(
        None, "--remote", "-r", help="Delete them on this git remote too (else here only)."
    ),
) -> int:
    """Remove experiments (their refs; commits go with `git gc` once unreferenced).

    Here only, unless --remote: a remote that has them gives them back on the
    next `gitexp pull`."""
    from gitexp.common.errors import UsageError
    from gitexp.exploring import housekeeping as manage
    from gitexp.gitstore.repo import open_repo

    if not names and not failed and all_of is None:
        raise UsageError("nothing to remove", "name experiments, or use --failed / --all-of REV")
    repo = open_repo()
    if remote is not None:
        return _remove_there(repo, remote, names or [], (failed, all_of), (dry_run, force))
    chosen = manage.select_for_removal(repo, names or [], failed, all_of)
    if not chosen:
        print("gitexp: no experiments match", file=sys.stderr)
        return 0
    removed = sorted(chosen) if dry_run else manage.remove(repo, chosen, force)
    verb = "would remove" if dry_run else "removed"
    for name in removed:
        print(f"{verb} {name}")
    if removed and not dry_run and any(repo.git.remotes.names()):
        print(
            "gitexp: removed here only; a remote that has them gives them back on the next "
            "pull (`gitexp remove NAME --remote REMOTE` deletes them there)",
            file=sys.stderr,
        )
    return 0


def _remove_there(
    repo: Repo, remote: str, names: list[str], by: tuple[bool, str | None], how: tuple[bool, bool]
) -> int:
    """`remove NAME... --remote REMOTE`: names looked up on the remote, deleted there in
    one `git push`, and here where they exist (gitexp/sharing/deleting.py)."""
    from gitexp.common.errors import UsageError
    from gitexp.exploring import housekeeping as manage
    from gitexp.sharing import deleting

    (failed, all_of), (dry_run, force) = by, how
    if failed or all_of is not None or not names:
        raise UsageError("--remote takes experiment names", "not --failed or --all-of")
    deletion = deleting.plan(repo, remote, names)
    if not force and not dry_run:
        manage.check_not_running(repo, deletion.here)
    if not dry_run:
        deleting.delete_there(repo, deletion)
        if deletion.here:
            manage.remove(repo, deletion.here, force=True)  # checked above
    verb = "would remove" if dry_run else "removed"
    for name in sorted(deletion.there):
        where = f"here and on {remote}" if name in deletion.here else f"on {remote}"
        print(f"{verb} {name} ({where})")
    return 0


def rename(
    old: str = typer.Argument(..., help="Experiment to rename."),
    new: str = typer.Argument(..., help="Its new name."),
) -> int:
    """Rename an experiment (its ref; the commit stays the same)."""
    from gitexp.exploring import housekeeping as manage
    from gitexp.gitstore.repo import open_repo

    old_name, new_name = manage.rename(open_repo(), old, new)
    print(f"renamed {old_name} -> {new_name}")
    return 0


def apply(
    name: str = typer.Argument(..., help="Experiment whose files to write."),
    force: bool = typer.Option(
        False,
        "--force",
        help="Overwrite uncommitted changes (saved in a stash first); take the experiment's side.",
    ),
    whole: bool = typer.Option(
        False,
        "--whole",
        help="Write the experiment's whole tree, undoing commits made since its baseline.",
    ),
) -> int:
    """Write an experiment's changes into the work tree (no commit, index untouched)."""
    from gitexp.exploring import apply as applying
    from gitexp.gitstore.repo import open_repo

    applied = applying.apply(open_repo(), name, force, whole)
    if applied.stashed is not None:
        print(f"gitexp: {_stashed(applied.stashed)}", file=sys.stderr)
    print(f"applied {applied.name} ({applied.commit[:7]}): {_counts(applied)}{_onto(applied)}")
    return 0


NAMED = 10  # files the summary names; more are only counted


def _counts(applied: applying.Applied) -> str:
    """`2 written (a, b), 1 deleted (c)`: the files named when they are few."""
    written, deleted = applied.written, applied.deleted
    if not written and not deleted:
        return "0 written, 0 deleted (the work tree already has the experiment's changes)"
    if len(written) + len(deleted) > NAMED:
        return f"{len(written)} written, {len(deleted)} deleted"
    return f"{len(written)} written{_names(written)}, {len(deleted)} deleted{_names(deleted)}"


def _names(paths: list[str]) -> str:
    return f" ({', '.join(sorted(paths))})" if paths else ""


def _stashed(saved: stash.Stashed) -> str:
    """The one line that says where --force put the user's uncommitted work."""
    shown = ", ".join(saved.paths[:NAMED]) + (", …" if len(saved.paths) > NAMED else "")
    return (
        f"saved your uncommitted changes to {shown} in {saved.ref} ({saved.commit[:7]}) "
        f"before overwriting them: `git stash show -p --include-untracked {saved.ref}`"
    )


def _onto(applied: applying.Applied) -> str:
    """How it was applied when the experiment's baseline is not HEAD."""
    base = applied.baseline
    if base is None:
        return ""
    if applied.baseline_in_head:
        return f"; its changes since its baseline {base[:7]}, later commits kept"
    return (
        f"; HEAD does not contain its baseline {base[:7]} (history rewritten, or another "
        "branch): only the files the experiment changed since that baseline were written "
        "or deleted, every other file is as HEAD has it"
    )


def branch(
    name: str = typer.Argument(..., help="Experiment to branch from."),
    branch_name: str = typer.Argument(..., metavar="BRANCH", help="New branch name."),
) -> int:
    """Create a git branch at the experiment's commit (HEAD stays where it is)."""
    from gitexp.exploring import housekeeping as manage
    from gitexp.gitstore.names import validate_branch
    from gitexp.gitstore.repo import open_repo

    exp, ref, commit = manage.branch(open_repo(), name, validate_branch(branch_name))
    print(f"created branch {ref[len('refs/heads/') :]} at {commit[:7]} ({exp})")
    return 0


def register(app: typer.Typer) -> None:
    app.command("remove")(remove)
    app.command("rename")(rename)
    app.command("apply")(apply)
    app.command("branch")(branch)
