// Small SVG charts: a multi-series line chart with hover read-out, and sparklines.

import { h, clear, append } from "./dom.js";

const NS = "http://www.w3.org/2000/svg";
function s(tag, attrs = {}, text) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  if (text !== undefined) el.textContent = text;
  return el;
}

function niceMax(v) {
  // four gridlines at round values: the step is 1, 1.5, 2, 2.5, 3, 4, 5, 6 or 8 × a power of ten
  if (!(v > 0)) return 4;
  const step = v / 4;
  const p = 10 ** Math.floor(Math.log10(step));
  for (const m of [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (m * p >= step) return 4 * m * p;
  return 40 * p;
}

/**
 * series: [{name, color, values: [number|null]}], times: [Date], yFormat(v) → string
 */
export function lineChart(container, { times, series, yFormat = String, xFormat, yMax }) {
  clear(container);
  const W = Math.max(320, container.clientWidth || 600);
  const H = Math.max(140, container.clientHeight || 200);
  const m = { l: 46, r: 12, t: 10, b: 22 };
  const iw = W - m.l - m.r, ih = H - m.t - m.b;
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, width: W, height: H, class: "line-chart" });
  let max = yMax;
  if (max === undefined) {
    max = 0;
    for (const se of series) for (const v of se.values) if (v != null && v > max) max = v;
    max = niceMax(max);
  }
  const n = times.length;
  const x = (i) => m.l + (n <= 1 ? iw / 2 : (i * iw) / (n - 1));
  const y = (v) => m.t + ih - (v / max) * ih;
  for (let k = 0; k <= 4; k++) {
    const v = (max * k) / 4;
    svg.append(s("line", { x1: m.l, x2: W - m.r, y1: y(v), y2: y(v), class: "gridline" }));
    svg.append(s("text", { x: m.l - 6, y: y(v) + 4, class: "axis", "text-anchor": "end" }, yFormat(v)));
  }
  const ticks = Math.min(n, Math.max(2, Math.floor(iw / 90)));
  for (let k = 0; k < ticks && n; k++) {
    const i = Math.round((k * (n - 1)) / Math.max(1, ticks - 1));
    svg.append(s("text", { x: x(i), y: H - 6, class: "axis", "text-anchor": "middle" }, xFormat(times[i])));
  }
  for (const se of series) {
    let d = "", pen = false;
    se.values.forEach((v, i) => {
      if (v == null) { pen = false; return; }
      d += `${pen ? "L" : "M"}${x(i).toFixed(1)} ${y(v).toFixed(1)}`;
      pen = true;
    });
    svg.append(s("path", { d, class: "series", stroke: se.color, "data-series": se.name }));
  }
  const cross = s("line", { y1: m.t, y2: m.t + ih, class: "crosshair", visibility: "hidden" });
  svg.append(cross);
  const overlay = s("rect", { x: m.l, y: m.t, width: iw, height: ih, fill: "transparent" });
  svg.append(overlay);
  const tip = h("div", { class: "chart-tip", hidden: true });
  overlay.addEventListener("pointermove", (e) => {
    const r = svg.getBoundingClientRect();
    const px = ((e.clientX - r.left) * W) / r.width;
    const i = Math.max(0, Math.min(n - 1, Math.round(((px - m.l) / iw) * (n - 1))));
    cross.setAttribute("x1", x(i)); cross.setAttribute("x2", x(i));
    cross.setAttribute("visibility", "visible");
    clear(tip);
    append(tip, [h("div", { class: "t" }, xFormat(times[i], true)),
      series.map((se) => h("div", {}, h("i", { class: "dot", style: `background:${se.color}` }),
        `${se.name}：${se.values[i] == null ? "—" : yFormat(se.values[i], true)}`))]);
    tip.hidden = false;
    const left = ((x(i) / W) * r.width);
    tip.style.left = `${left + 12 > r.width - 160 ? left - 170 : left + 12}px`;
  });
  overlay.addEventListener("pointerleave", () => { tip.hidden = true; cross.setAttribute("visibility", "hidden"); });
  const legend = h("div", { class: "chart-legend" },
    series.map((se) => h("span", {}, h("i", { class: "dot", style: `background:${se.color}` }), se.name)));
  append(container, [legend, h("div", { class: "chart-body" }, svg, tip)]);
  return svg;
}

export function sparkline(values, { width = 120, height = 28, color = "#d64030" } = {}) {
  const svg = s("svg", { viewBox: `0 0 ${width} ${height}`, width, height, class: "sparkline" });
  const max = Math.max(1, ...values);
  const n = values.length;
  if (!n) return svg;
  const pts = values.map((v, i) => [
    n === 1 ? width / 2 : (i * (width - 2)) / (n - 1) + 1,
    height - 2 - (v / max) * (height - 4),
  ]);
  svg.append(s("path", {
    d: pts.map(([px, py], i) => `${i ? "L" : "M"}${px.toFixed(1)} ${py.toFixed(1)}`).join(""),
    stroke: color, fill: "none", "stroke-width": 1.5,
  }));
  return svg;
}

export const PALETTE = [
  "#2f6fdf", "#e08a1e", "#8a3fc4", "#d64030", "#2a9d8f", "#6b8e23", "#c2185b", "#5d6d7e",
  "#b8860b", "#1e88e5",
];
