"""Helpers for the sweep tests: a repository of fast scripts computing a known
function of their params, and ways to read a sweep back (plain git, Optuna)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from conftest import make_repo, run_gitexp
from run_support import exp_refs, run_json

# f(x, y) = (x - 0.3)^2 + (y - 2)^2: the optimum is x=0.3, y=2; `loss` is logged
# per step (getting closer to f), `act` is echoed so the test sees what arrived.
QUADRATIC = """\
import json, gitexp
p = gitexp.params()
x, y = float(p["x"]), int(p["y"])
f = (x - 0.3) ** 2 + (y - 2) ** 2
for step in range(3):
    gitexp.log_metric("loss", f + 1.0 / (step + 1) - 1.0 / 3, step=step)
with open("seen.json", "w") as out:
    json.dump({"act": p.get("act"), "type": type(p.get("act")).__name__}, out)
"""
# two objectives that pull against each other: small `cost` wants small x, big `gain` big x
TRADEOFF = """\
import gitexp
p = gitexp.params()
x = float(p["x"])
gitexp.log_metric("cost", x ** 2)
gitexp.log_metric("gain", x - 0.1 * float(p["y"]))
"""
# a long curve per trial, worse for larger q: the median pruner should cut the bad ones.
# One worse than the first two trials (q 2 and 3 in the tests' grids) holds at step 7
# until it is stopped: its stop waits on the pruner seeing a point, never races the end
# of the curve on a busy machine (a pruner that never stops it: the sweep times out).
CURVE = """\
import time, gitexp
q = float(gitexp.params()["q"])
for step in range(16):
    gitexp.log_metric("loss", q + 1.0 / (step + 1), step=step)
    if step == 7 and q > 3:
        time.sleep(600)
    time.sleep(0.02)
"""
SLOW = """\
import time, gitexp
q = int(gitexp.params()["q"])
time.sleep(float(gitexp.params()["nap"]))
gitexp.log_metric("loss", float(q))
"""
CRASH = """\
import sys, gitexp
q = int(gitexp.params()["q"])
if q == 2:
    sys.exit("boom: q=2 crashes")
gitexp.log_metric("loss", float(q))
"""
PARAMS = "x: 0.0\ny: 0\nact: none\nq: 0\nnap: 0.0\n"


def sweep_repo(root: Path) -> Path:
    return make_repo(
        root,
        {
            "params.yaml": PARAMS,
            "quadratic.py": QUADRATIC,
            "tradeoff.py": TRADEOFF,
            "curve.py": CURVE,
            "slow.py": SLOW,
            "crash.py": CRASH,
        },
    )


def sweep(root: Path, *args: str, env: dict[str, str] | None = None) -> Any:
    """`gitexp sweep ARGS` in ``root`` (the real CLI, piped: no progress bar)."""
    return run_gitexp("sweep", *args, cwd=root, env=env, timeout=180)


def trials(root: Path, name: str) -> dict[int, dict[str, Any]]:
    """trial number → run.json of each trial of sweep ``name``, read by plain git."""
    out = {}
    for ref in exp_refs(root):
        if ref.startswith(name + "/"):
            record = run_json(root, ref)
            out[int(record["trial"])] = record
    return dict(sorted(out.items()))


def sweep_json(root: Path, name: str) -> dict[str, Any]:
    proc = run_gitexp("sweep", "show", name, "--format", "json", cwd=root)
    assert proc.returncode == 0, proc.stderr
    data: dict[str, Any] = json.loads(proc.stdout)
    return data


def journal(root: Path, name: str) -> Path:
    return root / ".git" / "gitexp" / "sweeps" / name / "journal.log"


def load_study(root: Path, name: str) -> Any:
    """The study as Optuna itself opens it (no gitexp code involved)."""
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    storage = JournalStorage(JournalFileBackend(str(journal(root, name))))
    return optuna.load_study(study_name=name, storage=storage)
