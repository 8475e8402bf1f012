"""`gitexp ui` end to end in a real headless Chromium (Debian's, driven by Playwright):
the real CLI serves a real study; the tests click, type and read the DOM. Screenshots
are kept under each test's tmp dir (``screens/``) as artifacts to look at."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import CHROMIUM
from ui_support import (
    INJECTED,
    INJECTED_REF,
    Server,
    serve,
    start_slow_run,
    ui_study,
    ui_template,
    wait_for,
)

__all__ = ["ui_study", "ui_template"]
pytestmark = pytest.mark.browser
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# before any script of the page: what the CSP refused, and any dialog a script opened
WATCH = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) =>
  window.__violations.push([e.violatedDirective, e.sourceFile, e.sample]));
"""


class Browser:
    """One page of a fresh Chromium profile, pointed at a server; it keeps screenshots."""

    def __init__(self, page: Any, server: Server, shots: Path) -> None:
        self.page, self.server, self.shots = page, server, shots
        self.dialogs: list[str] = []
        page.on("dialog", self._dialog)

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def open(self, path: str) -> Any:
        self.page.goto(self.server.base + path)
        return self.page

    def shot(self, name: str) -> Path:
        path = self.shots / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        assert path.stat().st_size > 1000
        return path

    def own_violations(self) -> list[Any]:
        """CSP refusals outside plotly.js's bundle (which injects map styles it never needs)."""
        found: list[Any] = self.page.evaluate("window.__violations")
        return [v for v in found if not str(v[1]).endswith("/static/plotly.min.js")]


@pytest.fixture
def browser(ui_study: Path, tmp_path: Path) -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    shots = tmp_path / "screens"
    shots.mkdir()
    with serve(ui_study) as server, sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=CHROMIUM,
            headless=True,
            args=ARGS,
            viewport={"width": 1300, "height": 900},
        )
        context.add_init_script(WATCH)
        context.set_default_timeout(120_000)  # a deadline for an event, on a loaded machine
        try:
            yield Browser(context.new_page(), server, shots)
        finally:
            context.close()


def rows(page: Any) -> list[str]:
    found: list[str] = page.eval_on_selector_all(
        "#table-body tr[data-name]", "trs => trs.map(t => t.dataset.name)"
    )
    return found


def wait_rows(page: Any, expected: list[str] | set[str]) -> None:
    want = sorted(expected) if isinstance(expected, set) else expected
    wait_for(lambda: (sorted(rows(page)) if isinstance(expected, set) else rows(page)) == want)


def test_table_sorts_filters_searches_and_chooses_columns(browser: Browser) -> None:
    page = browser.open("/")
    page.wait_for_selector("#experiments[data-loaded]")
    assert len(rows(page)) == 8 and INJECTED_REF in rows(page)  # the two sweeps folded
    assert page.locator("#page-info").inner_text() == "1–8 of 8"
    assert page.locator('tr[data-name="broken"] .status').get_attribute("class") == (
        "status status-failed"
    )
    page.click('th[data-col="metrics.val/acc"]')
    page.click('th[data-col="metrics.val/acc"]')  # again: descending
    wait_for(lambda: rows(page)[:2] == ["gamma", "beta"])
    assert "▼" in page.locator('th[data-col="metrics.val/acc"]').inner_text()
    page.fill("#filter-input", "lr>=0.2")
    page.press("#filter-input", "Enter")
    wait_rows(page, {"gamma", "beta"})
    assert page.locator(".chip code").inner_text() == "lr>=0.2"
    assert "filter=lr%3E%3D0.2" in page.url
    page.fill("#filter-input", "nope>1")
    page.press("#filter-input", "Enter")
    page.wait_for_selector("#table-error:not([hidden])")
    assert "unknown column 'nope'" in page.locator("#table-error").inner_text()
    assert page.locator(".chip").count() == 1 and sorted(rows(page)) == ["beta", "gamma"]
    page.click(".chip button")
    wait_for(lambda: len(rows(page)) == 8)
    page.fill("#search", "ALP")
    wait_rows(page, ["alpha"])
    page.fill("#search", "")
    wait_for(lambda: len(rows(page)) == 8)
    browser.shot("table")
    page.click("#column-chooser summary")
    page.uncheck('#column-list input[value="params.x"]')
    assert page.locator('th[data-col="params.x"]').count() == 0
    page.reload()
    page.wait_for_selector("#experiments[data-loaded]")
    assert page.locator('th[data-col="params.x"]').count() == 0  # remembered
    assert page.locator('th[data-col="params.lr"]').count() == 1
    assert browser.own_violations() == [] and browser.dialogs == []


