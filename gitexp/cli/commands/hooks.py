"""`gitexp hooks install|uninstall`: the pre-push hook that sends experiment artifacts."""

from __future__ import annotations

import sys

import typer

hooks_app = typer.Typer(help="Install or remove gitexp's git hooks (pre-push).")


@hooks_app.command("install")
def install() -> int:
    """Install the pre-push hook; an existing hook is kept and run first (.legacy)."""
    from gitexp.gitstore.repo import open_repo
    from gitexp.sharing.githooks import install as install_hook

    done = install_hook(open_repo())
    what = "updated" if done.replaced else "installed"
    print(f"gitexp: {what} {done.path}", file=sys.stderr)
    if done.legacy is not None:
        print(f"gitexp: your previous hook runs first, from {done.legacy}", file=sys.stderr)
    return 0


@hooks_app.command("uninstall")
def uninstall() -> int:
    """Remove gitexp's pre-push hook (and put back the hook it chained)."""
    from gitexp.gitstore.repo import open_repo
    from gitexp.sharing.githooks import uninstall as uninstall_hook

    removed = uninstall_hook(open_repo())
    print(
        f"gitexp: {'removed ' + str(removed) if removed else 'no hook installed'}", file=sys.stderr
    )
    return 0


@hooks_app.command("pre-push", hidden=True)
def pre_push(
    remote: str = typer.Argument(..., help="Remote name (from git)."),
    url: str = typer.Argument("", help="Remote URL (from git)."),
) -> int:
    """Called by the installed hook with git's pre-push arguments and stdin."""
    from gitexp.config.settings import load_config
    from gitexp.dvcstore.settings import artifacts_settings
    from gitexp.gitstore.repo import open_repo
    from gitexp.sharing.githooks import pre_push as run_hook

    repo = open_repo()
    lines = sys.stdin.read().splitlines()
    result = run_hook(repo, lines, artifacts_settings(load_config(repo.root)).remote)
    if result is None:
        return 0
    print(f"gitexp: pushed {result.transferred} artifact object(s) to DVC", file=sys.stderr)
    if result.failed:
        print(f"gitexp: error: not pushed: {', '.join(result.failed[:5])}", file=sys.stderr)
        return 1
    return 0


def register(app: typer.Typer) -> None:
    app.add_typer(hooks_app, name="hooks")
