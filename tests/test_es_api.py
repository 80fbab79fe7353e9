"""The same HTTP answers with ``store.backend: elasticsearch`` as with the embedded store.

Two services on the same input (the processor, the keywords component, the API): one on
SQLite, one on Elasticsearch (the noida-db emulator, or $YUQING_ES_URL).
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote

import pytest
from conftest import make_settings
from es_emulator import drop_indices, es_url
from fastapi.testclient import TestClient
from test_es_migration import NOW, demo_posts

from api.app import create_app
from core.services import Services

PATHS = [
    "/api/v1/posts?q=物业&size=30",
    "/api/v1/posts?q=暖气 OR 停水&street=洪家楼街道&sort=engagement",
    "/api/v1/posts?sentiment=negative&size=50",
    "/api/v1/posts?q=工资 -拖欠",
    "/api/v1/stats/timeline?interval=day&split=sentiment",
    "/api/v1/stats/timeline?interval=hour&q=暖气",
    "/api/v1/stats/breakdown?field=street",
    "/api/v1/stats/breakdown?field=grid_id&q=物业",
    "/api/v1/stats/keywords?size=20",
]


@pytest.fixture(scope="module")
def clients(tmp_path_factory):
    records = [p.model_dump(mode="json") for p in demo_posts()[:600]]
    out = {}
    opened = []
    for backend in ("sqlite", "elasticsearch"):
        tmp = tmp_path_factory.mktemp(backend)
        store = {"backend": backend}
        if backend == "elasticsearch":
            store["elasticsearch"] = {"hosts": [es_url()], "index_prefix": f"yqt-api-{tmp.name}"}
        settings = make_settings(tmp, store=store)
        services = Services.open(settings)
        opened.append(services)
        services.inbox.put(records, origin="test")
        services.make_processor().drain()
        getattr(services.store, "refresh", lambda: None)()
        key = services.keys.add("test-admin", "admin")
        client = TestClient(create_app(services))
        client.headers["X-API-Key"] = key
        out[backend] = client
    yield out
    for services in opened:
        services.close()
        if services.store.backend == "elasticsearch":
            drop_indices(services.settings.store.elasticsearch)


def _window(path: str) -> str:
    sep = "&" if "?" in path else "?"
    since = quote((NOW - timedelta(days=7)).isoformat())
    return f"{path}{sep}since={since}&until={quote(NOW.isoformat())}"


@pytest.mark.parametrize("path", PATHS)
def test_same_answers(clients, path):
    a = clients["sqlite"].get(_window(path))
    b = clients["elasticsearch"].get(_window(path))
    assert a.status_code == b.status_code == 200, (a.text[:200], b.text[:200])
    ja, jb = a.json(), b.json()
    for j in (ja, jb):
        if isinstance(j, dict):
            # cursors are backend-specific tokens: only whether there is a next page must agree
            j["next_cursor"] = j.get("next_cursor") is not None
            for hit in j.get("hits", []):
                # BM25 in FTS5 and Lucene differ in their numbers, not in which hits score
                hit["score"] = hit.get("score") is not None
    assert ja == jb


def test_same_post_and_errors(clients):
    pid = demo_posts()[3].id
    a, b = (
        clients["sqlite"].get(f"/api/v1/posts/{pid}"),
        clients["elasticsearch"].get(f"/api/v1/posts/{pid}"),
    )
    assert a.status_code == b.status_code == 200 and a.json() == b.json()
    for bad in ("/api/v1/posts?cursor=%3F%3F%3F", "/api/v1/stats/breakdown?field=nope"):
        ra, rb = clients["sqlite"].get(bad), clients["elasticsearch"].get(bad)
        assert ra.status_code == rb.status_code == 400


def test_health_names_the_backend(clients):
    h = clients["elasticsearch"].get("/api/v1/health").json()
    ref = clients["sqlite"].get("/api/v1/health").json()
    assert h["checks"]["store"]["backend"] == "elasticsearch"
    assert h["checks"]["store"]["posts"] == ref["checks"]["store"]["posts"] > 0