def test_each_sweep_is_one_row_until_every_trial_is_asked_for(browser: Browser) -> None:
    page = browser.open("/")
    page.wait_for_selector("#experiments[data-loaded]")
    assert {"sw/", "duo/"} <= set(rows(page)) and not any("/trial-" in n for n in rows(page))
    sw = page.locator('tr[data-name="sw/"]')
    assert sw.locator(".status").inner_text() == "sweep, 4 trials"
    assert sw.locator('td[data-col="metrics.loss"]').inner_text() != ""  # its best trial's
    assert not page.locator("#trials").is_checked()
    page.check("#trials")
    wait_for(lambda: len(rows(page)) == 14)
    assert "trials=1" in page.url and "sw/" not in rows(page)
    assert page.locator("#page-info").inner_text() == "1–14 of 14"
    browser.shot("trials")
    page.reload()
    page.wait_for_selector("#experiments[data-loaded]")
    assert page.locator("#trials").is_checked() and len(rows(page)) == 14  # kept in the URL
    page.uncheck("#trials")
    wait_for(lambda: len(rows(page)) == 8)
    page.click('tr[data-name="sw/"] td[data-col="name"] a')
    page.wait_for_url("**/sweeps/sw")
    page.wait_for_selector("#sweep-charts[data-loaded]")
    page = browser.open("/?filter=sweep%3Dsw")
    page.wait_for_selector("#experiments[data-loaded]")
    wait_rows(page, {f"sw/trial-000{i}" for i in range(4)})
    assert page.locator("#trials").is_checked() and page.locator("#trials").is_disabled()
    assert browser.own_violations() == [] and browser.dialogs == []


def test_an_experiment_page_draws_each_metric_history(browser: Browser) -> None:
    page = browser.open("/")
    page.click('tr[data-name="beta"] a')
    page.wait_for_url("**/experiments/beta")
    chart = page.wait_for_selector('.chart[data-metric="loss"][data-drawn="1"] .main-svg')
    assert chart is not None
    loss = page.locator('.chart[data-metric="loss"]')
    assert loss.get_attribute("data-points") == "4"
    assert loss.locator(".scatterlayer .trace").count() == 1
    assert page.locator('.chart[data-metric="val/acc"]').count() == 1
    overridden = page.locator("#params tr.overridden td:first-child").all_inner_texts()
    assert overridden == ["lr", "model.depth"]
    assert "trained 0.2" in page.locator("#log").inner_text()
    assert page.locator("#diff .add", has_text="+lr: 0.2").count() == 1
    assert page.locator("#exp-status").inner_text() == "succeeded"
    browser.shot("experiment")
    assert browser.own_violations() == []


def test_compare_two_selected_in_the_table(browser: Browser) -> None:
    page = browser.open("/")
    page.wait_for_selector("#experiments[data-loaded]")
    assert page.locator("#compare-button").is_disabled()
    page.check('tr[data-name="alpha"] td.select input')
    page.check('tr[data-name="gamma"] td.select input')
    page.click("#compare-button")
    page.wait_for_url("**/compare?names=alpha&names=gamma")
    page.wait_for_selector("#charts[data-loaded]")
    loss = page.locator('.chart[data-metric="loss"]')
    assert loss.locator(".scatterlayer .trace").count() == 2
    assert loss.get_attribute("data-points") == "8"
    changed = page.locator("#compare-params tr.changed td:first-child").all_inner_texts()
    assert changed == ["lr", "model.depth"]
    assert page.locator("#compare-params tr.same td:first-child").all_inner_texts() == ["x", "stop"]
    browser.shot("compare")


