"""Notebooks: `gitexp run analysis.ipynb -p k=v` executes a notebook headless with a real
Jupyter kernel (ipykernel, through papermill) and commits it executed; an in-process run
from inside a notebook's kernel records that notebook."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import nbclient
import nbformat
from conftest import git, last_line, run_gitexp
from run_support import exp_refs, metrics_json, run_json, show, tree_files


def notebook(*cells: tuple[str, str]) -> str:
    """An nbformat 4.5 Python notebook from (tag, source) pairs; "" for no tag."""
    made = []
    for i, (tag, source) in enumerate(cells):
        made.append(
            {
                "cell_type": "code",
                "execution_count": None,
                "id": f"cell{i}",
                "metadata": {"tags": [tag]} if tag else {},
                "outputs": [],
                "source": source,
            }
        )
    kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    doc = {"cells": made, "metadata": {"kernelspec": kernelspec}, "nbformat": 4}
    return json.dumps({**doc, "nbformat_minor": 5}, indent=1)


ANALYSIS = notebook(
    ("parameters", "lr = 0.01\nepochs = 2\n"),
    (
        "",
        "import gitexp\n"
        "with gitexp.start_run(name='ignored', params={'source': 'nb'}) as run:\n"
        "    for e in range(epochs):\n"
        "        gitexp.log_metric('loss', lr * (e + 1), step=e)\n"
        "print('joined', run.joined)\n"
        "print(f'accuracy: {lr * 10}')\n",
    ),
)


def _commit(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    git(root, "add", *files)
    git(root, "commit", "-q", "-m", "notebooks")


def _outputs(cell: dict[str, Any]) -> str:
    return "".join("".join(o.get("text", "")) for o in cell["outputs"])


def test_a_notebook_runs_with_injected_values_and_is_committed_executed(git_repo: Path) -> None:
    _commit(git_repo, {"analysis.ipynb": ANALYSIS})
    proc = run_gitexp("run", "-n", "nb", "analysis.ipynb", "-p", "lr=0.05", "-p", "epochs=3")
    assert proc.returncode == 0, proc.stderr

    run = run_json(git_repo, "nb")
    assert run["command"] == ["analysis.ipynb"] and run["status"] == "succeeded"
    assert run["params"] == {  # the notebook's values win over params.yaml's lr
        "lr": 0.05,
        "epochs": 3,
        "model": {"depth": 3},
        "source": "nb",
    }
    assert run["overrides"] == ["lr=0.05", "epochs=3"]
    assert run["params_files"][0] == "analysis.ipynb"
    assert metrics_json(git_repo, "nb") == {"loss": 0.15000000000000002, "accuracy": 0.5}
    assert len(show(git_repo, "nb", ".gitexp/history/loss.tsv").strip().splitlines()) >= 3

    cells = json.loads(show(git_repo, "nb", "analysis.ipynb"))["cells"]
    assert [c["metadata"]["tags"] for c in cells] == [["parameters"], ["injected-parameters"], []]
    assert "lr = 0.05\nepochs = 3\n" in "".join(cells[1]["source"])
    assert _outputs(cells[2]) == "joined True\naccuracy: 0.5\n"
    assert [c["execution_count"] for c in cells] == [1, 2, 3]
    assert (git_repo / "analysis.ipynb").read_text() == ANALYSIS  # the user's copy as it was
    assert list(exp_refs(git_repo)) == ["nb"]  # start_run inside joined the run

    shown = run_gitexp("show", "nb")
    assert "command          analysis.ipynb" in shown.stdout
    again = run_gitexp("reproduce", "nb")
    assert again.returncode == 0, again.stderr
    assert last_line(again.stderr) == "gitexp: nb: metrics match"


def test_a_failing_cell_fails_the_run_and_names_the_cell(git_repo: Path) -> None:
    bad = notebook(
        ("parameters", "lr = 0.01\n"),
        ("", "import gitexp\ngitexp.log_metric('loss', 1.0)\n"),
        ("", "raise ValueError(f'bad lr {lr}')\n"),
        ("", "print('never')\n"),
    )
    (git_repo / "bad.ipynb").write_text(bad)
    proc = run_gitexp("run", "-n", "broken", "bad.ipynb", "-p", "lr=2")
    assert proc.returncode == 1
    # cell 4 of the executed notebook: the injected cell comes after `parameters`
    line = "gitexp: bad.ipynb: cell 4 (In [4]) raised ValueError: bad lr 2"
    assert line in proc.stderr.splitlines()
    assert [ln for ln in proc.stderr.splitlines() if ln.startswith("gitexp: error:")] == [
        "gitexp: error: experiment 'broken' failed (exit code 1): cell 4 (In [4]) raised "
        "ValueError: bad lr 2; recorded as refs/experiments/broken"
    ]  # one error line, and it names the cell
    run = run_json(git_repo, "broken")
    assert run["status"] == "failed" and run["exit_code"] == 1
    assert run["error"] == "cell 4 (In [4]) raised ValueError: bad lr 2"  # the same words
    shown = json.loads(run_gitexp("show", "broken", "--format", "json").stdout)
    assert shown["run"]["error"] == run["error"]
    assert metrics_json(git_repo, "broken") == {"loss": 1.0}
    assert line in show(git_repo, "broken", ".gitexp/output.log")
    cells = json.loads(show(git_repo, "broken", "bad.ipynb"))["cells"]
    errors = [o for c in cells if c["cell_type"] == "code" for o in c["outputs"]]
    assert [o["ename"] for o in errors if o["output_type"] == "error"] == ["ValueError"]
    assert "".join(cells[-1]["source"]) == "print('never')\n" and cells[-1]["outputs"] == []


def test_the_error_names_the_first_cell_that_raised_as_the_last_line_does(git_repo: Path) -> None:
    """A bare exception has no message (no dangling colon); a cell that only prints
    to stderr did not raise; a notebook in a folder is read from there."""
    bare = notebook(
        ("", "import sys\nprint('to stderr', file=sys.stderr)\n"),
        ("", "raise KeyError\n"),
    )
    _commit(git_repo, {"nb/bare.ipynb": bare})
    proc = run_gitexp("run", "-n", "bare", "nb/bare.ipynb")
    assert proc.returncode == 1
    assert "gitexp: nb/bare.ipynb: cell 2 (In [2]) raised KeyError\n" in proc.stderr
    assert run_json(git_repo, "bare")["error"] == "cell 2 (In [2]) raised KeyError"


def test_a_notebook_run_has_no_kernel_transport_warning(git_repo: Path) -> None:
    """ipykernel 7 warns on stderr that its TCP sockets are not encrypted; the run asks
    jupyter_client for CurveZMQ keys instead, so no run's output carries the warning."""
    from gitexp.running.notebook_exec import kernel_options

    probe = notebook(
        (
            "",
            "from ipykernel.kernelapp import IPKernelApp\n"
            "print('encrypted:', IPKernelApp.instance().curve_secretkey is not None)\n",
        ),
    )
    _commit(git_repo, {"probe.ipynb": probe})
    proc = run_gitexp("run", "-n", "quiet", "probe.ipynb")
    assert proc.returncode == 0, proc.stderr
    log = show(git_repo, "quiet", ".gitexp/output.log")
    assert "without encryption" not in log and "WARNING" not in log, log
    assert "WARNING" not in proc.stderr, proc.stderr
    if kernel_options():  # jupyter_client can provision keys here (8.10+, CurveZMQ)
        assert "encrypted: True" in log, log


