"""The geo component in the running service: sample layer on first start, counts on the map,
the API endpoints, the gazetteer CLI, and a layer re-import while the HTTP server is serving."""

from __future__ import annotations

import socket
import threading
import time

import httpx
import pytest
from conftest import make_settings
from geo_helpers import grid_2x2, write_layer

from core.services import Services

GEO = {"reload_interval_s": 0.1}


@pytest.fixture
def geo_settings(tmp_path):
    return make_settings(tmp_path, pipeline={"components": ["keywords", "geo"]}, geo=GEO)


@pytest.fixture
def geo_services(geo_settings):
    svc = Services.open(geo_settings)
    yield svc
    svc.close()


@pytest.fixture
def geo_client(geo_services):
    from fastapi.testclient import TestClient

    from api.app import create_app

    key = geo_services.keys.add("t-admin", "admin")
    with TestClient(create_app(geo_services)) as c:
        c.headers["X-API-Key"] = key
        yield c


def rec(i: int, text: str, **kw) -> dict:
    return {
        "id": f"geo:{i}",
        "source": "weibo",
        "source_type": "microblog",
        "text": text,
        "published_at": "2026-11-20T10:00:00+08:00",
        **kw,
    }


def _import(settings, path, **kw) -> int:
    """What `yuqing grids import` does, from a separate GeoService (as another process would)."""
    from geo.layer import build_layer, read_features
    from geo.service import GeoService

    other = GeoService(settings)
    try:
        feats, declared = read_features(path)
        grids, report = build_layer(feats, declared)
        return other.registry.import_layer(grids, report, path.stem, str(path))
    finally:
        other.close()


def test_pipeline_tags_posts_and_the_map_counts_them(geo_client, geo_services):
    records = [
        rec(1, "洪家楼街道花园北区社区暖气不热，太冷了，投诉"),
        rec(2, "这里的银杏好美", coordinates={"lon": 117.0545, "lat": 36.6735}),
        rec(3, "今天天气不错"),
        rec(4, "奥体中心今晚有演唱会"),
    ]
    assert geo_client.post("/api/v1/posts", json=records).status_code == 202
    geo_services.make_processor().drain()
    posts = {p.id: p for p in geo_services.store.get_many([r["id"] for r in records])}
    assert posts["geo:1"].geo.community == "花园北区社区"
    assert posts["geo:2"].geo.level == "grid" and posts["geo:2"].geo.street == "山大路街道"
    assert posts["geo:2"].geo.special_grid_ids  # 山东大学中心校区's special grid in the sample
    assert posts["geo:3"].geo.level == "unlocated"
    assert posts["geo:4"].geo.level == "outside"

    fc = geo_client.get("/api/v1/grids", params={"window": "3650d"}).json()
    assert fc["type"] == "FeatureCollection" and fc["grids"] >= 1100
    by_id = {f["id"]: f["properties"] for f in fc["features"]}
    gid = posts["geo:2"].geo.grid_id
    assert by_id[gid]["count"] == 1 and by_id[gid]["open_alerts"] == 0
    special = posts["geo:2"].geo.special_grid_ids[0]
    assert by_id[special]["count"] == 1 and by_id[special]["kind"] == "special"
    # street filter narrows both the posts and the features; simplified geometry is smaller
    fc2 = geo_client.get(
        "/api/v1/grids", params={"street": "山大路街道", "simplify": 50, "kind": "basic"}
    ).json()
    assert {f["properties"]["street"] for f in fc2["features"]} == {"山大路街道"}
    assert fc2["count"] == 1
    light = geo_client.get("/api/v1/grids", params={"geometry": "false"}).json()
    assert light["features"][0]["geometry"] is None

    detail = geo_client.get(f"/api/v1/grids/{gid}").json()
    assert detail["properties"]["count"] == 1 and detail["geometry"]["type"] in (
        "Polygon",
        "MultiPolygon",
    )
    assert geo_client.get("/api/v1/grids/NOPE").status_code == 404
    r = geo_client.get("/api/v1/stats/breakdown", params={"field": "street"}).json()
    assert {b["key"] for b in r["buckets"]} == {"洪家楼街道", "山大路街道"}


def test_open_alerts_hook(geo_client, geo_services):
    geo_services.extras["alerts.open_by_grid"] = lambda filters: {"37011200101306": 3}
    fc = geo_client.get("/api/v1/grids", params={"grid": "37011200101306"}).json()
    assert fc["features"][0]["properties"]["open_alerts"] == 3

    def broken(filters):
        raise RuntimeError("engine down")

    geo_services.extras["alerts.open_by_grid"] = broken
    fc = geo_client.get("/api/v1/grids", params={"grid": "37011200101306"}).json()
    assert fc["features"][0]["properties"]["open_alerts"] == 0


def test_hierarchy_tag_and_layers_endpoints(geo_client):
    h = geo_client.get("/api/v1/geo/hierarchy").json()
    streets = {s["name"]: s for s in h["streets"]}
    assert h["district"] == "历城区" and len(streets) == 17
    assert streets["仲宫街道"]["in_grid_area"] is False and streets["仲宫街道"]["grids"] == 0
    assert streets["唐冶街道"]["grids"] > 20
    assert any(c["code"] == "370112002016" for c in streets["洪家楼街道"]["communities"])
    t = geo_client.post("/api/v1/geo/tag", json={"text": "董家街道苏家庄村停电"}).json()
    assert (t["street"], t["community"]) == ("董家街道", "苏家庄村")
    assert geo_client.post("/api/v1/geo/tag", json={"lon": 117.0}).status_code == 400
    layers = geo_client.get("/api/v1/geo/layers").json()["layers"]
    assert layers[0]["active"] and layers[0]["name"].startswith("sample")


