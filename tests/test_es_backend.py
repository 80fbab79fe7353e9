"""Elasticsearch-specific behaviour: setup, rollover routing, connection errors, outages, 429s.

Runs against the noida-db emulator (started by the tests), or a real cluster when
$YUQING_ES_URL is set. The emulator is not Elasticsearch: these tests show the backend's logic,
not a cluster's performance or its ILM.
"""

from __future__ import annotations

import http.client
import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest
from conftest import make_settings
from es_emulator import Emulator, drop_indices, es_config, free_port
from test_store_conformance import NOW, corpus, make_post

from core.config import ElasticsearchStoreConfig
from store.base import Filters, SearchQuery, StoreError, StoreUnavailable
from store.elasticsearch import ElasticsearchStore


@pytest.fixture
def es_cfg():
    cfg = es_config()
    yield cfg
    drop_indices(cfg)


def test_setup_is_idempotent(es_cfg):
    store = ElasticsearchStore(es_cfg, check=False)
    store.server = store.check_connection()
    first = store.setup()
    second = store.setup()
    assert any("created" in line for line in first)
    assert any("mappings upgraded" in line for line in second)
    assert store.backing_indices(fresh=True) == [f"{es_cfg.index_prefix}-posts-000001"]
    if not store.ilm_supported():  # the emulator: reported, not a crash
        assert any("ILM: not supported" in line for line in first)
    store.close()


def test_update_after_rollover_reaches_the_index_holding_the_post(es_cfg):
    store = ElasticsearchStore(es_cfg)
    store.upsert(corpus())
    res = store.rollover(force=True)
    assert res["rolled_over"]
    old_index, new_index = res["old_index"], res["new_index"]
    seq_before = _source(store, "t:0")["seq"]
    changed = corpus()[0].model_copy(update={"text": "小区物业不作为，电梯坏了五天没人修"})
    store.upsert([changed, make_post(60, "新索引里的帖子：井盖丢失")])
    store.refresh()
    assert store.count(Filters()) == 7  # no second copy of t:0 in the new index
    hits = store.es.search(index=store.names.posts_alias, query={"ids": {"values": ["t:0"]}})
    assert [h["_index"] for h in hits["hits"]["hits"]] == [old_index]
    assert _source(store, "t:0")["seq"] == seq_before  # order among same-second posts kept
    where = store.es.search(index=store.names.posts_alias, query={"ids": {"values": ["t:60"]}})
    assert [h["_index"] for h in where["hits"]["hits"]] == [new_index]
    assert store.search(SearchQuery(q="五天")).total == 1
    assert store.search(SearchQuery(q="三天")).total == 0
    assert store.get("t:0").text.endswith("五天没人修")
    store.close()


def test_a_copy_left_in_two_indices_is_healed_on_the_next_write(es_cfg):
    store = ElasticsearchStore(es_cfg)
    post = corpus()[0]
    store.upsert([post])
    store.rollover(force=True)
    # simulate a race: another writer put the same post into the new write index
    store.es.index(
        index=store.names.posts_alias, id=post.id, document=_source(store, post.id), refresh=True
    )
    store.refresh()
    assert store.count(Filters()) == 2
    store.upsert([post])
    store.refresh()
    assert store.count(Filters()) == 1
    store.close()


def _source(store: ElasticsearchStore, pid: str) -> dict:
    return store._locate([pid], True)[pid][-1]["_source"]


def test_unreachable_cluster_is_one_clear_line():
    port = free_port()
    cfg = ElasticsearchStoreConfig(hosts=[f"http://127.0.0.1:{port}"], request_timeout=2)
    with pytest.raises(StoreError) as err:
        ElasticsearchStore(cfg)
    msg = str(err.value)
    assert "\n" not in msg and f"127.0.0.1:{port}" in msg and "cannot reach" in msg


def test_username_without_password_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("YUQING_ES_PASSWORD", raising=False)
    cfg = ElasticsearchStoreConfig(hosts=["https://127.0.0.1:9"], username="yuqing")
    with pytest.raises(StoreError, match="no password"):
        ElasticsearchStore(cfg)


def test_api_key_and_tls_settings_reach_the_client(monkeypatch, tmp_path):
    from store.elasticsearch import make_client

    monkeypatch.setenv("YUQING_TEST_ES_KEY", "c2VjcmV0")
    ca = tmp_path / "ca.pem"
    ca.write_text("not used before a connection is made")
    cfg = ElasticsearchStoreConfig(
        hosts=["https://es1.internal:9200"], api_key_env="YUQING_TEST_ES_KEY", ca_certs=str(ca)
    )
    client = make_client(cfg)
    assert client._headers["authorization"] == "ApiKey c2VjcmV0"
    client.close()


