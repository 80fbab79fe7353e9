"""Place-name normalisation, generated aliases, block lists and the names that mean "elsewhere".

Official division names carry committee suffixes (洪家楼社区居民委员会, 邢家洼村村民委员会,
洪家楼街道办事处) that posts rarely write; people write 洪家楼社区, 邢家洼村, 洪家楼街道 or just
洪家楼. Bare stems are only aliases when they are long enough and not ambiguous: 华山 is a
mountain in 陕西 as well as a street here, 东风 a truck maker, 全福 a blessing.
"""

from __future__ import annotations

import re
import unicodedata

# Bare stems that must never be read as a place on their own (a longer name such as 华山街道,
# 华山湖 or 全福立交 still matches). Extend per deployment with ``geo.block_stems``.
BLOCK_STEMS: frozenset[str] = frozenset(
    {
        "华山",  # 华山 (陕西) / 华山论剑 vs 华山街道
        "东风",  # 东风汽车 / 东风快递
        "全福",  # 全福全寿
        "董家",  # 去董家吃饭 (a family)
        "唐王",  # 唐王李世民
        "西营",  # 军营
        "彩石",  # 彩色石头
        "山大",  # 山东大学 has campuses in several districts
        "甸柳",  # 历下区 also has 甸柳新村街道
        "七里河",  # 兰州七里河区
        "十里堡",  # 北京十里堡
        "幸福",
        "和顺",
        "贤德",
        "新园",
        "百花",
        "保利",
        "开源",
        "朝山",
        "城郡",
        "锦城",
        "观华",
    }
)

# Communities/compounds whose bare stem is a common word or a chain brand.
_GENERIC_STEM_RE = re.compile(
    r"^(新|老|东|西|南|北|中|前|后|上|下|大|小)?(区直[东西]?|利农|金河|海蔚)$"
)

# Other districts and counties of 济南 (places there are outside the 历城 grid area).
JINAN_OTHER_DISTRICTS: tuple[str, ...] = (
    "历下区",
    "历下",
    "市中区",
    "槐荫区",
    "槐荫",
    "天桥区",
    "长清区",
    "长清",
    "章丘区",
    "章丘",
    "济阳区",
    "济阳县",
    "济阳",
    "莱芜区",
    "莱芜",
    "钢城区",
    "平阴县",
    "平阴",
    "商河县",
    "商河",
)

# Cities of 山东 other than 济南; 日照 only with 市 (日照时间), 东营 is not 西营.
SHANDONG_CITIES: tuple[str, ...] = (
    "青岛",
    "淄博",
    "枣庄市",
    "东营",
    "烟台",
    "潍坊",
    "济宁",
    "泰安",
    "泰山",
    "威海",
    "日照市",
    "临沂",
    "德州",
    "聊城",
    "滨州",
    "菏泽",
    "曲阜",
)

OTHER_CITIES: tuple[str, ...] = (
    "北京",
    "上海",
    "天津",
    "重庆",
    "广州",
    "深圳",
    "杭州",
    "南京",
    "武汉",
    "成都",
    "西安",
    "郑州",
    "长沙",
    "苏州",
    "合肥",
    "石家庄",
    "沈阳",
    "大连",
    "哈尔滨",
    "长春",
    "太原",
    "呼和浩特",
    "南昌",
    "福州",
    "厦门",
    "昆明",
    "贵阳",
    "南宁",
    "海口",
    "三亚",
    "兰州",
    "西宁",
    "银川",
    "乌鲁木齐",
    "拉萨",
    "宁波",
    "无锡",
    "徐州",
    "洛阳",
)

# Provinces other than 山东 (a post "发布于 山东" says nothing about the district).
OTHER_PROVINCES: tuple[str, ...] = (
    "河北",
    "山西",
    "内蒙古",
    "辽宁",
    "吉林省",
    "黑龙江",
    "江苏",
    "浙江",
    "安徽",
    "福建",
    "江西",
    "河南",
    "湖北",
    "湖南",
    "广东",
    "广西",
    "海南",
    "四川",
    "贵州",
    "云南",
    "西藏",
    "陕西",
    "甘肃",
    "青海",
    "宁夏",
    "新疆",
    "台湾",
    "香港",
    "澳门",
    "海外",
    "美国",
    "日本",
    "韩国",
    "英国",
    "德国",
    "法国",
    "加拿大",
    "澳大利亚",
    "新加坡",
    "俄罗斯",
)

# Outside names followed by one of these are street/road names that exist in many cities
# (北京路, 上海花园 is handled by the longer community name).
ROAD_SUFFIXES = ("路", "街", "大街", "大道", "巷", "胡同")

_COMMITTEE = (
    ("社区居民委员会", "社区"),
    ("社区居委会", "社区"),
    ("居民委员会", "社区"),
    ("居委会", "社区"),
    ("街道办事处", "街道"),
    ("街道办", "街道"),
    ("人民政府", ""),
)


# full-width digits/letters, Kangxi radicals, compatibility ideographs (not "，", which is harmless)
_NEEDS_NFKC = re.compile(r"[\uff10-\uff19\uff21-\uff3a\uff41-\uff5a\u2e80-\u2fdf\uf900-\ufaff]")
_SPACES = re.compile(r"[ \t\u3000]+")


def clean(text: str) -> str:
    """NFKC (full-width digits/letters → ASCII), drop spaces that split names (洪家楼 街道).

    Most posts need neither, and NFKC costs more than the whole name search: skip it then.
    """
    if _NEEDS_NFKC.search(text):
        text = unicodedata.normalize("NFKC", text)
    if " " in text or "\t" in text or "\u3000" in text:
        text = _SPACES.sub("", text)
    return text


def normalise_admin_name(raw: str) -> str:
    """Official committee name → the name people write: 邢家洼村村民委员会 → 邢家洼村."""
    name = clean(raw)
    if name.endswith("村民委员会"):
        stem = name[: -len("村民委员会")]
        return stem if stem.endswith("村") else stem + "村"
    if name.endswith("村委会"):
        stem = name[: -len("村委会")]
        return stem if stem.endswith("村") else stem + "村"
    for suffix, repl in _COMMITTEE:
        if name.endswith(suffix):
            return name[: -len(suffix)] + repl
    return name


def street_aliases(name: str) -> tuple[list[str], str | None]:
    """(full aliases, bare stem or None) for a street/town name such as 唐冶街道."""
    full = [name]
    stem = None
    for suffix in ("街道", "镇", "乡"):
        if name.endswith(suffix):
            stem = name[: -len(suffix)]
            break
    if stem:
        full += [stem + "街道", stem + "街道办事处", stem + "街道办", stem + "镇", stem + "镇政府"]
    return sorted(set(full)), stem


def community_aliases(name: str, raw: str | None = None) -> tuple[list[str], str | None]:
    """(full aliases, bare stem or None) for 花园北区社区 / 邢家洼村 (official raw name kept)."""
    full = {name}
    if raw:
        full.add(clean(raw))
    stem = None
    if name.endswith("社区"):
        stem = name[:-2]
        full |= {stem + "社区居民委员会", stem + "社区居委会", stem + "居委会"}
    elif name.endswith("村"):
        stem = name[:-1]
        full |= {name + "民委员会", name + "委会", name + "村委会", name + "村民委员会"}
        # a village stem is too generic to read alone (刘家庄, 郭家庄 exist everywhere)
        stem = None
    return sorted(full), stem


def usable_stem(stem: str | None, block: frozenset[str] | set[str]) -> bool:
    if not stem or len(stem) < 3 or stem in block:
        return False
    return not _GENERIC_STEM_RE.match(stem)
