/* gitexp ui: experiments side by side; each metric's histories overlaid in one chart. */
"use strict";

(async () => {
  const container = document.getElementById("charts");
  const names = [...document.querySelectorAll("#compare-names li")].map((li) => li.dataset.name);
  const found = await Promise.all(names.map((name) => gx.getJSON("/api/history/" + gx.pathName(name))));
  const metrics = [...new Set(found.flatMap((f) => Object.keys(f.series)))].sort();
  for (const metric of metrics) {
    const traces = found
      .filter((f) => f.series[metric])
      .map((f) => Object.assign(charts.line(f.name, f.series[metric]), { mode: "lines+markers" }));
    await charts.draw(container, metric, metric, traces);
  }
  if (!metrics.length) container.append(gx.el("p", { class: "note", text: "no metric histories" }));
  container.dataset.loaded = "1";
})();
