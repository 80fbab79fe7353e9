// Full-text search with filters, highlighted hits, and the post detail with label correction.

import { api, describe } from "./api.js";
import { h, clear, append, highlighted, safeLink, toast } from "./dom.js";
import {
  SOURCE_TYPE, SENTIMENT, RISK, CATEGORY, GEO_LEVEL, GEO_METHOD, RISK_KIND, LINES,
  zh, fmtTime, fmtNum, pct,
} from "./labels.js";

export function sourceTypeParam(value) {
  const line = LINES.find((l) => l.key === value);
  return line ? line.types : value || undefined;
}

export function postMeta(p) {
  const geo = p.geo || {};
  return h("div", { class: "meta" },
    h("span", { class: `st st-${p.source_type}` }, zh(SOURCE_TYPE, p.source_type)),
    h("span", {}, p.source),
    h("time", {}, fmtTime(p.published_at)),
    p.sentiment ? h("span", { class: `sent sent-${p.sentiment.label}` }, zh(SENTIMENT, p.sentiment.label)) : null,
    p.category ? h("span", { class: "cat" }, p.category.name || zh(CATEGORY, p.category.label)) : null,
    p.risk && p.risk.level !== "none" ? h("span", { class: `risk risk-${p.risk.level}` }, zh(RISK, p.risk.level)) : null,
    geo.street || geo.community ? h("span", { class: "where" }, [geo.street, geo.community].filter(Boolean).join(" · ")) : null,
  );
}

export class Search {
  constructor({ form, results, more, status, getFilters, detail }) {
    Object.assign(this, { form, results, more, status, getFilters, detail });
    form.addEventListener("submit", (e) => { e.preventDefault(); this.run(); });
    more.addEventListener("click", () => this.run(this.cursor));
  }

  params(cursor) {
    const f = this.form.elements;
    return {
      ...this.getFilters(),
      q: this.form.querySelector("#q").value.trim() || undefined,
      source_type: sourceTypeParam(f["s-source-type"]?.value ?? this.form.querySelector("#s-source-type").value),
      sentiment: this.form.querySelector("#s-sentiment").value || undefined,
      category: this.form.querySelector("#s-category").value || undefined,
      risk: this.form.querySelector("#s-risk").value || undefined,
      sort: this.form.querySelector("#s-sort").value,
      size: 20,
      cursor,
    };
  }

  async run(cursor) {
    if (!cursor) clear(this.results);
    this.status.textContent = "检索中…";
    this.more.hidden = true;
    try {
      const data = await api("/posts", { params: this.params(cursor) });
      const total = `${data.total_relation === "gte" ? "≥" : ""}${fmtNum(data.total)}`;
      this.status.textContent = `共 ${total} 条`;
      for (const hit of data.hits) this.results.append(this.hitItem(hit));
      if (!data.hits.length && !cursor) this.results.append(h("li", { class: "empty" }, "没有符合条件的结果"));
      this.cursor = data.next_cursor;
      this.more.hidden = !this.cursor;
    } catch (err) {
      this.status.textContent = describe(err);
    }
  }

  hitItem(hit) {
    const p = hit.post;
    const hl = hit.highlights || {};
    const title = hl.title ? highlighted(hl.title) : p.title || "";
    const text = hl.text ? highlighted(hl.text) : (p.text || "").slice(0, 160);
    return h("li", { class: "hit", "data-post-id": p.id },
      h("a", { href: "#", class: "hit-title", onclick: (e) => { e.preventDefault(); this.detail.open(p.id); } },
        title || `${zh(SOURCE_TYPE, p.source_type)} · ${fmtTime(p.published_at)}`),
      h("p", { class: "snippet" }, text),
      postMeta(p),
      hit.duplicate_count ? h("span", { class: "dups" }, `转载 ${hit.duplicate_count} 次`) : null);
  }
}

export class Detail {
  constructor({ dialog, can }) {
    this.dialog = dialog;
    this.can = can || {};
    dialog.addEventListener("click", (e) => { if (e.target === dialog) dialog.close(); });
  }

  async open(id) {
    clear(this.dialog);
    this.dialog.append(h("div", { class: "status" }, "加载中…"));
    if (!this.dialog.open) this.dialog.showModal();
    try {
      const p = await api(`/posts/${encodeURIComponent(id)}`);
      this.render(p);
    } catch (err) {
      clear(this.dialog).append(h("div", { class: "error" }, describe(err)), this.closeBtn());
    }
  }

  closeBtn() {
    return h("button", { type: "button", class: "ghost close", onclick: () => this.dialog.close() }, "关闭");
  }

