"""Re-run a recorded experiment exactly and compare its metrics (CI's `gitexp reproduce`).

The rerun replays the experiment commit's tree (params already applied) with
the recorded command, seed, executor and cwd; the original run.json (and its
Dockerfile, when it ran in a container) travel in ``pinned``. The runner gets
the experiment's own gitexp.yaml, but the sandbox it may ask for (outside
links, host variables, network, GPUs) is bounded by the local gitexp.yaml
unless the user trusts it (``gitexp.trust``). Without
``save`` the rerun is recorded under a temporary name,
``tmp-reproduce-<hex>``, whose ref is deleted afterwards, also when the rerun
fails or is interrupted; with ``save`` it is kept as an experiment of its own,
linked to the original through ``reproduces`` in its run.json.
"""

from __future__ import annotations

import logging
import secrets
import tempfile
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from gitexp.common.errors import (
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_METRICS_DIFFER,
    ConfigError,
    UsageError,
)
from gitexp.common.layout import DOCKERFILE, OUTPUT_LOG
from gitexp.common.mappings import flatten
from gitexp.config.settings import CONFIG_FILE, Config, load_config
from gitexp.dvcstore import cache, transfer
from gitexp.dvcstore.settings import artifacts_settings
from gitexp.exploring import envdiff
from gitexp.gitstore import store, treewalk
from gitexp.gitstore.repo import Repo
from gitexp.gitstore.trees import read_blob
from gitexp.integrations import zerocode
from gitexp.running.runner import RunRequest, RunResult, run_experiment
from gitexp.sharing import lfstransfer, randomness, recorded
from gitexp.sharing.reproduce_compare import Row, Tolerance, compare, failure
from gitexp.sharing.trust import merged, require_consent

TEMP_PREFIX = "tmp-reproduce-"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Reproduction:
    """The original, the rerun and the comparison; ``exit_code`` is what CI sees."""

    name: str
    commit: str
    rerun_commit: str
    status: str
    saved_as: str | None
    tolerance: Tolerance
    rows: list[Row] = field(default_factory=list)
    trusted: list[str] = field(default_factory=list)
    environment_diff: dict[str, Any] = field(default_factory=dict)
    #: with --repeat: the metrics of every rerun after the first, compared with it
    repeats: list[list[Row]] = field(default_factory=list)
    hints: list[str] = field(default_factory=list)
    #: why the rerun failed: its exit code, then run.json's error or its last line
    error: str | None = None
    rerun_exit_code: int | None = None
    #: the rerun's own warnings (a metrics file not written, one that led outside)
    warnings: list[str] = field(default_factory=list)

    @property
    def match(self) -> bool:
        return self.status == "succeeded" and all(row.ok for row in self.rows)

    @property
    def reruns_disagree(self) -> bool:
        return any(not row.ok for rows in self.repeats for row in rows)

    @property
    def diagnosis(self) -> str:
        """``match``, ``failed``, ``nondeterministic`` (reruns disagree, or nothing
        recorded differs), ``missing`` (a recorded metric was not produced at all),
        ``drift`` (metrics and environment both differ) or ``unrecorded`` (reruns
        agree with each other, not with the record, and nothing recorded changed: an
        input gitexp cannot see did, such as a variable)."""
        if self.status != "succeeded":
            return "failed"
        if self.reruns_disagree:
            return "nondeterministic"
        if self.match:
            return "match"
        if any(row.missing for row in self.rows):
            return "missing"
        if any(self.environment_diff.values()):
            return "drift"
        return "unrecorded" if self.repeats else "nondeterministic"

    @property
    def exit_code(self) -> int:
        if self.status == "interrupted":
            return EXIT_INTERRUPTED
        if self.status != "succeeded":
            return EXIT_FAILURE
        return 0 if self.match else EXIT_METRICS_DIFFER

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(match=self.match, exit_code=self.exit_code, diagnosis=self.diagnosis)
        return data


def reproduce(
    repo: Repo,
    spec: str,
    tolerance: Tolerance = Tolerance(),
    metrics: list[str] | None = None,
    save: bool = False,
    name: str | None = None,
    echo: bool = True,
    trust: bool = False,
    allow_empty: bool = False,
    repeat: int = 1,
) -> Reproduction:
    """Re-run experiment ``spec`` and compare its metrics with the recorded ones.

    Everything that can refuse (tolerances, metrics, the sandbox it asks
    for) is checked before the rerun writes anything.
    """
    if tolerance.rtol < 0 or tolerance.atol < 0:
        raise UsageError("tolerances must be >= 0")
    if repeat < 1:
        raise UsageError(f"--repeat must be at least 1, got {repeat}")
    original, commit = store.resolve(repo, spec)
    exp = store.load(repo, original, commit)
    treewalk.check(repo.git, _tree(repo, exp.commit), original)  # before the rerun's ref
    _check_recorded(exp, metrics, allow_empty)
    recorded, local = _config_of(repo, exp.commit, original), load_config(repo.root)
    trusted = require_consent(repo, original, recorded, local, trust)
    config = merged(recorded, local)
    _fetch_inputs(repo, exp.run, config)
    lfstransfer.prefetch(repo, original, exp.commit)
    rerun_name = _rerun_name(original, name, save)
    request = _request(repo, exp, rerun_name, echo, trusted)
    try:
        result = run_experiment(repo, config, request)
    finally:
        if not save:
            _drop(repo, rerun_name)
    again = [_rerun_again(repo, config, exp, echo, trusted) for _ in range(repeat - 1)]
    rows = compare(exp.metrics, result.metrics, tolerance, metrics)
    saved = result.name if save else None
    diff = envdiff.between(repo, exp.commit, result.commit)
    outcome = Reproduction(
        original, exp.commit, result.commit, result.status, saved, tolerance, rows, trusted,
        diff.to_dict(),
        [compare(result.metrics, other, tolerance, metrics) for other in again],
        error=_failure(repo, result), rerun_exit_code=result.exit_code,
        warnings=list(result.warnings),
    )  # fmt: skip
    doubtful = _doubtful(outcome)
    return replace(outcome, hints=randomness.hints(repo, result.commit) if doubtful else [])


