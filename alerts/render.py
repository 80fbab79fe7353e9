"""Notification text in Chinese: subject, plain text, HTML (escaped), a short form for SMS/robots.

The payload is rendered once when a group is flushed and stored in the outbox row, so a retry
sends exactly the same message and nothing has to be recomputed after a restart.
"""

from __future__ import annotations

import html
from datetime import datetime
from typing import Any

from alerts.state import SEVERITY_ZH, STATUS_ZH
from core.schema import SHANGHAI, Post

REASON_ZH = {
    "firing": "新预警",
    "refire": "持续预警",
    "resolved": "已办结",
    "escalation": "升级提醒（超时未确认）",
    "revisit": "回访提醒",
    "overdue": "超期提醒（处置时限已到，尚未办结）",
    "digest": "预警汇总",
    "operator": "系统运维告警",
}
KEY_ZH = {
    "grid_id": "网格",
    "street": "街道",
    "community": "社区",
    "category": "类别",
    "event_id": "事件",
    "source": "来源",
    "source_type": "来源类型",
    "district": "区县",
    "risk": "风险",
    "sentiment": "情感",
}


def fmt_time(ts: float | None) -> str:
    if not ts:
        return "-"
    return datetime.fromtimestamp(ts, SHANGHAI).strftime("%m-%d %H:%M")


def alert_link(public_url: str, alert_id: int) -> str:
    return f"{public_url.rstrip('/')}/ui/#/alerts/{alert_id}"


def _numbers(a: dict[str, Any]) -> str:
    parts = []
    if a.get("observed") is not None:
        parts.append(f"观测 {a['observed']:g}")
    if a.get("baseline") is not None:
        parts.append(f"基线 {a['baseline']:.2f}")
    if a.get("probability") is not None:
        parts.append(f"尾概率 p={a['probability']:.2g}")
    return "，".join(parts)


def _where(a: dict[str, Any]) -> str:
    key_name = KEY_ZH.get(a.get("key_field") or "", "对象")
    place = " ".join(x for x in (a.get("street"), a.get("community")) if x)
    out = f"{key_name}：{a['key']}" if a.get("key_field") else ""
    if place and place not in out:
        out = f"{out}（{place}）" if out else place
    return out


def render(
    alerts: list[dict[str, Any]],
    evidence: dict[int, list[Post]],
    reason: str,
    public_url: str,
) -> dict[str, Any]:
    """One message for a group of alerts (1 or more)."""
    top = max(alerts, key=lambda a: ("info", "warning", "critical").index(a["severity"]))
    sev = SEVERITY_ZH.get(top["severity"], top["severity"])
    why = REASON_ZH.get(reason, reason)
    if len(alerts) == 1:
        subject = f"【{sev}】{why}：{top['title']}"
    else:
        subject = f"【{sev}】{why}：{len(alerts)} 条预警（{top['title']} 等）"
    lines = [f"舆情预警 · {why}", ""]
    blocks = []
    for a in alerts:
        link = alert_link(public_url, a["id"])
        head = f"[{SEVERITY_ZH.get(a['severity'], a['severity'])}] {a['title']}"
        meta = [
            f"编号 {a['id']} · 规则 {a['rule']} · 状态 {STATUS_ZH.get(a['status'], a['status'])}",
            f"{_where(a)}  首次 {fmt_time(a['first_at'])}  最近 {fmt_time(a['last_at'])}",
        ]
        if _numbers(a):
            meta.append(_numbers(a))
        if a.get("summary"):
            meta.append(a["summary"])
        posts = evidence.get(a["id"], [])
        ev_lines = []
        for p in posts:
            text = p.full_text.replace("\n", " ")
            ev_lines.append(
                f"  - {p.published_at.astimezone(SHANGHAI).strftime('%m-%d %H:%M')} "
                f"{p.source}：{text[:80]}{'…' if len(text) > 80 else ''}"
                + (f" {p.url}" if p.url else "")
            )
        lines += [head, *meta]
        if ev_lines:
            lines += ["  证据：", *ev_lines]
        lines += [f"  处置：{link}", ""]
        ev_html = "".join(
            f"<li>{html.escape(p.published_at.astimezone(SHANGHAI).strftime('%m-%d %H:%M'))} "
            f"<b>{html.escape(p.source)}</b>：{html.escape(p.full_text[:160])}"
            + (f' <a href="{html.escape(p.url)}">原文</a>' if p.url else "")
            + "</li>"
            for p in posts
        )
        blocks.append(
            f"<div style='margin:12px 0;padding:8px;border-left:4px solid "
            f"{'#c0392b' if a['severity'] == 'critical' else '#e67e22' if a['severity'] == 'warning' else '#2980b9'}'>"
            f"<h3 style='margin:0'>{html.escape(head)}</h3>"
            + "".join(f"<p style='margin:2px 0'>{html.escape(m)}</p>" for m in meta)
            + (f"<p>证据：</p><ul>{ev_html}</ul>" if ev_html else "")
            + f"<p><a href='{html.escape(link)}'>查看并处置</a></p></div>"
        )
    lines.append("本邮件由 yuqing 舆情监测预警系统自动发送。")
    text = "\n".join(lines)
    body_html = (
        f"<html><body><h2>{html.escape(subject)}</h2>{''.join(blocks)}"
        "<p style='color:#888'>本邮件由 yuqing 舆情监测预警系统自动发送。</p></body></html>"
    )
    if len(alerts) == 1:
        short = f"{top['title']}。{_where(top)} {_numbers(top)}".strip()
    else:
        short = "；".join(a["title"] for a in alerts[:5]) + (" 等" if len(alerts) > 5 else "")
    return {
        "subject": subject,
        "text": text,
        "html": body_html,
        "short": short,
        "severity": top["severity"],
        "severity_zh": sev,
        "reason": reason,
        "title": top["title"] if len(alerts) == 1 else f"{len(alerts)} 条预警",
        "link": alert_link(public_url, top["id"]),
        "alerts": [
            {
                k: a.get(k)
                for k in (
                    "id",
                    "rule",
                    "severity",
                    "status",
                    "title",
                    "key_field",
                    "key",
                    "street",
                    "grid_id",
                    "category",
                    "observed",
                    "baseline",
                    "probability",
                )
            }
            for a in alerts
        ],
    }
