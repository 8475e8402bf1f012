/* gitexp ui: the experiments table. Paging, sorting, filtering (gitexp show's
   language) and the name search happen on the server (/api/experiments); the
   state lives in the page's URL, the chosen columns in localStorage. Changes in
   the repository arrive on /api/events: the page is fetched again, and a
   running experiment's cells take each metric's latest value as it is logged.
   Each sweep is one row (NAME/, its best trial's values, linking to the sweep's
   page) unless "show every trial" is ticked or a filter is on sweep, as in
   gitexp show. */
"use strict";

(() => {
  const COLUMNS_KEY = "gitexp.ui.columns";
  const FIXED = ["name", "created", "status"];
  const state = readState();
  const selected = new Set();
  let columns = [];
  let rows = [];

  function readState() {
    const q = new URLSearchParams(window.location.search);
    return {
      filters: q.getAll("filter"),
      sort: q.get("sort"),
      order: q.get("order"),
      search: q.get("search") || "",
      offset: Math.max(0, parseInt(q.get("offset") || "0", 10) || 0),
      limit: parseInt(q.get("limit") || "50", 10) || 50,
      trials: q.get("trials") === "1",
    };
  }

  function query() {
    const q = new URLSearchParams();
    for (const f of state.filters) q.append("filter", f);
    if (state.sort) q.set("sort", state.sort);
    if (state.order) q.set("order", state.order);
    if (state.search) q.set("search", state.search);
    if (state.trials) q.set("trials", "1");
    q.set("offset", String(state.offset));
    q.set("limit", String(state.limit));
    return q;
  }

  function chosen() {
    try {
      const saved = JSON.parse(localStorage.getItem(COLUMNS_KEY) || "null");
      if (Array.isArray(saved)) return saved.filter((c) => columns.includes(c));
    } catch (error) {
      /* a broken saved choice: the default */
    }
    const rest = columns.filter((c) => c.startsWith("params.") || c.startsWith("metrics."));
    return [...FIXED, ...rest.slice(0, 12)];
  }

  function bare(column) {
    return column.replace(/^(params|metrics)\./, "");
  }

  function showError(text) {
    const node = document.getElementById("table-error");
    node.textContent = text || "";
    node.hidden = !text;
  }

  async function load() {
    let page;
    try {
      page = await gx.getJSON("/api/experiments?" + query().toString());
    } catch (error) {
      showError(error.message);
      return false;
    }
    showError("");
    columns = page.columns;
    rows = page.rows;
    history.replaceState(null, "", "?" + query().toString());
    renderChips();
    renderColumns();
    renderHead();
    renderBody();
    renderPager(page);
    const trials = document.getElementById("trials");
    trials.checked = page.trials;
    trials.disabled = page.trials && !state.trials; // a filter on sweep lists its trials
    document.getElementById("experiments").dataset.loaded = String(Date.now());
    return true;
  }

  function renderChips() {
    const box = document.getElementById("filters");
    box.replaceChildren(
      ...state.filters.map((f, i) =>
        gx.el("span", { class: "chip" }, gx.el("code", { text: f }),
          gx.el("button", { type: "button", title: "remove", "aria-label": "remove filter", text: "×",
            onclick: () => { state.filters.splice(i, 1); state.offset = 0; load(); } }))
      )
    );
  }

  function renderColumns() {
    const shown = chosen();
    const list = document.getElementById("column-list");
    list.replaceChildren(
      ...columns.map((c) =>
        gx.el("label", {}, gx.el("input", { type: "checkbox", value: c, checked: shown.includes(c),
          onchange: (event) => toggleColumn(c, event.target.checked) }), " " + c)
      )
    );
  }

  function toggleColumn(column, on) {
    const shown = chosen().filter((c) => c !== column);
    if (on) shown.push(column);
    const ordered = columns.filter((c) => shown.includes(c));
    localStorage.setItem(COLUMNS_KEY, JSON.stringify(ordered));
    renderHead();
    renderBody();
  }

  function renderHead() {
    const head = document.getElementById("table-head");
    const all = gx.el("input", { type: "checkbox", "aria-label": "select all on this page",
      onchange: (event) => { for (const r of rows) { const n = pick(r); if (n) event.target.checked ? selected.add(n) : selected.delete(n); } renderBody(); } });
    const cells = chosen().map((c) => {
      const mark = state.sort === c ? (state.order === "desc" ? " ▼" : " ▲") : "";
      return gx.el("th", { title: c, "data-col": c, class: "sortable", onclick: () => sortBy(c) }, bare(c) + mark);
    });
    head.replaceChildren(gx.el("th", { class: "select" }, all), ...cells);
  }

  function sortBy(column) {
    if (state.sort === column) state.order = state.order === "desc" ? "asc" : "desc";
    else { state.sort = column; state.order = "asc"; }
    state.offset = 0;
    load();
  }

  function isSweep(row) {
    return row.name.endsWith("/") && Boolean(row.sweep) && !row.commit;
  }

  // what a row's checkbox selects for Compare: the experiment, or a folded sweep's best trial
  function pick(row) {
    return isSweep(row) ? row.best || null : row.name;
  }

  function value(row, column) {
    const v = row[column];
    if (column === "name" && isSweep(row)) return gx.el("a", { href: "/sweeps/" + gx.pathName(row.sweep), class: "sweep-link", text: row.name });
    if (column === "name") return gx.el("a", { href: "/experiments/" + gx.pathName(row.name), text: row.name });
    if (column === "best" && v) return gx.el("a", { href: "/experiments/" + gx.pathName(v), text: v });
    if (column === "status") return gx.statusBadge(String(v));
    if (column === "sweep" && v) return gx.el("a", { href: "/sweeps/" + gx.pathName(v), text: v });
    if (column === "created") return gx.when(v);
    if (column === "commit" || column === "baseline") return gx.el("code", { text: gx.shortSha(v) });
    return gx.cell(v);
  }

  function renderBody() {
    const shown = chosen();
    const body = document.getElementById("table-body");
    body.replaceChildren(
      ...rows.map((row) => {
        const name = pick(row);
        const label = isSweep(row) ? "select the best trial of " + row.name : "select " + row.name;
        const box = gx.el("input", { type: "checkbox", "aria-label": label, title: label, checked: Boolean(name) && selected.has(name), disabled: !name,
          onchange: (event) => { event.target.checked ? selected.add(name) : selected.delete(name); renderCompare(); } });
        const cells = shown.map((c) => gx.el("td", { "data-col": c, class: c.startsWith("metrics.") || c.startsWith("params.") ? "value" : "" }, value(row, c)));
        const kind = isSweep(row) ? "sweep-row" : gx.statusClass(String(row.status)) + "-row";
        return gx.el("tr", { "data-name": row.name, class: kind }, gx.el("td", { class: "select" }, box), ...cells);
      })
    );
    if (!rows.length) body.append(gx.el("tr", {}, gx.el("td", { colspan: String(shown.length + 1), class: "note", text: "no experiments match" })));
    renderCompare();
  }

  function renderCompare() {
    const button = document.getElementById("compare-button");
    button.disabled = selected.size < 2;
    button.textContent = "Compare selected (" + selected.size + ")";
  }

  function renderPager(page) {
    const last = Math.min(page.offset + page.rows.length, page.total);
    document.getElementById("page-info").textContent =
      (page.total ? page.offset + 1 + "–" + last : "0") + " of " + page.total + (page.total !== page.count ? " (" + page.count + " in all)" : "");
    document.getElementById("prev").disabled = page.offset === 0;
    document.getElementById("next").disabled = last >= page.total;
  }

  function patchMetric(event) {
    for (const row of document.querySelectorAll("#table-body tr")) {
      if (row.dataset.name !== event.name) continue;
      for (const td of row.querySelectorAll("td")) {
        if (td.dataset.col === "metrics." + event.metric) td.textContent = gx.cell(event.value);
      }
    }
  }

  function wire() {
    const search = document.getElementById("search");
    search.value = state.search;
    search.addEventListener("input", gx.debounce(() => { state.search = search.value; state.offset = 0; load(); }, 250));
    document.getElementById("filter-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const input = document.getElementById("filter-input");
      const text = input.value.trim();
      if (!text) return;
      state.filters.push(text);
      state.offset = 0;
      if (await load()) input.value = "";
      else { const error = document.getElementById("table-error").textContent; state.filters.pop(); await load(); showError(error); }
    });
    document.getElementById("prev").addEventListener("click", () => { state.offset = Math.max(0, state.offset - state.limit); load(); });
    document.getElementById("next").addEventListener("click", () => { state.offset += state.limit; load(); });
    document.getElementById("trials").addEventListener("change", (event) => { state.trials = event.target.checked; state.offset = 0; load(); });
    const size = document.getElementById("page-size");
    size.value = String(state.limit);
    size.addEventListener("change", () => { state.limit = parseInt(size.value, 10); state.offset = 0; load(); });
    document.getElementById("compare-button").addEventListener("click", () => {
      const q = new URLSearchParams();
      for (const name of selected) q.append("names", name);
      window.location.href = "/compare?" + q.toString();
    });
    const reload = gx.debounce(load, 400);
    gx.stream("/api/events", { experiments: reload, metric_logged: patchMetric });
  }

  wire();
  load();
})();
