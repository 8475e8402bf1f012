"""One experiment in full: its record, metric histories and environment."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gitexp.common import layout
from gitexp.exploring import histories
from gitexp.exploring.summaries import ExperimentSummary, intact_summary
from gitexp.gitstore.gitmodules import links
from gitexp.gitstore.repo import Repo
from gitexp.gitstore.trees import read_json


@dataclass(frozen=True)
class MetricHistory:
    """A metric's step series summarised: first, last, min, max, steps."""

    name: str
    steps: int
    first: float
    last: float
    min: float
    max: float
    values: list[float]

    def to_json(self) -> dict[str, Any]:
        return {
            "steps": self.steps,
            "first": self.first,
            "last": self.last,
            "min": self.min,
            "max": self.max,
        }


@dataclass(frozen=True)
class ExperimentDetail:
    """One experiment in full, for `gitexp show NAME` / `gitexp log NAME`."""

    summary: ExperimentSummary
    run: dict[str, Any]
    histories: list[MetricHistory]
    environment: dict[str, Any]
    #: (path, commit) of each submodule the experiment ran with
    submodules: list[tuple[str, str]] = field(default_factory=list)
    #: who ran it: the experiment commit's author, "Name <email>"
    author: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            **self.summary.to_json(),
            "author": self.author,
            "run": self.run,
            "history": {h.name: h.to_json() for h in self.histories},
            "environment": self.environment,
            "submodules": [{"path": p, "commit": c} for p, c in self.submodules],
        }


def detail(repo: Repo, spec: str) -> ExperimentDetail:
    """Everything about one experiment: its record, histories and environment."""
    summary = intact_summary(repo, spec)
    commit = _obj(repo, summary.commit)
    tree = commit.tree
    run = read_json(repo, tree, layout.RUN_JSON, lost_ok=True)
    found = histories.series_blobs(repo, summary.commit)  # stored summaries: no point read
    series = [summarised(name, histories.summary(repo, found[name])) for name in sorted(found)]
    subs = [(link.path, str(link.commit)) for link in links(repo.git, tree)]
    who = f"{commit.author.name} <{commit.author.email}>"
    return ExperimentDetail(summary, run, series, _environment(repo, tree, run), subs, who)


def read_histories(repo: Repo, commit: str) -> dict[str, list[float]]:
    """{metric: values in step order} from .gitexp/history/*.tsv, by metric name."""
    found = histories.series_blobs(repo, commit)
    return {name: [p[1] for p in histories.points(repo, found[name])] for name in sorted(found)}


def summarised(name: str, s: histories.SeriesSummary) -> MetricHistory:
    """A series' stored (or computed) summary; ``values`` is its downsample."""
    values = [p[1] for p in s.downsample]
    return MetricHistory(name, s.count, s.first, s.last, s.min, s.max, values)


def summarise_history(name: str, values: list[float]) -> MetricHistory:
    if not values:
        return MetricHistory(name, 0, float("nan"), float("nan"), float("nan"), float("nan"), [])
    return MetricHistory(name, len(values), values[0], values[-1], min(values), max(values), values)


def _environment(repo: Repo, tree: Any, run: dict[str, Any]) -> dict[str, Any]:
    system = read_json(repo, tree, layout.SYSTEM_JSON, lost_ok=True)
    try:
        freeze = _obj(repo, tree[layout.REQUIREMENTS_TXT].id).data.decode()
        packages: int | None = len([line for line in freeze.splitlines() if line.strip()])
    except KeyError:
        packages = None
    env = {
        "python": run.get("python") or system.get("python"),
        "platform": run.get("platform") or system.get("platform"),
        "host": run.get("host") or system.get("host"),
        "executor": run.get("executor"),
        "docker_image": _docker(run).get("image_id") or run.get("image_id"),
        "base_image": _docker(run).get("base_image"),
        "packages": packages,
        "cpu_count": system.get("cpu_count"),
        "threads": system.get("threads"),
        "gpus": system.get("gpus"),
    }
    numerics = run.get("numerics_env")
    if isinstance(numerics, dict):
        env.update({f"env {k}": v for k, v in sorted(numerics.items())})
    return {k: v for k, v in env.items() if v is not None}


def _docker(run: dict[str, Any]) -> dict[str, Any]:
    docker = run.get("docker")
    return docker if isinstance(docker, dict) else {}


def _obj(repo: Repo, oid: Any) -> Any:
    """A git object by id (commit, tree or blob), untyped for brevity at call sites."""
    return repo.git[oid]
