// actorq dashboard: polls the JSON API and draws it. Vanilla JS plus
// Chart.js (Debian's libjs-chart.js, served by actorq itself).
//
// The page and its files are public; the data is not. Every API call sends
// the token kept in sessionStorage (this tab's session only, never a cookie:
// no other site can make the browser send it). When a call answers 401 the
// page stops polling and asks for the token once.
"use strict";

(() => {
  const REFRESH_MS = 1500;
  const TOKEN_KEY = "actorq.token";
  const TASK_LIMIT = 50;
  const TERMINAL = new Set(["succeeded", "failed", "cancelled"]);

  const $ = (id) => document.getElementById(id);
  const state = {
    waitingForToken: false,
    selected: null, // the task id shown in the detail panel
    inputs: new Map(), // task id -> input text (inputs never change)
    kindsLoaded: false,
    chart: null,
    timer: null,
  };

  // -- API ------------------------------------------------------------------

  class AuthNeeded extends Error {}

  class ApiError extends Error {
    constructor(status, body) {
      super((body && body.detail) || "HTTP " + status);
      this.status = status;
    }
  }

  async function api(path, method = "GET") {
    const headers = { Accept: "application/json" };
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (token) headers.Authorization = "Bearer " + token;
    const res = await fetch(path, { method, headers, cache: "no-store" });
    if (res.status === 401) {
      if (token) sessionStorage.removeItem(TOKEN_KEY); // refused: ask again
      askForToken(token ? "That token was refused." : "");
      throw new AuthNeeded();
    }
    const body = await res.json().catch(() => null);
    if (!res.ok) throw new ApiError(res.status, body);
    return body;
  }

  // -- token ----------------------------------------------------------------

  function askForToken(message) {
    state.waitingForToken = true;
    $("token-error").textContent = message;
    $("token-form").hidden = false;
    $("token-input").focus();
  }

  function useToken(event) {
    event.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, $("token-input").value.trim());
    $("token-input").value = "";
    $("token-form").hidden = true;
    state.waitingForToken = false;
    refreshNow();
  }

  function forgetToken() {
    sessionStorage.removeItem(TOKEN_KEY);
    refreshNow();
  }

  // -- small DOM helpers (text only: API data never becomes markup) --------

  function el(tag, props = {}, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(props)) {
      if (k === "class") node.className = v;
      else if (k === "data") Object.assign(node.dataset, v);
      else node[k] = v;
    }
    for (const c of children)
      node.append(c instanceof Node ? c : String(c ?? ""));
    return node;
  }

  function fill(tbodyParent, rows, empty) {
    const tbody = tbodyParent.querySelector("tbody");
    const columns = tbodyParent.querySelectorAll("thead th").length;
    if (rows.length === 0)
      rows = [el("tr", { class: "empty" }, el("td", { colSpan: columns }, empty))];
    tbody.replaceChildren(...rows);
  }

  const badge = (text) => el("span", { class: "badge " + text }, text);
  const num = (x) => el("td", { class: "num" }, x);
  const shortId = (id) => el("code", { title: id }, id.slice(0, 8));

  // HH:MM:SS in local time.
  const clock = (date) => date.toTimeString().slice(0, 8);

  function ago(iso) {
    if (!iso) return "";
    const s = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
    if (s < 60) return Math.round(s) + " s ago";
    if (s < 3600) return Math.round(s / 60) + " min ago";
    return new Date(iso).toLocaleString();
  }

  function progressCell(task) {
    const p = task.progress;
    if (!p) return el("td");
    const percent = Math.round(p.fraction * 100);
    return el("td", { title: p.message || "" }, el("div", { class: "bar" },
      el("progress", { max: 1, value: p.fraction }),
      el("span", { class: "percent" }, percent + " %")));
  }

  // -- sections -------------------------------------------------------------

  async function refreshHealth() {
    // /healthz is public and answers 503 with a body when the store fails.
    const res = await fetch("/healthz", { cache: "no-store" });
    const body = await res.json().catch(() => ({ status: "unreachable" }));
    const h = $("health");
    h.className = "badge " + body.status;
    h.textContent = body.status;
  }

  // Size 0: no fixed limit (workers lent by nodes and programs, or leases).
  function busyBar(p) {
    if (p.size === 0) return [`${p.busy} busy, no fixed size`];
    return [el("meter", { min: 0, max: p.size, value: p.busy }), `${p.busy} / ${p.size}`];
  }

  async function refreshPools() {
    const pools = await api("/v1/pools");
    const maxQueued = Math.max(1, ...pools.map((p) => p.queued));
    fill($("pools"), pools.map((p) =>
      el("tr", { data: { pool: p.name, paused: p.paused } },
        el("td", {}, p.name),
        el("td", {}, ...poolState(p)),
        el("td", {}, el("div", { class: "bar" }, ...busyBar(p))),
        el("td", {}, el("div", { class: "bar" },
          el("meter", { min: 0, max: maxQueued, value: p.queued }), p.queued)),
        num(p.completed), num(p.failed), num(p.restarts),
        el("td", {}, poolButton(p)))), "no pools");
  }

  // "ok" or "degraded"; a paused pool says "paused" instead of "ok".
  function poolState(p) {
    if (!p.paused) return [badge(p.state)];
    return p.state === "ok" ? [badge("paused")] : [badge(p.state), " ", badge("paused")];
  }

  // Pause (queued work waits, running work finishes) or resume a pool.
  function poolButton(p) {
    const verb = p.paused ? "resume" : "pause";
    const button = el("button", { type: "button", class: "pool-action",
      data: { pool: p.name, action: verb } }, p.paused ? "Resume" : "Pause");
    button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        await api(`/v1/pools/${encodeURIComponent(p.name)}/${verb}`, "POST");
      } catch (e) {
        if (!(e instanceof AuthNeeded)) $("updated").textContent = e.message;
      }
      refreshNow();
    });
    return button;
  }

  function makeChart() {
    if (typeof Chart === "undefined") return null;
    return new Chart($("rates"), {
      type: "line",
      data: {
        labels: [],
        datasets: [
          { label: "jobs ended / s", data: [], yAxisID: "rate",
            borderColor: "#0969da", backgroundColor: "rgba(9,105,218,.15)",
            fill: true, pointRadius: 0, tension: 0.2 },
          { label: "failure rate %", data: [], yAxisID: "failures",
            borderColor: "#cf222e", pointRadius: 0, spanGaps: true },
        ],
      },
      options: {
        animation: false,
        maintainAspectRatio: false,
        interaction: { mode: "index", intersect: false },
        scales: {
          x: { ticks: { maxTicksLimit: 7, maxRotation: 0 } },
          rate: { position: "left", beginAtZero: true, title: { display: true, text: "jobs / s" } },
          failures: { position: "right", min: 0, max: 100, grid: { drawOnChartArea: false },
                      title: { display: true, text: "failed %" } },
        },
      },
    });
  }

  async function refreshRates() {
    const seconds = Number($("window").value);
    const step = seconds <= 60 ? 1 : seconds <= 300 ? 5 : 15;
    const stats = await api(`/v1/stats?window=${seconds}&step=${step}`);
    const t = stats.total;
    const failed = t.failure_rate === null ? "–" : (t.failure_rate * 100).toFixed(1) + " %";
    $("rate-summary").textContent =
      `${t.throughput.toFixed(2)} jobs/s over the window (${t.completed} completed, ` +
      `${t.failed} failed: ${failed}), measured by the server per ${stats.step_s} s`;
    state.chart = state.chart || makeChart();
    if (!state.chart) return;
    const points = stats.points;
    state.chart.data.labels = points.map((p) => clock(new Date(p.at)));
    state.chart.data.datasets[0].data = points.map((p) => p.throughput);
    state.chart.data.datasets[1].data = points.map((p) =>
      p.failure_rate === null ? null : p.failure_rate * 100);
    state.chart.update("none");
  }

  function taskRow(t, when) {
    const row = el("tr", { data: { id: t.id, status: t.status } },
      el("td", {}, shortId(t.id)),
      el("td", {}, t.kind),
      el("td", { class: "status" }, badge(t.status)),
      el("td", { class: "num" }, `${t.attempts} / ${t.max_retries + 1}`),
      progressCell(t),
      el("td", { class: "muted" }, ago(when(t))));
    if (t.id === state.selected) row.classList.add("selected");
    row.addEventListener("click", () => select(t.id));
    return row;
  }

  async function refreshTasks() {
    const params = new URLSearchParams({ limit: TASK_LIMIT });
    if ($("status-filter").value) params.set("status", $("status-filter").value);
    if ($("kind-filter").value) params.set("kind", $("kind-filter").value);
    const page = await api("/v1/tasks?" + params);
    fill($("tasks"), page.tasks.map((t) => taskRow(t, (x) => x.created_at)),
      "no tasks match");
  }

  async function refreshRunning() {
    const page = await api(`/v1/tasks?status=running&limit=${TASK_LIMIT}`);
    fill($("running"), page.tasks.map((t) => taskRow(t, (x) => x.started_at)),
      "nothing running");
  }

  async function refreshNodes() {
    const nodes = await api("/v1/nodes");
    fill($("nodes"), nodes.map((n) =>
      el("tr", {},
        el("td", {}, n.id),
        el("td", {}, el("code", {}, n.address)),
        el("td", {}, badge(n.state)),
        el("td", { class: "wrap" },
          Object.entries(n.pools).map(([k, v]) => `${k} ${v}`).join(", ")),
        num(n.completed), num(n.failed))), "no nodes");
  }

  async function refreshWorkers() {
    const { workers } = await api("/v1/workers");
    fill($("workers"), workers.map((w) =>
      el("tr", {},
        el("td", {}, w.name),
        el("td", {}, w.kinds.join(", ")),
        num(w.leases), num(w.completed), num(w.failed),
        el("td", { class: "muted" }, ago(w.last_seen)))),
      "no lease worker in the last minute");
  }

  // In how long `iso` comes ("in 4 min"), for next runs.
  function until(iso) {
    if (!iso) return "";
    const s = (Date.parse(iso) - Date.now()) / 1000;
    if (s < 1) return "now";
    if (s < 60) return "in " + Math.round(s) + " s";
    if (s < 3600) return "in " + Math.round(s / 60) + " min";
    return new Date(iso).toLocaleString();
  }

  // The [schedules.NAME] sections: their rule, next run and last task (a
  // click opens it in the detail).
  async function refreshSchedules() {
    const schedules = await api("/v1/schedules");
    fill($("schedules"), schedules.map((s) => {
      const rule = s.spec.every ? "every " + s.spec.every : s.spec.cron;
      const last = s.last_task;
      const row = el("tr", { data: { schedule: s.name } },
        el("td", {}, s.name),
        el("td", { title: "timezone " + s.spec.timezone + ", overlap " + s.overlap },
          el("code", {}, rule), s.spec.timezone === "UTC" ? "" : " " + s.spec.timezone),
        el("td", {}, s.kind),
        el("td", { class: "muted", title: s.next_run || "" }, until(s.next_run)),
        el("td", { class: "muted" }, ago(s.last_run)),
        el("td", { class: "status" }, last ? shortId(last.id) : "",
          last && last.status ? " " : "", last && last.status ? badge(last.status) : ""));
      if (last) {
        row.classList.add("link");
        row.addEventListener("click", () => select(last.id));
      }
      return row;
    }), "no schedules configured ([schedules.NAME] in the config file)");
  }

  async function loadKinds() {
    if (state.kindsLoaded) return;
    const kinds = await api("/v1/kinds");
    $("kind-filter").append(...kinds.map((k) =>
      el("option", { value: k.name, title: k.description || "" }, k.name)));
    state.kindsLoaded = true;
  }

  // -- task detail ----------------------------------------------------------

  function select(id) {
    state.selected = id;
    $("cancel-message").textContent = "";
    $("detail").hidden = false;
    refreshNow();
  }

  const json = (x) => (x === null || x === undefined ? "" : JSON.stringify(x, null, 2));

  async function refreshDetail() {
    const id = state.selected;
    if (!id) return;
    const t = await api("/v1/tasks/" + encodeURIComponent(id));
    if (!state.inputs.has(id)) {
      // The store keeps inputs; with store.path=:memory: there is none.
      const input = await api(`/v1/tasks/${encodeURIComponent(id)}/input`)
        .then(json, (e) => { if (e instanceof AuthNeeded) throw e; return "(" + e.message + ")"; });
      state.inputs.set(id, input);
    }
    if (id !== state.selected) return; // another task was picked meanwhile
    $("detail-id").textContent = t.id;
    $("detail").dataset.status = t.status;
    const p = t.progress;
    const fields = [
      ["kind", t.kind], ["pool", t.pool], ["status", badge(t.status)],
      ["attempts", `${t.attempts} of at most ${t.max_retries + 1}`],
      ["progress", p ? `${Math.round(p.fraction * 100)} % ${p.message || ""}` : ""],
      ["created", t.created_at || ""], ["started", t.started_at || ""],
      ["finished", t.finished_at || ""],
      ["cancel requested", t.cancel_requested ? "yes" : "no"],
    ];
    $("detail-fields").replaceChildren(...fields.flatMap(([k, v]) =>
      [el("dt", {}, k), el("dd", { data: { field: k } }, v)]));
    $("detail-input").textContent = state.inputs.get(id);
    $("detail-result").textContent = json(t.result);
    $("detail-error").textContent = t.error || "";
    $("cancel").disabled = TERMINAL.has(t.status) || t.cancel_requested;
    $("retry").disabled = t.status !== "failed" && t.status !== "cancelled";
  }

  async function retrySelected() {
    const id = state.selected;
    $("retry").disabled = true;
    try {
      await api(`/v1/tasks/${encodeURIComponent(id)}/retry`, "POST");
      $("cancel-message").textContent = "Retried: queued again, its attempts go on.";
    } catch (e) {
      if (!(e instanceof AuthNeeded)) $("cancel-message").textContent = e.message;
    }
    refreshNow();
  }

  // Cancels every queued task of the kind filter (all kinds if none), once
  // the operator confirms.
  async function cancelQueued() {
    const kind = $("kind-filter").value;
    const what = kind ? `every queued task of kind ${kind}` : "every queued task";
    if (!confirm(`Cancel ${what}?`)) return;
    const params = new URLSearchParams({ status: "queued" });
    if (kind) params.set("kind", kind);
    try {
      const { cancelled } = await api("/v1/tasks?" + params, "DELETE");
      $("bulk-message").textContent = `Cancelled ${cancelled} queued task${cancelled === 1 ? "" : "s"}.`;
    } catch (e) {
      if (!(e instanceof AuthNeeded)) $("bulk-message").textContent = e.message;
    }
    refreshNow();
  }

  async function cancelSelected() {
    const id = state.selected;
    $("cancel").disabled = true;
    try {
      const t = await api("/v1/tasks/" + encodeURIComponent(id), "DELETE");
      $("cancel-message").textContent = t.status === "cancelled"
        ? "Cancelled." : "Cancel requested: the running attempt is stopped and its result discarded.";
    } catch (e) {
      if (!(e instanceof AuthNeeded)) $("cancel-message").textContent = e.message;
    }
    refreshNow();
  }

  function closeDetail() {
    state.selected = null;
    $("detail").hidden = true;
    refreshNow();
  }

  // -- refresh loop ---------------------------------------------------------

  async function refresh() {
    if (state.waitingForToken) return;
    try {
      await loadKinds();
      await Promise.all([refreshHealth(), refreshPools(), refreshRates(),
        refreshRunning(), refreshTasks(), refreshNodes(), refreshWorkers(), refreshSchedules(),
        refreshDetail()]);
      $("updated").textContent = "updated " + clock(new Date());
    } catch (e) {
      if (!(e instanceof AuthNeeded))
        $("updated").textContent = "refresh failed: " + e.message;
    }
    $("forget-token").hidden = !sessionStorage.getItem(TOKEN_KEY);
  }

  // One refresh at a time; the next one REFRESH_MS after the last ended.
  async function refreshNow() {
    clearTimeout(state.timer);
    await refresh();
    clearTimeout(state.timer);
    state.timer = setTimeout(refreshNow, REFRESH_MS);
  }

  $("token-form").addEventListener("submit", useToken);
  $("forget-token").addEventListener("click", forgetToken);
  $("cancel").addEventListener("click", cancelSelected);
  $("retry").addEventListener("click", retrySelected);
  $("cancel-queued").addEventListener("click", cancelQueued);
  $("close-detail").addEventListener("click", closeDetail);
  for (const id of ["status-filter", "kind-filter", "window"])
    $(id).addEventListener("change", refreshNow);
  refreshNow();
})();
