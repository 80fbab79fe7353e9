"""One validated configuration: a YAML file plus environment overrides.

Lookup: ``--config`` / ``$YUQING_CONFIG`` / ``./config/yuqing.yaml`` if present, else built-in defaults.
Env overrides use ``YUQING__SECTION__KEY=value`` (value parsed as YAML), e.g.
``YUQING__SERVER__PORT=9000``. Secrets never live in the file: fields named ``*_env`` / ``*_file``
say where to read them, and :func:`read_secret` does so without logging the value.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from alerts.config import AlertsConfig
from crawler.config import CrawlerConfig
from enrich.config import AnalysisConfig
from geo.config import GeoConfig

ENV_PREFIX = "YUQING__"
DEFAULT_CONFIG_FILE = Path("config/yuqing.yaml")


class ConfigError(Exception):
    """Raised with a one-line, user-facing explanation."""


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ServerConfig(Section):
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    # "key": every endpoint but /health needs an API key.
    # "open-local": requests from loopback without a key act as admin (for a laptop demo only).
    auth: Literal["key", "open-local"] = "key"
    public_url: str | None = None  # links in notifications; default http://{host}:{port}
    max_batch: int = Field(1000, ge=1, le=10000)
    max_query_chars: int = Field(500, ge=10, le=5000)

    @model_validator(mode="after")
    def _default_public_url(self) -> ServerConfig:
        if not self.public_url:
            self.public_url = f"http://{self.host}:{self.port}"
        return self


class SqliteStoreConfig(Section):
    path: str = "yuqing.db"  # relative paths are under data_dir


class ElasticsearchStoreConfig(Section):
    hosts: list[str] = ["http://127.0.0.1:9200"]
    index_prefix: str = "yuqing"
    username: str | None = None
    password_env: str | None = "YUQING_ES_PASSWORD"
    password_file: str | None = None
    api_key_env: str | None = "YUQING_ES_API_KEY"
    api_key_file: str | None = None
    ca_certs: str | None = None
    verify_certs: bool = True
    request_timeout: float = Field(30.0, gt=0)
    shards: int = Field(1, ge=1)
    replicas: int = Field(0, ge=0)
    rollover_max_age: str = "30d"
    rollover_max_primary_shard_size: str = "50gb"
    delete_after: str | None = None
    # create the template/alias at start-up when missing (`yuqing es setup` does it explicitly)
    auto_setup: bool = True
    # bulk writes: docs per request, retries of 429 rejections (with back-off), refresh policy
    bulk_chunk: int = Field(500, ge=1, le=10000)
    bulk_max_retries: int = Field(5, ge=0, le=20)
    write_refresh: Literal["false", "wait_for", "true"] = "false"


class StoreConfig(Section):
    backend: Literal["sqlite", "elasticsearch"] = "sqlite"
    sqlite: SqliteStoreConfig = SqliteStoreConfig()
    elasticsearch: ElasticsearchStoreConfig = ElasticsearchStoreConfig()


class QueueConfig(Section):
    path: str = "inbox.db"
    batch_size: int = Field(256, ge=1, le=10000)
    poll_interval: float = Field(0.5, gt=0, le=60)
    max_attempts: int = Field(
        5, ge=1, description="failed enrichment attempts before dead-lettering"
    )


class PrivacyConfig(Section):
    salt_env: str = "YUQING_AUTHOR_SALT"
    salt_file: str = "secrets/author_salt"  # created on first use when absent


class PipelineConfig(Section):
    # spaCy-style: the ordered names of registered components (core.pipeline.COMPONENTS).
    components: list[str] = ["keywords", "sentiment", "category", "risk", "geo", "dedup", "events"]


class SentimentConfig(Section):
    model_dir: str = "models/sentiment"  # a version directory, or a parent with CURRENT naming one
    batch_size: int = Field(64, ge=1, le=1024)
    max_length: int = Field(128, ge=16, le=512)
    max_chunks: int = Field(8, ge=1, le=64)
    quantize: bool = True  # int8 dynamic quantization of Linear layers (CPU speed)


class NlpConfig(Section):
    threads: int = Field(1, ge=1, le=64, description="torch intra-op threads")
    sentiment: SentimentConfig = SentimentConfig()


class Settings(Section):
    data_dir: str = "var"
    app_db: str = "yuqing.db"  # keys, labels, alert state; the embedded store shares the file
    timezone: str = "Asia/Shanghai"
    district: str = "历城区"
    server: ServerConfig = ServerConfig()
    store: StoreConfig = StoreConfig()
    queue: QueueConfig = QueueConfig()
    privacy: PrivacyConfig = PrivacyConfig()
    pipeline: PipelineConfig = PipelineConfig()
    nlp: NlpConfig = NlpConfig()
    crawler: CrawlerConfig = CrawlerConfig()
    analysis: AnalysisConfig = AnalysisConfig()
    alerts: AlertsConfig = AlertsConfig()
    geo: GeoConfig = GeoConfig()

    def path(self, rel: str) -> Path:
        """Resolve a data path: absolute stays, relative goes under data_dir."""
        p = Path(rel)
        return p if p.is_absolute() else Path(self.data_dir) / p

    def ensure_dirs(self) -> None:
        Path(self.data_dir).mkdir(parents=True, exist_ok=True)


def _apply_env(data: dict[str, Any], environ: dict[str, str]) -> dict[str, Any]:
    for key, raw in environ.items():
        if not key.startswith(ENV_PREFIX):
            continue
        parts = [p.lower() for p in key[len(ENV_PREFIX) :].split("__") if p]
        if not parts:
            continue
        node = data
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = {}
                node[part] = child
            node = child
        try:
            node[parts[-1]] = yaml.safe_load(raw)
        except yaml.YAMLError:
            node[parts[-1]] = raw
    return data


def _format_validation(exc: ValidationError, origin: str) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        parts.append(f"{loc}: {err['msg']}")
    return f"invalid configuration ({origin}): " + "; ".join(parts)


def load_settings(
    path: str | Path | None = None, environ: dict[str, str] | None = None
) -> Settings:
    environ = dict(os.environ if environ is None else environ)
    chosen = path or environ.get("YUQING_CONFIG")
    origin = "built-in defaults"
    data: dict[str, Any] = {}
    if chosen is None and DEFAULT_CONFIG_FILE.exists():
        chosen = DEFAULT_CONFIG_FILE
    if chosen is not None:
        p = Path(chosen)
        origin = str(p)
        if not p.exists():
            raise ConfigError(f"config file not found: {p}")
        try:
            loaded = yaml.safe_load(p.read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise ConfigError(
                f"config file {p} is not valid YAML: {str(exc).splitlines()[0]}"
            ) from None
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"config file {p} must contain a mapping at the top level")
        data = loaded
    data = _apply_env(data, environ)
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_validation(exc, origin)) from None


def read_secret(
    env: str | None, file: str | None, environ: dict[str, str] | None = None
) -> str | None:
    """Read a secret from an env var or a file; never logged, never stored in config."""
    environ = os.environ if environ is None else environ
    if env and environ.get(env):
        return environ[env]
    if file:
        p = Path(file)
        if p.exists():
            return p.read_text(encoding="utf-8").strip() or None
    return None