def _failure(repo: Repo, result: RunResult) -> str | None:
    """A failed rerun's exit code and why, from its record (its ref may be gone)."""
    if result.status == "succeeded":
        return None
    output = read_blob(repo, _tree(repo, result.commit), OUTPUT_LOG)
    return failure(result.exit_code, result.record.extra.get("error"), output)


def _rerun_again(
    repo: Repo, config: Config, exp: store.StoredExperiment, echo: bool, trusted: list[str]
) -> dict[str, Any]:
    """One more rerun (--repeat) under a temporary name: its metrics."""
    name = TEMP_PREFIX + secrets.token_hex(4)
    try:
        return run_experiment(repo, config, _request(repo, exp, name, echo, trusted)).metrics
    finally:
        _drop(repo, name)


def _doubtful(outcome: Reproduction) -> bool:
    return outcome.diagnosis == "nondeterministic"


def _check_recorded(exp: store.StoredExperiment, wanted: list[str] | None, empty: bool) -> None:
    """A command to re-run, and metrics to compare (unless only running is checked)."""
    if not exp.run.get("command"):
        raise UsageError(f"experiment {exp.name!r} has no recorded command to re-run")
    if not flatten(exp.metrics) and not empty:
        raise UsageError(
            f"experiment {exp.name!r} recorded no metrics: nothing to compare",
            "pass --allow-empty to check only that it runs",
        )
    _check_metrics(exp.metrics, wanted)


def _rerun_name(original: str, name: str | None, save: bool) -> str:
    if name:
        return name
    return (
        f"{original}-repro-{secrets.token_hex(2)}" if save else TEMP_PREFIX + secrets.token_hex(4)
    )


def _request(
    repo: Repo, exp: store.StoredExperiment, name: str, echo: bool, trusted: list[str]
) -> RunRequest:
    run = exp.run
    pinned: dict[str, Any] = {"run": run}
    dockerfile = read_blob(repo, _tree(repo, exp.commit), DOCKERFILE)
    if dockerfile is not None:
        pinned["dockerfile"] = dockerfile.decode("utf-8")
    seed = run.get("seed")
    extra: dict[str, Any] = {"reproduces": {"name": exp.name, "commit": exp.commit}}
    if trusted:
        extra["trusted"] = trusted
    zero = zerocode.from_record(run.get("zero_code"))  # an --autolog run reruns the same way
    if zero.active:
        extra["zero_code"] = zero.record()
    return RunRequest(
        tree=exp.commit,
        baseline=_baseline(repo, exp.commit),
        command=[str(c) for c in run["command"]],
        seed=seed if isinstance(seed, int) else None,
        overrides=(),
        executor=run.get("executor") or None,
        cwd=str(run.get("cwd") or ""),
        name=name,
        pinned=pinned,
        echo=echo,
        extra=extra,
        env=zerocode.command_env(zero),
    )


def _baseline(repo: Repo, commit: str) -> str:
    """The experiment commit's first parent, which is its baseline by construction
    (run.json's copy may be missing or crafted); a root commit is its own."""
    try:
        return str(repo.git.revparse_single(f"{commit}^").id)
    except KeyError:  # pygit2's NotFoundError: no parent
        return commit


def _fetch_inputs(repo: Repo, run: dict[str, Any], config: Config) -> None:
    """In a fresh clone, bring the DVC-tracked inputs the run read from the DVC remote."""
    inputs = [i for i in run.get("dvc_inputs") or [] if isinstance(i, dict) and i.get("md5")]
    missing = cache.missing(repo.root, inputs)
    if missing:
        fetched = transfer.fetch(repo.root, missing, artifacts_settings(config).remote)
        if fetched.failed:
            log.warning("DVC inputs not on the remote: %s", ", ".join(fetched.failed[:5]))


def _tree(repo: Repo, commit: str) -> Any:
    return repo.git.revparse_single(f"{commit}^{{tree}}").id


def _config_of(repo: Repo, commit: str, name: str) -> Config:
    """gitexp.yaml as the experiment had it (metrics files, outputs, threshold)."""
    data = recorded.config_bytes(repo, commit, name)  # size-checked (sharing/recorded.py)
    if data is None:
        return Config()
    with tempfile.TemporaryDirectory(prefix="gitexp-config-") as tmp:
        (Path(tmp) / CONFIG_FILE).write_bytes(data)
        try:
            return load_config(Path(tmp))
        except ConfigError as exc:  # theirs, not yours: say whose file it is
            raise ConfigError(f"experiment {name!r}: {exc.message}", exc.hint) from exc


def _drop(repo: Repo, name: str) -> None:
    """Delete the temporary rerun's ref (its commit becomes garbage for git gc)."""
    target = store.ref_targets(repo).get(name)
    if target is not None:
        store.remove_refs(repo, {name: target})


def _check_metrics(recorded: dict[str, Any], wanted: list[str] | None) -> None:
    known = flatten(recorded)
    for metric in wanted or []:
        if metric not in known:
            shown = ", ".join(sorted(known)[:8]) or "none"
            raise UsageError(f"metric {metric!r} was not recorded", f"recorded: {shown}")
