/* gitexp ui: helpers every page uses. Experiment text goes into the page with
   textContent only, never as markup; URLs are built from encoded names. */
"use strict";

const gx = (() => {
  const STATUSES = ["queued", "running", "succeeded", "failed", "interrupted", "pruned", "broken"];

  function el(tag, attrs, ...kids) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const kid of kids) if (kid !== null && kid !== undefined) node.append(kid);
    return node;
  }

  function pathName(name) {
    return encodeURIComponent(name).replace(/%2F/g, "/");
  }

  function statusClass(status) {
    return STATUSES.includes(status) ? "status-" + status : "status-other";
  }

  function statusBadge(status) {
    return el("span", { class: "status " + statusClass(status), text: status });
  }

  async function getJSON(url) {
    const response = await fetch(url, { credentials: "same-origin", headers: { accept: "application/json" } });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(body.error || body.detail || response.statusText);
    return body;
  }

  function cell(value) {
    if (value === null || value === undefined) return "–";
    if (typeof value === "number") {
      if (Number.isInteger(value)) return String(value);
      return String(Number(value.toPrecision(6)));
    }
    if (typeof value === "boolean") return value ? "true" : "false";
    if (typeof value === "object") return JSON.stringify(value);
    return String(value);
  }

  function when(iso) {
    return iso ? String(iso).slice(0, 19).replace("T", " ") : "–";
  }

  function shortSha(sha) {
    return sha ? String(sha).slice(0, 12) : "–";
  }

  const dot = () => document.getElementById("live-dot");

  /* An EventSource whose handlers get parsed JSON; the dot in the header shows it is open. */
  function stream(url, handlers) {
    const source = new EventSource(url);
    source.addEventListener("open", () => dot() && dot().classList.add("on"));
    source.addEventListener("error", () => dot() && dot().classList.remove("on"));
    for (const [event, handler] of Object.entries(handlers)) {
      source.addEventListener(event, (message) => handler(JSON.parse(message.data)));
    }
    window.addEventListener("pagehide", () => source.close());
    return source;
  }

  function debounce(fn, ms) {
    let timer = null;
    return (...args) => {
      clearTimeout(timer);
      timer = setTimeout(() => fn(...args), ms);
    };
  }

  return { el, pathName, statusClass, statusBadge, getJSON, cell, when, shortSha, stream, debounce };
})();