def test_sweep_pages_chart_trials_best_and_the_pareto_front(browser: Browser) -> None:
    page = browser.open("/sweeps")
    page.click('a[href="/sweeps/sw"]')
    page.wait_for_selector("#sweep-charts[data-loaded]")
    objective = page.locator('.chart[data-key="objective"]')
    assert objective.locator(".scatterlayer .trace").count() == 2  # trials, best so far
    assert objective.get_attribute("data-points") == "8"
    assert page.locator('.chart[data-key="param:x"] .main-svg').count() >= 1
    assert page.locator('.chart[data-key="importance:loss"] .barlayer').count() == 1
    assert page.locator("table.importances td").all_inner_texts() == ["x", "1.000"]
    assert page.locator("#best li").count() == 1
    assert page.locator("#trials tbody tr").count() == 4
    browser.shot("sweep")
    page = browser.open("/sweeps/duo")
    page.wait_for_selector("#sweep-charts[data-loaded]")
    pareto = page.locator('.chart[data-key="pareto"]')
    assert pareto.locator(".scatterlayer .trace").count() == 2  # every trial, the front
    assert pareto.get_attribute("data-points") == "7"  # 4 trials, 3 of them on the front
    assert page.locator("#best li").count() == 3
    assert page.locator("h2", has_text="Pareto front").count() == 1
    assert page.locator("#trials tbody tr.best").count() == 3
    browser.shot("pareto")


def test_models_page_shows_versions_stages_and_history(browser: Browser) -> None:
    page = browser.open("/models")
    assert "prod: v0.0.1" in page.locator("#models").inner_text()
    page.click('a[href="/models/churn"]')
    page.wait_for_url("**/models/churn")
    versions = page.locator("#versions tbody tr")
    assert versions.count() == 1 and "v0.0.1" in versions.inner_text()
    assert "alpha" in versions.inner_text() and "prod" in versions.inner_text()
    events = page.locator("#history tbody tr td:nth-child(2)").all_inner_texts()
    assert events == ["registered", "promoted"]
    browser.shot("model")


def test_script_in_a_name_or_a_param_value_never_runs(browser: Browser) -> None:
    page = browser.open("/")
    page.wait_for_selector("#experiments[data-loaded]")
    evil = page.locator('tr[data-name="evil"] td[data-col="params.note"]')
    assert evil.inner_text() == INJECTED
    name = page.locator("#table-body a", has_text=INJECTED_REF)
    assert name.count() == 1
    name.click()
    page.wait_for_selector("#exp-name")
    assert page.locator("#exp-name").inner_text() == INJECTED_REF
    page = browser.open("/experiments/evil")
    page.wait_for_selector("#charts[data-loaded]")
    assert INJECTED in page.locator("#params").inner_text()
    page = browser.open("/compare?names=evil&names=alpha")
    page.wait_for_selector("#charts[data-loaded]")
    assert INJECTED in page.locator("#compare-params").inner_text()
    assert page.evaluate("document.querySelectorAll('script:not([src])').length") == 0
    browser.shot("escaped")
    assert browser.dialogs == [] and browser.own_violations() == []


def test_a_running_experiments_chart_grows_without_a_reload(
    browser: Browser, ui_study: Path, tmp_path: Path
) -> None:
    stop = tmp_path / "stop"
    run = start_slow_run(ui_study, "live-run", stop)
    try:
        page = browser.page
        wait_for(lambda: "live-run" in _names(browser))
        page = browser.open("/experiments/live-run")
        page.evaluate("window.__kept = 'this document'")
        assert page.locator("#exp-status").inner_text() == "running"
        chart = page.locator('.chart[data-metric="loss"]')
        first = wait_for(lambda: _points(chart))
        wait_for(lambda: _points(chart) >= first + 10)
        browser.shot("running")
        stop.touch()
        wait_for(lambda: page.locator("#exp-status").inner_text() == "succeeded")
        assert page.evaluate("window.__kept") == "this document"  # never reloaded
        assert page.evaluate("performance.getEntriesByType('navigation').length") == 1
        page.wait_for_selector('.chart[data-metric="steps"]')
        assert _points(page.locator('.chart[data-metric="loss"]')) > first + 10
        browser.shot("finished")
    finally:
        stop.touch()
        run.wait(timeout=180)
    assert run.returncode == 0


def _names(browser: Browser) -> list[str]:
    import json
    import urllib.request

    with urllib.request.urlopen(browser.server.base + "/api/experiments?search=live") as r:
        return [row["name"] for row in json.load(r)["rows"]]


def _points(chart: Any) -> int:
    if chart.count() == 0:
        return 0
    return int(chart.get_attribute("data-points") or 0)
