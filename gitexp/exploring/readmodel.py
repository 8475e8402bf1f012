"""Reading experiments for people: summaries for tables, one experiment in full,
metric histories, and code diffs between experiments.

Summaries come through the commit-keyed index (gitexp.index), so listing
10,000 experiments opens no git object that was seen before and never
spawns git.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from gitexp.common.errors import StoreError
from gitexp.exploring import summary_cache as index
from gitexp.gitstore import store
from gitexp.gitstore.record import observed_status
from gitexp.gitstore.repo import Repo

HISTORY_DIR = ".gitexp/history/"
FIXED_COLUMNS = ("name", "created", "status", "baseline")


@dataclass(frozen=True)
class ExperimentSummary:
    """One row of `gitexp show`: identity and status, and the cached JSON text of
    baseline/status/created/seed/params/metrics, parsed only when needed."""

    name: str
    commit: str
    status: str
    created: str
    entry: index.Entry

    @property
    def ref(self) -> str:
        return store.REF_PREFIX + self.name

    @cached_property
    def data(self) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self.entry.text)
        value["status"] = self.status
        return value

    @property
    def baseline(self) -> str | None:
        return self.data.get("baseline")

    @property
    def seed(self) -> int | None:
        return self.data.get("seed")

    @property
    def params(self) -> dict[str, Any]:
        return self.data.get("params") or {}

    @property
    def metrics(self) -> dict[str, Any]:
        return self.data.get("metrics") or {}

    def to_json(self) -> dict[str, Any]:
        """The documented `show --format json` object."""
        return {"name": self.name, "ref": self.ref, "commit": self.commit, **self.data}

    def json_text(self) -> str:
        """``json.dumps(self.to_json())`` without parsing the cached text."""
        if self.status != self.entry.status:
            return json.dumps(self.to_json(), default=str)
        head = json.dumps({"name": self.name, "ref": self.ref, "commit": self.commit})
        return head[:-1] + ", " + self.entry.text[1:]

    def row(self) -> dict[str, Any]:
        """Flat row for tables, filters and sorting: params.* and metrics.* columns."""
        from gitexp.running.params import flatten

        row: dict[str, Any] = {
            "name": self.name,
            "commit": self.commit,
            "created": self.created,
            "status": self.status,
            "baseline": self.baseline,
            "seed": self.seed,
        }
        row.update({"params." + k: v for k, v in flatten(self.params).items()})
        row.update({"metrics." + k: v for k, v in flatten(self.metrics).items()})
        return row


def list_summaries(repo: Repo, baseline: str | None = None) -> list[ExperimentSummary]:
    """Every experiment, newest first; only those of ``baseline`` (a revision) if given."""
    refs = store.ref_targets(repo)
    found = index.summaries(repo, refs.values(), every_ref=True)
    out = [_summary(name, commit, found[commit]) for name, commit in refs.items()]
    if baseline is not None:
        base = store.resolve_rev(repo, baseline)
        out = [s for s in out if s.baseline == base]
    out.sort(key=lambda s: (s.created, s.name), reverse=True)
    return out


def _summary(name: str, commit: str, entry: index.Entry) -> ExperimentSummary:
    status = observed_status(entry.status, entry.host, entry.pid, entry.lease)
    return ExperimentSummary(name, commit, status, entry.created, entry)


def get_summaries(repo: Repo, specs: Iterable[str]) -> list[ExperimentSummary]:
    """Summaries of named experiments (name, prefix, ref or commit id), in order."""
    resolved = [store.resolve(repo, spec) for spec in specs]
    found = index.summaries(repo, [str(oid) for _, oid in resolved])
    return [_summary(name, str(oid), found[str(oid)]) for name, oid in resolved]


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

    def to_json(self) -> dict[str, Any]:
        return {
            **self.summary.to_json(),
            "run": self.run,
            "history": {h.name: h.to_json() for h in self.histories},
            "environment": self.environment,
        }


def detail(repo: Repo, spec: str) -> ExperimentDetail:
    """Everything about one experiment: its record, histories and environment."""
    summary = get_summaries(repo, [spec])[0]
    if summary.status == index.BROKEN:
        raise StoreError(
            f"experiment {summary.name!r} is broken: commit {summary.commit[:12]} is missing",
            "fetch it again, or remove it with `gitexp remove`",
        )
    tree = _obj(repo, summary.commit).tree
    run = _json_blob(repo, tree, store.RUN_JSON)
    histories = [
        summarise_history(name, values)
        for name, values in read_histories(repo, summary.commit).items()
    ]
    return ExperimentDetail(summary, run, histories, _environment(repo, tree, run))


def read_histories(repo: Repo, commit: str) -> dict[str, list[float]]:
    """{metric: values in step order} from .gitexp/history/*.tsv."""
    tree = _obj(repo, commit).tree
    out: dict[str, list[float]] = {}
    try:
        hist = _obj(repo, tree[HISTORY_DIR.rstrip("/")].id)
    except KeyError:
        return out
    for path, blob_id in _walk(repo, hist, ""):
        if path.endswith(".tsv"):
            out[_unquote(path[: -len(".tsv")])] = _tsv_values(_obj(repo, blob_id).data)
    return dict(sorted(out.items()))


def _walk(repo: Repo, tree: Any, prefix: str) -> Iterable[tuple[str, Any]]:
    for entry in tree:
        if entry.type_str == "tree":
            yield from _walk(repo, _obj(repo, entry.id), prefix + entry.name + "/")
        elif entry.type_str == "blob":
            yield prefix + entry.name, entry.id


def _unquote(path: str) -> str:
    from urllib.parse import unquote

    return "/".join(unquote(p[1:] if p in ("_.", "_..") else p) for p in path.split("/"))


def _tsv_values(data: bytes) -> list[float]:
    values = []
    for line in data.decode("utf-8", "replace").splitlines()[1:]:
        parts = line.split("\t")
        try:
            values.append(float(parts[1]))
        except (IndexError, ValueError):
            continue
    return values


def summarise_history(name: str, values: list[float]) -> MetricHistory:
    if not values:
        return MetricHistory(name, 0, float("nan"), float("nan"), float("nan"), float("nan"), [])
    return MetricHistory(name, len(values), values[0], values[-1], min(values), max(values), values)


def _environment(repo: Repo, tree: Any, run: dict[str, Any]) -> dict[str, Any]:
    system = _json_blob(repo, tree, ".gitexp/env/system.json")
    try:
        freeze = _obj(repo, tree[".gitexp/env/requirements.txt"].id).data.decode()
        packages: int | None = len([line for line in freeze.splitlines() if line.strip()])
    except KeyError:
        packages = None
    env = {
        "python": run.get("python") or system.get("python"),
        "platform": run.get("platform") or system.get("platform"),
        "host": run.get("host") or system.get("host"),
        "executor": run.get("executor"),
        "docker_image": run.get("docker_image") or run.get("image_id"),
        "packages": packages,
        "cpu_count": system.get("cpu_count"),
    }
    return {k: v for k, v in env.items() if v is not None}


def _json_blob(repo: Repo, tree: Any, path: str) -> dict[str, Any]:
    try:
        value = json.loads(_obj(repo, tree[path].id).data)
    except (KeyError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def code_diff(repo: Repo, old_commit: str, new_commit: str) -> str:
    """Unified diff between two experiments' workspaces (their .gitexp/ left out)."""
    from gitexp.gitstore.trees import without_meta

    old = without_meta(repo, _obj(repo, old_commit).tree_id)
    new = without_meta(repo, _obj(repo, new_commit).tree_id)
    patch = repo.git.diff(_obj(repo, old), _obj(repo, new))
    text: str = patch.patch or ""
    return text


def table(columns: list[str], rows: list[dict[str, Any]]) -> tuple[list[str], list[list[Any]]]:
    """Headers and cells for people: bare param/metric names unless two collide,
    short baseline shas, creation time to the second."""
    bare = [_bare(c) for c in columns]
    headers = [b if bare.count(b) == 1 else c for b, c in zip(bare, columns, strict=True)]
    cells = [[_display(c, row.get(c)) for c in columns] for row in rows]
    return headers, cells


def _bare(column: str) -> str:
    for prefix in ("params.", "metrics."):
        if column.startswith(prefix):
            return column[len(prefix) :]
    return column


def _display(column: str, value: Any) -> Any:
    if column in ("baseline", "commit") and isinstance(value, str):
        return value[:7]
    if column == "created" and isinstance(value, str):
        return value[:19].replace("T", " ")
    return value


def detail_sections(d: ExperimentDetail) -> list[tuple[str, list[tuple[str, Any]]]]:
    """One experiment as titled sections of (label, value) for the text view."""
    from gitexp.running.params import flatten
    from gitexp.views.render import sparkline

    s, run = d.summary, d.run
    overridden = {o.split("=", 1)[0].split(":")[-1].lstrip("+") for o in run.get("overrides", [])}
    params = [(k + (" *" if k in overridden else ""), v) for k, v in flatten(s.params).items()]
    head = [
        ("ref", s.ref),
        ("commit", s.commit),
        ("baseline", s.baseline),
        ("status", _exit(s.status, run)),
        ("command", _command(run.get("command"))),
        ("seed", s.seed),
        ("started", run.get("started")),
        ("ended", run.get("ended")),
        ("duration", f"{run['duration_s']:.2f}s" if run.get("duration_s") is not None else None),
        ("dirty workspace", run.get("dirty")),
    ]
    history = [
        (
            h.name,
            f"{sparkline(h.values)}  steps={h.steps} first={h.first:.6g} last={h.last:.6g} "
            f"min={h.min:.6g} max={h.max:.6g}",
        )
        for h in d.histories
    ]
    artifacts = [(str(a.get("path", "?")), _artifact(a)) for a in run.get("artifacts", [])]
    return [
        (f"experiment {s.name}", [(k, v) for k, v in head if v is not None]),
        ("params (* = overridden)" if overridden else "params", params),
        ("metrics", list(flatten(s.metrics).items())),
        ("history", history),
        ("artifacts", artifacts),
        ("environment", list(d.environment.items())),
    ]


def _exit(status: str, run: dict[str, Any]) -> str:
    from gitexp.common.errors import describe_exit

    code = run.get("exit_code")
    return describe_exit(code if isinstance(code, int) else None, status)


def _command(command: Any) -> str | None:
    if isinstance(command, list):
        import shlex

        return shlex.join(str(c) for c in command)
    return None if command is None else str(command)


def _artifact(a: dict[str, Any]) -> str:
    parts = [f"{k}={a[k]}" for k in ("size", "md5") if a.get(k) is not None]
    return " ".join(parts) or "-"


def _obj(repo: Repo, oid: Any) -> Any:
    """A git object by id (commit, tree or blob), untyped for brevity at call sites."""
    return repo.git[oid]


@dataclass(frozen=True)
class CompareRow:
    """One param or metric across experiments, with deltas against the first."""

    kind: str  # "param" or "metric"
    key: str
    values: list[Any]
    deltas: list[float | None]

    @property
    def changed(self) -> bool:
        return len({json.dumps(v, sort_keys=True, default=str) for v in self.values}) > 1

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "values": self.values, "deltas": self.deltas}


def compare(summaries: list[ExperimentSummary]) -> list[CompareRow]:
    """Params then metrics of the experiments side by side (union of keys)."""
    from gitexp.running.params import flatten

    rows = []
    for kind, attr in (("param", "params"), ("metric", "metrics")):
        flats = [flatten(getattr(s, attr)) for s in summaries]
        keys = list(dict.fromkeys(k for flat in flats for k in flat))
        for key in keys:
            values = [flat.get(key) for flat in flats]
            rows.append(CompareRow(kind, key, values, [_delta(values[0], v) for v in values]))
    return rows


def _delta(first: Any, value: Any) -> float | None:
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (first, value)):
        return None
    return float(f"{value - first:.12g}")  # 0.3 - 0.2 reads as 0.1


def compare_json(
    summaries: list[ExperimentSummary], rows: list[CompareRow], diffs: dict[str, str] | None
) -> dict[str, Any]:
    """The `compare --format json` document."""
    out: dict[str, Any] = {
        "experiments": [s.to_json() for s in summaries],
        "params": [r.to_json() for r in rows if r.kind == "param"],
        "metrics": [r.to_json() for r in rows if r.kind == "metric"],
    }
    if diffs is not None:
        out["diff"] = diffs
    return out


def compare_table(
    summaries: list[ExperimentSummary], rows: list[CompareRow]
) -> tuple[list[str], list[list[Any]]]:
    """Headers and cells: identity rows, then params and metrics with (Δ) cells."""
    from gitexp.views.render import cell

    headers = ["", "", *(s.name for s in summaries)]
    cells: list[list[Any]] = [
        ["", "status", *(s.status for s in summaries)],
        ["", "baseline", *((s.baseline or "")[:7] for s in summaries)],
        ["", "commit", *(s.commit[:7] for s in summaries)],
    ]
    last_kind = ""
    for row in rows:
        kind = row.kind + "s" if row.kind != last_kind else ""
        last_kind = row.kind
        shown = [
            cell(v) + (f" ({d:+.4g})" if i and d else "")
            for i, (v, d) in enumerate(zip(row.values, row.deltas, strict=True))
        ]
        cells.append([kind, row.key, *shown])
    return headers, cells


def diffs_against_first(repo: Repo, summaries: list[ExperimentSummary]) -> dict[str, str]:
    """{name: code diff from the first experiment} for every other experiment."""
    first = summaries[0]
    return {s.name: code_diff(repo, first.commit, s.commit) for s in summaries[1:]}