def test_gazetteer_commands(geo_settings, tmp_path, capsys):
    from argparse import Namespace

    from core.cli import CliError
    from geo import commands

    base = {"kind": "compound", "community": None, "grid": None, "alias": None, "note": None}
    commands.cmd_gaz_add(Namespace(name="鲁能领秀城", street="唐冶街道", **base), geo_settings)
    with pytest.raises(CliError, match="unknown street"):
        commands.cmd_gaz_add(Namespace(name="某小区", street="不存在街道", **base), geo_settings)
    with pytest.raises(CliError, match="several streets"):
        commands.cmd_gaz_add(
            Namespace(name="某村口", **{**base, "community": "苏家庄村"}, street=None), geo_settings
        )
    csv_file = tmp_path / "g.csv"
    csv_file.write_text(
        "name,kind,street,aliases\n山东建筑大学,school,港沟街道,建大\n", encoding="utf-8"
    )
    commands.cmd_gaz_import(Namespace(file=str(csv_file), replace=False), geo_settings)
    capsys.readouterr()
    commands.cmd_gaz_list(Namespace(all=False), geo_settings)
    out = capsys.readouterr().out
    assert "鲁能领秀城" in out and "山东建筑大学" in out and "奥体中心" not in out
    commands.cmd_tag(
        Namespace(
            text="鲁能领秀城停水",
            address=None,
            author_location=None,
            lon=None,
            lat=None,
            crs="wgs84",
        ),
        geo_settings,
    )
    assert '"唐冶街道"' in capsys.readouterr().out
    bad = tmp_path / "bad.csv"
    bad.write_text("name,kind\n某地,castle\n", encoding="utf-8")
    with pytest.raises(CliError, match="bad.csv:2: kind 'castle'"):
        commands.cmd_gaz_import(Namespace(file=str(bad), replace=False), geo_settings)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_reimport_while_the_service_runs(geo_settings, geo_services, tmp_path):
    import uvicorn

    from api.app import create_app

    key = geo_services.keys.add("t-viewer", "viewer")
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(geo_services), host="127.0.0.1", port=port, log_level="error")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}/api/v1"
    headers = {"X-API-Key": key}
    try:
        deadline = time.monotonic() + 20
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.started
        first = httpx.get(f"{base}/grids?geometry=false", headers=headers, timeout=30).json()
        assert first["grids"] >= 1100
        old_version = first["layer_version"]

        seen: list[tuple[int, int]] = []
        errors: list[str] = []
        stop = threading.Event()

        def poll():
            with httpx.Client(headers=headers, timeout=30) as c:
                for _ in range(400):  # bounded
                    if stop.is_set():
                        return
                    r = c.get(f"{base}/grids?geometry=false&kind=basic")
                    if r.status_code != 200:
                        errors.append(f"{r.status_code} {r.text[:100]}")
                        return
                    body = r.json()
                    seen.append((body["layer_version"], body["grids"]))

        poller = threading.Thread(target=poll)
        poller.start()
        time.sleep(0.2)
        path = write_layer(tmp_path / "district.geojson", grid_2x2("D"))
        new_version = _import(geo_settings, path)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not any(v == new_version for v, _ in seen):
            time.sleep(0.05)
        stop.set()
        poller.join(timeout=30)
        assert not errors
        # every answer is one whole layer: the old one (≥1100 grids) or the new one (4)
        assert all(
            (v == old_version and n >= 1100) or (v == new_version and n == 4) for v, n in seen
        )
        assert seen[-1] == (new_version, 4)
        # posts processed after the import are tagged into the new layer
        r = httpx.post(
            f"{base}/posts",
            json=[rec(9, "在这", coordinates={"lon": 117.105, "lat": 36.705})],
            headers={"X-API-Key": geo_services.keys.add("t-w", "admin")},
            timeout=30,
        )
        assert r.status_code == 202
        geo_services.make_processor().drain()
        assert geo_services.store.get("geo:9").geo.grid_id == "D00"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def test_a_broken_gazetteer_file_does_not_stop_geotagging(geo_settings):
    from geo.service import GeoService

    svc = GeoService(geo_settings)
    svc.ensure_sample_layer()
    svc.gazetteer_path.parent.mkdir(parents=True, exist_ok=True)
    svc.gazetteer_path.write_text("name,kind,street\n某小区,compound,火星街道\n", encoding="utf-8")
    g = svc.tagger().tag_fields("华山湖边散步")  # a sample entry still works
    assert g.street == "华山街道"
    assert "火星街道" in (svc.last_error or "")
    svc.close()


def test_official_names_in_an_export_are_normalised():
    from geo_helpers import feature, square

    from geo.layer import build_layer

    grids, _ = build_layer(
        [feature("A", square(0, 0), street="洪家楼街道办事处", community="花园北区社区居民委员会")]
    )
    assert (grids[0].street, grids[0].community) == ("洪家楼街道", "花园北区社区")
