"""The dashboard end to end in headless Chromium against ``yuqing run`` with the demo loaded.

One service and one browser for the module (starting them is the slow part); each test opens
its own tab and logs in with the key of the role it needs. Screenshots go to
``test-artifacts/dashboard/``.
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime

import pytest

from tests.dashboard_harness import (
    REPO,
    TEST_RULE,
    TEST_TOKEN,
    Service,
    chromium,
    login,
    screenshot,
)

# Starting the service and loading the demo through the full pipeline is slow on a busy 2-core box.
pytestmark = [pytest.mark.browser, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def svc(tmp_path_factory) -> Service:
    tmp = tmp_path_factory.mktemp("dashboard")
    service = Service(tmp, extra_rules=[TEST_RULE])
    try:
        service.run_cli("demo", timeout=900)
        service.wait_processed()
        service.keys = {
            role: service.add_key(f"dash-{role}", role) for role in ("viewer", "analyst", "officer")
        }
        yield service
    finally:
        service.stop()


@pytest.fixture(scope="module")
def browser(svc, tmp_path_factory):
    with chromium(tmp_path_factory.mktemp("chromium")) as context:
        yield context


@pytest.fixture
def page(browser):
    page = browser.new_page()
    page.dialogs = []
    page.errors = []
    page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    yield page
    page.close()


def _post(svc: Service, **fields) -> str:
    uid = uuid.uuid4().hex[:12]
    pid = f"dashtest:{uid}"
    record = {
        "id": pid,
        "source": f"dashtest-{uid}",  # the test rule keys on source: one alert per post
        "source_type": "microblog",
        "published_at": datetime.now(UTC).isoformat(),
        **fields,
    }
    with svc.http() as c:
        r = c.post("/posts", json=[record])
    assert r.status_code == 202 and r.json()["accepted"] == 1, r.text
    return pid


def _wait_stored(svc: Service, pid: str, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    with svc.http() as c:
        while time.monotonic() < deadline:
            r = c.get(f"/posts/{pid}")
            if r.status_code == 200:
                return r.json()
            time.sleep(0.25)
    raise AssertionError(f"post {pid} was not stored within {timeout}s")


def test_map_renders_every_grid_of_the_sample_layer(svc, page):
    with svc.http() as c:
        r = c.get("/grids", params={"window": "7d", "geometry": "false"})
    assert r.status_code == 200, (
        f"GET /api/v1/grids (issue 5) is required: {r.status_code} {r.text[:200]}"
    )
    api_ids = {f["properties"]["id"] for f in r.json()["features"]}
    sample = json.loads((REPO / "data" / "geo" / "sample_grids.geojson").read_text("utf-8"))
    assert api_ids == {f["properties"]["id"] for f in sample["features"]}

    login(page, svc.base, svc.keys["viewer"])
    page.wait_for_selector("body[data-map-ready='1']", timeout=30_000)
    drawn = page.eval_on_selector_all("#map path.grid", "els => els.map(e => e.dataset.gridId)")
    assert len(drawn) == len(api_ids) and set(drawn) == api_ids
    # every path has geometry and a fill (basic) or a dashed outline (special)
    empty = page.eval_on_selector_all(
        "#map path.grid", "els => els.filter(e => !e.getAttribute('d')).length"
    )
    assert empty == 0
    assert page.locator("#map path.street").count() >= 10  # the street base
    assert "个网格" in page.inner_text("#map-status")

    # hover: the tooltip names the grid, its community and street
    basic = next(f for f in sample["features"] if f["properties"]["kind"] == "basic")
    props = basic["properties"]
    target = page.locator(f'#map path.grid[data-grid-id="{props["id"]}"]')
    target.scroll_into_view_if_needed()
    target.hover(force=True)
    tip = page.locator("#map-tip")
    tip.wait_for(state="visible", timeout=5000)
    text = tip.inner_text()
    assert props["name"] in text and props["community"] in text and props["street"] in text

    # zoom and pan change the view box; click opens the grid panel
    before = page.get_attribute("#map", "viewBox")
    page.click("#zoom-in")
    assert page.get_attribute("#map", "viewBox") != before
    page.click("#zoom-reset")
    assert page.get_attribute("#map", "viewBox") == before
    target.click(force=True)
    panel = page.locator("#grid-panel")
    panel.wait_for(state="visible", timeout=5000)
    assert props["name"] in panel.inner_text()
    page.wait_for_function(
        "() => !document.querySelector('#grid-panel .g-posts .status')", timeout=10_000
    )

    # trends: the three lines (三量), keywords, events (or a clear "not enabled"), no error text
    page.wait_for_function(
        "() => document.querySelectorAll('#trend-summary .line-tile').length === 3", timeout=20_000
    )
    names = page.eval_on_selector_all(
        "#trend-summary .line-tile .name", "els => els.map(e => e.textContent)"
    )
    assert names == ["热线", "网络舆情", "信访"]
    assert page.locator("#trend-chart svg path.series").count() == 3
    page.wait_for_selector("#keywords button.kw", timeout=20_000)
    page.wait_for_selector("#events li", timeout=20_000)
    for sel in ("#events", "#cat-bars", "#trend-status", "#kw-status", "#cat-status"):
        assert "出错" not in page.inner_text(sel), (sel, page.inner_text(sel))

    # street filter: grids outside the street are dimmed
    page.select_option("#f-street", props["street"])
    dimmed = page.locator("#map path.grid.dim").count()
    in_street = sum(1 for f in sample["features"] if f["properties"]["street"] == props["street"])
    assert dimmed == len(api_ids) - in_street
    screenshot(page, "map")
    assert not page.errors, page.errors


def test_alert_appears_live_and_is_acknowledged(svc, page):
    login(page, svc.base, svc.keys["officer"])
    page.wait_for_selector("body[data-feed-ready='1']", timeout=30_000)
    page.wait_for_selector("#alert-live.ok", timeout=15_000)  # the SSE stream is connected
    marker = uuid.uuid4().hex[:6]
    started = time.monotonic()
    _post(
        svc,
        text=f"{TEST_TOKEN} {marker} 洪家楼街道花园北区社区居民聚集堵路拉横幅，有人扬言要跳楼",
        source_type="hotline",
    )
    card = page.locator("li.alert[data-rule=dashboard_e2e]", has_text=marker)
    card.wait_for(timeout=20_000)
    latency = time.monotonic() - started
    assert card.get_attribute("data-status") == "firing"
    assert "sev-critical" in card.get_attribute("class")
    alert_id = card.get_attribute("data-alert-id")
    screenshot(page, "alert-firing")

    card.locator("button[data-action=ack]").click()
    page.wait_for_selector(
        f'li.alert[data-alert-id="{alert_id}"][data-status="acknowledged"]', timeout=10_000
    )
    with svc.http() as c:
        a = c.get(f"/alerts/{alert_id}").json()
    assert a["status"] == "acknowledged" and a["acked_by"] == "dash-officer"
    assert any(e["action"] == "ack" and e["actor"] == "dash-officer" for e in a["events"])
    screenshot(page, "alert-acknowledged")
    print(f"alert shown {latency:.1f}s after ingest")
    assert not page.errors, page.errors


def test_search_finds_and_highlights(svc, page):
    login(page, svc.base, svc.keys["viewer"])
    page.fill("#q-top", "物业")
    page.press("#q-top", "Enter")
    page.wait_for_selector("#results li.hit", timeout=15_000)
    assert "共" in page.inner_text("#search-status")
    ems = page.eval_on_selector_all("#results li.hit em", "els => els.map(e => e.textContent)")
    assert ems and all(e == "物业" for e in ems)
    page.locator("#results .hit-title").first.click()
    page.wait_for_selector("dialog#detail .d-text", timeout=10_000)
    assert "物业" in page.inner_text("dialog#detail .d-text")
    assert page.locator("dialog#detail .e-geo").count() == 1
    assert page.locator("dialog#detail .label-form").count() == 0  # viewer: no correction
    screenshot(page, "search")
    assert not page.errors, page.errors


def test_label_correction_round_trips(svc, page):
    marker = uuid.uuid4().hex[:6]
    pid = _post(svc, text=f"{TEST_TOKEN} {marker} 小区物业服务很好，门口新修了步道，点赞")
    _wait_stored(svc, pid)
    login(page, svc.base, svc.keys["analyst"])
    page.fill("#q-top", f"{TEST_TOKEN} {marker}")
    page.press("#q-top", "Enter")
    hit = page.locator(f'#results li.hit[data-post-id="{pid}"]')
    hit.wait_for(timeout=15_000)
    hit.locator(".hit-title").click()
    form = page.locator("dialog#detail .label-form")
    form.wait_for(timeout=10_000)
    form.locator('[data-label-field=sentiment] button[data-value="negative"]').click()
    page.wait_for_selector(
        'dialog#detail [data-label-field=sentiment] button[data-value="negative"][aria-pressed="true"]',
        timeout=10_000,
    )
    assert "负面" in page.inner_text("dialog#detail [data-field=sentiment]")
    form = page.locator("dialog#detail .label-form")
    form.locator("select.label-category").select_option("urban_management")
    page.wait_for_function(
        "() => (document.querySelector('dialog#detail [data-field=category]')||{}).textContent?.includes('城市管理')",
        timeout=10_000,
    )
    with svc.http() as c:
        post = c.get(f"/posts/{pid}").json()
        history = c.get("/labels", params={"post_id": pid}).json()["labels"]
    assert post["sentiment"]["label"] == "negative"
    assert post["category"]["label"] == "urban_management"
    fields = {(row["field"], row["value"], row["actor"]) for row in history}
    assert ("sentiment", "negative", "dash-analyst") in fields
    assert ("category", "urban_management", "dash-analyst") in fields
    screenshot(page, "label-correction")
    assert not page.errors, page.errors


def test_hostile_post_text_is_shown_as_text(svc, page):
    marker = uuid.uuid4().hex[:6]
    title = f'<script>window.__pwned="title"</script>{marker}'
    text = (
        f"{TEST_TOKEN} {marker} <img src=x onerror=\"window.__pwned='img';alert(1)\"> "
        f'<svg onload="window.__pwned=\'svg\'"></svg> 物业 <a href="javascript:alert(2)">点我</a>'
    )
    pid = _post(svc, title=title, text=text, url="https://example.invalid/x?<script>")
    _wait_stored(svc, pid)
    login(page, svc.base, svc.keys["officer"])
    page.fill("#q-top", f"{TEST_TOKEN} {marker} 物业")
    page.press("#q-top", "Enter")
    hit = page.locator(f'#results li.hit[data-post-id="{pid}"]')
    hit.wait_for(timeout=15_000)
    assert "<script>" in hit.inner_text() and "<img" in hit.inner_text()
    hit.locator(".hit-title").click()
    page.wait_for_selector("dialog#detail .d-text", timeout=10_000)
    assert page.inner_text("dialog#detail .d-text") == text
    assert page.inner_text("dialog#detail .d-title") == title
    assert page.locator("dialog#detail img, dialog#detail script").count() == 0
    page.click("dialog#detail button.close")
    # the alert feed shows the same text (the test rule fires on the token)
    page.locator("li.alert[data-rule=dashboard_e2e]", has_text=marker).wait_for(timeout=20_000)
    page.locator("li.alert[data-rule=dashboard_e2e]", has_text=marker).locator(
        ".evidence-btn"
    ).click()
    page.wait_for_selector("li.alert.expanded .evidence li", timeout=10_000)
    page.wait_for_timeout(500)
    for root in ("#results", "dialog#detail", "#alert-feed"):
        assert page.locator(f"{root} img, {root} script, {root} svg[onload]").count() == 0, root
    assert page.locator('a[href^="javascript:"]').count() == 0
    assert page.evaluate("() => window.__pwned") is None
    assert page.dialogs == []
    screenshot(page, "hostile-text")
    assert not page.errors, page.errors


def test_roles_and_session_only_key(svc, page, browser):
    login(page, svc.base, svc.keys["viewer"])
    page.wait_for_selector("body[data-feed-ready='1']", timeout=30_000)
    assert page.get_attribute("body", "data-role") == "viewer"
    assert page.locator("#alert-feed button.act").count() == 0
    assert "查看员" in page.inner_text("#whoami")
    stored = page.evaluate(
        "() => [sessionStorage.getItem('yuqing.apiKey'), JSON.stringify(localStorage), document.cookie]"
    )
    assert stored[0] == svc.keys["viewer"] and svc.keys["viewer"] not in stored[1] + stored[2]
    # a new tab starts logged out; a wrong key is refused with a Chinese message
    other = browser.new_page()
    try:
        other.goto(f"{svc.base}/")
        other.wait_for_selector("#login-key", state="visible", timeout=10_000)
        other.fill("#login-key", "yq_not-a-key")
        other.click("#login-form button[type=submit]")
        other.wait_for_function(
            "() => document.querySelector('#login-error').textContent.includes('无效')",
            timeout=10_000,
        )
    finally:
        other.close()
    page.click("#logout")
    assert page.evaluate("() => sessionStorage.getItem('yuqing.apiKey')") is None
    assert page.is_visible("#login-key")


def test_whoami_and_street_outlines(svc):
    with svc.http(svc.keys["analyst"]) as c:
        me = c.get("/whoami").json()
        streets = c.get("/dashboard/streets")
    assert me == {
        "name": "dash-analyst",
        "role": "analyst",
        "can": {"label": True, "act_on_alerts": False, "admin": False},
    }
    assert streets.status_code == 200
    fc = streets.json()
    assert fc["type"] == "FeatureCollection" and len(fc["features"]) >= 10
    assert all(f["geometry"]["type"] in ("Polygon", "MultiPolygon") for f in fc["features"])
    import httpx

    assert httpx.get(f"{svc.base}/api/v1/whoami", timeout=5).status_code == 401
