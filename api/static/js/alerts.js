// The alert feed: newest first, live over server-sent events, with officer actions.

import { api, describe, session } from "./api.js";
import { h, clear, append, toast, debounce } from "./dom.js";
import { SEVERITY, STATUS, OPEN_STATUSES, zh, fmtTime, fmtNum, CATEGORY } from "./labels.js";

const NUM_NAMES = {
  observed: "观测值", baseline: "基线", probability: "尾概率", count: "数量", share: "负面占比",
  expected: "期望", window: "窗口", min_count: "最小量", margin: "阈值差", rate: "增速",
  posts: "帖数", sources: "来源数", growth: "增长",
};

export function listOf(data, ...names) {
  if (Array.isArray(data)) return data;
  for (const n of names) if (data && Array.isArray(data[n])) return data[n];
  return [];
}

function fmtStat(k, v) {
  if (k === "probability") return v < 0.001 ? v.toExponential(1) : v.toFixed(3);
  if (k === "share" || k.endsWith("_share")) return `${(v * 100).toFixed(1)}%`;
  return fmtNum(v, 2);
}

export class AlertFeed {
  constructor({ list, live, statusSelect, onOpenPost, onChange }) {
    Object.assign(this, { list, live, statusSelect, onOpenPost, onChange });
    this.alerts = [];
    this.seen = new Set();
    this.first = true;
    this.refreshSoon = debounce(() => this.refresh(), 250);
    statusSelect.addEventListener("change", () => this.refresh());
  }

  start(can) {
    this.can = can || {};
    this.refresh();
    this.connect();
    clearInterval(this.poll);
    this.poll = setInterval(() => this.refresh(), 60000); // safety net besides the stream
  }

  stop() {
    clearInterval(this.poll);
    if (this.source) this.source.close();
    this.source = null;
  }

  connect() {
    if (this.source) this.source.close();
    if (!window.EventSource) { this.fallback("浏览器不支持实时推送，定时刷新"); return; }
    // EventSource cannot send headers: the stream accepts the key as ?api_key=
    const src = new EventSource(`/api/v1/alerts/stream?api_key=${encodeURIComponent(session.key || "")}`);
    this.source = src;
    const onEvent = (e) => {
      this.setLive("实时", "ok");
      if (e.type !== "open" && e.type !== "ping" && e.type !== "heartbeat") this.refreshSoon();
    };
    src.onopen = () => this.setLive("实时", "ok");
    src.onmessage = onEvent;
    for (const name of ["alert", "alert.fired", "alert.updated", "fired", "updated", "transition", "update"]) {
      src.addEventListener(name, onEvent);
    }
    src.onerror = () => {
      if (src.readyState === EventSource.CLOSED) {
        this.fallback("实时推送未启用，每 15 秒刷新");
      } else {
        this.setLive("重连中…", "warn");
      }
    };
  }

  fallback(text) {
    this.setLive(text, "warn");
    if (this.source) this.source.close();
    this.source = null;
    clearInterval(this.poll);
    this.poll = setInterval(() => this.refresh(), 15000);
    clearTimeout(this.retry);
    this.retry = setTimeout(() => this.connect(), 60000);
  }

  setLive(text, kind) {
    this.live.textContent = text;
    this.live.className = `live ${kind}`;
  }

  async refresh() {
    const all = this.statusSelect.value === "all";
    try {
      const data = await api("/alerts", {
        params: { status: all ? undefined : "open", limit: 100 },
      });
      this.alerts = listOf(data, "alerts", "items", "results")
        .sort((a, b) => (b.last_at || b.first_at || 0) - (a.last_at || a.first_at || 0));
      this.render();
      this.drawn();
      if (this.onChange) this.onChange(this.alerts);
    } catch (err) {
      clear(this.list);
      this.list.append(h("li", { class: "empty" }, err.missing ? "预警服务未启用（暂无数据）" : describe(err)));
      if (err.missing) this.setLive("服务未启用", "warn");
      this.drawn();
    }
  }

  drawn() {
    // first paint of the feed, for the first-screen benchmark
    if (!performance.getEntriesByName("yq-feed-drawn").length) performance.mark("yq-feed-drawn");
    document.body.dataset.feedReady = "1";
  }

