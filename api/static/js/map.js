// The grid map: SVG polygons over a light street base, coloured by a metric, with zoom and pan.

import { h, clear, append } from "./dom.js";
import { fmtNum } from "./labels.js";

const SVGNS = "http://www.w3.org/2000/svg";
const WIDTH = 1000;

export const METRICS = {
  negative: { name: "负面量", get: (p) => num(p, ["negative", "negative_count", "neg"]) },
  risk: { name: "高风险帖", get: (p) => num(p, ["risk_posts", "critical"]) },
  alerts: { name: "未办结预警", get: (p) => num(p, ["open_alerts", "alerts_open", "alerts"]) },
  count: { name: "总量", get: (p) => num(p, ["count", "posts", "total"]) },
};

function summary(p) {
  return `总量 ${fmtNum(METRICS.count.get(p))} · 负面 ${fmtNum(METRICS.negative.get(p))} · ` +
    `高风险 ${fmtNum(METRICS.risk.get(p))} · 未办结预警 ${fmtNum(METRICS.alerts.get(p))}`;
}

export function num(props, names) {
  for (const n of names) {
    const v = props[n];
    if (typeof v === "number" && Number.isFinite(v)) return v;
    if (v && typeof v === "object" && typeof v.count === "number") return v.count;
  }
  return 0;
}

const RAMP = [
  [0.0, [253, 240, 213]],
  [0.35, [246, 178, 107]],
  [0.7, [214, 64, 48]],
  [1.0, [122, 14, 22]],
];

export function colour(t) {
  if (!(t > 0)) return "rgb(236,241,245)";
  t = Math.min(1, t);
  for (let i = 1; i < RAMP.length; i++) {
    const [t1, c1] = RAMP[i];
    const [t0, c0] = RAMP[i - 1];
    if (t <= t1) {
      const f = (t - t0) / (t1 - t0);
      const c = c0.map((v, j) => Math.round(v + (c1[j] - v) * f));
      return `rgb(${c[0]},${c[1]},${c[2]})`;
    }
  }
  return "rgb(122,14,22)";
}

function rings(geometry) {
  if (!geometry) return [];
  if (geometry.type === "Polygon") return [geometry.coordinates];
  if (geometry.type === "MultiPolygon") return geometry.coordinates;
  return [];
}

export class GridMap {
  constructor({ svg, wrap, tip, legend, onSelect }) {
    Object.assign(this, { svg, wrap, tip, legend, onSelect });
    this.metric = "negative";
    this.paths = new Map(); // grid id → path element
    this.features = [];
    this.selected = null;
    this.focus = { street: "", community: "" };
    this.level = "grid"; // or "community" / "street": colour each grid by its area's total
    this.aggregate = new Map();
    this.gBase = this.svgEl("g", { class: "streets" });
    this.gGrids = this.svgEl("g", { class: "grids" });
    this.gSpecial = this.svgEl("g", { class: "special" });
    this.gLabels = this.svgEl("g", { class: "street-labels" });
    svg.append(this.gBase, this.gGrids, this.gSpecial, this.gLabels);
    svg.setAttribute("preserveAspectRatio", "xMidYMid meet");
    this.bindInteraction();
    window.addEventListener("resize", () => { if (this.vb) this.setViewBox(this.vb); });
  }

  svgEl(tag, attrs = {}) {
    const el = document.createElementNS(SVGNS, tag);
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
    return el;
  }

  /** Equirectangular projection scaled by cos(latitude): true shape at district scale. */
  setProjection(features) {
    let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
    for (const f of features) {
      for (const poly of rings(f.geometry)) {
        for (const [x, y] of poly[0] || []) {
          if (x < minX) minX = x; if (x > maxX) maxX = x;
          if (y < minY) minY = y; if (y > maxY) maxY = y;
        }
      }
    }
    if (!Number.isFinite(minX)) { minX = 117; maxX = 117.1; minY = 36.6; maxY = 36.7; }
    const k = Math.cos(((minY + maxY) / 2) * Math.PI / 180);
    const scale = WIDTH / Math.max(1e-9, (maxX - minX) * k);
    this.project = ([x, y]) => [(x - minX) * k * scale, (maxY - y) * scale];
    this.extent = { x: 0, y: 0, w: WIDTH, h: (maxY - minY) * scale };
    const pad = 0.02 * WIDTH;
    this.home = { x: -pad, y: -pad, w: WIDTH + 2 * pad, h: this.extent.h + 2 * pad };
    this.setViewBox(this.home);
  }

  pathData(geometry) {
    const out = [];
    for (const poly of rings(geometry)) {
      for (const ring of poly) {
        if (!ring.length) continue;
        out.push("M");
        ring.forEach((pt, i) => {
          const [x, y] = this.project(pt);
          out.push(`${i ? "L" : ""}${x.toFixed(1)} ${y.toFixed(1)}`);
        });
        out.push("Z");
      }
    }
    return out.join("");
  }

