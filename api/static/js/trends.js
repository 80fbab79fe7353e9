// Trends: 三量 volume and negative share over time, categories, top events, keywords.

import { api, describe } from "./api.js";
import { h, clear, append } from "./dom.js";
import { lineChart, sparkline, PALETTE } from "./chart.js";
import { LINES, lineOf, CATEGORY, zh, fmtNum, pct } from "./labels.js";
import { listOf } from "./alerts.js";

const INTERVAL = { "24h": "hour", "7d": "hour", "30d": "day" };
const STEP = { hour: 3600e3, day: 86400e3 };

function fmtX(interval) {
  const f = new Intl.DateTimeFormat("zh-CN", {
    timeZone: "Asia/Shanghai", month: "numeric", day: "numeric",
    ...(interval === "hour" ? { hour: "2-digit", hour12: false } : {}),
  });
  return (d, long) => {
    const s = f.format(d);
    return interval === "hour" && !long ? s.replace(/\s.*$/, (m) => m) : s;
  };
}

/** Bucket list → dense axis (gaps filled) and, per group, counts aligned to it. */
export function align(buckets, interval, groupOf) {
  const step = STEP[interval];
  const ts = buckets.map((b) => Date.parse(b.t)).filter(Number.isFinite);
  if (!ts.length) return { times: [], groups: new Map(), totals: [] };
  const lo = Math.min(...ts), hi = Math.max(...ts);
  const times = [];
  for (let t = lo; t <= hi && times.length < 2000; t += step) times.push(t);
  const index = new Map(times.map((t, i) => [t, i]));
  const groups = new Map();
  const totals = new Array(times.length).fill(0);
  for (const b of buckets) {
    const i = index.get(Date.parse(b.t));
    if (i === undefined) continue;
    totals[i] += b.count;
    for (const [key, n] of Object.entries(b.by || {})) {
      const g = groupOf(key);
      if (g == null) continue;
      if (!groups.has(g)) groups.set(g, new Array(times.length).fill(0));
      groups.get(g)[i] += n;
    }
  }
  return { times: times.map((t) => new Date(t)), groups, totals };
}

export class Trends {
  constructor(els) {
    this.els = els; // {chart, summary, split, measure, status, cats, catStatus, events, eventsStatus, keywords, kwStatus}
    this.els.split.addEventListener("change", () => this.loadTimeline());
    this.els.measure.addEventListener("change", () => this.drawTimeline());
    this.onKeyword = null;
    this.onEvent = null;
  }

  load(filters) {
    this.filters = filters;
    return Promise.all([this.loadTimeline(), this.loadCategories(), this.loadEvents(), this.loadKeywords()]);
  }

  async loadTimeline() {
    const f = this.filters;
    const interval = INTERVAL[f.window] || "hour";
    const byLine = this.els.split.value === "line";
    const split = byLine ? "source_type" : "category";
    this.els.status.textContent = "加载中…";
    try {
      const [all, neg] = await Promise.all([
        api("/stats/timeline", { params: { ...f, interval, split } }),
        api("/stats/timeline", { params: { ...f, interval, split, sentiment: "negative" } }),
      ]);
      const groupOf = byLine ? (k) => lineOf(k)?.key ?? null : (k) => k;
      const a = align(all.buckets, interval, groupOf);
      const n = align(neg.buckets.filter((b) => a.times.length && Date.parse(b.t) >= a.times[0].getTime()), interval, groupOf);
      // re-index negatives onto the totals' axis
      const idx = new Map(a.times.map((t, i) => [t.getTime(), i]));
      const negs = new Map();
      for (const [g, vals] of n.groups) {
        const arr = new Array(a.times.length).fill(0);
        vals.forEach((v, i) => { const j = idx.get(n.times[i].getTime()); if (j !== undefined) arr[j] = v; });
        negs.set(g, arr);
      }
      let keys;
      if (byLine) keys = LINES.map((l) => ({ key: l.key, name: l.name, color: l.color }));
      else {
        const sums = [...a.groups].map(([k, v]) => [k, v.reduce((x, y) => x + y, 0)]).sort((x, y) => y[1] - x[1]);
        keys = sums.slice(0, 6).map(([k], i) => ({ key: k, name: zh(CATEGORY, k), color: PALETTE[i % PALETTE.length] }));
      }
      this.data = { interval, times: a.times, groups: a.groups, negs, keys };
      this.els.status.textContent = "";
      this.drawTimeline();
    } catch (err) {
      this.data = null;
      clear(this.els.chart); clear(this.els.summary);
      this.els.status.textContent = describe(err);
    }
  }

  drawTimeline() {
    const d = this.data;
    if (!d) return;
    const share = this.els.measure.value === "share";
    const zero = new Array(d.times.length).fill(0);
    const series = d.keys.map((k) => {
      const tot = d.groups.get(k.key) || zero;
      const neg = d.negs.get(k.key) || zero;
      // a share over fewer than 3 posts is noise: leave a gap instead
      const values = share ? tot.map((t, i) => (t >= 3 ? neg[i] / t : null)) : tot;
      return { name: k.name, color: k.color, values, total: tot.reduce((x, y) => x + y, 0), neg: neg.reduce((x, y) => x + y, 0) };
    });
    clear(this.els.summary);
    append(this.els.summary, series.map((se) => h("div", { class: "line-tile", "data-line": se.name },
      h("i", { class: "dot", style: `background:${se.color}` }),
      h("span", { class: "name" }, se.name),
      h("b", { class: "total" }, fmtNum(se.total)),
      h("span", { class: "neg" }, `负面 ${pct(se.total ? se.neg / se.total : null)}`))));
    if (!d.times.length) {
      clear(this.els.chart).append(h("div", { class: "empty" }, "暂无数据"));
      return;
    }
    lineChart(this.els.chart, {
      times: d.times, series,
      yMax: share ? 1 : undefined,
      yFormat: share ? (v) => `${Math.round(v * 100)}%` : (v) => fmtNum(v),
      xFormat: fmtX(d.interval),
    });
  }

