"""What every route of one server shares: the repository, the table, the live watcher."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from gitexp.exploring.listing import ExperimentTable
from gitexp.exploring.summaries import ExperimentSummary
from gitexp.gitstore.repo import Repo, open_repo

if TYPE_CHECKING:
    from starlette.requests import Request

    from gitexp.web.live import Hub, Watcher


@dataclass
class Context:
    """One per app. Each request opens its own repository handle (libgit2's are
    not shared between threads); the table is shared and locks itself."""

    root: Path
    table: ExperimentTable
    watcher: Watcher
    hub: Hub
    token: str | None

    def repo(self) -> Repo:
        return open_repo(self.root)

    def summaries(self, repo: Repo) -> list[ExperimentSummary]:
        return self.table.summaries(repo)


def context(request: Request) -> Context:
    found: Context = request.app.state.gitexp
    return found