  setStreets(fc) {
    clear(this.gBase); clear(this.gLabels);
    this.streets = fc ? fc.features || [] : [];
    for (const f of this.streets) {
      this.gBase.append(this.svgEl("path", {
        d: this.pathData(f.geometry), class: "street", "data-street": f.properties.street,
      }));
      const label = f.properties.label;
      if (label) {
        const [x, y] = this.project(label);
        const t = this.svgEl("text", { x: x.toFixed(1), y: y.toFixed(1), class: "street-label" });
        t.textContent = f.properties.street;
        this.gLabels.append(t);
      }
    }
  }

  /** Draw every feature of the layer: basic grids filled, special grids dashed on top. */
  setGrids(fc) {
    clear(this.gGrids); clear(this.gSpecial);
    this.paths.clear();
    this.features = fc.features || [];
    if (!this.project) this.setProjection(this.features);
    for (const f of this.features) {
      const p = f.properties || {};
      const id = String(p.id ?? f.id);
      const special = p.kind === "special";
      const path = this.svgEl("path", {
        d: this.pathData(f.geometry),
        class: special ? "grid special" : "grid",
        "data-grid-id": id,
        "fill-rule": "evenodd",
      });
      path.__feature = f;
      (special ? this.gSpecial : this.gGrids).append(path);
      this.paths.set(id, path);
    }
    this.recolour();
    this.applyFocus();
  }

  setMetric(metric) { this.metric = metric; this.recolour(); }

  /** Colour by the grid's own numbers ("grid") or by its community's / street's totals. */
  setAggregate(level, table) {
    this.level = level;
    this.aggregate = table || new Map();
    this.recolour();
  }

  static areaKey(level, p) {
    if (level === "street") return p.street || "";
    if (level === "community") return `${p.street || ""}|${p.community || ""}`;
    return String(p.id);
  }

  valueOf(props, metric) {
    const m = METRICS[metric] || METRICS.negative;
    if (this.level === "grid") return m.get(props);
    if (props.kind === "special") return 0;
    return m.get(this.aggregate.get(GridMap.areaKey(this.level, props)) || {});
  }

  updateValues(values) {
    // values: Map grid id → {count, negative, ...} merged into the feature properties
    for (const [id, v] of values) {
      const path = this.paths.get(id);
      if (path) Object.assign(path.__feature.properties, v);
    }
    this.recolour();
  }

  recolour() {
    const m = METRICS[this.metric] || METRICS.negative;
    let max = 0;
    for (const path of this.paths.values()) max = Math.max(max, this.valueOf(path.__feature.properties, this.metric));
    for (const path of this.paths.values()) {
      const v = this.valueOf(path.__feature.properties, this.metric);
      const fill = colour(max ? Math.sqrt(v / max) : 0);
      if (path.classList.contains("special")) path.style.stroke = v ? fill : "";
      else path.style.fill = fill;
    }
    this.drawLegend(m.name + ({ community: "（按社区汇总）", street: "（按街道汇总）" }[this.level] || ""), max);
  }

  drawLegend(name, max) {
    clear(this.legend);
    const stops = [0, 0.25, 0.5, 0.75, 1];
    append(this.legend, [
      h("span", { class: "legend-name" }, name),
      h("span", { class: "legend-ramp" }, stops.map((t) => h("i", { style: `background:${colour(t || 0.0001)}` }))),
      h("span", { class: "legend-range" }, `0 – ${fmtNum(max)}`),
    ]);
  }

  /** Dim grids outside the chosen street/community and zoom to the rest. */
  setFocus(street, community) {
    this.focus = { street: street || "", community: community || "" };
    this.applyFocus(true);
  }

  applyFocus(zoom = false) {
    const { street, community } = this.focus;
    const inFocus = [];
    for (const path of this.paths.values()) {
      const p = path.__feature.properties;
      const ok = (!street || p.street === street) && (!community || p.community === community);
      path.classList.toggle("dim", !ok);
      if (ok) inFocus.push(path);
    }
    for (const s of this.gBase.children) s.classList.toggle("active", !!street && s.dataset.street === street);
    if (!zoom) return;
    if (!street && !community) { this.setViewBox(this.home); return; }
    if (!inFocus.length) return;
    let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
    for (const p of inFocus) {
      const b = p.getBBox();
      x0 = Math.min(x0, b.x); y0 = Math.min(y0, b.y);
      x1 = Math.max(x1, b.x + b.width); y1 = Math.max(y1, b.y + b.height);
    }
    const pad = Math.max(x1 - x0, y1 - y0) * 0.08 + 2;
    this.setViewBox({ x: x0 - pad, y: y0 - pad, w: x1 - x0 + 2 * pad, h: y1 - y0 + 2 * pad });
  }