  async loadCategories() {
    const box = this.els.cats;
    try {
      const data = await api("/stats/breakdown", { params: { ...this.filters, field: "category", size: 20 } });
      clear(box);
      const buckets = data.buckets || [];
      this.els.catStatus.textContent = "";
      if (!buckets.length) { box.append(h("div", { class: "empty" }, "暂无数据")); return; }
      const max = Math.max(...buckets.map((b) => b.count));
      for (const b of buckets) {
        box.append(h("div", { class: "bar-row", title: `${zh(CATEGORY, b.key)}：${b.count} 条，负面 ${b.negative} 条` },
          h("span", { class: "k" }, zh(CATEGORY, b.key)),
          h("span", { class: "bar" },
            h("i", { class: "all", style: `width:${(100 * b.count) / max}%` }),
            h("i", { class: "neg", style: `width:${(100 * b.negative) / max}%` })),
          h("span", { class: "v" }, `${fmtNum(b.count)} · ${pct(b.count ? b.negative / b.count : null)}`)));
      }
    } catch (err) {
      clear(box);
      this.els.catStatus.textContent = describe(err);
    }
  }

  async loadEvents() {
    const box = this.els.events;
    try {
      const data = await api("/events", { params: { ...eventFilters(this.filters), size: 8, sort: "heat" } });
      const events = listOf(data, "events", "items", "results");
      clear(box);
      this.els.eventsStatus.textContent = "";
      if (!events.length) { box.append(h("li", { class: "empty" }, "暂无事件")); return; }
      const maxHeat = Math.max(1, ...events.map((e) => Number(e.heat) || 0));
      for (const e of events) {
        box.append(h("li", { class: "event", "data-event-id": e.id },
          h("a", { href: "#", onclick: (ev) => { ev.preventDefault(); this.onEvent && this.onEvent(e); } }, e.title || e.id),
          h("div", { class: "ev-meta" },
            h("span", { class: "heat", title: "热度" }, h("i", { style: `width:${(100 * (Number(e.heat) || 0)) / maxHeat}%` })),
            h("b", {}, `热度 ${fmtNum(e.heat, 1)}`),
            ` · ${fmtNum(e.post_count ?? e.posts ?? e.count)} 条`,
            Array.isArray(e.sources) && e.sources.length > 1 ? ` · ${e.sources.length} 个来源` : "",
            trendOf(e)),
          e.street || e.category ? h("div", { class: "ev-where" },
            [e.street, e.category ? zh(CATEGORY, e.category) : null].filter(Boolean).join(" · ")) : null));
      }
    } catch (err) {
      clear(box);
      const off = err.missing || err.status === 501;
      box.append(h("li", { class: "empty" }, off ? "事件服务未启用（暂无数据）" : describe(err)));
    }
  }

  async loadKeywords() {
    const box = this.els.keywords;
    try {
      const data = await api("/stats/keywords", { params: { ...this.filters, size: 40 } });
      clear(box);
      this.els.kwStatus.textContent = "";
      const kws = data.keywords || [];
      if (!kws.length) { box.append(h("div", { class: "empty" }, "暂无数据")); return; }
      const max = Math.max(...kws.map((k) => k.count));
      for (const k of kws) {
        const size = 0.8 + 0.9 * Math.sqrt(k.count / max);
        box.append(h("button", {
          type: "button", class: "kw", style: `font-size:${size.toFixed(2)}em`, title: `${k.count} 条`,
          onclick: () => this.onKeyword && this.onKeyword(k.word),
        }, k.word));
      }
    } catch (err) {
      clear(box);
      this.els.kwStatus.textContent = describe(err);
    }
  }
}

function eventFilters(f) {
  return { window: f.window, street: f.street, community: f.community };
}

function trendOf(e) {
  const t = e.trend;
  if (Array.isArray(t)) return sparkline(t.map((x) => (typeof x === "number" ? x : x.count || 0)), { width: 80, height: 18 });
  if (t && typeof t === "object" && Array.isArray(t.buckets)) return sparkline(t.buckets.map((b) => b.count || 0), { width: 80, height: 18 });
  if (typeof t === "number") return h("span", { class: t > 0 ? "up" : t < 0 ? "down" : "" }, ` ${t > 0 ? "↑" : t < 0 ? "↓" : "→"}${Math.abs(t * 100).toFixed(0)}%`);
  if (typeof t === "string") return h("span", { class: "trend" }, ` ${({ rising: "↑ 上升", falling: "↓ 回落", stable: "→ 平稳", steady: "→ 平稳", quiet: "· 平息", new: "★ 新发" })[t] || t}`);
  return null;
}