def test_an_in_process_run_that_ends_failed_names_no_cell(git_repo: Path) -> None:
    """The notebook an in-process run commits is the one a person saved (here with an
    old error in it), not one the run executed: run.json's error stays unset."""
    saved = json.loads(notebook(("", "import gitexp\n"), ("", "1 / 0\n")))
    error = {"output_type": "error", "ename": "ZeroDivisionError", "evalue": "old", "traceback": []}
    saved["cells"][1]["outputs"] = [error]
    text = json.dumps(saved, indent=1)
    _commit(git_repo, {"saved.ipynb": text})
    path = git_repo / "saved.ipynb"
    cell = "gitexp.start_run(name='given-up').end(status='failed')\n"
    client = nbclient.NotebookClient(
        nbformat.reads(notebook(("", "import gitexp\n" + cell)), as_version=4),
        kernel_name="python3",
        timeout=120,
        resources={"metadata": {"path": str(git_repo)}},
    )
    client.execute(env={**os.environ, "JPY_SESSION_NAME": str(path)})
    run = run_json(git_repo, "given-up")
    assert run["status"] == "failed" and run["command"] == ["saved.ipynb"]
    assert "error" not in run
    assert "old" in show(git_repo, "given-up", "saved.ipynb")  # the error output is there


def test_the_notebook_as_the_command_after_dashes_and_in_gitexp_yaml(git_repo: Path) -> None:
    quick = notebook(("parameters", "lr = 0.01\n"), ("", "print(f'score: {lr * 2}')\n"))
    _commit(git_repo, {"nb/quick.ipynb": quick, "gitexp.yaml": "command: nb/quick.ipynb\n"})
    dashes = run_gitexp("run", "-n", "dashes", "-p", "lr=0.2", "--", "nb/quick.ipynb")
    assert dashes.returncode == 0, dashes.stderr
    configured = run_gitexp("run", "-n", "configured", "-p", "lr=0.3")
    assert configured.returncode == 0, configured.stderr
    assert metrics_json(git_repo, "dashes") == {"score": 0.4}
    assert metrics_json(git_repo, "configured") == {"score": 0.6}
    assert run_json(git_repo, "configured")["command"] == ["nb/quick.ipynb"]


