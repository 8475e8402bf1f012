/* gitexp ui: one experiment. Its histories are charted from /api/history; while it
   runs, /api/live streams its points into the charts, and when it ends the page's
   content is fetched again and swapped in place (no reload). */
"use strict";

(() => {
  let source = null;

  function main() {
    return document.getElementById("main");
  }

  async function drawHistories(name) {
    const container = document.getElementById("charts");
    const found = await gx.getJSON("/api/history/" + gx.pathName(name));
    for (const [metric, series] of Object.entries(found.series)) {
      await charts.draw(container, metric, metric, [charts.line(metric, series)]);
    }
    container.dataset.loaded = "1";
  }

  async function addPoints(update) {
    const container = document.getElementById("charts");
    const hint = document.getElementById("no-metrics");
    if (hint) hint.textContent = "live: " + Object.keys(update.metrics).length + " metric(s) so far";
    for (const [metric, series] of Object.entries(update.metrics)) {
      const node = charts.box(container, metric, metric);
      if (update.reset || node.dataset.drawn !== "1") {
        await charts.draw(container, metric, metric, [charts.line(metric, series)]);
      } else if (series.steps.length) {
        await charts.extend(node, series);
      }
      node.dataset.live = "1";
    }
  }

  async function refresh() {
    /* the run ended: take the new page's content, keep this document */
    const response = await fetch(window.location.pathname, { credentials: "same-origin" });
    if (!response.ok) return;
    const doc = new DOMParser().parseFromString(await response.text(), "text/html");
    const fresh = doc.getElementById("main");
    if (!fresh) return;
    main().replaceWith(document.adoptNode(fresh));
    await init();
  }

  function follow(name) {
    if (source) source.close();
    source = gx.stream("/api/live/" + gx.pathName(name), {
      points: (update) => addPoints(update),
      status: (update) => {
        source.close();
        source = null;
        const badge = document.getElementById("exp-status");
        badge.textContent = update.status;
        badge.className = "status " + gx.statusClass(update.status);
        refresh();
      },
    });
  }

  async function init() {
    const { name, status } = main().dataset;
    try {
      await drawHistories(name);
    } catch (error) {
      document.getElementById("charts").append(gx.el("p", { class: "error-text", text: String(error.message) }));
    }
    if (status === "running") follow(name);
  }

  init();
})();
