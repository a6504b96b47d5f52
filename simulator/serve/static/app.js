/* The what-if page. The server computes and formats every number; this script sends the
   controls' text (debounced), shows what comes back with textContent, and draws the charts;
   panels.js adds the implied rates, the sweep, and save and download.
   No inline script or style, nothing from the network (CSP default-src 'self'). */
"use strict";
(function () {
  const C = window.ArsimCharts;
  const $ = (id) => document.getElementById(id);
  const DEBOUNCE_MS = 60; // after the last input event, one run (a drag fires every ~16 ms)
  const state = {
    session: null, info: null, inputs: {}, base: {}, labels: {}, timer: null, seq: 0,
    shown: 0, key: null, view: null, lastInput: 0, analyticsTimer: null, sweepTimer: null,
    confirm: null,
  };

  async function api(path, body) {
    const opts = { credentials: "same-origin" };
    if (body !== undefined) {
      opts.method = "POST";
      opts.headers = { "Content-Type": "application/json" };
      opts.body = JSON.stringify(body);
    }
    const resp = await fetch(path, opts);
    let data;
    try {
      data = await resp.json();
    } catch (e) {
      data = { status: "error", error: resp.status + " " + resp.statusText };
    }
    data.httpStatus = resp.status;
    return data;
  }

  function setStatus(text, bad) {
    const s = $("status");
    s.textContent = text;
    s.classList.toggle("bad", !!bad);
  }

  function note(id, text, bad) {
    const n = $(id);
    n.textContent = text;
    n.classList.toggle("bad", !!bad);
  }

  function make(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  /* ---------- controls ---------- */

  function textInput(ctl) {
    const input = make("input");
    input.type = "text";
    input.inputMode = "decimal";
    input.value = ctl.value;
    input.id = "in-" + ctl.path.replace(/[^A-Za-z0-9]+/g, "-");
    input.dataset.path = ctl.path;
    input.setAttribute("aria-label", ctl.label);
    const err = make("span", "err");
    err.setAttribute("aria-live", "polite");
    input.addEventListener("input", onInput);
    state.inputs[ctl.path] = { input: input, err: err, ctl: ctl };
    state.base[ctl.path] = ctl.value;
    state.labels[ctl.path] = ctl.label;
    return [input, err];
  }

  function scalarControl(ctl, slider) {
    const row = make("div", "control");
    const [input, err] = textInput(ctl);
    const label = make("label", "", ctl.label);
    label.htmlFor = input.id;
    row.append(label, input);
    if (slider) {
      const range = make("input");
      range.type = "range";
      range.min = "0";
      range.max = "2";
      range.step = "0.01";
      range.value = ctl.value;
      range.id = "slider-" + input.id.slice(3);
      range.setAttribute("aria-label", ctl.label + " (slider)");
      range.addEventListener("input", () => {
        input.value = range.value;
        onInput();
      });
      input.addEventListener("input", () => {
        const v = Number(input.value);
        if (input.value.trim() !== "" && isFinite(v)) range.value = String(v);
      });
      state.inputs[ctl.path].slider = range;
      row.append(range);
    }
    row.append(err);
    return row;
  }

  function bucketTable(rows) {
    const table = make("table", "buckets");
    const head = table.createTHead().insertRow();
    for (const t of ["bucket", "collection c", "default p"]) head.append(make("th", "", t));
    const body = table.createTBody();
    for (const label of Object.keys(rows)) {
      const tr = body.insertRow();
      tr.append(make("th", "", label));
      for (const kind of ["c", "p"]) {
        const td = tr.insertCell();
        if (rows[label][kind]) td.append(...textInput(rows[label][kind]));
      }
    }
    return table;
  }

  function buildControls(controls) {
    const form = $("form");
    form.textContent = "";
    state.inputs = {};
    state.base = {};
    const groups = {};
    const rows = {};
    for (const ctl of controls) {
      if (ctl.bucket !== null) {
        rows[ctl.bucket] = rows[ctl.bucket] || {};
        rows[ctl.bucket][ctl.path.startsWith("collections") ? "c" : "p"] = ctl;
      } else {
        (groups[ctl.group] = groups[ctl.group] || []).push(ctl);
      }
    }
    const order = ["Collections", "Rates by bucket (monthly)", "Defaults", "Economy", "Cash and revenue"];
    for (const name of order) {
      const set = make("fieldset");
      set.append(make("legend", "", name));
      if (name.startsWith("Rates")) {
        set.append(bucketTable(rows));
      } else {
        for (const ctl of groups[name] || []) {
          set.append(scalarControl(ctl, ctl.path === "collections.multiplier"));
        }
      }
      form.append(set);
    }
  }

  function currentEdits() {
    const edits = {};
    for (const path of Object.keys(state.inputs)) {
      const text = state.inputs[path].input.value;
      const same = text.trim() !== "" && Number(text) === Number(state.base[path]);
      if (text !== state.base[path] && !same) edits[path] = text;
    }
    return edits;
  }

  function showErrors(errors) {
    for (const path of Object.keys(state.inputs)) {
      const item = state.inputs[path];
      const msg = errors[path] || "";
      item.err.textContent = msg ? state.labels[path] + ": " + msg : "";
      item.input.setAttribute("aria-invalid", msg ? "true" : "false");
    }
  }

  /* ---------- runs ---------- */

  function onInput() {
    state.lastInput = performance.now();
    clearTimeout(state.timer);
    P().stopAnalytics();
    state.timer = setTimeout(sendEdits, DEBOUNCE_MS);
  }

  async function sendEdits() {
    const seq = ++state.seq;
    const started = state.lastInput;
    setStatus("Running…");
    let data;
    try {
      data = await api("/api/run", { session: state.session, edits: currentEdits() });
    } catch (e) {
      setStatus("The server did not answer (" + e.message + "); the last result is kept.", true);
      return;
    }
    if (data.status === "superseded" || seq < state.shown) return;
    if (data.status === "invalid") {
      if (seq !== state.seq) return;
      showErrors(data.errors);
      setStatus("Not run: a value is not valid (marked in red). The last result is kept.", true);
      return;
    }
    if (data.status !== "ok") {
      setStatus(data.error || "The run failed; the last result is kept.", true);
      return;
    }
    state.shown = seq;
    if (seq === state.seq) showErrors({});
    render(data.view, data.key, data.edits);
    const ms = Math.round(performance.now() - started);
    const n = Object.keys(data.edits).length;
    setStatus((n ? n + " field" + (n > 1 ? "s" : "") + " changed from base" : "Base") +
      " · updated " + ms + " ms after the last change (simulation " +
      Math.round(1000 * data.view.seconds) + " ms)");
    if (seq === state.seq) P().scheduleAnalytics();
  }

  function render(view, key, edits) {
    state.view = view;
    state.key = key;
    renderNumbers(view.numbers);
    renderCharts(view);
    P().markStale();
    $("numbers").dataset.edits = JSON.stringify(edits);
  }

  function renderNumbers(numbers) {
    const box = $("numbers");
    if (box.children.length !== numbers.length) {
      box.textContent = "";
      for (const n of numbers) {
        const card = make("div", "card");
        card.dataset.key = n.key;
        const line = make("div");
        line.append(make("span", "value"), make("span", "se"));
        card.append(make("div", "label", n.label), line, make("div", "change"));
        box.append(card);
      }
    }
    numbers.forEach((n, i) => {
      const card = box.children[i];
      card.dataset.key = n.key;
      card.querySelector(".label").textContent = n.label;
      card.querySelector(".value").textContent = n.text;
      card.querySelector(".se").textContent = n.se;
      card.querySelector(".change").textContent = n.change === "base"
        ? "base"
        : "base " + n.base + " · change " + n.change + (n.change_se ? " " + n.change_se : "");
    });
  }

  function range(n) {
    return Array.from({ length: n }, (_, i) => i);
  }

  function renderCharts(view) {
    const H = view.horizon;
    const months = range(H + 1);
    const ticks = C.monthTicks(H);
    C.plot($("chart-survival"), {
      x: [0, H], y: [0, 1], xTicks: ticks, yFormat: C.pct,
      xLabel: "months after the as-of date", yLabel: "P(runway > t)",
      layers: [
        { type: "line", cls: "line-base", xs: months, ys: view.runway.base.survival },
        { type: "line", cls: "line-edit", xs: months, ys: view.runway.edit.survival },
      ],
      legend: [{ kind: "line", cls: "line-edit", text: "edit" }, { kind: "dash", cls: "line-base", text: "base" }],
    });
    const bins = range(H + 2);
    const top = C.extent([view.runway.edit.share, view.runway.base.share], 0)[1] * 1.1;
    C.plot($("chart-hist"), {
      x: [-0.5, H + 1.5], y: [0, top || 1], yFormat: C.pct,
      xTicks: ticks.filter((t) => t < H - 2).concat([H + 1]),
      xTickText: (v) => (v > H ? "> " + H : String(v)),
      xLabel: "runway, months (> " + H + ": cash lasts)", yLabel: "share of paths",
      layers: [
        { type: "bars", cls: "bar-edit", xs: bins, ys: view.runway.edit.share },
        { type: "step", cls: "step-base", xs: bins, ys: view.runway.base.share },
      ],
      legend: [{ kind: "bar", cls: "bar-edit", text: "edit" }, { kind: "line", cls: "step-base", text: "base" }],
    });
    const f = view.fan.edit;
    const [lo, hi] = C.extent([f.p5, f.p95, view.fan.base_p50, [view.fan.floor]], 0.05);
    $("fan-caption").textContent = "Cash fan (first " + view.fan.sample.toLocaleString("en-US") +
      " paths)";
    C.plot($("chart-fan"), {
      x: [0, H], y: [lo, hi], xTicks: ticks,
      xLabel: "months after the as-of date", yLabel: "cash, " + (view.unit || "money units"),
      layers: [
        { type: "band", cls: "band-outer", xs: months, lo: f.p5, hi: f.p95 },
        { type: "band", cls: "band-inner", xs: months, lo: f.p25, hi: f.p75 },
        { type: "hline", cls: "line-floor", x: [0, H], y: view.fan.floor },
        { type: "line", cls: "line-base", xs: months, ys: view.fan.base_p50 },
        { type: "line", cls: "line-edit", xs: months, ys: f.p50 },
      ],
      legend: [
        { kind: "band", cls: "band-outer", text: "5–95 %" }, { kind: "band", cls: "band-inner", text: "25–75 %" },
        { kind: "line", cls: "line-edit", text: "median" }, { kind: "dash", cls: "line-base", text: "base median" },
        { kind: "dash", cls: "line-floor", text: "floor" },
      ],
    });
  }

  /* ---------- scenarios ---------- */

  async function openScenario(id) {
    setStatus("Loading the base run…");
    clearTimeout(state.timer);
    P().stopSweep();
    const data = await api("/api/session", { scenario: id, previous: state.session });
    if (data.status === "error") {
      setStatus(data.error, true);
      return;
    }
    state.session = data.session;
    state.info = data.scenario;
    state.seq = 0;
    state.shown = 0;
    state.analyticsKey = null;
    buildControls(data.controls);
    P().buildSweep(data.sweep);
    const sc = data.scenario;
    const v = data.view;
    $("meta").textContent = sc.name + (sc.as_of ? " · as of " + sc.as_of : "") +
      (sc.unit ? " · " + sc.unit : "") + " · " + v.paths.toLocaleString("en-US") + " paths × " +
      v.horizon + " months, seed " + v.seed + " (base and edit share them)";
    const q = "?session=" + encodeURIComponent(data.session);
    $("dl-json").href = "/api/download" + q + "&format=json";
    $("dl-csv").href = "/api/download" + q + "&format=csv";
    render(v, data.key, {});
    setStatus("Base · move a control to see its effect against base");
    P().resetSave();
    P().scheduleAnalytics();
  }

  async function init() {
    $("form").addEventListener("submit", (e) => e.preventDefault());
    $("reset").addEventListener("click", () => {
      for (const path of Object.keys(state.inputs)) {
        const item = state.inputs[path];
        item.input.value = state.base[path];
        if (item.slider) item.slider.value = state.base[path];
      }
      onInput();
    });
    P().bind();
    const picker = $("scenario");
    const list = await api("/api/scenarios");
    for (const s of list.scenarios) {
      const o = make("option", "", s.name + " (" + s.file + ")");
      o.value = s.id;
      picker.append(o);
    }
    picker.addEventListener("change", () => openScenario(picker.value));
    await openScenario(list.scenarios[0].id);
  }

  function P() {
    return window.ArsimPanels;
  }

  window.Arsim = { state: state, api: api, note: note, make: make };
  document.addEventListener("DOMContentLoaded", () => {
    init().catch((e) => setStatus("The page could not start: " + e.message, true));
  });
})();