  render() {
    const openEl = new Set([...this.list.querySelectorAll("li.alert.expanded")].map((e) => e.dataset.alertId));
    clear(this.list);
    if (!this.alerts.length) {
      this.list.append(h("li", { class: "empty" }, "暂无预警"));
    }
    for (const a of this.alerts) {
      const id = String(a.id);
      const isNew = !this.first && !this.seen.has(id);
      this.seen.add(id);
      const li = this.card(a, isNew);
      this.list.append(li);
      if (openEl.has(id)) this.toggleEvidence(li, a);
    }
    this.first = false;
  }

  card(a, isNew) {
    const sev = a.severity || "info";
    const nums = [];
    for (const k of ["observed", "baseline", "probability"]) {
      if (typeof a[k] === "number") nums.push(h("span", { class: "num" }, `${NUM_NAMES[k]} `, h("b", {}, fmtStat(k, a[k]))));
    }
    for (const [k, v] of Object.entries(a.details || {})) {
      if (typeof v === "number" && nums.length < 7 && !["observed", "baseline", "probability"].includes(k)) {
        nums.push(h("span", { class: "num" }, `${NUM_NAMES[k] || k} `, h("b", {}, fmtStat(k, v))));
      }
    }
    const where = [a.street, a.community, a.grid_id ? `网格 ${a.grid_id}` : null].filter(Boolean).join(" · ");
    const li = h("li", {
      class: `alert sev-${sev} st-${a.status}${isNew ? " new" : ""}`,
      "data-alert-id": a.id, "data-status": a.status, "data-rule": a.rule,
    },
      h("div", { class: "a-head" },
        h("span", { class: "sev" }, a.severity_zh || zh(SEVERITY, sev)),
        h("span", { class: "st" }, a.status_zh || zh(STATUS, a.status)),
        a.category ? h("span", { class: "cat" }, zh(CATEGORY, a.category)) : null,
        a.occurrence > 1 ? h("span", { class: "occ" }, `第 ${a.occurrence} 次`) : null,
        h("time", {}, fmtTime(a.last_at || a.first_at))),
      h("div", { class: "a-title" }, a.title || a.rule),
      where ? h("div", { class: "a-where" }, where) : null,
      a.summary ? h("div", { class: "a-summary" }, a.summary) : null,
      nums.length ? h("div", { class: "a-nums" }, nums) : null,
      a.assignee ? h("div", { class: "a-assignee" }, `承办：${a.assignee}${a.deadline ? `，时限 ${fmtTime(a.deadline)}` : ""}`,
        a.status === "dispatched" && a.deadline && a.deadline * 1000 <= Date.now() ? h("span", { class: "overdue" }, "已超期") : null) : null,
      h("div", { class: "a-actions" }, this.actions(a)),
      h("div", { class: "a-form", hidden: true }),
      h("div", { class: "a-evidence", hidden: true }));
    return li;
  }

  actions(a) {
    const btns = [h("button", { type: "button", class: "ghost evidence-btn", onclick: (e) => this.toggleEvidence(e.target.closest("li"), a) }, "证据与经过")];
    if (!this.can.act_on_alerts) return btns;
    const open = OPEN_STATUSES.includes(a.status);
    if (a.status === "firing") btns.push(this.button("确认", "ack", a));
    if (open) btns.push(this.button("派单", "dispatch", a), this.button("办结", "resolve", a));
    btns.push(this.button("备注", "comment", a));
    return btns;
  }

  button(label, action, a) {
    return h("button", {
      type: "button", class: `act act-${action}`, "data-action": action,
      onclick: (e) => (action === "ack" ? this.act(a, "ack", {}) : this.form(e.target.closest("li"), a, action)),
    }, label);
  }

