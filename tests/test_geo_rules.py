"""Rule families of the text geotagger: the 南部山区 streets are outside, bare stems with a place
context, non-place phrases, and the 村村 label normalisation of the evaluation."""

from __future__ import annotations

import json

import pytest
from conftest import REPO, make_settings

from geo.evaluate import evaluate, load_rows, norm_community
from geo.gazetteer import GazetteerError, bundled_non_places, make_entry
from geo.hierarchy import load_hierarchy
from geo.matcher import TextMatcher
from geo.names import area_stem, has_place_context, looks_like_person
from geo.tagger import Geotagger

EXCLUDED = ("仲宫街道", "柳埠街道", "西营街道")


@pytest.fixture(scope="module")
def hierarchy():
    return load_hierarchy(excluded_streets=EXCLUDED)


@pytest.fixture(scope="module")
def tagger(hierarchy) -> Geotagger:
    entries = [
        *bundled_non_places(),
        make_entry("九如山", "area", "西营街道", hierarchy=hierarchy),
        make_entry("华山湖", "landmark", "华山街道", hierarchy=hierarchy),
    ]
    return Geotagger(hierarchy, TextMatcher(hierarchy, entries), index=None)


def tag(t: Geotagger, text: str):
    return t.tag_fields(text)


# ---- 1. streets run by 南部山区 are outside the grid centre's area ------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "仲宫街道今天停电检修",
        "柳埠街道孟家庄村的樱桃熟了",  # a village of an excluded street, street named
        "韩家庄村的樱桃熟了",  # 韩家庄村 exists only in an excluded street
        "北坡村的路修好了",  # in two excluded streets (仲宫, 柳埠), in no grid-centre street
        "南部山区这周末红叶正好",
        "南部山区刘家庄村道路坑洼",  # the area's name settles a shared village name
        "仲宫街道刘家庄村村内道路坑洼",
        "仲宫那边要加强巡查",
        "柳埠景区国庆免费开放",
        "西营一带下了大雨",
        "西营九如山瀑布群水特别大",  # a gazetteer place in an excluded street
    ],
)
def test_excluded_streets_are_outside(tagger, text):
    g = tag(tagger, text)
    assert g.level == "outside", (text, g)
    assert g.street is None and g.district is None


def test_village_shared_with_a_grid_centre_street_stays_ambiguous(hierarchy, tagger):
    assert {c.street for c in hierarchy.communities_named("韩家庄村")} <= set(EXCLUDED)
    assert {c.street for c in hierarchy.communities_named("北坡村")} <= set(EXCLUDED)
    assert tag(tagger, "孟家庄村的樱桃熟了").level == "unlocated"  # 柳埠 and 荷花路
    assert tag(tagger, "柳埠街道孟家庄村的樱桃熟了").level == "outside"
    owners = {c.street for c in hierarchy.communities_named("刘家庄村")}
    assert owners & set(EXCLUDED) and owners - set(EXCLUDED)  # the premise of this test
    assert tag(tagger, "刘家庄村的路坏了").level == "unlocated"
    inside = sorted(owners - set(EXCLUDED))[0]
    g = tag(tagger, f"{inside}刘家庄村的路坏了")
    assert (g.level, g.street, g.community) == ("community", inside, "刘家庄村")


def test_excluded_list_is_configurable(hierarchy):
    # with no street excluded, 仲宫 is placed like any other street
    h = load_hierarchy(excluded_streets=())
    t = Geotagger(h, TextMatcher(h, [], outside_areas=()), index=None)
    g = t.tag_fields("仲宫街道今天停电检修")
    assert (g.level, g.street) == ("street", "仲宫街道")
    assert t.tag_fields("南部山区这周末红叶正好").level == "unlocated"


def test_service_reads_the_excluded_lists_from_config(tmp_path):
    from geo.service import GeoService

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    settings = make_settings(
        tmp_path / "a",
        geo={"load_sample_layer": False, "excluded_streets": [], "excluded_area_names": []},
    )
    g = GeoService(settings).tagger().tag_fields("柳埠街道的樱桃熟了")
    assert (g.level, g.street) == ("street", "柳埠街道")
    default = GeoService(make_settings(tmp_path / "b", geo={"load_sample_layer": False}))
    assert default.tagger().tag_fields("柳埠街道的樱桃熟了").level == "outside"


def test_in_area_street_beats_an_excluded_one_only_by_votes(tagger):
    # naming both gives the district, not a guess
    assert tag(tagger, "从唐冶街道去仲宫街道的公交太少").level == "district"


# ---- 2. bare stems with a locative/administrative context -----------------------------------


@pytest.mark.parametrize(
    "text,street,community",
    [
        ("彩石这边的山路周末全是骑行的", "彩石街道", None),
        ("唐王那边冬天班车太少", "唐王街道", None),
        ("董家一带的大棚西红柿熟了", "董家街道", None),
        ("华山附近新开了一家超市", "华山街道", None),
        ("东风辖区的老旧小区改造开始了", "东风街道", None),
        ("全福办事处今天开放", "全福街道", None),
        ("彩石片区规划公示了", "彩石街道", None),
        ("我在唐王上班，通勤太远", "唐王街道", None),
        ("我家在董家，离市区远", "董家街道", None),
        ("七里堡这边的老宿舍楼下水道又堵了", "东风街道", "七里堡南北社区"),
        ("华山街道通知：华山这边周末停水", "华山街道", None),
    ],
)
def test_stems_with_place_context(tagger, text, street, community):
    g = tag(tagger, text)
    assert (g.street, g.community) == (street, community), (text, g)


