"""The notebook API: `gitexp.experiments()`, `gitexp.history()`, `gitexp.load()`.

The same records `gitexp show` prints, as Python values: the list reads
through the summary cache (10,000 experiments in about a second) and takes
the filter and sort language of `show`; one experiment's record, files and
step series are read from its commit. pandas is imported only to build a
DataFrame (`to_pandas`, `history`), so a missing pandas costs nothing else.
Every call opens its own repository handle, so threads may call at once.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, overload

from gitexp.common import suggest
from gitexp.common.errors import BackendError, ExperimentNameError, UsageError
from gitexp.common.layout import META_DIR, RUN_JSON
from gitexp.common.mappings import flatten
from gitexp.exploring import histories
from gitexp.exploring import query as q
from gitexp.exploring.readmodel import ExperimentSummary, intact_summary, list_summaries
from gitexp.exploring.series import UnknownMetricError as UnknownMetricError
from gitexp.exploring.series import resolve_metric
from gitexp.gitstore import lfs, store
from gitexp.gitstore.repo import Repo, open_repo
from gitexp.gitstore.trees import blobs, read_json

PathArg = str | os.PathLike[str] | None
COLUMNS = ("name", "commit", "created", "status", "baseline", "seed")


class UnknownExperimentError(ExperimentNameError, KeyError):
    """No experiment of that name (a KeyError too, so ``exps[name]`` reads as a mapping)."""

    def __init__(self, spec: str, known: Sequence[str], where: str = "") -> None:
        held = "it holds " + ", ".join(known[:8]) + (", …" if len(known) > 8 else "")
        fallback = held if where and known else "list them with gitexp.experiments()"
        super().__init__(
            f"no experiment named {spec!r}{where}", suggest.hint(spec, known) or fallback
        )


class UnknownFileError(UsageError, KeyError):
    """The experiment's tree has no file at that path."""


@dataclass(frozen=True, kw_only=True)
class Experiment:
    """One experiment as `gitexp show` lists it (params and metrics nested)."""

    name: str
    commit: str
    status: str
    created: str
    baseline: str | None
    seed: int | None
    params: dict[str, Any]
    metrics: dict[str, Any]
    root: str = field(default="", repr=False, compare=False)

    @property
    def ref(self) -> str:
        return store.REF_PREFIX + self.name

    def row(self) -> dict[str, Any]:
        """Flat: the fixed columns, then ``params.*`` and ``metrics.*``."""
        row = {c: getattr(self, c) for c in COLUMNS}
        row.update({"params." + k: v for k, v in flatten(self.params).items()})
        row.update({"metrics." + k: v for k, v in flatten(self.metrics).items()})
        return row

    def history(self, metric: str | None = None, *, max_points: int | None = None) -> Any:
        """This experiment's step series (see `history`)."""
        return history(self.name, metric, max_points=max_points, repo=self.root)

    def load(self) -> LoadedExperiment:
        """This experiment in full (see `load`)."""
        return load(self.name, repo=self.root)


def _experiment(summary: ExperimentSummary, root: str) -> Experiment:
    return Experiment(
        name=summary.name,
        commit=summary.commit,
        status=summary.status,
        created=summary.created,
        baseline=summary.baseline,
        seed=summary.seed,
        params=summary.params,
        metrics=summary.metrics,
        root=root,
    )


class ExperimentList(Sequence[Experiment]):
    """Experiments in query order: ``len``, iteration, ``[i]``, ``[a:b]``, ``["name"]``."""

    def __init__(self, items: Sequence[Experiment]) -> None:
        self._items = tuple(items)
        self._by_name = {e.name: e for e in self._items}

    @overload
    def __getitem__(self, key: int) -> Experiment: ...
    @overload
    def __getitem__(self, key: str) -> Experiment: ...
    @overload
    def __getitem__(self, key: slice) -> ExperimentList: ...
    def __getitem__(self, key: int | str | slice) -> Experiment | ExperimentList:
        if isinstance(key, slice):
            return ExperimentList(self._items[key])
        if isinstance(key, str):
            if key not in self._by_name:
                raise UnknownExperimentError(key, list(self._by_name), " in this list")
            return self._by_name[key]
        return self._items[key]

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Experiment]:
        return iter(self._items)

    def __contains__(self, item: object) -> bool:
        return item in self._by_name if isinstance(item, str) else item in self._items

    def __repr__(self) -> str:
        shown = ", ".join(e.name for e in self._items[:5])
        more = ", …" if len(self._items) > 5 else ""
        return f"ExperimentList({len(self._items)} experiments: {shown}{more})"

    @property
    def names(self) -> list[str]:
        return [e.name for e in self._items]

    def to_pandas(self) -> Any:
        """One row per experiment: name, commit, created (UTC datetime), status,
        baseline, seed, then ``params.*`` and ``metrics.*`` columns."""
        pd = _pandas()
        rows = [e.row() for e in self._items]
        columns = _ordered(q.all_columns(rows)) if rows else list(COLUMNS)
        frame = pd.DataFrame.from_records(rows, columns=columns)
        frame["created"] = pd.to_datetime([_when(e.created) for e in self._items], utc=True)
        return frame


