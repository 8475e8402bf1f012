"""A notebook run whose kernel dies (os._exit, SIGKILL as the OOM killer sends it) is a
failed run like a cell that raised: run.json's error names the cell and how the kernel
ended, one error line, exit 1, and the notebook as far as it got is committed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_gitexp
from run_support import metrics_json, run_json, show
from test_notebook_runs import notebook

from gitexp.running.notebook_exec import mark_death
from gitexp.running.notebooks import failed_cell

#: each dies a moment after it started, so its In [n] reached papermill (a kernel
#: killed at once may die before it says which execution it is: "cell 5" then)
SETTLE = "import os, signal, time\ntime.sleep(0.5)\n"
#: waits until the library has flushed the point to the live file (a second on a quiet
#: machine, longer on a busy one), so the kill that follows cannot lose it
FLUSHED = """\
import os, time
live = os.path.join(os.environ["GITEXP_RUN_DIR"], ".gitexp", "live", "metrics.tsv")
deadline = time.time() + 120
while time.time() < deadline and not (os.path.exists(live) and "loss" in open(live).read()):
    time.sleep(0.05)
"""
DEATHS = [
    (SETTLE + "os._exit(3)\n", "exit code 3"),
    (SETTLE + "os.kill(os.getpid(), signal.SIGKILL)\n", "killed by SIGKILL, out of memory?"),
]


@pytest.mark.parametrize(("cell", "how"), DEATHS, ids=["os._exit", "SIGKILL"])
def test_a_kernel_that_dies_fails_the_run_and_names_the_cell(
    git_repo: Path, cell: str, how: str
) -> None:
    source = notebook(
        ("parameters", "lr = 0.01\n"),
        ("", f"import gitexp\ngitexp.log_metric('loss', lr)\nprint('before {how}')\n"),
        # the library flushes metrics every FLUSH_INTERVAL_S: a kill within it loses them
        ("", FLUSHED),
        ("", cell),
        ("", "print('never')\n"),
    )
    (git_repo / "dies.ipynb").write_text(source)
    proc = run_gitexp("run", "-n", "dead", "dies.ipynb", "-p", "lr=0.5")
    assert proc.returncode == 1, proc.stderr
    # cell 5 of the executed notebook: the injected cell comes after `parameters`
    error = f"the kernel died in cell 5 (In [5]): {how}"
    assert [ln for ln in proc.stderr.splitlines() if ln.startswith("gitexp: error:")] == [
        f"gitexp: error: experiment 'dead' failed (exit code 1): {error}; "
        "recorded as refs/experiments/dead"
    ]
    assert f"gitexp: dies.ipynb: {error}" in proc.stderr.splitlines()
    run = run_json(git_repo, "dead")
    assert (run["status"], run["exit_code"], run["error"]) == ("failed", 1, error)
    assert run["params"]["lr"] == 0.5
    assert metrics_json(git_repo, "dead") == {"loss": 0.5}  # logged before it died
    assert f"before {how}" in show(git_repo, "dead", ".gitexp/output.log")
    cells = json.loads(show(git_repo, "dead", "dies.ipynb"))["cells"]
    assert "".join(cells[2]["outputs"][0]["text"]) == f"before {how}\n"
    died = cells[4]["outputs"]
    assert [(o["output_type"], o["ename"], o["evalue"]) for o in died] == [
        ("error", "DeadKernelError", how)
    ]
    assert cells[5]["outputs"] == [] and cells[5]["execution_count"] is None
    assert (git_repo / "dies.ipynb").read_text() == source  # the user's copy untouched


def test_the_dead_cell_is_read_back_as_the_runner_reads_it(tmp_path: Path) -> None:
    """mark_death writes the output failed_cell reads (the words agree); a notebook
    papermill never started a cell of, or cannot be read, still gets a line."""
    path = tmp_path / "nb.ipynb"
    doc = json.loads(notebook(("", "1\n"), ("", "2\n"), ("", "3\n")))
    for cell, started in zip(doc["cells"], ["t0", "t1", None], strict=True):
        cell["metadata"]["papermill"] = {"start_time": started, "status": "completed"}
    doc["cells"][1]["execution_count"] = 2
    path.write_text(json.dumps(doc))
    said = mark_death(path, -9)
    assert said == "the kernel died in cell 2 (In [2]): killed by SIGKILL, out of memory?"
    assert failed_cell("nb.ipynb", path.read_text()) == said
    assert json.loads(path.read_text())["cells"][1]["metadata"]["papermill"]["status"] == "failed"
    path.write_text(notebook(("", "1\n")))
    assert mark_death(path, None) == "the kernel died in a cell"
    path.write_text("not json")
    assert mark_death(path, 0) == "the kernel died in a cell: exit code 0"
    assert path.read_text() == "not json"
