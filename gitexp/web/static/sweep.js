/* gitexp ui: a sweep's charts from /api/sweeps/NAME: the objective over trials with
   the best so far, each searched param against the objective, the Pareto front of
   two objectives; then Optuna's param importances, asked for separately (the
   server's first computation imports Optuna's importance module: seconds). */
"use strict";

(async () => {
  const container = document.getElementById("sweep-charts");
  const name = document.getElementById("main").dataset.name;
  const url = "/api/sweeps/" + gx.pathName(name);
  const sweep = await gx.getJSON(url + "?importances=false");
  const directions = sweep.objectives.map((o) => (o.endsWith(":max") ? "max" : "min"));
  const done = sweep.trials.filter((t) => t.status === "succeeded" && typeof t.values[sweep.metrics[0]] === "number");
  const number = (t) => (t.trial === null ? t.label : t.trial);
  const label = (t) => charts.text(t.label);

  if (sweep.metrics.length) {
    const metric = sweep.metrics[0];
    const better = directions[0] === "max" ? Math.max : Math.min;
    let best = null;
    const bestSoFar = done.map((t) => (best = best === null ? t.values[metric] : better(best, t.values[metric])));
    await charts.draw(container, "objective", "objective over trials: " + metric, [
      { x: done.map(number), y: done.map((t) => t.values[metric]), text: done.map(label), name: "trial", type: "scatter", mode: "markers" },
      { x: done.map(number), y: bestSoFar, name: "best so far", type: "scatter", mode: "lines", line: { shape: "hv" } },
    ], "trial", metric);
    for (const param of sweep.searched) {
      const numeric = done.filter((t) => t.params[param] !== null && t.params[param] !== undefined);
      await charts.draw(container, "param:" + param, param + " vs " + metric, [
        { x: numeric.map((t) => (typeof t.params[param] === "object" ? JSON.stringify(t.params[param]) : t.params[param])),
          y: numeric.map((t) => t.values[metric]), text: numeric.map(label), type: "scatter", mode: "markers", name: param },
      ], param, metric);
    }
  }
  if (sweep.metrics.length >= 2) {
    const [a, b] = sweep.metrics;
    const both = sweep.trials.filter((t) => t.status === "succeeded" && typeof t.values[a] === "number" && typeof t.values[b] === "number");
    const front = both.filter((t) => sweep.best.includes(t.name));
    await charts.draw(container, "pareto", "Pareto front", [
      { x: both.map((t) => t.values[a]), y: both.map((t) => t.values[b]), text: both.map(label), name: "trials", type: "scatter", mode: "markers", marker: { color: "#9aa5b1" } },
      { x: front.map((t) => t.values[a]), y: front.map((t) => t.values[b]), text: front.map(label), name: "front", type: "scatter", mode: "markers", marker: { color: "#d9480f", size: 11 } },
    ], a, b);
  }
  await importances(container, await gx.getJSON(url).catch(() => ({})));
  container.dataset.loaded = "1";
})();

/* A table and a bar chart per objective; the section stays hidden without any. */
async function importances(container, sweep) {
  const section = document.getElementById("importances");
  const found = Object.entries(sweep.importances || {});
  section.hidden = found.length === 0;
  document.getElementById("importances-note").remove();
  for (const [objective, values] of found) {
    const items = Object.entries(values).sort((x, y) => y[1] - x[1]);
    const head = gx.el("tr", {}, gx.el("th", { text: "param (" + objective + ")" }), gx.el("th", { text: "importance" }));
    const rows = items.map(([k, v]) => gx.el("tr", {}, gx.el("td", { text: k }), gx.el("td", { text: v.toFixed(3) })));
    section.append(gx.el("table", { class: "grid kv importances" }, gx.el("thead", {}, head), gx.el("tbody", {}, ...rows)));
    const bars = items.slice().reverse();
    await charts.draw(container, "importance:" + objective, "param importances: " + objective, [
      { x: bars.map((i) => i[1]), y: bars.map((i) => charts.text(i[0])), type: "bar", orientation: "h", name: objective },
    ], "importance", "");
  }
}
