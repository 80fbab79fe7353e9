"""``yuqing alerts …``, ``yuqing rules …``, ``yuqing contacts …``."""

from __future__ import annotations

import getpass
import json
import time
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from alerts import state
from alerts.config import parse_duration
from alerts.db import thread_conn
from alerts.render import fmt_time
from alerts.routing import (
    CONTACT_FIELDS,
    ContactError,
    deactivate_contact,
    import_contacts,
    list_contacts,
    parse_contacts_file,
)
from alerts.rules import RuleError, RuleSet, key_of, post_matches, rule_filters, validate_rule
from core.cli import CliError
from core.config import Settings
from core.schema import SHANGHAI


def _conn(settings: Settings):
    settings.ensure_dirs()
    return thread_conn(settings.path(settings.app_db))


def _actor(args) -> str:
    return getattr(args, "actor", None) or f"cli:{getpass.getuser()}"


# ---- alerts -----------------------------------------------------------------------------------


def cmd_list(args, settings: Settings) -> int:
    conn = _conn(settings)
    q, params = "SELECT * FROM alerts", []
    if args.status:
        statuses = list(state.OPEN) if args.status == "open" else [args.status]
        q += f" WHERE status IN ({','.join('?' * len(statuses))})"
        params = statuses
    rows = conn.execute(q + " ORDER BY last_at DESC LIMIT ?", [*params, args.limit]).fetchall()
    if args.json:
        print(json.dumps([state.as_dict(r) for r in rows], ensure_ascii=False, indent=1))
        return 0
    if not rows:
        print("没有预警")
    for r in rows:
        print(
            f"#{r['id']:<5} {state.SEVERITY_ZH[r['severity']]:<3} {state.STATUS_ZH[r['status']]:<4} "
            f"{fmt_time(r['last_at'])}  {r['title']}"
        )
    return 0


def cmd_show(args, settings: Settings) -> int:
    conn = _conn(settings)
    try:
        row = state.get(conn, args.id)
    except state.NotFound as exc:
        raise CliError(str(exc)) from None
    d = state.as_dict(row)
    if args.json:
        d["events"] = state.events(conn, args.id)
        print(json.dumps(d, ensure_ascii=False, indent=1, default=str))
        return 0
    print(f"#{d['id']} [{d['severity_zh']}] {d['title']}  ({d['status_zh']})")
    print(f"规则 {d['rule']} ({d['rule_type']})  {d['key_field'] or ''}={d['key']}")
    print(f"街道 {d['street'] or '-'}  网格 {d['grid_id'] or '-'}  类别 {d['category'] or '-'}")
    print(f"观测 {d['observed']}  基线 {d['baseline']}  p {d['probability']}")
    print(d["summary"])
    for e in state.events(conn, args.id):
        print(f"  {fmt_time(e['at'])} {e['actor']:<14} {e['action']:<18} {e['note'] or ''}")
    return 0


def _transition(fn, args, settings, *extra) -> int:
    conn = _conn(settings)
    try:
        row = fn(conn, args.id, _actor(args), *extra)
    except (state.NotFound, state.TransitionError) as exc:
        raise CliError(str(exc)) from None
    print(f"#{row['id']} → {state.STATUS_ZH[row['status']]}")
    return 0


def cmd_ack(args, settings: Settings) -> int:
    return _transition(state.acknowledge, args, settings, args.note)


def cmd_resolve(args, settings: Settings) -> int:
    revisit = time.time() + parse_duration(args.revisit) if args.revisit else None
    return _transition(state.resolve, args, settings, args.note, revisit)


def cmd_dispatch(args, settings: Settings) -> int:
    deadline = time.time() + parse_duration(args.deadline)
    return _transition(state.dispatch, args, settings, args.assignee, deadline, args.note)


