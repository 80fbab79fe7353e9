"""The alert engine: match rules on each processed batch, window rules on a timer, delivery.

Wiring (``yuqing run``): :func:`start_engine` is in ``core.services.WORKER_STARTERS``; it adds
:meth:`Engine.on_posts` as a processor listener (after the store upsert, before the inbox ack)
and starts two threads: ``alerts-window`` (window rules, auto-resolve, escalation, revisit
reminders; only the holder of the ``alerts-window`` lease row evaluates, so a second engine on
the same database stays idle) and ``alerts-delivery`` (group flush + outbox, safe to run in any
number of engines because both are atomic claims).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import sqlite3
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from alerts import evaluate as ev
from alerts import notify, outbox
from alerts.channels import Channels
from alerts.config import AlertsConfig, MatchRule, Route
from alerts.db import release_lease, thread_conn, try_lease
from alerts.render import KEY_ZH, fmt_time, render
from alerts.routing import list_contacts, sync_config_contacts
from alerts.rules import RuleSet, key_of, post_matches
from alerts.silences import inhibited_by, silenced_by
from alerts.state import Firing, event, evidence_ids, fire, get
from core.db import Tx
from core.schema import Post
from nlp.segment import index_tokens
from store.base import Store

log = logging.getLogger(__name__)
WINDOW_LEASE = "alerts-window"
OPERATOR_RULE = "__delivery"


def default_routes() -> list[Route]:
    return [Route(name="default", levels=["grid", "street"], channels=["email"])]


class Engine:
    def __init__(
        self,
        settings,
        store: Store,
        clock: Callable[[], float] = time.time,
        owner: str | None = None,
        channels: Channels | None = None,
    ) -> None:
        self.settings = settings
        self.cfg: AlertsConfig = settings.alerts
        self.store = store
        self.db_path = Path(settings.path(settings.app_db))
        self.clock = clock
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.ruleset = RuleSet(self.cfg)
        self.channels = channels or Channels(self.cfg.channels)
        self._rules: tuple[Any, list] = (None, [])
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.last_tick: dict[str, Any] = {}

    @property
    def conn(self) -> sqlite3.Connection:
        return thread_conn(self.db_path)

    # ---- configuration views --------------------------------------------------------------
    def rules(self) -> list:
        version = self.ruleset.version(self.conn)
        if self._rules[0] != version:
            self._rules = (version, self.ruleset.load(self.conn))
        return self._rules[1]

    def routes(self) -> list[Route]:
        return list(self.cfg.routes) or default_routes()

    def contacts(self) -> list[dict[str, Any]]:
        return list_contacts(self.conn)

    def sync_contacts(self) -> int:
        base = Path(os.environ.get("YUQING_CONFIG", "config/yuqing.yaml")).resolve().parent
        return sync_config_contacts(self.conn, self.cfg, base)

    # ---- firing ---------------------------------------------------------------------------
    def fire(self, rule, f: Firing, now: float, match: bool = False):
        conn = self.conn
        with Tx(conn):
            res = fire(conn, f, rule.realert, now, match=match)
            if res is not None and res.notify:
                row = get(conn, res.alert_id)
                notify.enqueue(
                    conn,
                    self.cfg,
                    self.routes(),
                    self.contacts(),
                    row,
                    "firing" if res.created else "refire",
                    res.occurrence,
                    now,
                )
        if res is not None:
            self._wake.set()
        return res

    def on_posts(self, posts: list[Post]) -> None:
        """Processor listener: match rules. Idempotent per (rule, post)."""
        rules = [r for r in self.rules() if isinstance(r, MatchRule) and r.enabled]
        if not rules or not posts:
            return
        now = self.clock()
        groups: dict[tuple[str, str], list[Post]] = defaultdict(list)
        by_name = {r.name: r for r in rules}
        for post in posts:
            tokens: set[str] | None = None
            age = now - post.published_ts
            for rule in rules:
                if age > rule.max_age:
                    continue
                if rule.filter.query and tokens is None:
                    tokens = set(index_tokens(post.full_text))
                try:
                    ok = post_matches(rule, post, tokens)
                except Exception:  # a broken rule must not dead-letter posts
                    log.exception("rule %s failed on post %s", rule.name, post.id)
                    continue
                if ok:
                    groups[(rule.name, key_of(rule, post))].append(post)
        for (name, key), matched in groups.items():
            rule = by_name[name]
            self.fire(rule, self._match_firing(rule, key, matched), now, match=True)

    def _match_firing(self, rule: MatchRule, key: str, posts: list[Post]) -> Firing:
        attrs = ev.common_attrs(posts)
        if rule.key in attrs:
            attrs[rule.key] = key
        label = rule.description or rule.name
        what = f"{KEY_ZH.get(rule.key, '')}「{key}」" if rule.key else ""
        first = posts[0].full_text.replace("\n", " ")
        return Firing(
            rule=rule.name,
            rule_type="match",
            severity=rule.severity,
            key_field=rule.key,
            key=key,
            title=f"{label}：{what}" if what else label,
            summary=f"{first[:60]}{'…' if len(first) > 60 else ''}",
            details={"last_posts": [p.id for p in posts[:10]]},
            post_ids=[p.id for p in posts],
            auto_resolve=False,
            **attrs,
        )

    # ---- window rules ---------------------------------------------------------------------
    def evaluate_rule(self, rule, now: float, start: float | None) -> list[ev.Candidate]:
        if rule.type == "spike":
            return ev.eval_spike(rule, self.store, now, start)
        if rule.type == "negative_share":
            return ev.eval_negative_share(rule, self.store, now)
        if rule.type == "emerging_event":
            return ev.eval_emerging(rule, self.store, now)
        if rule.type == "flatline":
            return ev.eval_flatline(rule, self.store, now, self._crawler_health())
        if rule.type == "relapse":
            return ev.eval_relapse(rule, self.store, self.conn, now)
        return []

    def _crawler_health(self) -> dict[str, Any] | None:
        try:
            from crawler.health import source_health  # the crawler helper's per-source health
        except ImportError:
            return None
        try:
            health = source_health(self.conn)
        except Exception as exc:
            log.debug("crawler health unavailable: %s", exc)
            return None
        if isinstance(health, dict):
            return {str(k): v for k, v in health.items()}
        out = {}
        for item in health or []:
            if isinstance(item, dict):
                name = item.get("source") or item.get("name")
                if name:
                    out[str(name)] = item
        return out

    def window_firing(self, rule, c: ev.Candidate, now: float) -> Firing:
        since = now - getattr(rule, "window", getattr(rule, "period", 3600.0))
        if rule.type == "relapse":
            since = c.details.get("resolved_at", since)
        if rule.type == "flatline":
            since = now - rule.lookback
        ids, attrs = ev.evidence(
            self.store, rule, rule.key, c.key, since, now, self.cfg.evidence_posts
        )
        if rule.key in attrs:
            attrs[rule.key] = c.key
        if c.event_id:
            attrs["event_id"] = c.event_id
        if rule.filter.category and not attrs.get("category"):
            attrs["category"] = rule.filter.category[0]
        return Firing(
            rule=rule.name,
            rule_type=rule.type,
            severity=rule.severity,
            key_field=rule.key,
            key=c.key,
            title=c.title,
            summary=c.summary,
            observed=ev.finite(c.observed),
            baseline=ev.finite(c.baseline),
            probability=ev.finite(c.probability),
            details={**c.details, "posts": ids},
            auto_resolve=rule.auto_resolve,
            relapse_of=c.relapse_of,
            **attrs,
        )

    def evaluate_windows(self, now: float | None = None) -> dict[str, Any]:
        now = self.clock() if now is None else now
        start = ev.earliest(self.store)
        fired, resolved, errors = 0, 0, []
        for rule in self.rules():
            if rule.type == "match" or not rule.enabled:
                continue
            try:
                cands = self.evaluate_rule(rule, now, start)
            except Exception as exc:
                log.exception("window rule %s failed", rule.name)
                errors.append(f"{rule.name}: {type(exc).__name__}: {exc}")
                continue
            keys = set()
            for c in cands:
                keys.add(c.key)
                res = self.fire(rule, self.window_firing(rule, c, now), now)
                fired += int(bool(res and res.created))
            if rule.auto_resolve:
                resolved += self.auto_resolve(rule.name, keys, now)
        return {"fired": fired, "auto_resolved": resolved, "errors": errors}

    def auto_resolve(self, rule_name: str, firing_keys: set[str], now: float) -> int:
        conn = self.conn
        rows = conn.execute(
            "SELECT id, key FROM alerts WHERE rule=? AND status IN ('firing','acknowledged')",
            (rule_name,),
        ).fetchall()
        n = 0
        for r in rows:
            if r["key"] in firing_keys:
                continue
            with Tx(conn):
                row = get(conn, r["id"])
                if row["status"] not in ("firing", "acknowledged"):
                    continue
                conn.execute(
                    """UPDATE alerts SET status='resolved', resolved_by='system', resolved_at=?,
                       resolution=? WHERE id=?""",
                    (now, "条件已恢复，自动办结", r["id"]),
                )
                event(conn, r["id"], "system", "auto_resolve", "条件已恢复，自动办结", None, now)
                if row["last_notified_at"] is not None:
                    notify.enqueue(
                        conn,
                        self.cfg,
                        self.routes(),
                        self.contacts(),
                        get(conn, r["id"]),
                        "resolved",
                        row["occurrence"],
                        now,
                    )
            n += 1
        return n

    def escalate(self, now: float) -> int:
        esc = self.cfg.escalation
        if not esc.enabled or len(esc.levels) < 2:
            return 0
        conn = self.conn
        n = 0
        rows = conn.execute(
            "SELECT * FROM alerts WHERE status='firing' AND escalation_level<? AND rule_type<>'operator'",
            (len(esc.levels) - 1,),
        ).fetchall()
        for row in rows:
            ref = row["escalated_at"] or row["last_notified_at"]
            if ref is None or now - ref < esc.ack_timeout:
                continue  # not yet notified (quiet hours, grouping) or not yet overdue
            if silenced_by(conn, row, now) is not None or inhibited_by(conn, row, self.cfg.inhibit):
                continue
            with Tx(conn):
                cur = get(conn, row["id"])
                if cur["status"] != "firing" or cur["escalation_level"] != row["escalation_level"]:
                    continue
                level = cur["escalation_level"] + 1
                conn.execute(
                    "UPDATE alerts SET escalation_level=?, escalated_at=? WHERE id=?",
                    (level, now, row["id"]),
                )
                event(
                    conn,
                    row["id"],
                    "system",
                    "escalated",
                    f"超过 {esc.ack_timeout / 60:g} 分钟未确认，升级至{esc.levels[level]}级",
                    {"level": level},
                    now,
                )
                notify.enqueue(
                    conn,
                    self.cfg,
                    self.routes(),
                    self.contacts(),
                    get(conn, row["id"]),
                    "escalation",
                    level,
                    now,
                    level=level,
                )
            n += 1
        if n:
            self._wake.set()
        return n

    def revisit_reminders(self, now: float) -> int:
        """Resolved alerts whose follow-up visit is due: remind once."""
        return self._remind_once(
            now, "resolved", "revisit_at", "revisit_notified", "revisit_due", "revisit",
            lambda row: ("已到回访时间", None),
        )  # fmt: skip

    def deadline_reminders(self, now: float) -> int:
        """Dispatched alerts past their deadline and not resolved: remind once per deadline."""
        return self._remind_once(
            now, "dispatched", "deadline", "deadline_notified", "deadline_overdue", "overdue",
            lambda row: (
                f"处置时限（{fmt_time(row['deadline'])}）已到，{row['assignee'] or '承办人'}尚未办结",
                {"deadline": row["deadline"], "assignee": row["assignee"]},
            ),
        )  # fmt: skip

    def _remind_once(
        self,
        now: float,
        status: str,
        due_col: str,
        flag_col: str,
        action: str,
        reason: str,
        describe: Callable[[sqlite3.Row], tuple[str, dict[str, Any] | None]],
    ) -> int:
        """Alerts in ``status`` whose ``due_col`` time has come and whose ``flag_col`` is unset:
        set the flag, record ``action`` and queue a ``reason`` notification, once each."""
        conn = self.conn
        rows = conn.execute(
            f"SELECT id FROM alerts WHERE status=? AND {due_col} IS NOT NULL AND {due_col}<=? "
            f"AND {flag_col}=0",
            (status, now),
        ).fetchall()
        n = 0
        for r in rows:
            with Tx(conn):
                cur = conn.execute(
                    f"UPDATE alerts SET {flag_col}=1 WHERE id=? AND status=? AND {flag_col}=0",
                    (r["id"], status),
                )
                if not cur.rowcount:
                    continue  # changed meanwhile (resolved, re-dispatched, revisited)
                row = get(conn, r["id"])
                note, data = describe(row)
                event(conn, r["id"], "system", action, note, data, now)
                notify.enqueue(conn, self.cfg, self.routes(), self.contacts(), row, reason, 1, now)
            n += 1
        if n:
            self._wake.set()
        return n

    def tick(self, now: float | None = None) -> dict[str, Any]:
        now = self.clock() if now is None else now
        ttl = max(3 * self.cfg.interval, 90.0)
        if not try_lease(self.conn, WINDOW_LEASE, self.owner, ttl, now):
            self.last_tick = {"leader": False, "at": now}
            return self.last_tick
        t0 = time.perf_counter()
        out = self.evaluate_windows(now)
        out["escalated"] = self.escalate(now)
        out["revisits"] = self.revisit_reminders(now)
        out["overdue"] = self.deadline_reminders(now)
        out.update(leader=True, at=now, seconds=round(time.perf_counter() - t0, 3))
        self.last_tick = out
        return out

    # ---- delivery -------------------------------------------------------------------------
    def _render(self, alerts: list[dict[str, Any]], reason: str) -> dict[str, Any]:
        evidence: dict[int, list[Post]] = {}
        for a in alerts[:20]:
            ids = evidence_ids(self.conn, get(self.conn, a["id"]), limit=3)
            try:
                evidence[a["id"]] = self.store.get_many(ids) if ids else []
            except Exception:
                evidence[a["id"]] = []
        return render(alerts, evidence, reason, self.settings.server.public_url)

    def _on_dead(self, row: sqlite3.Row, error: str) -> None:
        payload = json.loads(row["payload"])
        now = self.clock()
        conn = self.conn
        for a in payload.get("alerts", []):
            with Tx(conn):
                event(
                    conn,
                    a["id"],
                    "system",
                    "delivery_dead",
                    f"发送给 {row['contact']}（{row['channel']}）失败：{error[:200]}",
                    {"outbox": row["id"]},
                    now,
                )
        if payload.get("reason") == "operator":
            return  # the operator channel itself is down: visible in the API, no loop
        f = Firing(
            rule=OPERATOR_RULE,
            rule_type="operator",
            severity="critical",
            key_field=None,
            key=f"{row['channel']}:{row['contact']}",
            title=f"通知发送失败：{row['contact']}（{row['channel']}）",
            summary=f"超过重试时限仍未送达：{error[:200]}",
            details={"outbox": row["id"], "alerts": [a["id"] for a in payload.get("alerts", [])]},
        )
        with Tx(conn):
            res = fire(conn, f, 3600.0, now)
            if res is not None and res.notify:
                notify.enqueue(
                    conn,
                    self.cfg,
                    self.routes(),
                    self.contacts(),
                    get(conn, res.alert_id),
                    "operator",
                    res.occurrence,
                    now,
                )

    def deliver_once(self) -> dict[str, int]:
        contacts = self.contacts()
        made = notify.flush(
            self.conn, self.cfg, self.routes(), contacts, self._render, self.clock()
        )
        stats = outbox.deliver(
            self.conn,
            self.channels,
            self.cfg.outbox,
            {c["name"]: c for c in contacts},
            self.owner,
            self.clock,
            self._on_dead,
        )
        return {"flushed": made, **stats}

    def has_pending(self) -> bool:
        c = self.conn
        return bool(
            c.execute("SELECT 1 FROM alert_pending WHERE state='pending' LIMIT 1").fetchone()
            or c.execute(
                "SELECT 1 FROM alert_outbox WHERE status IN ('pending','sending') LIMIT 1"
            ).fetchone()
        )

    # ---- threads --------------------------------------------------------------------------
    def _window_loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:
                log.exception("alert window tick failed")
            self._stop.wait(self.cfg.interval)

    def _delivery_loop(self) -> None:
        while not self._stop.is_set():
            busy = False
            try:
                stats = self.deliver_once()
                busy = self.has_pending()
                if stats["sent"] or stats["flushed"]:
                    continue
            except Exception:
                log.exception("alert delivery failed")
            self._wake.wait(0.2 if busy else 1.0)
            self._wake.clear()

    def start(self, window: bool = True, delivery: bool = True) -> Engine:
        for name, target, on in (
            ("alerts-window", self._window_loop, window),
            ("alerts-delivery", self._delivery_loop, delivery),
        ):
            if on:
                t = threading.Thread(target=target, name=name, daemon=True)
                t.start()
                self._threads.append(t)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        for t in self._threads:
            t.join(timeout)
        with contextlib.suppress(sqlite3.Error):
            release_lease(self.conn, WINDOW_LEASE, self.owner)
        self.channels.close()


def start_engine(services) -> Engine | None:
    """``WORKER_STARTERS`` entry: listener on the processor, then the two threads."""
    settings = services.settings
    if not settings.alerts.enabled:
        return None
    engine = Engine(settings, services.store)
    n = engine.sync_contacts()
    if n:
        log.info("alerts: %d contacts from the configuration", n)
    services.make_processor().add_listener(engine.on_posts)
    services.extras["alerts_engine"] = engine
    engine.start()
    return engine
