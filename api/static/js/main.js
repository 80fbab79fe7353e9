// Entry: login, shared filters, and the wiring between map, alert feed, trends and search.

import { api, describe, session } from "./api.js";
import { h, $, clear, append, toast } from "./dom.js";
import { GridMap, METRICS } from "./map.js";
import { AlertFeed, listOf } from "./alerts.js";
import { Trends } from "./trends.js";
import { Search, Detail, postMeta } from "./search.js";
import { sparkline } from "./chart.js";
import { CATEGORY, OPEN_STATUSES, SEVERITY, fmtNum, fmtTime, zh } from "./labels.js";

const state = { me: null, filters: { window: "7d", street: "", community: "" }, grids: null, autoLevel: true };
let map, feed, trends, search, detail;

function filters() {
  const f = state.filters;
  return { window: f.window, street: f.street || undefined, community: f.community || undefined };
}

// ---- login -------------------------------------------------------------------------------------

async function login(key) {
  session.key = key;
  try {
    state.me = await api("/whoami");
  } catch (err) {
    session.key = null;
    throw err;
  }
}

function showLogin(message = "") {
  if (feed) feed.stop();
  $("#app").hidden = true;
  $("#controls").hidden = true;
  $("#login").hidden = false;
  $("#login-error").textContent = message;
  $("#login-key").focus();
}

window.addEventListener("yuqing:unauthorized", () => {
  session.key = null;
  showLogin("密钥无效或已吊销，请重新登录");
});

$("#login-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const key = $("#login-key").value.trim();
  if (!key) return;
  try {
    await login(key);
    $("#login-key").value = "";
    start();
  } catch (err) {
    $("#login-error").textContent = err.status === 401 ? "密钥无效或已吊销" : describe(err);
  }
});

$("#logout").addEventListener("click", () => {
  session.key = null;
  state.me = null;
  showLogin("已退出");
});

// ---- start -------------------------------------------------------------------------------------

const ROLE_ZH = { viewer: "查看员", analyst: "分析员", officer: "值班员", admin: "管理员" };

function start() {
  $("#login").hidden = true;
  $("#app").hidden = false;
  $("#controls").hidden = false;
  document.body.dataset.role = state.me.role;
  $("#whoami").textContent = `${state.me.name} · ${ROLE_ZH[state.me.role] || state.me.role}`;
  detail.can = state.me.can;
  feed.start(state.me.can);
  // map and feed first (the first screen); trends once the map is in, or after 1.5 s at most
  const map0 = loadMap();
  Promise.race([map0, new Promise((r) => setTimeout(r, 1500))])
    .then(() => trends.load(filters()))
    .finally(() => { document.body.dataset.trendsReady = "1"; });
}

// ---- map ---------------------------------------------------------------------------------------

function hasCounts(features) {
  return features.some((f) => typeof (f.properties || {}).count === "number" || typeof (f.properties || {}).negative === "number");
}

async function loadMap() {
  const status = $("#map-status");
  status.textContent = "加载中…";
  try {
    const fc = await api("/grids", { params: { window: state.filters.window, simplify: 5 } });
    state.grids = fc;
    map.setGrids(fc);
    const features = fc.features || [];
    if (!hasCounts(features)) await loadCounts();
    if (map.metric === "risk") await loadRisk();
    fillStreetOptions(features);
    let note = "";
    if (state.autoLevel && map.level === "grid" && typeof fc.count === "number" && fc.count === 0) {
      // most posts name a community or street, not a grid: show where they are rather than an empty map
      $("#map-level").value = "community";
      note = "（网格级暂无定位数据，已按社区汇总）";
    }
    state.autoLevel = false;
    await loadAggregate();
    status.textContent = `${fmtNum(features.length)} 个网格${note}`;
    performance.mark("yq-map-drawn");
    document.body.dataset.mapReady = "1";
    if (!state.streets) {
      // the street base is drawn underneath once it arrives; the grids do not wait for it
      api("/dashboard/streets").then((st) => { state.streets = st; map.setStreets(st); })
        .catch((err) => { status.textContent += `；街道底图不可用（${describe(err)}）`; });
    }
  } catch (err) {
    status.textContent = err.missing ? "网格服务未启用（暂无数据）" : describe(err);
    performance.mark("yq-map-drawn");
    document.body.dataset.mapReady = "error";
  }
}

async function loadAggregate() {
  const level = $("#map-level").value;
  if (level === "grid") { map.setAggregate("grid"); return; }
  const table = new Map();
  const add = (key, field, n) => {
    if (!table.has(key)) table.set(key, { count: 0, negative: 0, risk_posts: 0, open_alerts: 0 });
    table.get(key)[field] += n;
  };
  const w = { window: state.filters.window, size: 5000 };
  const streets = [...(state.streetIndex || new Map()).keys()];
  const jobs = level === "street"
    ? [[{ field: "street" }, (b) => b.key]]
    : streets.map((s) => [{ field: "community", street: s }, (b) => `${s}|${b.key}`]);
  await Promise.all(jobs.map(async ([params, keyOf]) => {
    const [all, risky] = await Promise.all([
      api("/stats/breakdown", { params: { ...w, ...params } }),
      api("/stats/breakdown", { params: { ...w, ...params, risk: "critical" } }),
    ]);
    for (const b of all.buckets || []) { add(keyOf(b), "count", b.count); add(keyOf(b), "negative", b.negative); }
    for (const b of risky.buckets || []) add(keyOf(b), "risk_posts", b.count);
  }));
  for (const a of feed.alerts || []) {
    if (!OPEN_STATUSES.includes(a.status) || !a.street) continue;
    add(level === "street" ? a.street : `${a.street}|${a.community || ""}`, "open_alerts", 1);
  }
  map.setAggregate(level, table);
}

