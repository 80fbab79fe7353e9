"""Config section ``alerts``: rules, routes, contacts, channels, timings.

Rules are a discriminated union on ``type`` so a typo in a rule names the rule and the field.
Secrets (SMTP password, gateway tokens, robot secrets) are only named here (``*_env`` /
``*_file``) and read with :func:`core.config.read_secret` at send time.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from store.base import KeywordFilters

KEY_FIELDS = (
    "grid_id",
    "street",
    "community",
    "category",
    "event_id",
    "source",
    "source_type",
    "district",
    "risk",
    "sentiment",
)
SEVERITIES = ("info", "warning", "critical")
SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITIES)}
LEVELS = ("grid", "community", "street", "district")
CHANNELS = ("email", "sms", "wecom", "dingtalk", "feishu", "webhook")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_RULE_NAME = re.compile(r"^[A-Za-z0-9_\-\u4e00-\u9fff]{1,64}$")
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def parse_duration(value: Any) -> float:
    """Seconds from ``90``, ``"30s"``, ``"15m"``, ``"2h"``, ``"7d"``, ``"1w"``."""
    if isinstance(value, bool):
        raise ValueError("expected a duration like 30s, 15m, 2h, 7d")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError("duration must not be negative")
        return float(value)
    m = _DURATION.match(str(value))
    if not m:
        raise ValueError(f"expected a duration like 30s, 15m, 2h, 7d, got {value!r}")
    return float(m.group(1)) * _UNIT_S[m.group(2)]


Duration = Annotated[float, BeforeValidator(parse_duration)]


class _S(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RuleFilter(KeywordFilters):
    """Exactly the store's keyword filters, plus an optional keyword expression."""

    query: str | None = Field(
        None, max_length=500, description='keywords: A B (AND), A OR B, NOT A / -A, "phrase"'
    )

    @model_validator(mode="before")
    @classmethod
    def _scalars(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = {k: ([v] if k != "query" and isinstance(v, str) else v) for k, v in data.items()}
        return data


class _RuleBase(_S):
    name: str
    description: str | None = None
    severity: Literal["info", "warning", "critical"] = "warning"
    enabled: bool = True
    filter: RuleFilter = RuleFilter()
    key: Literal[KEY_FIELDS] | None = None  # type: ignore[valid-type]
    realert: Duration = 3600.0
    auto_resolve: bool = False
    labels: dict[str, str] = {}

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _RULE_NAME.match(v):
            raise ValueError("rule name: 1–64 letters, digits, _ or - (Chinese allowed)")
        return v


class MatchRule(_RuleBase):
    """Every post matching the filter alerts at once (deduplicated per key within realert)."""

    type: Literal["match"] = "match"
    max_age: Duration = 72 * 3600.0  # older posts (backfills, imports) do not page anyone


class SpikeRule(_RuleBase):
    """Volume per key in ``window`` against an hour-of-week or EWMA baseline; tail test."""

    type: Literal["spike"] = "spike"
    key: Literal[KEY_FIELDS] = "grid_id"  # type: ignore[valid-type]
    window: Duration = 3600.0
    baseline: Literal["hour_of_week", "ewma"] = "hour_of_week"
    weeks: int = Field(4, ge=1, le=12)
    ewma_windows: int = Field(24, ge=2, le=500)
    ewma_alpha: float = Field(0.3, gt=0, le=1)
    test: Literal["poisson", "negbin"] = "negbin"
    p_value: float = Field(0.001, gt=0, lt=1)
    min_count: int = Field(5, ge=1)
    min_ratio: float = Field(2.0, ge=1)
    baseline_floor: float = Field(0.5, gt=0, description="least expected count per window")


class NegativeShareRule(_RuleBase):
    type: Literal["negative_share"] = "negative_share"
    key: Literal[KEY_FIELDS] = "street"  # type: ignore[valid-type]
    window: Duration = 6 * 3600.0
    baseline_period: Duration = 7 * 86400.0
    margin: float = Field(0.25, gt=0, lt=1)
    min_count: int = Field(10, ge=1)
    p_value: float = Field(0.01, gt=0, lt=1)


class EmergingEventRule(_RuleBase):
    type: Literal["emerging_event"] = "emerging_event"
    key: Literal["event_id"] = "event_id"
    window: Duration = 3 * 3600.0
    growth: float = Field(3.0, ge=1, description="count now / count in the window before")
    min_count: int = Field(5, ge=1)
    spread: bool = True  # a second source_type (or platform) joining the event also fires


class FlatlineRule(_RuleBase):
    type: Literal["flatline"] = "flatline"
    key: Literal["source", "source_type"] = "source_type"
    period: Duration = 6 * 3600.0
    lookback: Duration = 7 * 86400.0  # only keys that produced something in this span
    threshold: int = Field(1, ge=1, description="fewer posts than this in period fires")
    min_expected: float = Field(3.0, ge=0, description="skip keys that normally post less")
    auto_resolve: bool = True


class RelapseRule(_RuleBase):
    type: Literal["relapse"] = "relapse"
    key: Literal[KEY_FIELDS] = "event_id"  # type: ignore[valid-type]
    days: float = Field(14, gt=0, le=365)
    min_count: int = Field(1, ge=1)
    watch_rules: list[str] = []  # resolved alerts of these rules (empty: any rule with this key)


Rule = Annotated[
    MatchRule | SpikeRule | NegativeShareRule | EmergingEventRule | FlatlineRule | RelapseRule,
    Field(discriminator="type"),
]
WINDOW_TYPES = ("spike", "negative_share", "emerging_event", "flatline", "relapse")


class QuietHours(_S):
    start: str = "22:00"
    end: str = "07:00"

    @field_validator("start", "end")
    @classmethod
    def _hhmm(cls, v: str) -> str:
        if not _HHMM.match(v):
            raise ValueError(f"expected HH:MM, got {v!r}")
        return v


class RouteMatch(_S):
    severity: list[Literal["info", "warning", "critical"]] = []
    category: list[str] = []
    street: list[str] = []
    rule: list[str] = []
    rule_type: list[str] = []


class Route(_S):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str
    match: RouteMatch = RouteMatch()
    levels: list[Literal["grid", "community", "street", "district"]] = ["grid", "street"]
    contacts: list[str] = []  # named contacts in addition to the level lookup
    channels: list[Literal["email", "sms", "wecom", "dingtalk", "feishu", "webhook"]] = ["email"]
    group_by: list[str] = ["rule"]
    group_wait: Duration = 1.0
    group_interval: Duration = 60.0
    quiet_hours: QuietHours | None = None
    digest: Literal["hourly", "daily"] | None = None
    digest_at: str = "08:00"  # daily digests go out at this time
    send_resolved: bool = True
    continue_: bool = Field(False, alias="continue")


class ContactConfig(_S):
    name: str = Field(..., min_length=1, max_length=100)
    role: str = ""
    level: Literal["grid", "community", "street", "district", "operator"] = "grid"
    grid_id: str | None = None
    street: str | None = None
    community: str | None = None
    email: str | None = None
    phone: str | None = None
    webhook: str | None = None
    webhook_kind: Literal["wecom", "dingtalk", "feishu", "webhook"] | None = None
    webhook_secret_env: str | None = None


class SmtpConfig(_S):
    host: str = "127.0.0.1"
    port: int = Field(1025, ge=1, le=65535)
    security: Literal["none", "starttls", "ssl"] = "none"
    username: str | None = None
    password_env: str | None = "YUQING_SMTP_PASSWORD"
    password_file: str | None = None
    sender: str = "yuqing@localhost"
    timeout: float = Field(10.0, gt=0)


class SmsConfig(_S):
    url: str | None = None  # the gateway's HTTP endpoint (JSON POST)
    token_env: str | None = "YUQING_SMS_TOKEN"
    token_file: str | None = None
    sign: str = "历城区网格中心"
    template: str = "【{sign}】{severity}：{title}。{summary} 详情 {link}"
    max_segments: int = Field(3, ge=1, le=10)
    timeout: float = Field(10.0, gt=0)


class RobotConfig(_S):
    secret_env: str | None = None
    secret_file: str | None = None
    timeout: float = Field(10.0, gt=0)


class ChannelsConfig(_S):
    email: SmtpConfig = SmtpConfig()
    sms: SmsConfig = SmsConfig()
    wecom: RobotConfig = RobotConfig()
    dingtalk: RobotConfig = RobotConfig(secret_env="YUQING_DINGTALK_SECRET")
    feishu: RobotConfig = RobotConfig(secret_env="YUQING_FEISHU_SECRET")
    webhook: RobotConfig = RobotConfig(secret_env="YUQING_WEBHOOK_SECRET")


class EscalationConfig(_S):
    enabled: bool = True
    ack_timeout: Duration = 1800.0  # not acknowledged in this time → next level
    levels: list[Literal["grid", "community", "street", "district"]] = [
        "grid",
        "street",
        "district",
    ]
    channels: list[Literal["email", "sms", "wecom", "dingtalk", "feishu", "webhook"]] = [
        "email",
        "sms",
    ]


class InhibitRule(_S):
    source_severity: Literal["info", "warning", "critical"] = "critical"
    source_key: Literal[KEY_FIELDS] = "street"  # type: ignore[valid-type]
    target_key: Literal[KEY_FIELDS] = "grid_id"  # type: ignore[valid-type]
    equal: list[str] = ["category"]


class OutboxConfig(_S):
    backoff_initial: Duration = 2.0
    backoff_max: Duration = 300.0
    dead_after: Duration = 3600.0  # a notification undelivered this long is dead (operator alert)
    lease: Duration = 60.0  # a claimed send not finished in this time is retried elsewhere
    batch: int = Field(20, ge=1, le=500)


class AlertsConfig(_S):
    enabled: bool = True
    interval: Duration = 30.0  # window rules, escalation, digests: at most every 60 s
    rules: list[Rule] = []
    routes: list[Route] = []
    contacts: list[ContactConfig] = []
    contacts_file: str | None = None  # YAML list or CSV with the contact fields
    channels: ChannelsConfig = ChannelsConfig()
    escalation: EscalationConfig = EscalationConfig()
    inhibit: list[InhibitRule] = [InhibitRule()]
    outbox: OutboxConfig = OutboxConfig()
    revisit_after: Duration = 3 * 86400.0  # default follow-up time after resolution
    dispatch_deadline: Duration = 86400.0
    evidence_posts: int = Field(5, ge=1, le=50)
    demo_smtp_port: int = Field(1025, ge=1, le=65535)

    @field_validator("interval")
    @classmethod
    def _interval(cls, v: float) -> float:
        if not 1 <= v <= 60:
            raise ValueError("alerts.interval must be between 1s and 60s")
        return v

    @model_validator(mode="after")
    def _unique(self) -> AlertsConfig:
        seen: set[str] = set()
        for r in self.rules:
            if r.name in seen:
                raise ValueError(f"rule name {r.name!r} is used twice")
            seen.add(r.name)
        names = [r.name for r in self.routes]
        if len(names) != len(set(names)):
            raise ValueError("route names must be unique")
        return self
