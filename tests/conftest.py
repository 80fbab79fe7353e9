"""Shared fixtures: a fresh data directory per test, the services on it, and an API client."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("YUQING_TORCH_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

from core.config import Settings, load_settings  # noqa: E402
from core.services import Services  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
HEAVY = os.environ.get("YUQING_HEAVY") == "1"


def make_settings(tmp_path: Path, **overrides) -> Settings:
    data = {"data_dir": str(tmp_path / "var"), "pipeline": {"components": ["keywords"]}}
    data.update(overrides)
    cfg = tmp_path / "yuqing.yaml"
    import yaml

    cfg.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return load_settings(cfg, environ={})


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
def services(settings: Settings) -> Iterator[Services]:
    svc = Services.open(settings)
    yield svc
    svc.close()


@pytest.fixture
def api_keys(services: Services) -> dict[str, str]:
    return {
        role: services.keys.add(f"test-{role}", role)
        for role in ("viewer", "analyst", "officer", "admin")
    }


@pytest.fixture
def client(services: Services, api_keys: dict[str, str]):
    from fastapi.testclient import TestClient

    from api.app import create_app

    app = create_app(services)
    with TestClient(app) as c:
        c.headers["X-API-Key"] = api_keys["admin"]
        yield c
