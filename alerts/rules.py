"""The effective rule set (config rules overlaid by API-managed rules) and post matching.

A rule's keyword expression uses the store's query semantics (:func:`store.querytext.parse_query`)
with ``AND``/``NOT`` spelled out accepted too, and is evaluated against the same index tokens
the store searches, so ``yuqing rules backtest`` over stored posts agrees with the live listener.
"""

from __future__ import annotations

import re
import sqlite3
import time
from functools import lru_cache
from typing import Any

from pydantic import TypeAdapter, ValidationError

from alerts.config import AlertsConfig, Rule
from alerts.db import audit, dumps
from core.db import Tx
from core.schema import Post
from nlp.segment import index_tokens
from store.base import Filters, QueryError
from store.querytext import ParsedQuery, parse_query

RULE_ADAPTER: TypeAdapter[Rule] = TypeAdapter(Rule)
UNKEYED = "(全部)"
UNLOCATED = "(未定位)"
_NOT = re.compile(r"(^|\s)NOT\s+", re.UNICODE)
_AND = re.compile(r"(^|\s)AND(\s|$)")


class RuleError(ValueError):
    """A rule definition that cannot be used; the message names the rule and the field."""


def normalize_query(text: str) -> str:
    """``A AND B`` → ``A B``; ``NOT A`` → ``-A`` (the store's syntax)."""
    text = _AND.sub(" ", text)
    return _NOT.sub(lambda m: m.group(1) + "-", text)


@lru_cache(maxsize=512)
def compiled_query(text: str) -> ParsedQuery:
    return parse_query(normalize_query(text))


def validate_rule(data: Any) -> Rule:
    try:
        rule = RULE_ADAPTER.validate_python(data)
    except ValidationError as exc:
        name = data.get("name", "?") if isinstance(data, dict) else "?"
        parts = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"][1:] or err["loc"])
            parts.append(f"{loc}: {err['msg']}")
        raise RuleError(f"rule {name!r}: " + "; ".join(parts)) from None
    if rule.filter.query:
        try:
            q = compiled_query(rule.filter.query)
        except QueryError as exc:
            raise RuleError(f"rule {rule.name!r}: filter.query: {exc}") from None
        if q.empty:
            raise RuleError(f"rule {rule.name!r}: filter.query has no searchable word")
    return rule


def rule_filters(rule: Rule, since=None, until=None) -> Filters:
    return Filters(since=since, until=until, **rule.filter.keyword_filters())


def store_query(rule: Rule) -> str | None:
    return normalize_query(rule.filter.query) if rule.filter.query else None


# ---- post matching (the listener) ------------------------------------------------------------


def post_field(post: Post, field: str) -> str | None:
    geo = post.geo
    if field in ("grid_id", "street", "community", "district"):
        return getattr(geo, field) if geo else None
    if field == "geo_level":
        return geo.level if geo else None
    if field == "sentiment":
        return post.sentiment.label if post.sentiment else None
    if field == "category":
        return post.category.label if post.category else None
    if field == "risk":
        return post.risk.level if post.risk else None
    if field == "source_type":
        return post.source_type.value
    if field == "source":
        return post.source
    if field == "event_id":
        return post.event_id
    raise KeyError(field)


def post_grid_ids(post: Post) -> list[str]:
    if not post.geo:
        return []
    return ([post.geo.grid_id] if post.geo.grid_id else []) + list(post.geo.special_grid_ids)


def matches_query(parsed: ParsedQuery, tokens: set[str]) -> bool:
    def term_ok(term) -> bool:
        return all(t in tokens for t in term.tokens)

    if any(term_ok(t) for t in parsed.excluded):
        return False
    return all(any(term_ok(t) for t in group) for group in parsed.groups)


def post_matches(rule: Rule, post: Post, tokens: set[str] | None = None) -> bool:
    for field, values in rule.filter.keyword_filters().items():
        if field == "grid_id":
            if not set(post_grid_ids(post)) & set(values):
                return False
        elif post_field(post, field) not in values:
            return False
    if rule.filter.query:
        if tokens is None:
            tokens = set(index_tokens(post.full_text))
        if not matches_query(compiled_query(rule.filter.query), tokens):
            return False
    return True


def key_of(rule: Rule, post: Post) -> str:
    if rule.key is None:
        return UNKEYED
    value = post_field(post, rule.key)
    if value:
        return value
    return UNLOCATED if rule.key in ("grid_id", "street", "community", "district") else "(未知)"


# ---- the effective rule set -------------------------------------------------------------------


class RuleSet:
    """Config rules, overlaid by rules stored through the API (same name: the stored one wins;
    a stored ``{"name": X, "deleted": true}`` removes a config rule)."""

    def __init__(self, cfg: AlertsConfig) -> None:
        self.cfg = cfg

    def version(self, conn: sqlite3.Connection) -> tuple[int, float]:
        row = conn.execute(
            "SELECT COUNT(*), COALESCE(MAX(updated_at), 0) FROM alert_rules"
        ).fetchone()
        return int(row[0]), float(row[1])

    def stored(self, conn: sqlite3.Connection) -> dict[str, dict[str, Any]]:
        import json

        return {
            r["name"]: json.loads(r["definition"])
            for r in conn.execute("SELECT name, definition FROM alert_rules ORDER BY name")
        }

    def load(self, conn: sqlite3.Connection) -> list[Rule]:
        rules: dict[str, Rule] = {r.name: r for r in self.cfg.rules}
        for name, definition in self.stored(conn).items():
            if definition.get("deleted"):
                rules.pop(name, None)
                continue
            try:
                rules[name] = validate_rule(definition)
            except RuleError:
                continue  # validated on write; a schema change must not stop the engine
        return list(rules.values())

    def origin(self, conn: sqlite3.Connection, name: str) -> str:
        stored = self.stored(conn).get(name)
        if stored is not None:
            return "api"
        return "config" if any(r.name == name for r in self.cfg.rules) else "none"

    def put(self, conn: sqlite3.Connection, data: dict[str, Any], actor: str) -> Rule:
        rule = validate_rule(data)
        before = next((r for r in self.load(conn) if r.name == rule.name), None)
        definition = rule.model_dump(mode="json", by_alias=True)
        with Tx(conn):
            conn.execute(
                """INSERT INTO alert_rules(name, definition, updated_at, updated_by) VALUES (?,?,?,?)
                   ON CONFLICT(name) DO UPDATE SET definition=excluded.definition,
                     updated_at=excluded.updated_at, updated_by=excluded.updated_by""",
                (rule.name, dumps(definition), time.time(), actor),
            )
            audit(
                conn,
                actor,
                "rule.update" if before else "rule.create",
                f"rule:{rule.name}",
                before.model_dump(mode="json") if before else None,
                definition,
            )
        return rule

    def delete(self, conn: sqlite3.Connection, name: str, actor: str) -> bool:
        before = next((r for r in self.load(conn) if r.name == name), None)
        if before is None:
            return False
        with Tx(conn):
            if any(r.name == name for r in self.cfg.rules):
                conn.execute(
                    """INSERT INTO alert_rules(name, definition, updated_at, updated_by) VALUES (?,?,?,?)
                       ON CONFLICT(name) DO UPDATE SET definition=excluded.definition,
                         updated_at=excluded.updated_at, updated_by=excluded.updated_by""",
                    (name, dumps({"name": name, "deleted": True}), time.time(), actor),
                )
            else:
                conn.execute("DELETE FROM alert_rules WHERE name=?", (name,))
            audit(conn, actor, "rule.delete", f"rule:{name}", before.model_dump(mode="json"))
        return True