def cmd_tick(args, settings: Settings) -> int:
    """Evaluate window rules and deliver once in this process (cron-style operation)."""
    from alerts.engine import Engine
    from core.services import Services

    services = Services.open(settings)
    try:
        engine = Engine(settings, services.store)
        engine.sync_contacts()
        print(json.dumps(engine.tick(), ensure_ascii=False, default=str))
        deadline = time.time() + args.wait
        while True:
            stats = engine.deliver_once()
            if not engine.has_pending() or time.time() > deadline:
                break
            time.sleep(0.5)
        print(json.dumps(stats, ensure_ascii=False))
    finally:
        services.close()
    return 0


def cmd_mailcatcher(args, settings: Settings) -> int:
    from alerts.mailcatcher import MailCatcher

    out = settings.path("demo-mail")
    catcher = MailCatcher("127.0.0.1", args.port, out_dir=out).start()
    print(
        f"mail catcher on 127.0.0.1:{catcher.port}; messages are written to {out}/ (Ctrl-C stops)"
    )
    try:
        seen = 0
        while True:
            time.sleep(1)
            for m in catcher.messages[seen:]:
                print(f"  ✉ {m['To']}: {m['Subject']}")
            seen = len(catcher.messages)
    finally:
        catcher.stop()


# ---- rules ------------------------------------------------------------------------------------


def cmd_rules_list(args, settings: Settings) -> int:
    conn = _conn(settings)
    rs = RuleSet(settings.alerts)
    rules = rs.load(conn)
    if args.json:
        print(json.dumps([r.model_dump(mode="json") for r in rules], ensure_ascii=False, indent=1))
        return 0
    if not rules:
        print("没有规则（在 config 的 alerts.rules 中添加，或 POST /api/v1/rules）")
    for r in rules:
        flag = "" if r.enabled else " (停用)"
        print(
            f"{r.name:<24} {r.type:<15} {r.severity:<8} key={r.key or '-':<11} {rs.origin(conn, r.name)}{flag}"
        )
    return 0


def cmd_rules_validate(args, settings: Settings) -> int:
    if not args.file:
        n = len(settings.alerts.rules)
        print(f"configuration OK: {n} rules, {len(settings.alerts.routes)} routes")
        return 0
    p = Path(args.file)
    if not p.exists():
        raise CliError(f"file not found: {p}")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise CliError(f"{p}: not valid YAML: {str(exc).splitlines()[0]}") from None
    if isinstance(data, dict):
        data = (data.get("alerts") or data).get("rules", [data] if "type" in data else [])
    if not isinstance(data, list):
        raise CliError(f"{p}: expected a list of rules (or an alerts.rules section)")
    errors = 0
    for item in data:
        try:
            r = validate_rule(item)
            print(f"ok   {r.name} ({r.type})")
        except RuleError as exc:
            errors += 1
            print(f"FAIL {exc}")
    return 1 if errors else 0


def backtest(settings: Settings, store, rule, since: float, until: float, step: float | None):
    """What the rule would have fired over stored history, with dedup and realert applied."""
    from alerts.engine import Engine

    fired: list[dict[str, Any]] = []
    if rule.type == "match":
        last: dict[str, float] = {}
        by_time = sorted(
            (
                p
                for p in store.iter_posts(rule_filters(rule, _dt(since), _dt(until)))
                if post_matches(rule, p)
            ),
            key=lambda p: p.published_ts,
        )
        counts: dict[str, int] = defaultdict(int)
        for p in by_time:
            k = key_of(rule, p)
            counts[k] += 1
            if k not in last or p.published_ts - last[k] >= rule.realert:
                last[k] = p.published_ts
                fired.append(
                    {"at": p.published_ts, "key": k, "observed": 1, "title": p.full_text[:60]}
                )
        for f in fired:
            f["posts_for_key"] = counts[f["key"]]
        return fired
    engine = Engine(settings, store)
    step = step or min(getattr(rule, "window", 3600.0), 3600.0)
    from alerts.evaluate import earliest

    start = earliest(store)
    active: dict[str, float] = {}
    t = since + step
    while t <= until:
        cands = engine.evaluate_rule(rule, t, start)
        now_keys = set()
        for c in cands:
            now_keys.add(c.key)
            if c.key not in active or t - active[c.key] >= rule.realert:
                active[c.key] = t
                fired.append(
                    {
                        "at": t,
                        "key": c.key,
                        "observed": c.observed,
                        "baseline": c.baseline,
                        "probability": c.probability,
                        "title": c.title,
                    }
                )
        if rule.auto_resolve:
            for k in list(active):
                if k not in now_keys:
                    del active[k]
        t += step
    return fired


