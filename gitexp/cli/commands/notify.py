"""`gitexp notify test [--event E]`: a test message to every `notify:` target of
gitexp.yaml, and what each said (gitexp/events/notify.py)."""

from __future__ import annotations

import typer

notify_app = typer.Typer(help="Notifications on run events (gitexp.yaml `notify:`).")


@notify_app.command("test")
def test(
    event: str = typer.Option(
        "run_finished", "--event", "-e", help="The event whose message to send (a made-up one)."
    ),
) -> int:
    """Send a test message to every configured target; exit 1 if one failed."""
    from gitexp.common.errors import GitexpError
    from gitexp.config.settings import load_config
    from gitexp.events.notify import send_test
    from gitexp.gitstore.repo import open_repo

    root = open_repo().root
    outcomes = send_test(load_config(root).notify, root, event)
    for outcome in outcomes:
        note = "" if outcome.subscribed else f" (it does not hear {event} in real runs)"
        print(f"{outcome.label}: {'sent' if outcome.ok else 'failed: ' + outcome.detail}{note}")
    failed = [o for o in outcomes if not o.ok]
    if failed:
        raise GitexpError(f"{len(failed)} of {len(outcomes)} notification target(s) failed")
    return 0


def register(app: typer.Typer) -> None:
    app.add_typer(notify_app, name="notify")
