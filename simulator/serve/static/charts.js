/* Small SVG charts for the what-if page: axes with ticks and labels, lines, bands, bars, steps,
   dots and a legend. Elements are created with createElementNS and styled by classes (app.css),
   so the page runs under the Content-Security-Policy default-src 'self' (no inline style). */
"use strict";
(function () {
  const NS = "http://www.w3.org/2000/svg";
  const M = { left: 58, right: 12, top: 24, bottom: 42 };

  function el(parent, name, attrs, text) {
    const node = document.createElementNS(NS, name);
    for (const key of Object.keys(attrs || {})) node.setAttribute(key, attrs[key]);
    if (text !== undefined) node.textContent = text;
    parent.appendChild(node);
    return node;
  }

  function clear(svg) {
    while (svg.firstChild) svg.removeChild(svg.firstChild);
  }

  function niceStep(span, count) {
    const raw = span / Math.max(count, 1);
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const norm = raw / mag;
    const mult = norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 2.5 ? 2.5 : norm <= 5 ? 5 : 10;
    return mult * mag;
  }

  function ticks(lo, hi, count) {
    if (!(hi > lo)) return [lo];
    const step = niceStep(hi - lo, count);
    const out = [];
    for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) {
      out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
    }
    return out;
  }

  function monthTicks(hi) {
    const step = hi > 48 ? 12 : hi > 24 ? 6 : hi > 8 ? 3 : 1;
    const out = [];
    for (let v = 0; v <= hi; v += step) out.push(v);
    return out;
  }

  function pct(v) {
    const p = 100 * v;
    return (Math.abs(p) < 10 && p !== Math.round(p) ? p.toFixed(1) : p.toFixed(0)) + " %";
  }

  function num(v) {
    const a = Math.abs(v);
    if (a >= 1e6) return (v / 1e6).toFixed(a >= 1e7 ? 0 : 1) + "m";
    if (a >= 1e4) return (v / 1e3).toFixed(0) + "k";
    if (a >= 100 || v === Math.round(v)) return v.toLocaleString("en-US", { maximumFractionDigits: 0 });
    return v.toLocaleString("en-US", { maximumSignificantDigits: 3 });
  }

  function extent(arrays, pad) {
    let lo = Infinity;
    let hi = -Infinity;
    for (const arr of arrays) {
      for (const v of arr) {
        if (v === null || v === undefined || !isFinite(v)) continue;
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
    }
    if (!isFinite(lo)) return [0, 1];
    if (lo === hi) {
      const d = Math.abs(lo) * 0.1 || 1;
      return [lo - d, hi + d];
    }
    const d = (hi - lo) * (pad || 0);
    return [lo - d, hi + d];
  }

  function path(xs, ys, sx, sy) {
    let d = "";
    let pen = false;
    for (let i = 0; i < xs.length; i++) {
      if (ys[i] === null || ys[i] === undefined || !isFinite(ys[i])) {
        pen = false;
        continue;
      }
      d += (pen ? "L" : "M") + sx(xs[i]).toFixed(1) + "," + sy(ys[i]).toFixed(1);
      pen = true;
    }
    return d;
  }

  /* spec: {x: [lo, hi], y: [lo, hi], xLabel, yLabel, xTicks?, xTickText?, yFormat, layers,
            legend: [{kind: "line"|"dash"|"bar"|"band", cls, text}], empty?} */
  function plot(svg, spec) {
    clear(svg);
    const box = svg.viewBox.baseVal;
    const W = box.width;
    const H = box.height;
    const x0 = M.left;
    const x1 = W - M.right;
    const rows = legend(svg, spec.legend || [], x0, x1);
    const y0 = H - M.bottom;
    const y1 = M.top + 14 * (rows - 1);
    const [xl, xh] = spec.x;
    const [yl, yh] = spec.y;
    const sx = (v) => x0 + ((v - xl) / (xh - xl || 1)) * (x1 - x0);
    const sy = (v) => y0 - ((v - yl) / (yh - yl || 1)) * (y0 - y1);
    const yFormat = spec.yFormat || num;
    const grid = el(svg, "g", { class: "grid" });
    const axis = el(svg, "g", { class: "axis" });
    for (const v of ticks(yl, yh, 5)) {
      el(grid, "line", { x1: x0, x2: x1, y1: sy(v), y2: sy(v) });
      el(axis, "text", { class: "tick", x: x0 - 5, y: sy(v) + 4, "text-anchor": "end" }, yFormat(v));
    }
    const xt = spec.xTicks || ticks(xl, xh, 6);
    for (const v of xt) {
      el(axis, "line", { x1: sx(v), x2: sx(v), y1: y0, y2: y0 + 4 });
      const text = spec.xTickText ? spec.xTickText(v) : num(v);
      el(axis, "text", { class: "tick", x: sx(v), y: y0 + 16, "text-anchor": "middle" }, text);
    }
    el(axis, "line", { x1: x0, x2: x1, y1: y0, y2: y0 });
    el(axis, "line", { x1: x0, x2: x0, y1: y0, y2: y1 });
    el(svg, "text", { class: "axis-label", x: (x0 + x1) / 2, y: H - 6, "text-anchor": "middle" },
      spec.xLabel);
    el(svg, "text", {
      class: "axis-label", x: 0, y: 0, "text-anchor": "middle",
      transform: "translate(13," + (y0 + y1) / 2 + ") rotate(-90)",
    }, spec.yLabel);
    const layer = el(svg, "g", {});
    for (const item of spec.layers || []) draw(layer, item, sx, sy, y0);
    if (spec.empty) {
      el(svg, "text", { class: "empty", x: (x0 + x1) / 2, y: (y0 + y1) / 2, "text-anchor": "middle" },
        spec.empty);
    }
  }

  function draw(g, item, sx, sy, y0) {
    const xs = item.xs;
    if (item.type === "line") {
      el(g, "path", { class: item.cls, d: path(xs, item.ys, sx, sy) });
    } else if (item.type === "band") {
      const top = path(xs, item.hi, sx, sy);
      const lo = [];
      for (let i = xs.length - 1; i >= 0; i--) {
        if (item.lo[i] !== null && item.hi[i] !== null) lo.push(sx(xs[i]).toFixed(1) + "," + sy(item.lo[i]).toFixed(1));
      }
      if (top && lo.length) el(g, "path", { class: item.cls, d: top + "L" + lo.join("L") + "Z" });
    } else if (item.type === "bars") {
      const w = Math.max(1, (sx(1) - sx(0)) * 0.8);
      for (let i = 0; i < xs.length; i++) {
        const v = item.ys[i];
        if (!v) continue;
        el(g, "rect", { class: item.cls, x: sx(xs[i]) - w / 2, y: sy(v), width: w, height: Math.max(0, y0 - sy(v)) });
      }
    } else if (item.type === "step") {
      let d = "";
      for (let i = 0; i < xs.length; i++) {
        const a = sx(xs[i] - 0.5).toFixed(1);
        const b = sx(xs[i] + 0.5).toFixed(1);
        const y = sy(item.ys[i] || 0).toFixed(1);
        d += (i === 0 ? "M" + a + "," + y0 + "L" : "L") + a + "," + y + "L" + b + "," + y;
      }
      el(g, "path", { class: item.cls, d: d });
    } else if (item.type === "hline") {
      el(g, "line", { class: item.cls, x1: sx(item.x[0]), x2: sx(item.x[1]), y1: sy(item.y), y2: sy(item.y) });
    } else if (item.type === "dots") {
      for (let i = 0; i < xs.length; i++) {
        if (item.ys[i] === null || item.ys[i] === undefined) continue;
        el(g, "circle", { class: item.cls, cx: sx(xs[i]), cy: sy(item.ys[i]), r: 2.8 });
      }
    }
  }

  /* The legend across the top, wrapped onto a second row when it does not fit; its rows. */
  function legend(svg, items, x, right) {
    let at = x;
    let row = 0;
    for (const item of items) {
      const g = el(svg, "g", {});
      const t = el(g, "text", { class: "legend", x: 20, y: 16 }, item.text);
      const width = 20 + t.getComputedTextLength();
      if (at > x && at + width > right) {
        row += 1;
        at = x;
      }
      if (item.kind === "bar" || item.kind === "band") {
        el(g, "rect", { class: item.cls, x: 0, y: 7, width: 14, height: 9 });
      } else {
        el(g, "line", { class: item.cls, x1: 0, x2: 16, y1: 12, y2: 12 });
      }
      g.setAttribute("transform", "translate(" + at + "," + 14 * row + ")");
      at += width + 10;
    }
    return items.length ? row + 1 : 1;
  }

  window.ArsimCharts = { plot, pct, num, extent, monthTicks };
})();