  form(li, a, action) {
    const box = li.querySelector(".a-form");
    clear(box);
    box.hidden = false;
    const note = h("input", { type: "text", name: "note", maxlength: 2000, placeholder: action === "resolve" ? "办结说明（必填）" : action === "comment" ? "备注内容" : "备注（可选）" });
    const fields = [];
    let assignee, hours;
    if (action === "dispatch") {
      assignee = h("input", { type: "text", name: "assignee", maxlength: 200, placeholder: "承办人/单位，如 网格员 张三" });
      hours = h("input", { type: "number", name: "hours", min: 1, max: 720, value: 24, title: "办理时限（小时）" });
      fields.push(assignee, h("label", {}, "时限(小时)", hours));
    }
    fields.push(note);
    const submit = h("button", { type: "submit" }, { dispatch: "派单", resolve: "办结", comment: "提交备注" }[action]);
    const cancel = h("button", { type: "button", class: "ghost", onclick: () => { box.hidden = true; clear(box); } }, "取消");
    const f = h("form", { class: `form-${action}` }, fields, submit, cancel);
    f.addEventListener("submit", (e) => {
      e.preventDefault();
      const body = { note: note.value.trim() || undefined };
      if (action === "dispatch") {
        if (!assignee.value.trim()) { toast("请填写承办人", "error"); return; }
        body.assignee = assignee.value.trim();
        body.deadline = `${Math.max(1, Math.round(Number(hours.value) || 24))}h`;
      }
      if ((action === "resolve" || action === "comment") && !body.note) { toast("请填写说明", "error"); return; }
      this.act(a, action, body);
    });
    box.append(f);
    note.focus();
  }

  async act(a, action, body) {
    try {
      await api(`/alerts/${encodeURIComponent(a.id)}/${action}`, { method: "POST", body });
      toast({ ack: "已确认", dispatch: "已派单", resolve: "已办结", comment: "已添加备注" }[action], "ok");
      await this.refresh();
    } catch (err) {
      toast(describe(err), "error");
    }
  }

  async toggleEvidence(li, a) {
    const box = li.querySelector(".a-evidence");
    if (!box.hidden && li.classList.contains("expanded")) {
      box.hidden = true; li.classList.remove("expanded"); return;
    }
    li.classList.add("expanded");
    box.hidden = false;
    clear(box).append(h("div", { class: "status" }, "加载中…"));
    try {
      const d = await api(`/alerts/${encodeURIComponent(a.id)}`);
      const detail = d.alert || d;
      const posts = listOf(d, "evidence", "posts", "evidence_posts");
      const events = listOf(d, "events", "history", "timeline");
      clear(box);
      box.append(h("div", { class: "ev-h" }, `证据（${posts.length}）`));
      const ul = h("ul", { class: "evidence" });
      for (const p0 of posts) {
        const p = p0.post || p0;
        if (typeof p === "string") { ul.append(h("li", {}, p)); continue; }
        ul.append(h("li", {},
          h("a", { href: "#", onclick: (e) => { e.preventDefault(); this.onOpenPost && this.onOpenPost(p.id); } },
            p.title || (p.text || "").slice(0, 60) || p.id),
          h("span", { class: "meta" }, ` ${fmtTime(p.published_at)}`)));
      }
      if (!posts.length) ul.append(h("li", { class: "empty" }, "无证据帖"));
      box.append(ul);
      if (detail.rule) box.append(h("div", { class: "meta" }, `规则：${detail.rule}（${detail.rule_type || ""}）· 首次 ${fmtTime(detail.first_at)}`));
      if (events.length) {
        box.append(h("div", { class: "ev-h" }, "处置经过"));
        box.append(h("ol", { class: "history" }, events.map((ev) => h("li", {},
          `${fmtTime(ev.at)} ${ev.actor || ""} ${ACTION_ZH[ev.action] || ev.action || ""}${ev.note ? `：${ev.note}` : ""}`))));
      }
    } catch (err) {
      clear(box).append(h("div", { class: "error" }, describe(err)));
    }
  }
}

const ACTION_ZH = {
  fire: "触发", fired: "触发", refire: "再次触发", ack: "确认", dispatch: "派单", resolve: "办结",
  revisit: "回访", comment: "备注", escalate: "升级", auto_resolve: "自动办结", notify: "通知",
  deadline_overdue: "超期提醒", revisit_due: "回访提醒", escalated: "升级", silenced: "静默", inhibited: "抑制",
};