async function breakdownByGrid(params) {
  const data = await api("/stats/breakdown", { params: { window: state.filters.window, field: "grid_id", size: 5000, ...params } });
  return data.buckets || [];
}

async function loadCounts() {
  const values = new Map();
  for (const b of await breakdownByGrid({})) values.set(b.key, { count: b.count, negative: b.negative });
  map.updateValues(values);
}

async function loadRisk() {
  const values = new Map();
  for (const id of map.paths.keys()) values.set(id, { risk_posts: 0 });
  for (const b of await breakdownByGrid({ risk: "critical" })) values.set(b.key, { risk_posts: b.count });
  map.updateValues(values);
}

function fillStreetOptions(features) {
  const streets = new Map();
  for (const f of features) {
    const p = f.properties || {};
    if (!p.street) continue;
    if (!streets.has(p.street)) streets.set(p.street, new Set());
    if (p.community) streets.get(p.street).add(p.community);
  }
  state.streetIndex = streets;
  const sel = $("#f-street");
  const current = sel.value;
  append(clear(sel), h("option", { value: "" }, "全部街道"),
    [...streets.keys()].sort((a, b) => a.localeCompare(b, "zh-CN")).map((s) => h("option", { value: s, selected: s === current }, s)));
  fillCommunityOptions();
}

function fillCommunityOptions() {
  const sel = $("#f-community");
  const street = state.filters.street;
  const names = new Set();
  for (const [s, cs] of state.streetIndex || []) if (!street || s === street) cs.forEach((c) => names.add(c));
  const current = state.filters.community;
  append(clear(sel), h("option", { value: "" }, "全部社区"),
    [...names].sort((a, b) => a.localeCompare(b, "zh-CN")).map((c) => h("option", { value: c, selected: c === current }, c)));
}

// ---- the grid panel ----------------------------------------------------------------------------

async function openGrid(id, feature) {
  map.select(id);
  const p = (feature && feature.properties) || {};
  const panel = $("#grid-panel");
  panel.hidden = false;
  panel.dataset.gridId = id;
  const posts = h("ol", { class: "g-posts" }, h("li", { class: "status" }, "加载中…"));
  const alertsBox = h("ol", { class: "g-alerts" });
  const trend = h("div", { class: "g-trend" });
  clear(panel);
  append(panel, [
    h("div", { class: "g-head" },
      h("h3", {}, p.name || id),
      h("button", { type: "button", class: "ghost close", onclick: closeGrid, title: "关闭" }, "×")),
    h("div", { class: "g-where" }, `${p.street || "—"} · ${p.community || "—"}${p.kind === "special" ? " · 专属网格" : ""}`),
    h("div", { class: "g-id" }, `编号 ${id}`),
    h("div", { class: "g-nums" },
      ["count", "negative", "risk", "alerts"].map((m) => h("div", {},
        h("b", {}, fmtNum(METRICS[m].get(p))), h("span", {}, METRICS[m].name)))),
    h("h4", {}, "走势"), trend,
    h("h4", {}, "未办结预警"), alertsBox,
    h("h4", {}, "最新帖子"), posts,
  ]);
  const interval = state.filters.window === "30d" ? "day" : "hour";
  api("/stats/timeline", { params: { window: state.filters.window, grid: id, interval } })
    .then((d) => { clear(trend).append(sparkline((d.buckets || []).map((b) => b.count), { width: 300, height: 48 })); })
    .catch((err) => { trend.textContent = describe(err); });
  const open = (feed.alerts || []).filter((a) => a.grid_id === id && OPEN_STATUSES.includes(a.status));
  api("/alerts", { params: { grid: id, status: "open", limit: 20 } })
    .then((d) => renderGridAlerts(alertsBox, listOf(d, "alerts", "items").filter((a) => !a.grid_id || a.grid_id === id)))
    .catch((err) => (err.missing ? renderGridAlerts(alertsBox, open, "预警服务未启用") : renderGridAlerts(alertsBox, open)));
  try {
    const d = await api("/posts", { params: { window: state.filters.window, grid: id, size: 8, sort: "time" } });
    clear(posts);
    if (!d.hits.length) posts.append(h("li", { class: "empty" }, "该时间窗内暂无帖子"));
    for (const hit of d.hits) {
      const post = hit.post;
      posts.append(h("li", {},
        h("a", { href: "#", onclick: (e) => { e.preventDefault(); detail.open(post.id); } }, post.title || post.text.slice(0, 40)),
        postMeta(post)));
    }
  } catch (err) {
    clear(posts).append(h("li", { class: "error" }, describe(err)));
  }
}