def _dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, SHANGHAI)


def cmd_rules_backtest(args, settings: Settings) -> int:
    from core.services import Services

    services = Services.open(settings)
    try:
        conn = _conn(settings)
        rules = {r.name: r for r in RuleSet(settings.alerts).load(conn)}
        if args.rule not in rules:
            raise CliError(f"no rule {args.rule!r}; known: {', '.join(sorted(rules)) or 'none'}")
        until = time.time()
        since = until - parse_duration(args.since)
        step = parse_duration(args.step) if args.step else None
        t0 = time.perf_counter()
        fired = backtest(settings, services.store, rules[args.rule], since, until, step)
        took = time.perf_counter() - t0
    finally:
        services.close()
    if args.json:
        print(json.dumps(fired, ensure_ascii=False, indent=1))
        return 0
    print(f"规则 {args.rule}：过去 {args.since} 内会触发 {len(fired)} 次（回测 {took:.1f}s）")
    for f in fired:
        nums = f"观测 {f['observed']:g}" + (
            f" 基线 {f['baseline']:.2f} p={f['probability']:.2g}"
            if f.get("baseline") is not None and f.get("probability") is not None
            else ""
        )
        print(f"  {fmt_time(f['at'])}  {f['key']:<16} {nums:<32} {f['title']}")
    return 0


# ---- contacts -------------------------------------------------------------------------------


def cmd_contacts_add(args, settings: Settings) -> int:
    rec = {k: getattr(args, k, None) for k in CONTACT_FIELDS}  # no CLI flag for a secret env
    try:
        n, errors = import_contacts(_conn(settings), [rec], _actor(args), "cli")
    except ContactError as exc:
        raise CliError(str(exc)) from None
    if errors:
        raise CliError(errors[0])
    print(f"saved contact {args.name}")
    return 0


def cmd_contacts_list(args, settings: Settings) -> int:
    rows = list_contacts(_conn(settings))
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=1))
        return 0
    for c in rows:
        place = c["grid_id"] or c["community"] or c["street"] or ""
        chans = ",".join(
            x
            for x, v in (
                ("email", c["email"]),
                ("sms", c["phone"]),
                (c["webhook_kind"] or "webhook", c["webhook"]),
            )
            if v
        )
        print(f"{c['name']:<12} {c['level']:<9} {place:<14} {c['role']:<10} {chans}")
    if not rows:
        print("没有联系人（yuqing contacts add / import）")
    return 0


def cmd_contacts_import(args, settings: Settings) -> int:
    try:
        records = parse_contacts_file(args.file)
        n, errors = import_contacts(
            _conn(settings), records, _actor(args), f"file:{Path(args.file).name}"
        )
    except ContactError as exc:
        raise CliError(str(exc)) from None
    if errors:
        for e in errors[:20]:
            print(e)
        raise CliError(f"{len(errors)} invalid contacts; nothing imported")
    print(f"imported {n} contacts")
    return 0


def cmd_contacts_remove(args, settings: Settings) -> int:
    if not deactivate_contact(_conn(settings), args.name, _actor(args)):
        raise CliError(f"no active contact {args.name!r}")
    print(f"removed {args.name}")
    return 0