def test_store_outage_keeps_posts_in_the_inbox(tmp_path):
    """ES down -> the batch stays in the inbox (no attempt counted) -> ES back -> delivered."""
    from core.services import Services

    emu = Emulator(data_dir=tmp_path / "noida").start()
    try:
        prefix = "yqt-outage"
        settings = make_settings(
            tmp_path,
            pipeline={"components": []},  # only the store's behaviour is under test
            store={
                "backend": "elasticsearch",
                "elasticsearch": {
                    "hosts": [emu.url],
                    "index_prefix": prefix,
                    "request_timeout": 2,
                    "bulk_max_retries": 0,
                },
            },
        )
        services = Services.open(settings)
        try:
            proc = services.make_processor()
            proc.poll_interval = 0.05
            records = [p.model_dump(mode="json") for p in corpus()]
            assert services.inbox.put(records, origin="test").accepted == 6
            emu.stop()
            assert proc.process_once() == 0
            assert services.inbox.pending() == 6
            assert services.inbox.deadletter_count() == 0
            attempts = services.inbox.conn.execute("SELECT MAX(attempts) FROM inbox").fetchone()
            assert attempts[0] == 0  # an outage is not the posts' fault
            emu.start()
            delivered = 0
            for _ in range(100):  # bounded: the released rows come back after a short delay
                delivered += proc.process_once()
                if delivered >= 6:
                    break
                threading.Event().wait(0.05)
            assert delivered == 6 and services.inbox.pending() == 0
            services.store.refresh()
            assert services.store.count(Filters()) == 6
            assert services.inbox.deadletter_count() == 0
        finally:
            services.close()
    finally:
        emu.cleanup()


class _Throttle:
    """A loopback proxy in front of the cluster that answers the first N bulk requests with 429."""

    def __init__(self, upstream: str, reject: int) -> None:
        up = urlsplit(upstream)
        self.reject = reject
        self.rejected = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep the test output clean
                pass

            def _forward(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if "_bulk" in self.path and outer.rejected < outer.reject:
                    outer.rejected += 1
                    payload = json.dumps(
                        {"error": {"type": "es_rejected_execution_exception"}, "status": 429}
                    ).encode()
                    self.send_response(429)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("X-Elastic-Product", "Elasticsearch")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                conn = http.client.HTTPConnection(up.hostname, up.port, timeout=10)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                conn.request(self.command, self.path, body=body or None, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                self.send_response(resp.status)
                for k, v in resp.getheaders():
                    if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                conn.close()

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize("reject,retries,delivered", [(3, 3, True), (50, 1, False)])
def test_bulk_429_is_retried_with_backoff(es_cfg, reject, retries, delivered):
    proxy = _Throttle(es_cfg.hosts[0], reject)
    try:
        cfg = es_cfg.model_copy(update={"hosts": [proxy.url], "bulk_max_retries": retries})
        store = ElasticsearchStore(cfg)
        store.es = store.es.options(max_retries=0)  # count only the helper's retries
        store.bulk_initial_backoff = 0.05
        if delivered:
            store.upsert(corpus())
            store.refresh()
            assert store.count(Filters()) == 6
        else:
            with pytest.raises(StoreUnavailable):
                store.upsert(corpus())
        assert proxy.rejected >= min(reject, retries + 1)
        store.close()
    finally:
        proxy.close()


def test_a_post_the_cluster_rejects_is_a_store_error_not_an_outage(es_cfg):
    store = ElasticsearchStore(es_cfg)
    bad = make_post(70, "坏数据", published_at=NOW - timedelta(hours=1))
    # a document the mapping refuses (engagement_total must be a number)
    from store import es_mapping

    real = es_mapping.post_document

    def broken(post, seq):
        doc = real(post, seq)
        doc["engagement_total"] = "not a number"
        return doc

    import store.elasticsearch as mod

    mod.post_document = broken
    try:
        with pytest.raises(StoreError) as err:
            store.upsert([bad])
    finally:
        mod.post_document = real
    if not isinstance(err.value, StoreUnavailable):
        assert "t:70" in str(err.value)
    store.close()


def test_info_names_the_emulator(es_cfg):
    store = ElasticsearchStore(es_cfg)
    info = store.info()
    assert info["backend"] == "elasticsearch" and info["posts"] == 0
    assert info["indices"] == [f"{es_cfg.index_prefix}-posts-000001"]
    store.close()


def test_coordinates_become_a_wgs84_geo_point(es_cfg):
    store = ElasticsearchStore(es_cfg)
    store.upsert(
        [
            make_post(
                80, "高德坐标的帖子", coordinates={"lon": 117.12, "lat": 36.68, "crs": "gcj02"}
            ),
            make_post(81, "很远的帖子", coordinates={"lon": 116.40, "lat": 39.90}),
        ]
    )
    store.refresh()
    near = store.es.search(
        index=store.names.posts_alias,
        query={
            "geo_distance": {"distance": "100m", "location": {"lat": 36.67955, "lon": 117.11387}}
        },
    )
    assert [h["_id"] for h in near["hits"]["hits"]] == ["t:80"]
    assert store.get("t:80").coordinates.crs == "gcj02"  # the record itself is unchanged
    store.close()