def test_gitexp_options_after_the_notebook_are_gitexps(git_repo: Path) -> None:
    quick = notebook(
        ("parameters", "lr = 0.01\nepochs = 1\n"), ("", "print(f'score: {lr * epochs}')\n")
    )
    _commit(git_repo, {"quick.ipynb": quick})
    proc = run_gitexp(
        "run", "-p", "lr=0.5", "quick.ipynb", "-n", "after", "--seed", "7", "-p", "epochs=3"
    )
    assert proc.returncode == 0, proc.stderr
    record = run_json(git_repo, "after")
    assert record["seed"] == 7 and record["command"] == ["quick.ipynb"]
    assert metrics_json(git_repo, "after") == {"score": 1.5}


def test_notebook_mistakes_are_one_line_errors_and_record_nothing(git_repo: Path) -> None:
    _commit(git_repo, {"analysis.ipynb": ANALYSIS})
    cases = {
        ("analysis.ipynb", "-p", "lrr=1"): (
            2,
            "gitexp: error: unknown param 'lrr' in analysis.ipynb (hint: did you mean `lr`?)",
        ),
        ("missing.ipynb",): (
            2,
            "gitexp: error: notebook 'missing.ipynb' not found in the work tree (hint: give "
            "its path from the current directory; untracked files count, ignored ones not)",
        ),
        ("analysis.ipynb", "--epochs", "3"): (
            2,
            "gitexp: error: a notebook takes no arguments, got '--epochs 3' (hint: pass "
            "values with -p key=value (its `parameters` cell))",
        ),
    }
    for args, (code, message) in cases.items():
        proc = run_gitexp("run", *args)
        assert (proc.returncode, last_line(proc.stderr)) == (code, message), proc.stderr
    assert exp_refs(git_repo) == {}


def test_an_in_process_run_in_a_notebook_kernel_records_the_notebook(git_repo: Path) -> None:
    explore = notebook(
        (
            "",
            "import os, gitexp\n"
            "with gitexp.start_run(name='from-nb', params={'lr': 0.3}) as run:\n"
            "    gitexp.log_metric('acc', 0.8)\n"
            "    open('explore.ipynb', 'a').write('\\n')  # an autosave meanwhile\n"
            "print(run.status)\n",
        ),
        (
            "",
            "del os.environ['JPY_SESSION_NAME']  # a kernel nothing tells about\n"
            "gitexp.start_run(name='unknown').end()\n",
        ),
    )
    _commit(git_repo, {"notebooks/explore.ipynb": explore})
    path = git_repo / "notebooks" / "explore.ipynb"
    client = nbclient.NotebookClient(
        nbformat.reads(explore, as_version=4),
        kernel_name="python3",
        timeout=120,
        resources={"metadata": {"path": str(path.parent)}},
    )
    # what jupyter_server (JupyterLab, Notebook 7) gives the kernels it starts
    executed = client.execute(env={**os.environ, "JPY_SESSION_NAME": str(path)})
    outputs = [_outputs(c) for c in executed.cells]
    assert outputs[0] == "succeeded\n"

    run = run_json(git_repo, "from-nb")
    assert run["command"] == ["explore.ipynb"] and run["cwd"] == "notebooks"
    assert run["in_process"] == {
        "kind": "notebook",
        "notebook": "notebooks/explore.ipynb",
        "kernel": "python3",
    }
    assert run["params"]["lr"] == 0.3 and metrics_json(git_repo, "from-nb") == {"acc": 0.8}
    assert "notebooks/explore.ipynb" in tree_files(git_repo, "from-nb")
    assert show(git_repo, "from-nb", "notebooks/explore.ipynb") == explore  # as saved at start

    unknown = run_json(git_repo, "unknown")
    assert unknown["command"] == [] and unknown["in_process"] == {"kind": "notebook"}
    assert "cannot tell which notebook this kernel runs" in json.dumps(executed.cells[1])