@pytest.mark.parametrize(
    "text",
    [
        "五一去华山爬山了，人山人海",
        "我在华山上看日出",  # 在X, but X continues as a word (the mountain)
        "在东风的吹拂下，柳树发芽了",
        "在东风汽车上班十年了",
        "东风吹过，满地的梧桐叶",
        "祝大家全福全寿",
        "请了个全福人来铺床",
        "感谢张全福大爷拾金不昧",  # a person's name, even with context
        "李华山这边的意见我们收到了",
        "看了个纪录片讲唐王李世民的",
        "董家的孩子考上大学了",
        "朋友送了一盒彩石手链",
        "七里堡的烧饼好吃",  # an area stem without context
    ],
)
def test_stem_traps_stay_unlocated(tagger, text):
    assert tag(tagger, text).level == "unlocated", text


def test_longer_names_still_beat_stems(tagger):
    assert tag(tagger, "华山湖北岸的步道修好了").street == "华山街道"
    assert tag(tagger, "彩石街道办开展安全检查").street == "彩石街道"


def test_context_helpers():
    text = "我在唐王上班"
    assert has_place_context(text, 2, 4)
    assert has_place_context("唐王这边", 0, 2)
    assert has_place_context("我在唐王。", 2, 4)
    assert not has_place_context("唐王李世民", 0, 2)
    assert not has_place_context("在华山上", 1, 3)
    assert looks_like_person("张全福", 1, 3)
    assert not looks_like_person("在全福", 1, 3)
    assert not looks_like_person("和华山", 1, 3)  # 和 is a conjunction here
    assert area_stem("七里堡南北") == "七里堡"
    assert area_stem("花园北区") is None  # 花园: too short to name an area
    assert area_stem("洪家楼") is None


# ---- 3. phrases that contain a community name but are not places ----------------------------


@pytest.mark.parametrize(
    "text",
    [
        "2024开启新里程，祝大家新年快乐",
        "读郭店楚简的释文，才知道老子早期版本的差别",
        "中国农科院的专家来讲小麦病虫害防治",
        "这是我们事业的新里程碑",
        "新里程，新征程",  # a common word without place context
        "葡萄园里的葡萄熟了",
    ],
)
def test_non_place_phrases_place_nothing(tagger, text):
    g = tag(tagger, text)
    assert g.level == "unlocated", (text, g)


@pytest.mark.parametrize(
    "text,street,community",
    [
        ("新里程小区门口的路灯坏了", "王舍人街道", "新里程社区"),
        ("王舍人街道新里程的业主反映停车难", "王舍人街道", "新里程社区"),
        ("农科院附近的菜市场太乱了", "全福街道", "农科院社区"),
        ("郭店这边的集市明天开", "郭店街道", None),
    ],
)
def test_common_word_communities_with_place_context(tagger, text, street, community):
    g = tag(tagger, text)
    assert (g.street, g.community) == (street, community), (text, g)


def test_not_place_entries(hierarchy):
    e = make_entry("某某楚简", "not_place")
    assert e.not_place
    with pytest.raises(GazetteerError, match="not_place"):
        make_entry("郭店楚简", "not_place", street="郭店街道", hierarchy=hierarchy)
    # a deployment's own not_place phrase swallows the street stem inside it
    m = TextMatcher(hierarchy, [make_entry("唐冶大叔", "not_place")])
    assert m.tag("唐冶大叔又出新歌了").level == "unlocated"
    assert m.tag("唐冶这边又堵车了").street == "唐冶街道"


def test_bundled_non_places_are_valid():
    entries = bundled_non_places()
    assert entries and all(e.kind == "not_place" for e in entries)
    assert {"郭店楚简", "开启新里程", "中国农科院"} <= {n for e in entries for n in e.names()}


# ---- 4. evaluation: 村村 labels read as 村 --------------------------------------------------


def test_norm_community():
    assert norm_community("卧牛山西村村") == "卧牛山西村"
    assert norm_community("卧牛山西村") == "卧牛山西村"
    assert norm_community("洪家楼社区") == "洪家楼社区"
    assert norm_community(None) is None


def test_eval_compares_village_names_without_a_doubled_村(tmp_path, tagger):
    rows = [
        {"text": "华山街道卧牛山西村村民反映路面塌陷", "community": "卧牛山西村村"},
        {"text": "唐冶街道西邢村村民反映排水渠淤堵", "community": "西邢村", "street": "唐冶街道"},
    ]
    p = tmp_path / "rows.jsonl"
    p.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    loaded = load_rows(p)
    assert loaded[0]["expected_community"] == "卧牛山西村"
    report = evaluate(tagger, loaded)
    assert report["wrong_placements"] == 0
    assert report["accuracy"]["community"] == {"accuracy": 1.0, "n": 2}


def test_challenge_labels_use_the_single_村():
    path = REPO / "data" / "labelled" / "geo_challenge.jsonl"
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        assert not (row.get("community") or "").endswith("村村"), row["id"]
