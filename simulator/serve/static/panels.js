/* The what-if page's panels: the provision matrix against the model (loaded once the controls
   are still), the sweep of one field (its points drawn as they finish, cancellable), and save
   and download. Uses what app.js shares as window.Arsim. */
"use strict";
(function () {
  const C = window.ArsimCharts;
  const A = window.Arsim;
  const state = A.state;
  const api = A.api;
  const note = A.note;
  const make = A.make;
  const $ = (id) => document.getElementById(id);
  const ANALYTICS_IDLE_MS = 500; // implied rates once the controls have been still this long
  const SWEEP_POLL_MS = 250;
  const SAVE_NAME = /^[A-Za-z0-9_-]{1,64}\.toml$/;
  const SAVE_NOTE = "Writes the edited scenario, with the file's comments kept, into the folder " +
    "arsim serve was started from.";

  /* ---------- implied rates, after the controls are still ---------- */

  function stopAnalytics() {
    clearTimeout(state.analyticsTimer);
  }

  function scheduleAnalytics() {
    clearTimeout(state.analyticsTimer);
    state.analyticsTimer = setTimeout(loadAnalytics, ANALYTICS_IDLE_MS);
  }

  async function loadAnalytics() {
    const key = state.key;
    note("coverage", "Computing implied rates…");
    const data = await api("/api/analytics", { session: state.session });
    if (data.status !== "ok" || data.key !== state.key || key !== state.key) return;
    state.analyticsKey = key;
    $("analytics").classList.remove("stale");
    const v = data.view;
    note("coverage", "Allowance " + v.allowance + " " + v.unit + " covers " + v.coverage +
      " of the implied lifetime loss " + v.implied_loss + " (base: " + v.coverage_base + "); " +
      "implied rates " + v.method + ".");
    const body = $("rates").tBodies[0];
    body.textContent = "";
    for (const r of v.rows) {
      const tr = body.insertRow();
      for (const t of [r.label, r.gross, r.disclosed, r.base, r.edit]) tr.append(make("td", "", t));
    }
  }

  /* ---------- sweep ---------- */

  function buildSweep(options) {
    const field = $("sweep-field");
    field.textContent = "";
    for (const path of options.fields) {
      const o = make("option", "", state.labels[path] || path);
      o.value = path;
      field.append(o);
    }
    field.value = "collections.multiplier";
    const metric = $("sweep-metric");
    metric.textContent = "";
    for (const m of options.metrics) {
      const o = make("option", "", m.label);
      o.value = m.key;
      metric.append(o);
    }
    $("sweep-points").value = "11";
    sweepDefaults();
    drawSweep(null);
  }

  function sweepDefaults() {
    const path = $("sweep-field").value;
    const item = state.inputs[path];
    const v = Number(item ? item.input.value : 1);
    let lo = v * 0.5;
    let hi = v === 0 ? 1 : v * 1.5;
    const ctl = item && item.ctl;
    if (ctl && ctl.max !== null && hi > ctl.max) hi = ctl.max_open ? ctl.max * 0.999 : ctl.max;
    if (lo > hi) [lo, hi] = [hi, lo];
    $("sweep-start").value = String(+lo.toPrecision(4));
    $("sweep-stop").value = String(+hi.toPrecision(4));
  }

  async function startSweep(event) {
    event.preventDefault();
    const points = Number($("sweep-points").value);
    const data = await api("/api/sweep", {
      session: state.session, field: $("sweep-field").value, start: $("sweep-start").value,
      stop: $("sweep-stop").value, points: Number.isInteger(points) ? points : $("sweep-points").value,
      metric: $("sweep-metric").value,
    });
    if (data.status !== "ok") {
      note("sweep-status", "Not run: " + (data.field ? data.field + ": " : "") + (data.error || "refused"), true);
      return;
    }
    showSweep(data.sweep);
    pollSweep();
  }

  function pollSweep() {
    clearTimeout(state.sweepTimer);
    state.sweepTimer = setTimeout(async () => {
      const data = await api("/api/sweep?session=" + encodeURIComponent(state.session));
      if (data.status !== "ok" || !data.sweep) return;
      showSweep(data.sweep);
      if (data.sweep.state === "running" || data.sweep.state === "queued") pollSweep();
    }, SWEEP_POLL_MS);
  }

  function showSweep(s) {
    const running = s.state === "running" || s.state === "queued";
    $("sweep-cancel").disabled = !running;
    const words = {
      queued: "waiting for the engine", running: "running", done: "done",
      cancelled: "cancelled", failed: "failed: " + s.error,
    };
    const failed = s.points.filter((p) => p.error).length;
    note("sweep-status", s.done + " of " + s.total + " points · " + words[s.state] +
      (failed ? " · " + failed + " failed" : ""), s.state === "failed");
    drawSweep(s);
  }

  function drawSweep(s) {
    const svg = $("chart-sweep");
    const pts = s ? s.points.filter((p) => p.y !== null && p.y !== undefined) : [];
    const xs = pts.map((p) => p.x);
    const ys = pts.map((p) => p.y);
    const lo = pts.map((p) => (p.se === null || p.se === undefined ? p.y : p.y - 2 * p.se));
    const hi = pts.map((p) => (p.se === null || p.se === undefined ? p.y : p.y + 2 * p.se));
    const prob = s && s.kind === "probability";
    const [xl, xh] = s ? C.extent([s.points.map((p) => p.x)], 0.02) : [0, 1];
    let [yl, yh] = C.extent([lo, hi], 0.08);
    if (prob) [yl, yh] = [Math.max(0, yl), Math.min(1, yh)];
    C.plot(svg, {
      x: [xl, xh], y: pts.length ? [yl, yh] : [0, 1], yFormat: prob ? C.pct : C.num,
      xLabel: s ? state.labels[s.field] || s.field : "field",
      yLabel: s ? s.label + (s.unit && s.unit !== "%" ? ", " + s.unit : "") : "metric",
      layers: [
        { type: "band", cls: "band-se", xs: xs, lo: lo, hi: hi },
        { type: "line", cls: "line-edit", xs: xs, ys: ys },
        { type: "dots", cls: "dot", xs: xs, ys: ys },
      ],
      legend: s ? [{ kind: "line", cls: "line-edit", text: "metric" }, { kind: "band", cls: "band-se", text: "± 2 SE" }] : [],
      empty: pts.length ? "" : s ? "waiting for the first point…" : "choose a field and press Run",
    });
  }

  async function cancelSweep() {
    const data = await api("/api/sweep/cancel", { session: state.session });
    if (data.status === "ok" && data.sweep) showSweep(data.sweep);
  }

  /* ---------- save and downloads ---------- */

  async function save(event, confirm) {
    if (event) event.preventDefault();
    const name = $("save-name").value.trim();
    $("save-replace").hidden = true;
    if (!SAVE_NAME.test(name)) {
      note("save-msg", "The name must be 1–64 letters, digits, _ or -, ending in .toml.", true);
      return;
    }
    const body = { session: state.session, name: name };
    if (confirm) body.confirm = confirm;
    const data = await api("/api/save", body);
    if (data.status === "ok") {
      note("save-msg", (data.replaced ? "Replaced " : "Saved ") + name + ".");
    } else if (data.status === "exists") {
      state.confirm = { name: name, code: data.confirm };
      note("save-msg", data.message, true);
      $("save-replace").hidden = false;
    } else {
      note("save-msg", data.error || "Not saved.", true);
    }
  }

  function replace() {
    if (state.confirm && state.confirm.name === $("save-name").value.trim()) {
      save(null, state.confirm.code);
    }
  }

  /* A new result is on show: the implied rates on show are base's or an older edit's. */
  function markStale() {
    if (state.analyticsKey === state.key) return;
    $("analytics").classList.add("stale");
    note("coverage", "The implied rates of this edit follow once the controls are still.");
  }

  function stopSweep() {
    clearTimeout(state.sweepTimer);
  }

  function resetSave() {
    $("save-replace").hidden = true;
    note("save-msg", SAVE_NOTE);
  }

  function bind() {
    $("sweep-form").addEventListener("submit", startSweep);
    $("sweep-field").addEventListener("change", sweepDefaults);
    $("sweep-cancel").addEventListener("click", cancelSweep);
    $("save-form").addEventListener("submit", save);
    $("save-replace").addEventListener("click", replace);
  }

  window.ArsimPanels = {
    bind: bind, buildSweep: buildSweep, markStale: markStale, resetSave: resetSave,
    scheduleAnalytics: scheduleAnalytics,
    stopAnalytics: stopAnalytics, stopSweep: stopSweep,
  };
})();
