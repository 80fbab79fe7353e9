"""Text geotagging: names and aliases, ambiguity traps, outside places, address and author location."""

from __future__ import annotations

import pytest

from geo.gazetteer import make_entry
from geo.hierarchy import load_hierarchy
from geo.matcher import TextMatcher
from geo.tagger import Geotagger


@pytest.fixture(scope="module")
def tagger() -> Geotagger:
    h = load_hierarchy(excluded_streets=("仲宫街道", "柳埠街道", "西营街道"))
    entries = [
        make_entry("华山湖", "landmark", "华山街道", hierarchy=h),
        make_entry("全福立交", "landmark", "全福街道", aliases="全福立交桥", hierarchy=h),
        make_entry("奥体中心", "outside"),
        make_entry("甸柳新村", "outside"),
        make_entry("花园路", "road", hierarchy=h),
        make_entry("鲁能领秀城", "compound", "唐冶街道", "鲁能都会城社区", hierarchy=h),
    ]
    return Geotagger(h, TextMatcher(h, entries), index=None)


def tag(t: Geotagger, text: str, **kw):
    return t.tag_fields(text, kw.get("address"), kw.get("author_location"))


@pytest.mark.parametrize(
    "text,street,community",
    [
        ("洪家楼街道花园北区社区暖气不热", "洪家楼街道", "花园北区社区"),
        ("济南市历城区华山街道卧牛山东村村民委员会公告", "华山街道", "卧牛山东村"),
        ("历城区王舍人街道祥泰城社区居民委员会招聘网格员", "王舍人街道", "祥泰城社区"),
        ("东风街道办事处开展安全检查", "东风街道", None),
        ("郭店镇的老街拆了", "郭店街道", None),
        ("鲁商凤凰城社区地下车库积水", "唐冶街道", "鲁商凤凰城社区"),
        ("鲁能领秀城的业主群炸了", "唐冶街道", "鲁能都会城社区"),
    ],
)
def test_named_places(tagger, text, street, community):
    g = tag(tagger, text)
    assert (g.street, g.community) == (street, community)
    assert g.level == ("community" if community else "street")
    assert g.district == "历城区" and g.method == "text" and g.confidence > 0.5


def test_street_narrows_an_ambiguous_community(tagger):
    # 苏家庄村 is in 荷花路, 王舍人 and 董家
    g = tag(tagger, "董家街道苏家庄村的路灯坏了")
    assert (g.street, g.community) == ("董家街道", "苏家庄村")
    g = tag(tagger, "唐王街道苏家庄村？不对，是董家街道苏家庄村")
    assert (g.street, g.community) == ("董家街道", "苏家庄村")


def test_lone_ambiguous_community_is_unlocated(tagger):
    g = tag(tagger, "苏家庄村又停电了")
    assert g.level == "unlocated" and g.street is None and "苏家庄村" in g.matched


@pytest.mark.parametrize(
    "text",
    [
        "五一去华山爬山，人山人海",
        "东风快递，使命必达",
        "祝大家全福全寿",
        "唐王李世民是明君",
        "董家的孩子考上大学了",
    ],
)
def test_block_listed_stems_are_not_places(tagger, text):
    assert tag(tagger, text).level == "unlocated"


def test_longer_names_beat_block_listed_stems(tagger):
    assert tag(tagger, "华山湖北岸的步道修好了").street == "华山街道"
    assert tag(tagger, "全福立交桥下积水").street == "全福街道"
    assert tag(tagger, "华山街道的新楼盘").street == "华山街道"


@pytest.mark.parametrize(
    "text",
    [
        "奥体中心今晚有演唱会",
        "历下区泉城路的停车费太贵",
        "甸柳新村那边的菜市场拆了",
        "章丘区明水古城的灯光秀",
        "青岛的海边人太多了",
        "北京朝阳区的房价又涨了",
    ],
)
def test_other_districts_and_cities_are_outside(tagger, text):
    g = tag(tagger, text)
    assert g.level == "outside" and g.street is None and g.district is None


def test_in_district_place_beats_a_city_mention(tagger):
    g = tag(tagger, "从北京回来，发现唐冶街道变化真大")
    assert g.street == "唐冶街道"


def test_city_name_that_starts_a_road_name_is_not_outside(tagger):
    assert tag(tagger, "北京路上新开了一家奶茶店").level == "unlocated"
    assert tag(tagger, "上海花园社区今天停水").community == "上海花园社区"


def test_甸柳社区_in_licheng_vs_甸柳新村_in_lixia(tagger):
    assert tag(tagger, "山大路街道甸柳社区排水不畅").street == "山大路街道"
    assert tag(tagger, "甸柳新村的早市").level == "outside"


def test_district_only_and_nothing(tagger):
    assert tag(tagger, "历城区发布暴雨蓝色预警").level == "district"
    assert tag(tagger, "花园路上的绿化带被撞坏了").level == "district"
    g = tag(tagger, "物业费又涨了，服务一点没提升")
    assert g.level == "unlocated" and g.method is None and g.confidence == 0


def test_conflicting_streets_give_district_not_a_guess(tagger):
    g = tag(tagger, "从唐冶街道搬到了郭店街道")
    assert g.level == "district" and g.street is None


def test_address_comes_first(tagger):
    g = tag(tagger, "来电人反映：楼上漏水", address="济南市历城区全福街道桑园南社区")
    assert (g.street, g.community, g.method) == ("全福街道", "桑园南社区", "address")
    g = tag(tagger, "来电人反映：噪音", address="济南市天桥区北园街道")
    assert g.level == "outside" and g.method == "address"
    # a district-only address is refined by the text
    g = tag(tagger, "来电人反映：城郡社区门口违规停车", address="济南市历城区华山街道")
    assert (g.street, g.community) == ("华山街道", "城郡社区")


def test_author_location_only_marks_outside(tagger):
    assert tag(tagger, "电梯天天坏", author_location="发布于 北京").level == "outside"
    assert tag(tagger, "电梯天天坏", author_location="IP属地：广东").method == "author_location"
    assert tag(tagger, "今天的晚霞", author_location="发布于 山东").level == "unlocated"
    assert tag(tagger, "小区停水了", author_location="山东 济南").level == "unlocated"
    # never overrides an in-district place in the text
    assert tag(tagger, "唐冶街道的路修好了", author_location="发布于 江苏").street == "唐冶街道"