def _ordered(columns: list[str]) -> list[str]:
    """Fixed columns, then every param, then every metric (first-seen order within)."""
    params = [c for c in columns if c.startswith("params.")]
    metrics = [c for c in columns if c.startswith("metrics.")]
    return [*COLUMNS, *params, *metrics]


def _when(text: str) -> datetime | None:
    """An ISO time (naive means UTC), or None for a broken experiment's empty one."""
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def experiments(
    filter: str | Sequence[str] | None = None,  # the word `gitexp show --filter` uses
    *,
    sort_by: str | None = None,
    descending: bool | None = None,
    limit: int | None = None,
    baseline: str | None = None,
    repo: PathArg = None,
) -> ExperimentList:
    """Experiments as `gitexp show` lists them: newest first, or by ``sort_by``."""
    filters = (filter,) if isinstance(filter, str) else tuple(filter or ())
    for text in filters:
        q.parse_filter(text)  # a bad filter fails even on a repository with no experiment
    if limit is not None and limit < 0:
        raise UsageError(f"limit must be 0 or more, got {limit}")
    r = _open(repo)
    summaries = list_summaries(r, baseline)
    query = q.Query(filters, sort_by, descending, limit=limit)
    _, rows = q.run_query([s.row() for s in summaries], query, ())
    by_name = {s.name: s for s in summaries}
    return ExperimentList([_experiment(by_name[row["name"]], str(r.root)) for row in rows])


@dataclass(frozen=True, kw_only=True)
class LoadedExperiment(Experiment):
    """One experiment in full: its run record, the files of its tree, its artifacts."""

    run: dict[str, Any]
    files: tuple[str, ...]
    artifacts: tuple[dict[str, Any], ...]

    def read(self, path: str) -> bytes:
        """A file of the experiment's tree; ``run.json``, ``output.log``… also name
        the record's files under ``.gitexp/`` when the workspace has no such file."""
        full = path if path in self.files else f"{META_DIR}/{path}"
        if full not in self.files:
            hint = suggest.hint(path, self.files) or "see .files"
            raise UnknownFileError(f"experiment {self.name!r} has no file {path!r}", hint)
        repo = open_repo(self.root)
        git = _git(repo)
        data = bytes(git[git[self.commit].tree[full].id].data)
        pointer = lfs.parse_pointer(data)  # a Git LFS file: its content, when it is here
        if pointer is not None and lfs.object_path(repo, pointer).is_file():
            return lfs.object_path(repo, pointer).read_bytes()
        return data

    def read_text(self, path: str, encoding: str = "utf-8") -> str:
        return self.read(path).decode(encoding, "replace")


def load(spec: str, *, repo: PathArg = None) -> LoadedExperiment:
    """An experiment (name, unique prefix, ref or commit id) in full."""
    r = _open(repo)
    summary = intact_summary(r, _resolve(r, spec)[0])
    tree = _git(r)[summary.commit].tree
    files = tuple(sorted(path for path, _, _ in blobs(r, tree)))
    run = read_json(r, tree, RUN_JSON, lost_ok=True)
    listed = run.get("artifacts")
    artifacts = tuple(a for a in listed if isinstance(a, dict)) if isinstance(listed, list) else ()
    base = vars(_experiment(summary, str(r.root)))
    return LoadedExperiment(**base, run=run, files=files, artifacts=artifacts)


