"""Make a repository with N synthetic experiments in gitexp's real storage format.

Objects and refs are written with pygit2 plumbing (no `gitexp run`, no git
process per experiment): each experiment is a commit whose parent is the
baseline and whose tree is the workspace (train.py, params.yaml) plus
.gitexp/run.json, metrics.json, history/*.tsv, env/ and output.log, with a
ref refs/experiments/<name>. 10,000 experiments take a few seconds.

With ``--sweeps S`` (``--trials T``, 50), S*T of the N experiments are the
trials of S sweeps, recorded as `gitexp sweep` records them: refs
``sweep-SS/trial-NNNN``, run.json's ``sweep``, ``trial`` and
``sweep_objectives``, and each sweep's home ``.git/gitexp/sweeps/sweep-SS/``
(its manifest and its Optuna study, one complete trial per experiment, failed
ones failed), so `gitexp sweep show` and the UI's sweep page find them. The
sweeps are spread evenly, the newest trials the newest experiments.

    python benchmarks/generate.py /tmp/exp-repo -n 10000 [--pack] [--sweeps 20]
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pygit2

BLOB = pygit2.enums.FileMode.BLOB
TREE = pygit2.enums.FileMode.TREE
SIGNATURE = pygit2.Signature("gitexp bench", "bench@example.invalid", 1_700_000_000, 0)
TRAIN_PY = b"import gitexp\np = gitexp.params()\ngitexp.log_metric('loss', 0.1)\n"
SPACE = {"lr": "float(0.001,0.1,log)", "model.depth": "int(2,12)"}  # what the sweeps search
OBJECTIVE = "loss:min"


@dataclass(frozen=True)
class Trial:
    """A sweep's trial, as the generator wrote it (for the sweep's Optuna study)."""

    name: str
    number: int
    params: dict[str, Any]
    loss: float | None  # None: failed


def init_repo(dest: Path) -> tuple[pygit2.Repository, pygit2.Oid]:
    """A fresh repository with one baseline commit on main."""
    dest.mkdir(parents=True, exist_ok=True)
    repo = pygit2.init_repository(str(dest), initial_head="main")
    (dest / "train.py").write_bytes(TRAIN_PY)
    (dest / "params.yaml").write_bytes(b"lr: 0.1\nmodel:\n  depth: 3\n  width: 64\n")
    repo.index.add("train.py")
    repo.index.add("params.yaml")
    repo.index.write()
    tree = repo.index.write_tree()
    base = repo.create_commit("HEAD", SIGNATURE, SIGNATURE, "baseline", tree, [])
    return repo, base


def _tree(repo: pygit2.Repository, entries: dict[str, tuple[pygit2.Oid, int]]) -> pygit2.Oid:
    builder = repo.TreeBuilder()
    for name, (oid, mode) in sorted(entries.items()):
        builder.insert(name, oid, mode)
    written: pygit2.Oid = builder.write()
    return written


def _blob(repo: pygit2.Repository, data: str | bytes) -> tuple[pygit2.Oid, int]:
    return repo.create_blob(data.encode() if isinstance(data, str) else data), BLOB


class Generator:
    """Writes experiments one by one; blobs shared by all are written once."""

    def __init__(self, repo: pygit2.Repository, baseline: pygit2.Oid, seed: int = 0) -> None:
        self.repo = repo
        self.baseline = baseline
        self.rng = random.Random(seed)
        self.train = _blob(repo, TRAIN_PY)
        env = {
            "requirements.txt": _blob(repo, "numpy==1.26.4\npygit2==1.15.0\n"),
            "system.json": _blob(repo, json.dumps({"python": "3.11.7", "host": "bench"})),
        }
        self.env = (_tree(repo, env), TREE)
        self.log = _blob(repo, "training...\ndone\n")

    def experiment(self, i: int, name: str | None = None) -> tuple[str, pygit2.Oid]:
        """Write one experiment's objects and its ref; return (name, commit)."""
        name = name or f"exp-{i:05d}"
        commit, _, _ = self._write(name, i, self._params())
        return name, commit

    def trial(self, i: int, sweep: str, number: int) -> Trial:
        """Write experiment ``i`` as trial ``number`` of ``sweep`` (`gitexp sweep`'s fields)."""
        name = f"{sweep}/trial-{number:04d}"
        params = self._params()
        searched = {"lr": params["lr"], "model.depth": params["model"]["depth"]}
        extra = {
            "overrides": [f"{k}={v}" for k, v in searched.items()],
            "sweep": sweep,
            "trial": number,
            "sweep_objectives": [OBJECTIVE],
        }
        _, run, metrics = self._write(name, i, params, extra)
        loss = metrics["loss"] if run["status"] == "succeeded" else None
        return Trial(name, number, searched, loss)

    def _write(
        self, name: str, i: int, params: dict[str, Any], extra: dict[str, Any] | None = None
    ) -> tuple[pygit2.Oid, dict[str, Any], dict[str, Any]]:
        """One experiment's commit and ref; returns (commit, run.json, metrics)."""
        metrics, history = self._metrics()
        run = {**self._run(name, i, params), **(extra or {})}
        meta = {
            "run.json": _blob(self.repo, json.dumps(run, indent=2) + "\n"),
            "metrics.json": _blob(self.repo, json.dumps(metrics, indent=2) + "\n"),
            "history": (_tree(self.repo, {"loss.tsv": _blob(self.repo, history)}), TREE),
            "env": self.env,
            "output.log": self.log,
        }
        params_yaml = (
            f"lr: {params['lr']}\nmodel:\n  depth: {params['model']['depth']}\n"
            f"  width: {params['model']['width']}\n"
        )
        root = {
            "train.py": self.train,
            "params.yaml": _blob(self.repo, params_yaml),
            ".gitexp": (_tree(self.repo, meta), TREE),
        }
        message = f"gitexp: {name}\n\nsucceeded seed={run['seed']} lr={params['lr']}\n"
        commit = self.repo.create_commit(
            None, SIGNATURE, SIGNATURE, message, _tree(self.repo, root), [self.baseline]
        )
        self.repo.references.create(f"refs/experiments/{name}", commit)
        return commit, run, metrics

    def _params(self) -> dict[str, Any]:
        rng = self.rng
        return {
            "lr": rng.choice([0.001, 0.003, 0.01, 0.03, 0.1]),
            "model": {"depth": rng.randint(2, 12), "width": rng.choice([32, 64, 128])},
        }

    def _metrics(self) -> tuple[dict[str, Any], str]:
        rng = self.rng
        losses = [round(1.0 / (s + 1) + rng.random() * 0.05, 5) for s in range(20)]
        metrics = {"loss": losses[-1], "val": {"acc": round(rng.random(), 5)}}
        rows = "".join(f"{s}\t{v!r}\t{1_700_000_000 + s}.000\n" for s, v in enumerate(losses))
        return metrics, "step\tvalue\ttime\n" + rows

    def _run(self, name: str, i: int, params: dict[str, Any]) -> dict[str, Any]:
        started = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(1_700_000_000 + i * 60))
        return {
            "schema": 1,
            "name": name,
            "command": ["python", "train.py"],
            "params": params,
            "overrides": [f"lr={params['lr']}"],
            "seed": self.rng.randrange(2**31),
            "status": "failed" if i % 50 == 7 else "succeeded",
            "started": started + ".000+00:00",
            "baseline": str(self.baseline),
            "dirty": False,
            "executor": "local",
            "host": "bench",
            "pid": 1,
            "python": "3.11.7",
            "platform": "Linux",
            "cwd": "",
            "params_files": ["params.yaml"],
            "exit_code": 1 if i % 50 == 7 else 0,
            "ended": started + ".500+00:00",
            "duration_s": 0.5,
            "artifacts": [],
            "links": [],
        }