function renderGridAlerts(box, alerts, note) {
  clear(box);
  if (!alerts.length) box.append(h("li", { class: "empty" }, note || "无"));
  for (const a of alerts) {
    box.append(h("li", { class: `sev-${a.severity}` },
      h("span", { class: "sev" }, zh(SEVERITY, a.severity)), " ", a.title || a.rule, h("span", { class: "meta" }, ` ${fmtTime(a.last_at)}`)));
  }
}

function closeGrid() {
  $("#grid-panel").hidden = true;
  map.select(null);
}

// ---- wiring ------------------------------------------------------------------------------------

function switchTab(name) {
  for (const b of document.querySelectorAll("[data-tab]")) b.setAttribute("aria-selected", String(b.dataset.tab === name));
  $("#tab-trends").hidden = name !== "trends";
  $("#tab-search").hidden = name !== "search";
  if (name === "trends") trends.drawTimeline();
}

function searchFor(q) {
  $("#q").value = q;
  switchTab("search");
  search.run();
}

function init() {
  map = new GridMap({ svg: $("#map"), wrap: $("#map-wrap"), tip: $("#map-tip"), legend: $("#map-legend"), onSelect: openGrid });
  detail = new Detail({ dialog: $("#detail") });
  feed = new AlertFeed({ list: $("#alert-feed"), live: $("#alert-live"), statusSelect: $("#alert-status"), onOpenPost: (id) => detail.open(id),
    onChange: (alerts) => {
      if (!map.paths.size) return;
      const open = new Map();
      for (const a of alerts) if (a.grid_id && OPEN_STATUSES.includes(a.status)) open.set(a.grid_id, (open.get(a.grid_id) || 0) + 1);
      if (!state.grids || hasAlertCounts(state.grids.features)) return;
      const values = new Map();
      for (const id of map.paths.keys()) values.set(id, { open_alerts: open.get(id) || 0 });
      map.updateValues(values);
    } });
  trends = new Trends({
    chart: $("#trend-chart"), summary: $("#trend-summary"), split: $("#trend-split"), measure: $("#trend-measure"),
    status: $("#trend-status"), cats: $("#cat-bars"), catStatus: $("#cat-status"), events: $("#events"),
    eventsStatus: $("#events-status"), keywords: $("#keywords"), kwStatus: $("#kw-status"),
  });
  trends.onKeyword = searchFor;
  trends.onEvent = (e) => { $("#q").value = ""; search.extra = { event: e.id }; switchTab("search"); search.run(); search.extra = null; };
  search = new Search({
    form: $("#search-form"), results: $("#results"), more: $("#more"), status: $("#search-status"), detail,
    getFilters: () => ({ ...filters(), ...(search.extra || {}) }),
  });
  const cat = $("#s-category");
  for (const [code, name] of Object.entries(CATEGORY)) cat.append(h("option", { value: code }, name));

  $("#f-window").addEventListener("change", (e) => {
    state.filters.window = e.target.value;
    closeGrid();
    loadMap();
    trends.load(filters());
  });
  $("#f-street").addEventListener("change", (e) => {
    state.filters.street = e.target.value;
    state.filters.community = "";
    fillCommunityOptions();
    map.setFocus(state.filters.street, "");
    trends.load(filters());
  });
  $("#f-community").addEventListener("change", (e) => {
    state.filters.community = e.target.value;
    if (e.target.value && !state.filters.street) {
      for (const [s, cs] of state.streetIndex || []) if (cs.has(e.target.value)) { state.filters.street = s; break; }
      fillStreetOptions(state.grids?.features || []);
    }
    map.setFocus(state.filters.street, state.filters.community);
    trends.load(filters());
  });
  $("#map-metric").addEventListener("change", async (e) => {
    const m = e.target.value;
    map.setMetric(m);
    if (m === "risk") { try { await loadRisk(); } catch (err) { toast(describe(err), "error"); } }
  });
  $("#map-level").addEventListener("change", () => loadAggregate().catch((err) => toast(describe(err), "error")));
  $("#zoom-in").addEventListener("click", () => map.zoom(1.5));
  $("#zoom-out").addEventListener("click", () => map.zoom(1 / 1.5));
  $("#zoom-reset").addEventListener("click", () => map.reset());
  for (const b of document.querySelectorAll("[data-tab]")) b.addEventListener("click", () => switchTab(b.dataset.tab));
  $("#quick-search").addEventListener("submit", (e) => { e.preventDefault(); searchFor($("#q-top").value.trim()); });
  document.addEventListener("keydown", (e) => { if (e.key === "Escape" && !$("#detail").open) closeGrid(); });

  if (session.key) {
    login(session.key).then(start).catch((err) => showLogin(err.status === 401 ? "密钥无效或已吊销" : describe(err)));
  } else {
    showLogin();
  }
}

function hasAlertCounts(features) {
  return (features || []).some((f) => typeof (f.properties || {}).open_alerts === "number");
}

init();
