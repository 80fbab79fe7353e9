"""Keywords: governance phrases kept whole, boilerplate dropped, repeated phrases handled."""

from __future__ import annotations

from nlp.keywords import extract_keywords


def test_phrases_and_stopwords():
    kws = extract_keywords("来电人反映：小区消防通道被堵了，物业不管，希望相关部门尽快处理")
    assert kws[0] == "消防通道"
    assert not {"消防", "通道", "来电人", "反映", "尽快", "相关部门"} & set(kws)


def test_repeated_phrases_inside_longer_words():
    # a phrase found twice inside a longer segmented word once raised KeyError
    kws = extract_keywords("公交线路拥堵，公交线路拥堵，公交太挤，拥堵拥堵")
    assert kws[:2] == ["公交线路", "拥堵"]
    assert "公交" not in kws


def test_place_names_from_the_division_list():
    assert "港沟街道" in extract_keywords("请问港沟街道劳动监察大队的电话是多少")


def test_stats_keywords_endpoint(services, client):
    from core.pipeline import Context, build_pipeline
    from tests.test_events import incident_posts

    pipe = build_pipeline(Context(services.settings, services.store), ["keywords"])
    services.store.upsert(pipe(incident_posts()))
    words = {k["word"] for k in client.get("/api/v1/stats/keywords").json()["keywords"]}
    assert "唐冶街道" in words or "唐冶" in words
