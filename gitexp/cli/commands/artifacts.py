"""`gitexp artifacts list|pull NAME`: an experiment's DVC-stored files."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

artifacts_app = typer.Typer(help="List or fetch an experiment's artifacts (stored through DVC).")


@artifacts_app.command("list")
def list_(
    name: str = typer.Argument(..., help="Experiment name, prefix or commit."),
    fmt: str = typer.Option("table", "--format", help="table, json, csv or md."),
) -> int:
    """List the artifacts an experiment recorded: path, md5, size, why it went to DVC."""
    from gitexp.views.render import check_format, render, to_json

    check_format(fmt)
    _, _, records = _records(name)
    if fmt == "json":
        print(to_json(records))
        return 0
    rows = [
        [r.get("path"), r.get("size"), r.get("nfiles"), r.get("md5"), r.get("reason")]
        for r in records
    ]
    text, _ = render(["path", "size", "files", "md5", "reason"], rows, fmt)
    print(text)
    return 0


@artifacts_app.command("pull")
def pull(
    name: str = typer.Argument(..., help="Experiment name, prefix or commit."),
    out: Path = typer.Option(Path("."), "--out", "-o", help="Folder to write the files into."),
    paths: list[str] = typer.Option([], "--path", "-p", help="Only these artifact paths."),
    dvc_remote: str = typer.Option(None, "--dvc-remote", help="DVC remote (default: config)."),
) -> int:
    """Fetch an experiment's artifacts from the DVC remote and write them under --out."""
    from gitexp.config.settings import load_config
    from gitexp.dvcstore.checkout import check_records, checkout
    from gitexp.dvcstore.settings import artifacts_settings
    from gitexp.dvcstore.transfer import fetch

    repo_root, exp, records = _records(name)
    chosen = _only(records, paths)
    if not chosen:
        print(f"gitexp: {name} has no artifacts", file=sys.stderr)
        return 0
    check_records(chosen, exp)  # refuse an unsafe path before anything is fetched
    remote = dvc_remote or artifacts_settings(load_config(repo_root)).remote
    result = fetch(repo_root, chosen, remote)
    if result.failed:
        from gitexp.common.errors import BackendError

        raise BackendError(
            f"not on the DVC remote: {', '.join(result.failed[:5])}",
            "push them from the clone that ran the experiment (`gitexp push`)",
        )
    for path in checkout(repo_root, chosen, out, experiment=exp):
        print(path)
    return 0


def _records(spec: str) -> tuple[Path, str, list[dict[str, object]]]:
    from gitexp.gitstore import store
    from gitexp.gitstore.repo import open_repo

    repo = open_repo()
    name, commit = store.resolve(repo, spec)
    records = store.load(repo, name, commit).run.get("artifacts") or []
    return repo.root, name, [r for r in records if isinstance(r, dict)]


def _only(records: list[dict[str, object]], paths: list[str]) -> list[dict[str, object]]:
    if not paths:
        return records
    from gitexp.common.errors import UsageError

    wanted = {p.rstrip("/") for p in paths}
    unknown = wanted - {str(r.get("path")) for r in records}
    if unknown:
        raise UsageError(f"no artifact {sorted(unknown)[0]!r}", "see `gitexp artifacts list NAME`")
    return [r for r in records if r.get("path") in wanted]


def register(app: typer.Typer) -> None:
    app.add_typer(artifacts_app, name="artifacts")