  select(id) {
    if (this.selected) this.selected.classList.remove("selected");
    this.selected = id ? this.paths.get(id) || null : null;
    if (this.selected) {
      this.selected.classList.add("selected");
      this.selected.parentNode.append(this.selected); // on top so the outline shows
    }
  }

  setViewBox(vb) {
    this.vb = { ...vb };
    this.svg.setAttribute("viewBox", `${vb.x} ${vb.y} ${vb.w} ${vb.h}`);
    // keep street labels ~12px on screen whatever the zoom
    const scale = Math.min(this.svg.clientWidth / vb.w, this.svg.clientHeight / vb.h) || 1;
    this.gLabels.setAttribute("font-size", (12 / scale).toFixed(2));
    this.gLabels.setAttribute("stroke-width", (3 / scale).toFixed(2));
    const z = this.home ? this.home.w / vb.w : 1;
    this.svg.classList.toggle("zoomed", z > 2.5);
  }

  zoom(factor, cx, cy) {
    const vb = this.vb;
    if (cx === undefined) { cx = vb.x + vb.w / 2; cy = vb.y + vb.h / 2; }
    const w = Math.min(this.home.w * 1.5, Math.max(this.home.w / 60, vb.w / factor));
    const f = w / vb.w;
    this.setViewBox({ x: cx - (cx - vb.x) * f, y: cy - (cy - vb.y) * f, w, h: vb.h * f });
  }

  reset() { this.setViewBox(this.home); }

  toSvg(clientX, clientY) {
    const pt = this.svg.createSVGPoint();
    pt.x = clientX; pt.y = clientY;
    const ctm = this.svg.getScreenCTM();
    return ctm ? pt.matrixTransform(ctm.inverse()) : { x: 0, y: 0 };
  }

  bindInteraction() {
    const svg = this.svg;
    svg.addEventListener("wheel", (e) => {
      e.preventDefault();
      const p = this.toSvg(e.clientX, e.clientY);
      this.zoom(e.deltaY < 0 ? 1.25 : 0.8, p.x, p.y);
    }, { passive: false });
    let drag = null;
    svg.addEventListener("pointerdown", (e) => {
      if (e.button !== 0) return;
      drag = { x: e.clientX, y: e.clientY, vb: { ...this.vb }, moved: false, id: e.pointerId };
    });
    svg.addEventListener("pointermove", (e) => {
      if (drag) {
        const dx = e.clientX - drag.x, dy = e.clientY - drag.y;
        if (!drag.moved && Math.hypot(dx, dy) > 4) {
          drag.moved = true;
          svg.setPointerCapture(drag.id);
          svg.classList.add("panning");
          this.tip.hidden = true;
        }
        if (drag.moved) {
          const s = 1 / (svg.getScreenCTM()?.a || 1);
          this.setViewBox({ ...drag.vb, x: drag.vb.x - dx * s, y: drag.vb.y - dy * s });
          return;
        }
      }
      this.hover(e);
    });
    const end = (e) => {
      if (!drag) return;
      const wasDrag = drag.moved;
      if (wasDrag) { svg.releasePointerCapture(drag.id); svg.classList.remove("panning"); }
      drag = null;
      if (!wasDrag && e.type === "pointerup") {
        const path = e.target.closest && e.target.closest("path.grid");
        if (path && this.onSelect) this.onSelect(path.dataset.gridId, path.__feature);
      }
    };
    svg.addEventListener("pointerup", end);
    svg.addEventListener("pointercancel", end);
    svg.addEventListener("pointerleave", () => { this.tip.hidden = true; });
  }

  hover(e) {
    const path = e.target.closest && e.target.closest("path.grid");
    if (!path) { this.tip.hidden = true; return; }
    const p = path.__feature.properties;
    clear(this.tip);
    append(this.tip, [
      h("strong", {}, p.name || p.id),
      p.kind === "special" ? h("span", { class: "tag" }, "专属网格") : null,
      h("div", {}, `${p.street || "—"} · ${p.community || "—"}`),
      h("div", { class: "nums" }, `本网格：${summary(p)}`),
      this.level !== "grid" && p.kind !== "special"
        ? h("div", { class: "nums" }, `${this.level === "street" ? "街道" : "社区"}合计：${summary(this.aggregate.get(GridMap.areaKey(this.level, p)) || {})}`)
        : null,
      h("div", { class: "hint" }, "点击查看详情"),
    ]);
    const box = this.wrap.getBoundingClientRect();
    let x = e.clientX - box.left + 14, y = e.clientY - box.top + 14;
    this.tip.hidden = false;
    const tw = this.tip.offsetWidth, th = this.tip.offsetHeight;
    if (x + tw > box.width) x = Math.max(0, e.clientX - box.left - tw - 10);
    if (y + th > box.height) y = Math.max(0, e.clientY - box.top - th - 10);
    this.tip.style.left = `${x}px`;
    this.tip.style.top = `${y}px`;
  }
}
