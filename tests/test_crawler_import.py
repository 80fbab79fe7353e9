"""Hotline/petition import (CSV in UTF-8/GBK, Excel, API push) and the crawl health API."""

from __future__ import annotations

import openpyxl
import pytest

from core.cli import main as cli_main
from crawler import health

HEADER = "工单编号,受理时间,来电内容,事发地址,诉求类别,来电人姓名,联系电话\n"
ROWS = (
    "A001,2024-07-15 09:12,来电人反映：洪家楼街道某小区楼下烧烤油烟扰民。,历城区洪家楼街道七里堡社区3号楼,环境污染,张三,13800000000\n"
    "A002,2024年07月15日10:30,来电人反映：华山街道某路段井盖缺失。,历城区华山街道华山路12号,城市管理,李四,13900000000\n"
    "A003,不是日期,来电人反映：内容完整但时间错误。,历城区,其他,王五,1\n"
    "A004,2024-07-15 11:00,,历城区,其他,赵六,2\n"
)


def run_cli(settings_path, *argv) -> int:
    if argv[0] == "import":  # queue only, then process here (no 4 s wait for a running service)
        rc = cli_main(["--config", str(settings_path), *argv, "--no-wait"])
        cli_main(["--config", str(settings_path), "process"])
        return rc
    return cli_main(["--config", str(settings_path), *argv])


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_csv_import_any_encoding(tmp_path, settings, encoding, capsys):
    f = tmp_path / "hotline.csv"
    f.write_bytes((HEADER + ROWS).encode(encoding))
    rc = run_cli(tmp_path / "yuqing.yaml", "import", "hotline", str(f))
    out, err = capsys.readouterr()
    assert rc == 3  # some rows rejected
    assert "accepted 2 rows, rejected 2 (" in out
    assert "row 4: published_at" in err and "row 5: text" in err
    from core.services import Services

    svc = Services.open(settings)
    try:
        a1 = svc.store.get("hotline_12345:A001")
        assert a1 is not None and a1.source_type.value == "hotline"
        assert a1.text == "来电人反映：洪家楼街道某小区楼下烧烤油烟扰民。"
        assert a1.address == "历城区洪家楼街道七里堡社区3号楼"
        assert a1.extra["category"] == "环境污染"
        dumped = a1.model_dump_json()
        assert "张三" not in dumped and "13800000000" not in dumped  # callers are never mapped
        assert svc.store.get("hotline_12345:A002").published_at.hour == 10
        assert svc.inbox.deadletter_count() == 2
    finally:
        svc.close()
    # the same file again: same ids, nothing new
    run_cli(tmp_path / "yuqing.yaml", "import", "hotline", str(f))
    svc = Services.open(settings)
    try:
        assert svc.store.info()["posts"] == 2
    finally:
        svc.close()


def test_xlsx_petition_import(tmp_path, settings, capsys):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["信访件编号", "登记日期", "主要诉求", "问题属地", "信访形式"])
    from datetime import datetime

    ws.append(
        [
            20240001,
            datetime(2024, 7, 15, 9, 0),
            "反映王舍人街道某小区物业费上涨未经业主大会表决。",
            "历城区王舍人街道",
            "来信",
        ]
    )
    ws.append([None, None, None, None, None])
    ws.append(
        [20240002, "2024-07-16", "反映唐冶街道某工地夜间施工噪音。", "历城区唐冶街道", "来访"]
    )
    f = tmp_path / "petition.xlsx"
    wb.save(f)
    rc = run_cli(tmp_path / "yuqing.yaml", "import", "petition", str(f))
    out, _ = capsys.readouterr()
    assert rc == 0 and "accepted 2 rows, rejected 0 (xlsx)" in out
    from core.services import Services

    svc = Services.open(settings)
    try:
        p = svc.store.get("petition:20240001")
        assert p.source_type.value == "petition" and p.extra["form"] == "来信"
        assert p.address == "历城区王舍人街道"
        assert svc.store.get("petition:20240002") is not None
    finally:
        svc.close()


def test_unmapped_headers_are_one_clear_error(tmp_path, settings, capsys):
    f = tmp_path / "x.csv"
    f.write_text("a,b\n1,2\n", encoding="utf-8")
    rc = run_cli(tmp_path / "yuqing.yaml", "import", "hotline", str(f))
    err = capsys.readouterr().err
    assert rc == 2 and "no column for text" in err and "crawler.imports.hotline.columns" in err
    f.write_bytes(b"\xff\xfe\x00\xd8broken")
    assert (
        run_cli(tmp_path / "yuqing.yaml", "import", "hotline", str(tmp_path / "missing.csv")) == 2
    )


def test_api_push_import(client, api_keys, services):
    body = [
        {
            "工单编号": "B1",
            "受理时间": "2024-07-15 09:00",
            "来电内容": "来电人反映：路灯不亮。",
            "事发地址": "历城区东风街道",
        },
        {"id": "B2", "published_at": "2024-07-15T10:00:00+08:00", "text": "来电人反映：小区停水。"},
        {"工单编号": "B3", "受理时间": "2024-07-15"},
        "not an object",
    ]
    r = client.post("/api/v1/import/hotline", json=body, headers={"X-API-Key": api_keys["analyst"]})
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["accepted"] == 2 and data["ids"] == ["hotline_12345:B1", "hotline_12345:B2"]
    assert [x["record"] for x in data["rejected"]] == [3, 4]
    assert (
        client.post(
            "/api/v1/import/hotline", json=body, headers={"X-API-Key": api_keys["viewer"]}
        ).status_code
        == 403
    )
    assert client.post("/api/v1/import/nope", json=body).status_code == 404
    assert client.post("/api/v1/import/hotline", json={"x": 1}).status_code == 400
    assert services.inbox.pending() == 2


def test_sources_api_and_health(client, services):
    conn = services.app_db
    run = health.record_start(conn, "demo-rss", "rss")
    health.record_finish(conn, run, ok=True, items=5, rejected=0, pages=8, errors={}, message=None)
    run = health.record_start(conn, "demo-rss", "rss")
    health.record_finish(
        conn,
        run,
        ok=False,
        items=0,
        rejected=0,
        pages=1,
        errors={"http_500": 3},
        message="no feed/list page could be read",
    )
    r = client.get("/api/v1/sources")
    assert r.status_code == 200
    by_name = {s["name"]: s for s in r.json()["sources"]}
    h = by_name["demo-rss"]["health"]
    assert h["items_24h"] == 5 and h["runs_24h"] == 2 and h["failures_24h"] == 1
    assert h["errors_24h"] == {"http_500": 3} and h["last_error"].startswith("no feed")
    assert (
        by_name["weibo-licheng"]["enabled"] is False
        and by_name["weibo-licheng"]["health"]["runs_24h"] == 0
    )
    metrics = client.get("/metrics").text
    assert 'yuqing_crawl_errors_total{kind="http_500",source="demo-rss"}' in metrics
    assert 'yuqing_crawl_items_24h{source="demo-rss"} 5.0' in metrics
