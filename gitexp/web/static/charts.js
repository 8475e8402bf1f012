/* gitexp ui: charts, drawn by plotly.js (served from the installed plotly package).
   Text from experiments is escaped for plotly, which reads a little HTML in labels. */
"use strict";

const charts = (() => {
  const CONFIG = { displaylogo: false, responsive: true, modeBarButtonsToRemove: ["sendDataToCloud"] };

  function text(value) {
    return String(value).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  }

  function layout(title, xTitle, yTitle, extra) {
    return Object.assign(
      {
        title: { text: text(title), font: { size: 14 } },
        margin: { l: 55, r: 15, t: 40, b: 45 },
        height: 300,
        xaxis: { title: { text: text(xTitle || "step") } },
        yaxis: { title: { text: text(yTitle || "") } },
        legend: { orientation: "h", y: -0.25 },
        hovermode: "closest",
      },
      extra || {}
    );
  }

  /* A chart's box in `container`, found again by its key (data-key). */
  function box(container, key, label) {
    for (const node of container.querySelectorAll(".chart")) if (node.dataset.key === key) return node;
    const node = gx.el("div", { class: "chart", "data-key": key, "data-metric": label || key, "data-points": "0" });
    container.append(node);
    return node;
  }

  function countPoints(node) {
    const total = (node.data || []).reduce((n, trace) => n + (trace.x ? trace.x.length : 0), 0);
    node.dataset.points = String(total);
    return total;
  }

  function line(name, series) {
    return { x: series.steps, y: series.values, name: text(name), type: "scatter", mode: series.steps.length > 1 ? "lines" : "markers" };
  }

  /* Draw (or redraw) `traces` in the box for `key`. */
  async function draw(container, key, title, traces, xTitle, yTitle, extra) {
    const node = box(container, key, title);
    await Plotly.react(node, traces, layout(title, xTitle, yTitle, extra), CONFIG);
    countPoints(node);
    node.dataset.drawn = "1";
    return node;
  }

  /* Append points to trace 0 of an existing chart (a running experiment). */
  async function extend(node, series) {
    await Plotly.extendTraces(node, { x: [series.steps], y: [series.values] }, [0]);
    if (node.data[0].x.length > 1 && node.data[0].mode !== "lines") await Plotly.restyle(node, { mode: "lines" }, [0]);
    countPoints(node);
  }

  return { text, draw, extend, line, box };
})();
