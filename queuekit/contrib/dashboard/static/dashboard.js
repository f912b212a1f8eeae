// queuekit dashboard: polls the JSON API every 2 s and updates the page in place.
// Everything from the broker is written with textContent (never as HTML); actions are
// POSTs carrying the bearer token (kept in this tab's sessionStorage) and the CSRF token.
"use strict";
(function () {
  const body = document.body;
  const page = body.dataset.page;
  const api = body.dataset.api;
  const actions = body.dataset.actions === "on";
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const POLL_MS = 2000;
  const TOKEN_KEY = "queuekit-dashboard-token";
  const SVG = "http://www.w3.org/2000/svg";

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value !== null && value !== undefined) node.setAttribute(name, value);
    }
    for (const child of children) {
      node.append(child instanceof Node ? child : String(child === null || child === undefined ? "" : child));
    }
    return node;
  }

  function when(stamp) {
    if (!stamp) return "";
    return new Date(stamp * 1000).toISOString().slice(0, 19).replace("T", " ") + " UTC";
  }

  function rate(value) {
    return value === null || value === undefined ? "" : `${+value}/s`;
  }

  function jobLink(id) {
    return el("a", { href: "/jobs/" + encodeURIComponent(id) }, id);
  }

  function flash(text, bad) {
    const box = document.getElementById("flash");
    box.textContent = text;
    box.className = bad ? "flash bad" : "flash";
    box.hidden = !text;
  }

  function setField(root, name, value) {
    for (const node of root.querySelectorAll(`[data-field="${name}"]`)) {
      const shown = node.dataset.kind === "time" ? when(value) : value === null || value === undefined ? "" : String(value);
      const target = node.querySelector("a") || node;
      if (target.textContent !== shown) target.textContent = shown;
    }
  }

  function show(id, visible) {
    const node = document.getElementById(id);
    if (node) node.hidden = !visible;
  }

  function sparkline(values) {
    const width = 120, height = 24;
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
    svg.setAttribute("width", width);
    svg.setAttribute("height", height);
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", values.length ? `backlog now ${values[values.length - 1]}` : "no samples yet");
    if (values.length > 1) {
      const top = Math.max(1, ...values);
      const step = width / (values.length - 1);
      const points = values.map((v, i) => `${(i * step).toFixed(1)},${(height - 2 - (v / top) * (height - 4)).toFixed(1)}`);
      const line = document.createElementNS(SVG, "polyline");
      line.setAttribute("points", points.join(" "));
      line.setAttribute("fill", "none");
      line.setAttribute("stroke", "currentColor");
      line.setAttribute("stroke-width", "1.5");
      svg.append(line);
    }
    return svg;
  }

  function fillTable(id, rows, cells) {
    const table = document.getElementById(id);
    if (!table) return;
    const fresh = rows.map((row) => {
      const tr = el("tr", row.id ? { "data-id": row.id } : {});
      for (const cell of cells(row)) tr.append(cell);
      return tr;
    });
    table.tBodies[0].replaceChildren(...fresh);
  }

  function td(content, cls) {
    return el("td", cls ? { class: cls } : {}, content);
  }

  // -- one renderer per page --------------------------------------------------------------

  function overview(data) {
    const tbody = document.querySelector("#queues tbody");
    const seen = new Set();
    for (const q of data.queues) {
      seen.add(q.name);
      let row = tbody.querySelector(`tr[data-queue="${CSS.escape(q.name)}"]`);
      if (!row) {
        const queueUrl = "/queues/" + encodeURIComponent(q.name);
        row = el("tr", { "data-queue": q.name },
          td(el("a", { href: queueUrl }, q.name)),
          el("td", { class: "n", "data-field": "ready" }), el("td", { class: "n", "data-field": "delayed" }),
          el("td", { class: "n", "data-field": "in_flight" }),
          el("td", { class: "n", "data-field": "dead" }, el("a", { href: queueUrl + "/dead" })),
          el("td", { class: "n", "data-field": "in_rate" }), el("td", { class: "n", "data-field": "out_rate" }),
          el("td", { class: "spark", "data-field": "history" }));
        tbody.append(row);
      }
      for (const name of ["ready", "delayed", "in_flight", "dead"]) setField(row, name, q[name]);
      setField(row, "in_rate", rate(q.in_rate));
      setField(row, "out_rate", rate(q.out_rate));
      row.querySelector('[data-field="history"]').replaceChildren(sparkline(q.history || []));
    }
    for (const row of tbody.querySelectorAll("tr[data-queue]")) {
      if (!seen.has(row.dataset.queue)) row.remove();
    }
    show("no-queues", data.queues.length === 0);
    const workers = data.workers;
    const summary = document.querySelector("#workers-summary a");
    if (summary && workers) {
      const finishing = workers.finished_rate === null ? "" : `, finishing ${rate(workers.finished_rate)}`;
      summary.textContent = `${workers.alive} alive${finishing}`;
    }
  }

  function waitingCells(timeField) {
    return (job) => [td(jobLink(job.id)), td(job.task || ""), td(el("code", {}, job.args)), td(job.priority, "n"),
      td(job.attempts, "n"), td(when(job[timeField]), "t")];
  }

  function queue(data) {
    for (const name of ["ready", "delayed", "in_flight", "dead"]) setField(document, name, data.stats[name]);
    if (data.ready) fillTable("ready", data.ready, waitingCells("created_at"));
    if (data.delayed) fillTable("delayed", data.delayed, waitingCells("due"));
  }

  function dead(data) {
    const queueName = data.queue;
    fillTable("dead", data.dead, (letter) => {
      const reason = td(letter.reason);
      if (letter.traceback) reason.append(el("details", {}, el("summary", {}, "traceback"), el("pre", {}, letter.traceback)));
      const button = actions ? el("button", { type: "button", class: "action",
        "data-action": `/api/queues/${encodeURIComponent(queueName)}/dead/requeue`, "data-ids": letter.id }, "Requeue") : "";
      return [td(jobLink(letter.id)), td(letter.task || ""), td(el("code", {}, letter.args)), reason,
        td(letter.attempts, "n"), td(when(letter.dead_at), "t"), td(button)];
    });
    show("empty", data.dead.length === 0);
    document.getElementById("shown").textContent = `${data.dead.length} of ${data.total} shown, oldest first`;
  }

  function job(data) {
    for (const name of ["status", "attempts", "result", "error", "created_at", "finished_at"]) setField(document, name, data[name]);
    const progress = document.getElementById("progress");
    progress.hidden = !data.progress;
    if (data.progress) progress.setAttribute("value", String(data.progress.fraction || 0));
    setField(document, "progress_note", data.progress ? data.progress.note || "" : "");
    const note = document.getElementById("note");
    note.textContent = data.note || "";
    note.hidden = !data.note;
    const trace = document.getElementById("traceback");
    trace.textContent = data.traceback || "";
    trace.hidden = !data.traceback;
    const cancel = document.getElementById("cancel");
    if (cancel) cancel.hidden = ["succeeded", "failed", "dead", "cancelled"].includes(data.status);
  }

  function listing(key, cells) {
    return (data) => {
      const note = document.getElementById("note");
      note.textContent = data.note || "";
      note.hidden = !data.note;
      show(key, data[key] !== null);
      if (data[key]) fillTable(key, data[key], cells);
    };
  }

  const renderers = {
    overview,
    queue,
    dead,
    job,
    workers: listing("workers", (w) => {
      const counts = w.counts || {};
      const name = el("td", { title: w.id }, String(w.id).slice(0, 12));
      if (w.leads_schedules) name.append(" ", el("span", { class: "chip on" }, "leads schedules"));
      return [name, td(w.hostname), td(w.pid, "n"), td((w.queues || []).join(", ")), td(w.concurrency, "n"),
        td(w.in_flight, "n"), td(rate(w.finished_rate), "n"),
        td(`${counts.ack || 0} · ${counts.dead || 0} · ${counts.retry || 0}`), td(when(w.started_at), "t"),
        td(when(w.seen_at), "t")];
    }),
    schedules: listing("schedules", (s) => [td(s.name), td(s.task), td(el("code", {}, s.spec)), td(when(s.next_run), "t"),
      td(when(s.last_run), "t"), td(s.last_job_id ? jobLink(s.last_job_id) : "")]),
  };

  // -- polling -------------------------------------------------------------------------------

  let failing = false;

  async function refresh() {
    const render = renderers[page];
    if (!render || !api) return;
    try {
      const response = await fetch(api, { headers: { Accept: "application/json" }, cache: "no-store" });
      const data = await response.json();
      if (!response.ok) throw new Error(data.error || response.statusText);
      render(data);
      if (failing) flash("");
      failing = false;
    } catch (error) {
      failing = true;
      flash(`cannot refresh: ${error.message}`, true);
    }
  }

  function poll() {
    const next = () => setTimeout(poll, POLL_MS);
    if (document.hidden) return next();
    refresh().finally(next);
  }

  // -- actions -------------------------------------------------------------------------------

  async function act(button) {
    if (button.dataset.confirm && !window.confirm(button.dataset.confirm)) return;
    const headers = { "Content-Type": "application/json", "X-CSRF-Token": csrf };
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (token) headers.Authorization = `Bearer ${token}`;
    const payload = button.dataset.ids ? { ids: button.dataset.ids.split(" ") } : {};
    button.disabled = true;
    try {
      const response = await fetch(button.dataset.action, { method: "POST", headers, body: JSON.stringify(payload) });
      const data = await response.json();
      if (!response.ok) {
        flash(data.error || `refused (${response.status})`, true);
        return;
      }
      const [what, count] = Object.entries(data)[0];
      flash(`${what}: ${count}`);
      await refresh();
    } catch (error) {
      flash(`action failed: ${error.message}`, true);
    } finally {
      button.disabled = false;
    }
  }

  document.addEventListener("click", (event) => {
    const button = event.target.closest("button.action");
    if (button) act(button);
  });

  const unlock = document.getElementById("unlock");
  if (unlock) {
    unlock.addEventListener("submit", (event) => {
      event.preventDefault();
      const input = document.getElementById("token");
      if (input.value) sessionStorage.setItem(TOKEN_KEY, input.value);
      else sessionStorage.removeItem(TOKEN_KEY);
      input.value = "";
      input.placeholder = sessionStorage.getItem(TOKEN_KEY) ? "token set for this tab" : "token, to act";
    });
    if (sessionStorage.getItem(TOKEN_KEY)) document.getElementById("token").placeholder = "token set for this tab";
  }

  if (page === "overview") refresh();  // draws the sparklines at once
  setTimeout(poll, POLL_MS);
})();