def sweep_slots(n: int, sweeps: int, trials: int) -> dict[int, tuple[str, int]]:
    """{experiment index: (sweep, trial number)}: each sweep's trials in a row, at
    the end of its share of the N, so the newest experiments are a sweep's."""
    if sweeps * trials > n:
        raise ValueError(f"{sweeps} sweeps of {trials} trials need {sweeps * trials} experiments")
    share = n // sweeps if sweeps else 0
    slots = {}
    for s in range(sweeps):
        end = n if s == sweeps - 1 else (s + 1) * share
        for t in range(trials):
            slots[end - trials + t] = (f"sweep-{s:02d}", t)
    return slots


def write_sweep(dest: Path, name: str, trials: list[Trial], tree: str) -> None:
    """The sweep's home, as `gitexp sweep` leaves it: manifest and Optuna study."""
    import optuna

    from gitexp.gitstore.repo import open_repo
    from gitexp.sweeps import space, spec, storage, study

    params = {key: space.parse(key, text) for key, text in SPACE.items()}
    made = spec.SweepSpec(name, params, (spec.parse_objective(OBJECTIVE),), trials=len(trials))
    home = storage.home(open_repo(dest), name)
    storage.save(home, made, tree)
    study.quiet_optuna()
    found = study.open_study(made, storage.open_storage(storage.location(home, made)), 0, True)
    dists = {key: space.distribution(p) for key, p in params.items()}
    state = optuna.trial.TrialState
    found.add_trials(
        optuna.trial.create_trial(
            state=state.COMPLETE if t.loss is not None else state.FAIL,
            value=t.loss, params=t.params, distributions=dists,
            user_attrs={study.NAME_ATTR: t.name},
        )
        for t in trials
    )  # fmt: skip


def generate(dest: Path, n: int, pack: bool = False, sweeps: int = 0, trials: int = 50) -> float:
    """Build the repository (with ``sweeps`` sweeps of ``trials`` among the N
    experiments); return the seconds it took."""
    t0 = time.perf_counter()
    slots = sweep_slots(n, sweeps, trials)
    repo, base = init_repo(dest)
    gen = Generator(repo, base)
    made: dict[str, list[Trial]] = {}
    for i in range(n):
        if i in slots:
            sweep, number = slots[i]
            made.setdefault(sweep, []).append(gen.trial(i, sweep, number))
        else:
            gen.experiment(i)
    tree = str(repo.head.peel(pygit2.Commit).tree_id)
    for sweep, written in made.items():
        write_sweep(dest, sweep, written, tree)
    if pack:
        subprocess.run(["git", "-C", str(dest), "repack", "-adq"], check=True)
        subprocess.run(["git", "-C", str(dest), "pack-refs", "--all"], check=True)
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dest", type=Path)
    parser.add_argument("-n", type=int, default=10_000, help="number of experiments")
    parser.add_argument("--pack", action="store_true", help="repack objects and refs afterwards")
    parser.add_argument("--sweeps", type=int, default=0, help="sweeps among the experiments")
    parser.add_argument("--trials", type=int, default=50, help="trials of each sweep")
    args = parser.parse_args(argv)
    if args.dest.exists() and any(args.dest.iterdir()):
        print(f"generate.py: {args.dest} is not empty", file=sys.stderr)
        return 2
    if args.sweeps * args.trials > args.n:
        print(
            f"generate.py: {args.sweeps} sweeps of {args.trials} trials exceed -n", file=sys.stderr
        )
        return 2
    seconds = generate(args.dest, args.n, args.pack, args.sweeps, args.trials)
    found = {"generated": args.n, "sweeps": args.sweeps, "path": str(args.dest)}
    print(json.dumps({**found, "seconds": round(seconds, 2)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