def history(
    spec: str,
    metric: str | None = None,
    *,
    max_points: int | None = None,
    repo: PathArg = None,
) -> Any:
    """A metric's step series as a DataFrame (step, value, time); without ``metric``,
    every series in one long frame (metric, step, value, time).

    Every point, read a chunk at a time into preallocated columns; with
    ``max_points``, at most that many per series that keep the shape (LTTB),
    from the downsample stored with a long series: no chunk is read."""
    if max_points is not None and max_points < 1:
        raise UsageError(f"max_points must be 1 or more, got {max_points}")
    pd = _pandas()
    r = _open(repo)
    name, commit = _resolve(r, spec)
    series = histories.series_blobs(r, commit)
    if metric is not None:
        return _series_frame(pd, r, series[resolve_metric(name, metric, series)], max_points)
    parts = [(m, _series_frame(pd, r, oid, max_points)) for m, oid in series.items()]
    if not parts:
        frame = _frame(pd, [])
        frame.insert(0, "metric", [])
        return frame
    frame = pd.concat([f for _, f in parts], ignore_index=True)
    frame.insert(0, "metric", [m for m, f in parts for _ in range(len(f))])
    return frame


def _series_frame(pd: Any, r: Repo, oid: Any, max_points: int | None) -> Any:
    if max_points is not None:
        return _frame(pd, histories.downsampled(r, oid, max_points))
    if not histories.is_columnar(r, oid):
        return _frame(pd, histories.points(r, oid))
    return _columns_frame(pd, r, oid)


def _columns_frame(pd: Any, r: Repo, oid: Any) -> Any:
    """Every point of a long series, each chunk copied into columns sized from the
    stored summary: the frame and one chunk are all that is held."""
    import importlib

    np = importlib.import_module("numpy")
    told = histories.summary(r, oid)
    step_type = "int64" if told.integral_steps else "float64"
    steps, values, times = (np.empty(told.count, t) for t in (step_type, "float64", "float64"))
    at = 0
    for s, v, t in histories.iter_columns(r, oid):
        n = min(len(v), told.count - at)
        kind = "int64" if getattr(s, "typecode", "") == "q" else "float64"
        steps[at : at + n] = np.frombuffer(s, kind)[:n]
        values[at : at + n] = np.frombuffer(v, "float64")[:n]
        times[at : at + n] = np.frombuffer(t, "float64")[:n]
        at += n
    return pd.DataFrame(
        {
            "step": pd.Series(steps[:at], copy=False),
            "value": pd.Series(values[:at], copy=False),
            "time": pd.to_datetime(pd.Series(times[:at], copy=False), unit="s", utc=True),
        },
        copy=False,
    )


def _frame(pd: Any, points: list[histories.Point]) -> Any:
    """step (int64, or float64 when a step is a decimal), value, time (UTC datetime)."""
    steps = [p[0] for p in points]
    integral = all(isinstance(s, int) for s in steps)
    times = pd.Series([p[2] for p in points], dtype="float64")
    return pd.DataFrame(
        {
            "step": pd.Series(steps, dtype="int64" if integral else "float64"),
            "value": pd.Series([p[1] for p in points], dtype="float64"),
            "time": pd.to_datetime(times, unit="s", utc=True),
        }
    )


def _resolve(r: Repo, spec: str) -> tuple[str, str]:
    """The experiment's name and commit; an unknown one gets a did-you-mean."""
    try:
        name, commit = store.resolve(r, spec)
    except ExperimentNameError:
        refs = store.ref_targets(r)
        bare, sha = spec.removeprefix(store.REF_PREFIX), spec.lower() if len(spec) >= 4 else "-"
        if any(n.startswith(bare) or c.startswith(sha) for n, c in refs.items()):
            raise  # ambiguous: the message lists the candidates
        raise UnknownExperimentError(spec, list(refs)) from None
    return name, str(commit)


def _open(repo: PathArg) -> Repo:
    return open_repo("." if repo is None else repo)


def _git(r: Repo) -> Any:
    """The pygit2 handle, untyped: objects are looked up by id at every call site."""
    return r.git


def _pandas() -> Any:
    """pandas, imported on first use (untyped: its stubs are a separate package)."""
    import importlib

    try:
        return importlib.import_module("pandas")
    except ImportError as exc:
        raise BackendError(
            "pandas is not installed; DataFrames need it", "pip install 'gitexp[notebook]'"
        ) from exc
