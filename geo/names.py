"""Place-name normalisation, generated aliases, block lists and the names that mean "elsewhere".

Official division names carry committee suffixes (洪家楼社区居民委员会, 邢家洼村村民委员会,
洪家楼街道办事处) that posts rarely write; people write 洪家楼社区, 邢家洼村, 洪家楼街道 or just
洪家楼. Bare stems are only aliases when they are long enough and not ambiguous: 华山 is a
mountain in 陕西 as well as a street here, 东风 a truck maker, 全福 a blessing.
"""

from __future__ import annotations

import re
import unicodedata

# Bare stems that are also ordinary words or people's names: read as a place only with a
# locative/administrative context right next to them (华山这边, 在唐王, 董家一带, 彩石街道办; see
# ``has_place_context``) or when a name in the same post already places the post in that street
# (华山街道…华山). A longer name (华山街道, 华山湖, 全福立交) always matches.
CONTEXT_STEMS: frozenset[str] = frozenset(
    {
        "华山",  # 华山 (陕西) / 华山论剑 vs 华山街道
        "东风",  # 东风汽车 / 东风快递 / 东风吹过
        "全福",  # 全福全寿, 全福人
        "董家",  # 去董家吃饭 (a family)
        "唐王",  # 唐王李世民
        "西营",  # 军营
        "彩石",  # 彩色石头, 彩石手链
        "七里河",  # 兰州七里河区, a river
        "十里堡",  # 北京十里堡
        # community names that are common words or institutions
        "新里程",  # 开启新里程
        "农科院",  # 中国农科院
        "葡萄园",
        "世纪园",
        "城市之光",
        "锦绣泉城",  # a name for 济南 itself
        "航运路",
        "电建一公司",
        "幸福",
        "和顺",
        "贤德",
        "新园",
        "百花",
        "开源",
        "朝山",
        "城郡",
        "锦城",
        "观华",
    }
)

# Bare stems that stay ambiguous even with context: never a place alone. Extend per deployment
# with ``geo.block_stems``.
NEVER_STEMS: frozenset[str] = frozenset(
    {
        "山大",  # 山东大学 has campuses in several districts
        "甸柳",  # 历下区 also has 甸柳新村街道
        "保利",  # a developer with compounds everywhere
    }
)

BLOCK_STEMS: frozenset[str] = CONTEXT_STEMS | NEVER_STEMS  # every stem that cannot stand alone

# Context that makes a bare stem a place: right after it (华山这边, 唐王办事处) ...
PLACE_CONTEXT_AFTER: tuple[str, ...] = (
    "这边",
    "那边",
    "这里",
    "那里",
    "这块",
    "那块",
    "一带",
    "附近",
    "周边",
    "片区",
    "辖区",
    "街道办",
    "办事处",
    "地区",
    "小区",
    "居民",
    "业主",
    "物业",
)
# ... or 在X followed by the end of a clause or by what one does at a place (在唐王上班), so that
# 在东风的吹拂下 / 在华山上 / 在东风汽车工作 are not read as places.
PLACE_CONTEXT_BEFORE: tuple[str, ...] = ("在",)
AFTER_ZAI_X: tuple[str, ...] = (
    "上班",
    "上学",
    "工作",
    "住",
    "生活",
    "买",
    "租",
    "开店",
    "打工",
    "种",
    "承包",
    "待",
    "呆",
    "读书",
    "念书",
    "办事",
    "值班",
)
_CLAUSE_END = frozenset("，。,.！!？?；;：:、）)】」』\n\t 」~…")

# A common surname right before a two-character stem makes it a person's name (张全福, 李华山);
# surnames that are also function words or place words (和, 于, 向, 路, 边…) are left out.
SURNAMES: frozenset[str] = frozenset(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程"
    "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝"
    "龚邵万钱严覃武戴莫孔汤常温康施牛樊葛邢易乔伍庞颜倪庄聂章鲁岳翟殷詹欧耿兰焦俞"
    "左柳甘祝宁尚符舒阮柯纪梅童凌毕季裴霍涂苗谷盛曲翁冉骆蓝游辛靳管柴蒙鲍华喻祁蒲房滕"
    "屈饶牟艾尤阳穆卓吉缪简芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂佟臧"
    "闵苟邬卞姬师仇栾隋刁沙荣巫寇桑郎甄丛仲虞敖巩佘池查麻苑迟邝"
)


def has_place_context(text: str, start: int, end: int) -> bool:
    """Whether the name at ``text[start:end]`` stands in a place-like context (see above)."""
    if text.startswith(PLACE_CONTEXT_AFTER, end):
        return True
    if start > 0 and text[start - 1] in PLACE_CONTEXT_BEFORE:
        return end >= len(text) or text[end] in _CLAUSE_END or text.startswith(AFTER_ZAI_X, end)
    return False


def looks_like_person(text: str, start: int, end: int) -> bool:
    """张全福 / 李华山: a two-character stem right after a common surname (not after 在)."""
    return end - start == 2 and start > 0 and text[start - 1] in SURNAMES


# 七里堡南北社区 → 七里堡: the part before a direction/part marker names the area (七里堡这边).
_PART_SUFFIX_RE = re.compile(r"(南北|东西|[东西南北中][区片部]?|[一二三四五][区期])$")


def area_stem(stem: str | None) -> str | None:
    """The shorter area name inside a community stem (七里堡南北 → 七里堡), if there is one."""
    if not stem:
        return None
    short = _PART_SUFFIX_RE.sub("", stem)
    return short if short != stem and len(short) >= 3 else None


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