def register(sub) -> None:
    p = sub.add_parser(
        "alerts", help="alerts: list, show, ack, dispatch, resolve, tick, mailcatcher"
    )
    s = p.add_subparsers(dest="alerts_cmd", metavar="ACTION")
    s.required = True
    a = s.add_parser("list", help="recent alerts")
    a.add_argument("--status", choices=[*state.STATUSES, "open"])
    a.add_argument("--limit", type=int, default=30)
    a.add_argument("--json", action="store_true")
    a.set_defaults(func=cmd_list)
    a = s.add_parser("show", help="one alert with its history")
    a.add_argument("id", type=int)
    a.add_argument("--json", action="store_true")
    a.set_defaults(func=cmd_show)
    for name, fn in (("ack", cmd_ack), ("resolve", cmd_resolve), ("dispatch", cmd_dispatch)):
        a = s.add_parser(name, help=f"{name} an alert")
        a.add_argument("id", type=int)
        a.add_argument("--note")
        a.add_argument("--as", dest="actor", help="who (default cli:$USER)")
        if name == "resolve":
            a.add_argument("--revisit", help="follow-up after this long, e.g. 3d")
        if name == "dispatch":
            a.add_argument(
                "--to", dest="assignee", required=True, help="grid worker / street centre"
            )
            a.add_argument("--deadline", default="24h")
        a.set_defaults(func=fn)
    a = s.add_parser("tick", help="evaluate window rules and deliver once, here")
    a.add_argument("--wait", type=float, default=10.0, help="seconds to keep delivering")
    a.set_defaults(func=cmd_tick)
    a = s.add_parser("mailcatcher", help="run a local SMTP catcher (127.0.0.1) for demos")
    a.add_argument("--port", type=int, default=1025)
    a.set_defaults(func=cmd_mailcatcher)

    p = sub.add_parser("rules", help="alert rules: list, validate, backtest")
    s = p.add_subparsers(dest="rules_cmd", metavar="ACTION")
    s.required = True
    a = s.add_parser("list")
    a.add_argument("--json", action="store_true")
    a.set_defaults(func=cmd_rules_list)
    a = s.add_parser("validate", help="check the configured rules, or a YAML file of rules")
    a.add_argument("file", nargs="?")
    a.set_defaults(func=cmd_rules_validate)
    a = s.add_parser("backtest", help="what RULE would have fired over stored history")
    a.add_argument("rule")
    a.add_argument("--since", default="7d")
    a.add_argument("--step", help="evaluation step for window rules (default: the window, ≤ 1h)")
    a.add_argument("--json", action="store_true")
    a.set_defaults(func=cmd_rules_backtest)

    p = sub.add_parser("contacts", help="alert contacts: add, list, import, remove")
    s = p.add_subparsers(dest="contacts_cmd", metavar="ACTION")
    s.required = True
    a = s.add_parser("add")
    a.add_argument("name")
    a.add_argument("--role", default="")
    a.add_argument(
        "--level", default="grid", choices=["grid", "community", "street", "district", "operator"]
    )
    a.add_argument("--grid", dest="grid_id")
    a.add_argument("--street")
    a.add_argument("--community")
    a.add_argument("--email")
    a.add_argument("--phone")
    a.add_argument("--webhook")
    a.add_argument(
        "--webhook-kind", dest="webhook_kind", choices=["wecom", "dingtalk", "feishu", "webhook"]
    )
    a.set_defaults(func=cmd_contacts_add)
    a = s.add_parser("list")
    a.add_argument("--json", action="store_true")
    a.set_defaults(func=cmd_contacts_list)
    a = s.add_parser("import", help="CSV, YAML or JSON file of contacts (all or nothing)")
    a.add_argument("file")
    a.set_defaults(func=cmd_contacts_import)
    a = s.add_parser("remove")
    a.add_argument("name")
    a.set_defaults(func=cmd_contacts_remove)
