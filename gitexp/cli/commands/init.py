"""`gitexp init`: write gitexp.yaml so `gitexp run` knows what to run; optionally set up
DVC (large outputs) and the pre-push hook (artifacts travel with `git push`)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from gitexp.gitstore.repo import Repo


def init(
    command: str = typer.Option(None, "--command", "-c", help="Command `gitexp run` runs."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing gitexp.yaml."),
    dvc: bool = typer.Option(False, "--dvc", help="Set up DVC for large outputs (dvc init)."),
    dvc_remote: str = typer.Option(
        None, "--dvc-remote", help="URL or folder of the default DVC remote (implies --dvc)."
    ),
    hooks: bool = typer.Option(
        None,
        "--hooks/--no-hooks",
        help="Install the pre-push hook (offered where DVC is set up; asked when interactive).",
    ),
) -> int:
    """Set up this repository for gitexp (writes gitexp.yaml; commits nothing)."""
    from gitexp.common.errors import UsageError
    from gitexp.config.settings import CONFIG_FILE
    from gitexp.gitstore.repo import open_repo

    repo = open_repo()
    target = repo.root / CONFIG_FILE
    extras = dvc or dvc_remote is not None or bool(hooks)
    written: str | None = command
    if target.exists() and not force and not extras:
        raise UsageError(f"{CONFIG_FILE} already exists", "use --force to overwrite it")
    if not target.exists() or force:
        written = _write_config(repo.root, command)
        print(f"wrote {target}", file=sys.stderr)
    if dvc or dvc_remote is not None:
        _dvc(repo.root, dvc_remote)
    offer = hooks is None and _hook_would_help(repo)
    if hooks or (offer and sys.stdin.isatty() and _ask()):
        from gitexp.sharing.githooks import install

        print(f"installed {install(repo).path}", file=sys.stderr)
    elif offer:
        print("tip: `gitexp hooks install` makes `git push` send artifacts", file=sys.stderr)
    print(_next_step(repo.root, written), file=sys.stderr)
    return 0


def _next_step(root: Path, command: str | None) -> str:
    """`-p key=value` edits a params file: suggested only when there is one (a notebook
    command's ``parameters`` cell is one)."""
    from gitexp.config.detect import has_parameters_cell
    from gitexp.config.settings import DEFAULT_PARAMS

    notebook = _notebook(command)
    if notebook and has_parameters_cell(root / notebook):
        return (
            f"next: commit it, then `gitexp run -p key=value` (sets {notebook}'s parameters cell)"
        )
    if notebook:
        return f"next: commit it, then `gitexp run` (tag a cell of {notebook} `parameters` for -p)"
    if any((root / name).is_file() for name in DEFAULT_PARAMS):
        return "next: commit it, then `gitexp run -p key=value`"
    return (
        "next: commit it, then `gitexp run` (for `-p key=value`, keep your params in "
        "params.yaml; a script with flags reads them as `--lr '${lr}'`)"
    )


def _notebook(command: str | None) -> str | None:
    """The notebook a command runs (``analysis.ipynb``), or None."""
    import shlex

    try:
        argv = shlex.split(command or "")
    except ValueError:
        return None
    return argv[0] if len(argv) == 1 and argv[0].endswith(".ipynb") else None


def _write_config(root: Path, command: str | None) -> str | None:
    """Write gitexp.yaml, saying what was found; the command written."""
    from gitexp.config.detect import detect
    from gitexp.config.initfile import write_default_config

    found = detect(root)
    if command is None and found.command:
        print(f"command: {found.command} (found {found.command_source})", file=sys.stderr)
    elif command is None and found.notebooks:
        shown = ", ".join(found.notebooks[:5]) + (", ..." if len(found.notebooks) > 5 else "")
        print(
            f"command: none picked; one of the notebooks could be: {shown} "
            "(set `command:` to one, or run `gitexp run NOTEBOOK`)",
            file=sys.stderr,
        )
    elif command is None:
        print("command: none found; set `command:` or run `gitexp run -- CMD`", file=sys.stderr)
    for name in found.metrics:
        where = found.metrics_sources[name]
        origin = "exists" if where == "exists" else f"named in {where}"
        print(f"metrics: {name} ({origin})", file=sys.stderr)
    links = _ignored(root, found.data_dirs)
    for name in links:
        print(f"link: {name}/ (ignored by git, read by {found.data_dirs[name]})", file=sys.stderr)
    write_default_config(root, command or found.command, found.metrics, links)
    return command or found.command


def _ignored(root: Path, folders: dict[str, str]) -> list[str]:
    """The folders git ignores: a run gets them through `link:`, or not at all."""
    from gitexp.gitstore.repo import open_repo

    repo = open_repo(root)
    return sorted(f for f in folders if repo.git.path_is_ignored(f + "/"))


def _dvc(root: Path, remote: str | None) -> None:
    from gitexp.dvcstore.transfer import init_dvc

    created = init_dvc(root, remote)
    print("set up DVC in .dvc/" if created else "DVC was already set up", file=sys.stderr)
    if remote:
        print(f"default DVC remote: {remote} (in .dvc/config)", file=sys.stderr)


def _hook_would_help(repo: Repo) -> bool:
    """The pre-push hook sends DVC artifacts: worth offering only where DVC is set up
    and gitexp's hook is not installed already (docs/sharing.md, the pre-push hook)."""
    from gitexp.dvcstore.cache import dvc_ready
    from gitexp.sharing.githooks import HOOK, hooks_dir, is_ours

    return dvc_ready(repo.root) and not is_ours(hooks_dir(repo) / HOOK)


def _ask() -> bool:
    return bool(typer.confirm("Install the pre-push hook (sends artifacts on git push)?", True))


def register(app: typer.Typer) -> None:
    app.command("init")(init)