  render(p) {
    const d = clear(this.dialog);
    d.dataset.postId = p.id;
    const s = p.sentiment, c = p.category, r = p.risk, g = p.geo || {};
    const eng = p.engagement || {};
    append(d, [
      h("div", { class: "d-head" }, h("h2", { class: "d-title" }, p.title || `${zh(SOURCE_TYPE, p.source_type)} · ${p.source}`), this.closeBtn()),
      postMeta(p),
      h("p", { class: "d-text" }, p.text),
      h("dl", { class: "d-facts" },
        fact("来源", [zh(SOURCE_TYPE, p.source_type), " · ", p.source]),
        p.url ? fact("原文", safeLink(p.url)) : null,
        fact("发布时间", fmtTime(p.published_at)),
        fact("互动", `赞 ${fmtNum(eng.likes)} · 转 ${fmtNum(eng.reposts)} · 评 ${fmtNum(eng.comments)}`),
        p.address ? fact("地址", p.address) : null,
        p.duplicate_count ? fact("转载", `${p.duplicate_count} 次`) : null,
        p.event_id ? fact("事件", p.event_id) : null,
        p.keywords && p.keywords.length ? fact("关键词", p.keywords.slice(0, 12).join("、")) : null),
      h("section", { class: "enrich" },
        h("div", { class: "e-block e-sentiment" },
          h("h4", {}, "情感"),
          s ? [h("div", { class: `sent sent-${s.label}`, "data-field": "sentiment" }, `${zh(SENTIMENT, s.label)}（${pct(s.score)}）`),
            probBars(s.probs), h("div", { class: "ver" }, `模型 ${s.model_version || "—"}`)] : h("div", {}, "未分析")),
        h("div", { class: "e-block e-category" },
          h("h4", {}, "类别"),
          c ? [h("div", { "data-field": "category" }, `${c.name || zh(CATEGORY, c.label)}（${pct(c.score)}）`),
            h("div", { class: "ver" }, `模型 ${c.model_version || "—"}`)] : h("div", {}, "未分类")),
        h("div", { class: "e-block e-risk" },
          h("h4", {}, "风险"),
          r ? [h("div", { class: `risk risk-${r.level}`, "data-field": "risk" }, `${zh(RISK, r.level)}（${(r.score || 0).toFixed(2)}）`),
            h("ul", { class: "signals" }, (r.signals || []).map((sig) => h("li", {},
              h("b", {}, zh(RISK_KIND, sig.kind)), "：", h("span", { class: "words" }, (sig.words || []).join("、") || "—"),
              h("span", { class: "rule" }, ` 规则 ${sig.rule}`), ` · ${zh(RISK, sig.level)}`)))] : h("div", {}, "未分析")),
        h("div", { class: "e-block e-geo" },
          h("h4", {}, "定位"),
          h("div", {}, `${zh(GEO_LEVEL, g.level)}：${[g.street, g.community, g.grid_id].filter(Boolean).join(" · ") || "—"}`),
          h("div", { class: "ver" }, `方法 ${zh(GEO_METHOD, g.method)}，置信度 ${g.confidence != null ? Number(g.confidence).toFixed(2) : "—"}`),
          g.matched && g.matched.length ? h("div", { class: "ver" }, `命中：${g.matched.join("、")}`) : null)),
      this.can.label ? this.labelForm(p) : null,
    ]);
  }

  labelForm(p) {
    const cur = { sentiment: p.sentiment?.label, category: p.category?.label, risk: p.risk?.level };
    const note = h("input", { type: "text", maxlength: 2000, placeholder: "更正说明（可选）", class: "label-note" });
    const send = async (field, value) => {
      try {
        const res = await api(`/posts/${encodeURIComponent(p.id)}/labels`, {
          method: "POST", body: { [field]: value, note: note.value.trim() || undefined },
        });
        toast("已更正，谢谢", "ok");
        this.render(res.post || (await api(`/posts/${encodeURIComponent(p.id)}`)));
      } catch (err) {
        toast(describe(err), "error");
      }
    };
    const group = (field, title, table) => h("div", { class: "lf-group", "data-label-field": field },
      h("span", {}, title),
      Object.entries(table).map(([code, name]) => h("button", {
        type: "button", class: code === cur[field] ? "on" : "", "data-value": code,
        "aria-pressed": code === cur[field] ? "true" : "false",
        onclick: () => { if (code !== cur[field]) send(field, code); },
      }, name)));
    const cat = h("select", { "aria-label": "更正类别", class: "label-category" },
      h("option", { value: "" }, "改为类别…"),
      Object.entries(CATEGORY).map(([code, name]) => h("option", { value: code, selected: code === cur.category }, name)));
    cat.addEventListener("change", () => { if (cat.value && cat.value !== cur.category) send("category", cat.value); });
    return h("section", { class: "label-form" },
      h("h4", {}, "标注更正（分析员）"),
      group("sentiment", "情感", SENTIMENT),
      group("risk", "风险", RISK),
      h("div", { class: "lf-group" }, h("span", {}, "类别"), cat),
      note);
  }
}

function fact(name, value) {
  return [h("dt", {}, name), h("dd", {}, value)];
}

function probBars(probs) {
  const entries = Object.entries(probs || {});
  if (!entries.length) return null;
  return h("div", { class: "probs" }, entries.map(([k, v]) => h("div", { class: "prob" },
    h("span", {}, zh(SENTIMENT, k)),
    h("span", { class: "bar" }, h("i", { class: `sent-${k}`, style: `width:${Math.round(v * 100)}%` })),
    h("span", {}, pct(v)))));
}
