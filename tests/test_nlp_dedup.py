"""Near-duplicates: reposts after light edits are found, unrelated posts and re-processing are not."""

from __future__ import annotations

from datetime import datetime, timedelta

from core.config import load_settings
from core.pipeline import Context
from core.schema import SHANGHAI, Post
from enrich.dedup import DedupComponent
from nlp.dedup import NearDuplicateIndex, normalise

ORIGINAL = (
    "#历城区# 祥泰城的业主们注意了！！物业偷偷把电梯广告、停车场这些公共收益揣自己兜里三年了，"
    "群里已经约好周一早上八点全体去物业中心门口，能来的都来，人多力量大"
)
# a light edit: prefix, dropped words, changed punctuation, a repost chain and a link
REPOST = (
    "转发：祥泰城业主们注意了！物业把电梯广告和停车场这些公共收益揣进自己兜里三年了，"
    "群里已约好周一早八点全体去物业中心门口，能来的都来 //@小王: 顶 https://t.cn/abc"
)
UNRELATED = "鲍山街道某小区供暖不热，室温只有十二度，打了三次电话都没人来修，希望尽快处理"


def test_normalise_drops_links_mentions_and_punctuation():
    assert normalise("转发微博 @张三 你好，世界！ https://x.cn/1 //@李四: ") == "你好世界"


def test_repost_after_light_edits_is_a_duplicate():
    ix = NearDuplicateIndex(threshold=0.5)
    assert ix.check("a", ORIGINAL, 100) == (None, 0.0)
    assert ix.check("z", UNRELATED, 150)[0] is None
    original, j = ix.check("b", REPOST, 200)
    assert original == "a" and j >= 0.5
    # a copy of the copy points at the same original
    assert ix.check("c", REPOST + "！！", 300)[0] == "a"


def test_reprocessing_never_marks_a_post_its_own_duplicate():
    ix = NearDuplicateIndex()
    ix.check("a", ORIGINAL, 100)
    ix.check("b", REPOST, 200)
    assert ix.check("a", ORIGINAL, 100) == (None, 0.0)  # the original again: not a copy of b
    assert ix.check("b", REPOST, 200)[0] == "a"
    assert ix.check("b", REPOST, 200)[0] == "a"
    assert len(ix) == 2


def test_short_texts_and_later_posts_are_not_originals():
    ix = NearDuplicateIndex(min_chars=12)
    assert ix.check("s1", "收到，谢谢", 1)[0] is None
    assert ix.check("s2", "收到，谢谢", 2)[0] is None
    ix.check("late", ORIGINAL, 500)
    assert ix.check("early", REPOST, 100)[0] is None  # published before: cannot be a copy of it


def test_window_and_size_bounds():
    ix = NearDuplicateIndex(window_s=1000, max_posts=3)
    ix.check("old", ORIGINAL, 0)
    ix.check("x1", UNRELATED, 5000)  # evicts "old" (outside the window)
    assert "old" not in ix.entries
    assert ix.check("new", REPOST, 5001)[0] is None
    for i in range(5):
        ix.check(f"p{i}", f"{UNRELATED}第{i}号楼", 5002 + i)
    assert len(ix) <= 3


def _post(pid: str, text: str, minutes: int) -> Post:
    t = datetime(2026, 11, 20, 9, 0, tzinfo=SHANGHAI) + timedelta(minutes=minutes)
    return Post(id=pid, source="weibo", source_type="microblog", text=text, published_at=t)


def test_component_rebuilds_from_store_and_keeps_originals(services):
    # the rebuild reads the recent window: posts published now
    now = datetime.now(SHANGHAI)
    fresh = _post("weibo:1", ORIGINAL, 0).model_copy(update={"published_at": now})
    services.store.upsert([fresh])
    comp = DedupComponent(Context(services.settings, services.store))
    copy = _post("weibo:2", REPOST, 0).model_copy(
        update={"published_at": now + timedelta(minutes=5)}
    )
    out = comp([copy])
    assert out[0].duplicate_of == "weibo:1"
    services.store.upsert(out)
    assert services.store.duplicate_counts(["weibo:1"]) == {"weibo:1": 1}
    # re-processing the original leaves it an original
    assert comp([fresh])[0].duplicate_of is None


def test_component_without_store_works_in_memory():
    settings = load_settings(environ={})
    comp = DedupComponent(Context(settings, None))
    out = comp([_post("a", ORIGINAL, 0), _post("b", REPOST, 3)])
    assert [p.duplicate_of for p in out] == [None, "a"]
