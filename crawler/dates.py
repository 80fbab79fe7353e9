"""Dates and counts as Chinese sites print them.

trafilatura and dateutil misread forms like ``2024年07月15日09:12`` or ``昨天 09:12``; this module
parses them explicitly. Naive times are Beijing time (UTC+8); relative forms need ``now``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

from core.schema import SHANGHAI

_NUM_DATE = re.compile(
    r"(?P<y>(?:19|20)\d{2})\s*[年\-/.]\s*(?P<m>\d{1,2})\s*[月\-/.]\s*(?P<d>\d{1,2})\s*日?"
    r"(?:\s*T?\s*(?P<H>\d{1,2})\s*[:：时]\s*(?P<M>\d{1,2})\s*分?(?:\s*[:：]\s*(?P<S>\d{1,2})\s*秒?)?"
    r"(?:\.\d+)?\s*(?P<tz>Z|[+-]\d{2}:?\d{2})?)?"
)
_MONTH_DAY = re.compile(
    r"(?<![\d年/\-.])(?P<m>\d{1,2})\s*[月\-/]\s*(?P<d>\d{1,2})\s*日?"
    r"(?:\s+(?P<H>\d{1,2})[:：](?P<M>\d{2}))?(?![\d])"
)
_RELATIVE = re.compile(r"(?P<n>\d+)\s*(?P<unit>秒|分钟|小时|天|周|个月)前")
_DAY_WORD = re.compile(r"(?P<w>今天|昨天|前天)\s*(?:(?P<H>\d{1,2})[:：](?P<M>\d{2}))?")
_WEIBO = re.compile(r"^[A-Z][a-z]{2} [A-Z][a-z]{2} \d{1,2} \d{2}:\d{2}:\d{2} [+-]\d{4} \d{4}$")
_UNITS = {"秒": "seconds", "分钟": "minutes", "小时": "hours", "天": "days", "周": "weeks"}


def _local_now(now: datetime | None) -> datetime:
    now = now or datetime.now(UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=SHANGHAI)
    return now.astimezone(SHANGHAI)


def _tz(value: str | None):
    if not value:
        return SHANGHAI
    if value == "Z":
        return UTC
    sign = 1 if value[0] == "+" else -1
    digits = value[1:].replace(":", "")
    return timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))


def parse_date(text: str | None, now: datetime | None = None) -> datetime | None:
    """The first date/time found in ``text`` as an aware datetime, or None.

    Understands ``2024年07月15日09:12``, ``2024-07-15 09:12[:30]``, ISO 8601, RFC 822 (RSS),
    Weibo's ``Mon Jul 15 09:30:12 +0800 2024``, ``07-15 09:12`` / ``7月15日`` (this year),
    ``刚刚``, ``N秒/分钟/小时/天前``, ``今天/昨天/前天 HH:MM``.
    """
    if not text:
        return None
    s = str(text).strip().replace("\u3000", " ").replace("\xa0", " ")
    if not s:
        return None
    local = _local_now(now)
    if _WEIBO.match(s):
        try:
            return datetime.strptime(s, "%a %b %d %H:%M:%S %z %Y")
        except ValueError:
            return None
    if re.match(r"^[A-Z][a-z]{2}, ", s) or re.match(r"^\d{1,2} [A-Z][a-z]{2} \d{4}", s):
        try:
            dt = parsedate_to_datetime(s)
        except (TypeError, ValueError, IndexError):
            dt = None
        if dt is not None:
            return dt if dt.tzinfo else dt.replace(tzinfo=SHANGHAI)
    m = _NUM_DATE.search(s)
    if m:
        try:
            return datetime(
                int(m["y"]),
                int(m["m"]),
                int(m["d"]),
                int(m["H"] or 0),
                int(m["M"] or 0),
                int(m["S"] or 0),
                tzinfo=_tz(m["tz"]),
            )
        except ValueError:
            return None
    if "刚刚" in s:
        return local
    m = _RELATIVE.search(s)
    if m:
        n = int(m["n"])
        if m["unit"] == "个月":
            return local - timedelta(days=30 * n)
        return local - timedelta(**{_UNITS[m["unit"]]: n})
    m = _DAY_WORD.search(s)
    if m:
        back = {"今天": 0, "昨天": 1, "前天": 2}[m["w"]]
        day = local - timedelta(days=back)
        hour, minute = int(m["H"] or 0), int(m["M"] or 0)
        if hour > 23 or minute > 59:
            return None
        return day.replace(hour=hour, minute=minute, second=0, microsecond=0)
    m = _MONTH_DAY.search(s)
    if m:
        try:
            dt = local.replace(
                month=int(m["m"]),
                day=int(m["d"]),
                hour=int(m["H"] or 0),
                minute=int(m["M"] or 0),
                second=0,
                microsecond=0,
            )
        except ValueError:
            return None
        if dt > local + timedelta(days=1):  # "12-30" seen on Jan 2 is last year's
            dt = dt.replace(year=dt.year - 1)
        return dt
    return None


_COUNT = re.compile(r"(?P<n>\d+(?:\.\d+)?)\s*(?P<unit>万|亿|w|W|k|K|千)?\s*\+?")
_MULT = {
    "万": 10_000,
    "w": 10_000,
    "W": 10_000,
    "亿": 100_000_000,
    "k": 1000,
    "K": 1000,
    "千": 1000,
}


def parse_count(value: object) -> int:
    """``"1万+"`` → 10000, ``"3.2万"`` → 32000, ``"1,234"`` → 1234; words like ``"转发"`` → 0."""
    if value is None or isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return max(0, value)
    if isinstance(value, float):
        return max(0, int(value))
    m = _COUNT.search(str(value).replace(",", ""))
    if not m:
        return 0
    return int(float(m["n"]) * _MULT.get(m["unit"] or "", 1))
