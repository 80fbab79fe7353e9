"""Shared dependencies: services, authentication by API key and role, filters from the query."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import Depends, HTTPException, Query, Request

from core.keys import ROLE_RANK, Principal
from core.services import Services
from store.base import Filters

_DURATION = re.compile(r"^(\d{1,5})([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def get_services(request: Request) -> Services:
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(get_services)]


def _key_from(request: Request) -> str | None:
    key = request.headers.get("x-api-key")
    if key:
        return key.strip()
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return None


def _is_loopback(request: Request) -> bool:
    host = request.client.host if request.client else ""
    return host in ("127.0.0.1", "::1", "localhost", "testclient")


def authenticate(request: Request, allow_query_key: bool = False) -> Principal:
    services: Services = request.app.state.services
    key = _key_from(request)
    if key is None and allow_query_key:
        key = request.query_params.get("api_key")
    if key:
        principal = services.keys.verify(key)
        if principal is None:
            raise HTTPException(401, "invalid or revoked API key")
        return principal
    if services.settings.server.auth == "open-local" and _is_loopback(request):
        return Principal("local", "admin")
    raise HTTPException(401, "an API key is required (header X-API-Key or Authorization: Bearer)")


def require(role: str, allow_query_key: bool = False):
    if role not in ROLE_RANK:
        raise ValueError(role)

    def dep(request: Request) -> Principal:
        principal = authenticate(request, allow_query_key)
        if not principal.allows(role):
            raise HTTPException(
                403, f"this action needs the {role} role (you are {principal.role})"
            )
        request.state.principal = principal
        return principal

    return dep


Viewer = Annotated[Principal, Depends(require("viewer"))]
Analyst = Annotated[Principal, Depends(require("analyst"))]
Officer = Annotated[Principal, Depends(require("officer"))]
Admin = Annotated[Principal, Depends(require("admin"))]


def parse_time(value: str | None, name: str) -> datetime | None:
    """ISO-8601, a date, or a relative duration back from now (30m, 24h, 7d, 2w)."""
    if value is None or value == "":
        return None
    m = _DURATION.match(value.strip())
    if m:
        return datetime.now(UTC) - timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})
    try:
        return datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise HTTPException(
            400, f"{name}: expected ISO-8601 time or a duration like 24h/7d, got {value[:40]!r}"
        ) from None


def _multi(values: list[str] | None) -> list[str]:
    out: list[str] = []
    for v in values or []:
        out.extend(x.strip() for x in v.split(",") if x.strip())
    if len(out) > 500:
        raise HTTPException(400, "too many filter values (at most 500)")
    return out


def filters_dep(
    since: str | None = Query(None, description="ISO time or duration (24h, 7d)"),
    until: str | None = Query(None),
    window: str | None = Query(None, description="shorthand for since: 24h, 7d, 30d"),
    source: list[str] | None = Query(None),
    source_type: list[str] | None = Query(None),
    sentiment: list[str] | None = Query(None),
    category: list[str] | None = Query(None),
    risk: list[str] | None = Query(None),
    street: list[str] | None = Query(None),
    community: list[str] | None = Query(None),
    grid: list[str] | None = Query(None, alias="grid"),
    district: list[str] | None = Query(None),
    event: list[str] | None = Query(None, alias="event"),
    exclude_duplicates: bool = False,
) -> Filters:
    start = parse_time(since, "since") or parse_time(window, "window")
    return Filters(
        since=start,
        until=parse_time(until, "until"),
        source=_multi(source),
        source_type=_multi(source_type),
        sentiment=_multi(sentiment),
        category=_multi(category),
        risk=_multi(risk),
        street=_multi(street),
        community=_multi(community),
        grid_id=_multi(grid),
        district=_multi(district),
        event_id=_multi(event),
        exclude_duplicates=exclude_duplicates,
    )


FiltersDep = Annotated[Filters, Depends(filters_dep)]
