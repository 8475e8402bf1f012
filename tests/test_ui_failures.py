"""Why a run failed or stopped, and refs that point at no commit, in the web UI:
run.json's `error` and `stop_reason` in the API and on the page (escaped), and a
broken ref a 404 (400 in a comparison), never a 500; `gitexp show` says a
pruned run's reason, not the signal that stopped it."""

from __future__ import annotations

import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import git, run_gitexp, write_files
from fastapi.testclient import TestClient
from run_support import run_json
from ui_support import serve

from gitexp.config.settings import load_config
from gitexp.events.bus import EventBus
from gitexp.gitstore.repo import open_repo
from gitexp.running.runner import RunRequest, run_experiment
from gitexp.web.app import create_app

RAISES = """\
import gitexp
with gitexp.start_run(name="raised", params={"a": 1}):
    raise ValueError("<b>bad</b> input")
"""
LONG = """\
import time, gitexp
for step in range(600):
    gitexp.log_metric("loss", 1.0 / (step + 1), step=step)
    time.sleep(0.05)
"""
BROKEN_URLS = (
    "/api/experiments/broken1",
    "/api/history/broken1",
    "/api/log/broken1",
    "/api/files/broken1",
    "/api/diff/broken1",
    "/experiments/broken1",
)


def _pruned(root: Path) -> None:
    """A run a driver stops on a live metric, as a sweep's pruner does."""
    from gitexp.running.control import RunControl

    control, bus = RunControl(), EventBus()
    stopped: list[int] = []

    def prune(event: str, payload: dict[str, Any]) -> None:
        if payload["step"] >= 2 and not stopped:
            stopped.append(payload["step"])  # once: the reason the pruner gave first
            control.stop("pruned", "pruned at step 2 by <i>the</i> pruner")

    bus.subscribe(prune, ["metric_logged"])
    request = RunRequest(["python", "long.py"], name="pruned", echo=False, control=control)
    result = run_experiment(open_repo(root), load_config(root), request, bus=bus)
    assert result.status == "pruned"


@pytest.fixture
def failures(git_repo: Path) -> Path:
    write_files(git_repo, {"raises.py": RAISES, "long.py": LONG})
    done = subprocess.run(
        [sys.executable, "raises.py"], cwd=git_repo, capture_output=True, text=True, timeout=120
    )
    assert done.returncode != 0 and "ValueError" in done.stderr
    _pruned(git_repo)
    git(
        git_repo,
        "update-ref",
        "refs/experiments/broken1",
        git(git_repo, "rev-parse", "HEAD^{tree}").strip(),
    )
    return git_repo


@pytest.fixture
def client(failures: Path) -> Iterator[TestClient]:
    with TestClient(create_app(failures), base_url="http://127.0.0.1") as found:
        yield found


def test_api_and_page_say_why_a_run_failed(client: TestClient, failures: Path) -> None:
    found = client.get("/api/experiments/raised").json()
    assert found["status"] == "failed"
    assert found["error"] == run_json(failures, "raised")["error"]
    assert "ValueError" in found["error"] and "<b>bad</b>" in found["error"]
    page = client.get("/experiments/raised").text
    assert 'id="exp-why"' in page and "<b>bad</b>" not in page
    assert "&lt;b&gt;bad&lt;/b&gt; input" in page


def test_api_and_page_say_why_a_run_was_stopped(client: TestClient) -> None:
    found = client.get("/api/experiments/pruned").json()
    assert found["status"] == "pruned"
    assert found["stop_reason"] == "pruned at step 2 by <i>the</i> pruner"
    page = client.get("/experiments/pruned").text
    assert "pruned at step 2 by &lt;i&gt;the&lt;/i&gt; pruner" in page and "<i>the" not in page


def test_a_ref_to_no_commit_is_not_found_never_a_server_error(client: TestClient) -> None:
    for url in BROKEN_URLS:
        answer = client.get(url)
        assert answer.status_code == 404, (url, answer.text)
        assert "points at a tree, not a commit" in answer.text, url
    compared = client.get("/api/compare?names=broken1&names=raised")
    assert compared.status_code == 400 and "points at a tree" in compared.json()["error"]
    assert client.get("/compare?names=raised&names=broken1").status_code == 400
    assert client.get("/api/experiments/raised").status_code == 200  # the others still read


def test_the_real_server_answers_404_for_a_ref_to_no_commit(failures: Path) -> None:
    with serve(failures) as server:
        request = urllib.request.Request(server.base + "/api/experiments/broken1")
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(request, timeout=60)
        assert caught.value.code == 404
        assert b"not a commit" in caught.value.read()


def test_show_says_a_pruned_runs_reason_not_the_signal(failures: Path) -> None:
    out = run_gitexp("show", "pruned", cwd=failures).stdout
    status = next(line for line in out.splitlines() if line.strip().startswith("status"))
    assert "pruned at step 2" in status and "SIGINT" not in status and "Ctrl-C" not in status


@pytest.mark.browser
def test_chromium_shows_the_reason_as_text(failures: Path, tmp_path: Path) -> None:
    from conftest import CHROMIUM
    from playwright.sync_api import sync_playwright

    with serve(failures) as server, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.goto(server.base + "/experiments/pruned")
            why = page.locator("#exp-why").inner_text(timeout=120_000)
            assert "pruned at step 2 by <i>the</i> pruner" in why  # shown as text, not markup
            assert page.locator("#exp-why i").count() == 0
            page.goto(server.base + "/experiments/broken1")
            assert "points at a tree, not a commit" in page.content()
        finally:
            browser.close()
