"""Synthetic demo set for 历城区: ~2,400 posts over 7 days with a daily rhythm and two incidents.

Everything here is invented (labelled synthetic in the README); place names are the real
streets and communities of 历城区 from the NBS division list so geotagging has work to do.
"""

from __future__ import annotations

import csv
import math
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from core.schema import SHANGHAI

DIVISIONS = Path(__file__).resolve().parent.parent / "data" / "geo" / "licheng_divisions.csv"
# 仲宫/柳埠/西营 are run by the 南部山区 committee, not the district's grid centre.
EXCLUDED_STREETS = {"仲宫街道", "柳埠街道", "西营街道"}

# hour-of-day weights (Beijing time): quiet at night, peaks late morning and evening
HOUR_WEIGHTS = [
    0.2,
    0.1,
    0.06,
    0.05,
    0.05,
    0.12,
    0.35,
    0.7,
    1.0,
    1.2,
    1.25,
    1.2,
    1.0,
    0.95,
    1.05,
    1.1,
    1.1,
    1.05,
    1.0,
    1.15,
    1.3,
    1.25,
    0.9,
    0.5,
]

COMPOUNDS = [
    "锦绣苑",
    "和谐家园",
    "东城逸家",
    "幸福里",
    "阳光花园",
    "龙湖春江郦城",
    "中建锦绣城",
    "绿地城",
    "恒大名都",
    "万科城",
    "保利华庭",
    "华润紫云府",
    "鑫苑世家",
    "山水花园",
    "金科城",
    "碧桂园凤凰城",
    "雅居园",
    "祥泰城",
]
ROADS = [
    "工业北路",
    "花园路",
    "二环东路",
    "华信路",
    "山大路",
    "历山路",
    "奥体中路",
    "转山西路",
    "凤鸣路",
    "飞跃大道",
    "经十东路",
    "荷花路",
]

# (category, sentiment, source_type weights key, template). {c}=community {s}=street {x}=compound {r}=road {n}=number
TEMPLATES: list[tuple[str, str, str]] = [
    (
        "property",
        "negative",
        "{x}物业太不像话了，电梯坏了{n}天没人修，老人只能爬楼，物业费倒是一分不少收",
    ),
    (
        "property",
        "negative",
        "来电人反映：{s}{c}{x}小区物业擅自涨物业费，未召开业主大会，诉求：请相关部门核查",
    ),
    ("property", "negative", "#{s}# {x}的物业就是摆设，垃圾堆了一星期没人清，臭味熏天😤"),
    ("property", "neutral", "请问{c}{x}小区更换物业需要走什么流程？业委会怎么成立？"),
    (
        "property",
        "positive",
        "点赞{x}物业！昨晚水管爆裂，维修师傅半小时就到了，连夜抢修完，辛苦了👍",
    ),
    ("utilities", "negative", "{x}又停水了，也没提前通知，一家老小没法做饭，这都第几次了？"),
    (
        "utilities",
        "negative",
        "来电人反映：{s}{c}{x}小区暖气不热，室温只有{n}度，家中有婴儿，诉求：尽快维修供暖管道",
    ),
    (
        "utilities",
        "neutral",
        "【停电通知】因线路检修，{r}沿线部分区域{n}日8:00—17:00停电，请相关用户提前做好准备。",
    ),
    ("utilities", "positive", "{c}燃气管道改造完成了，再也不用换煤气罐了，感谢社区和燃气公司"),
    ("noise", "negative", "{r}上的工地天天半夜施工，{x}的居民根本睡不着，投诉多次也没用"),
    ("noise", "negative", "楼下烧烤店每天吵到凌晨两点，{c}的网格员能不能管管"),
    ("noise", "neutral", "来电人咨询：{s}夜间施工许可在哪里查询？"),
    ("traffic", "negative", "{r}和{r2}路口早晚高峰堵成停车场，红绿灯配时太不合理了"),
    ("traffic", "neutral", "{r}道路施工，{n}月起部分路段半幅封闭，请绕行"),
    ("traffic", "positive", "{r}新开的公交线路太方便了，上班省了半小时，为交通部门点赞"),
    ("environment", "negative", "{s}附近的厂子又在偷排，晚上一股刺鼻的味道，窗户都不敢开"),
    ("environment", "negative", "{c}旁边的河沟发黑发臭，夏天蚊虫特别多，希望尽快治理"),
    ("environment", "positive", "{s}的口袋公园建好了，绿化真不错，周末带娃来玩"),
    ("urban_management", "negative", "{r}人行道上全是占道经营的摊子，行人只能走机动车道"),
    ("urban_management", "negative", "{c}{x}门口的井盖丢了好几天了，晚上很危险，孩子差点掉下去"),
    ("urban_management", "positive", "前几天反映的{r}路灯不亮的问题已经修好了，效率很高，谢谢！"),
    ("urban_management", "neutral", "来电人咨询：{c}建筑垃圾清运需要联系哪个部门？"),
    ("wages", "negative", "在{s}的工地干了半年，包工头拖欠工资{n}万块，年底了还不给，家里等着用钱"),
    ("wages", "neutral", "请问{s}劳动监察大队的电话是多少？想咨询一下加班费的问题"),
    ("demolition", "negative", "{c}拆迁补偿标准太低了，和隔壁村差那么多，凭什么"),
    ("demolition", "neutral", "{s}{c}片区征收补偿方案公示，公示期{n}天，有异议请向指挥部反映"),
    ("housing", "negative", "买的{x}期房说好今年交房，现在工地都停了，开发商联系不上"),
    ("housing", "positive", "{c}老旧小区加装电梯终于完工了，八楼的老人能下楼晒太阳了，感谢街道"),
    ("education", "negative", "{s}新建小区的孩子上学划片太远，每天要跨半个区，家长太难了"),
    ("education", "neutral", "{s}小学一年级招生报名时间和所需材料有哪些？"),
    ("health", "negative", "{s}社区卫生服务中心排队两小时，只有一个医生坐诊"),
    ("food_safety", "negative", "在{r}一家快餐店吃完拉肚子，后厨卫生太差了，已经向市场监管投诉"),
    ("public_security", "negative", "{x}最近电动车电瓶老被偷，小区监控是坏的，物业也不管"),
    ("safety", "negative", "{x}楼道里堆满杂物，还有人电动车进楼充电，消防通道堵死了，出事谁负责"),
    ("safety", "neutral", "{s}开展消防应急演练，{c}居民参与疏散演示，并学习灭火器使用"),
    ("consumer", "negative", "{r}那家健身房突然关门，老板跑路，我办的年卡{n}千块找谁要"),
    (
        "social_welfare",
        "negative",
        "父亲的养老金认证在手机上一直失败，去了{s}社保窗口又让回社区办，来回跑了三趟",
    ),
    ("social_welfare", "positive", "{c}的社区食堂开业了，老人吃饭八块钱两荤一素，很实惠"),
    (
        "government_service",
        "negative",
        "在{s}便民服务中心办证，窗口人员态度很差，材料一次说不清让跑了三次",
    ),
    ("government_service", "positive", "给{s}便民服务中心点个赞，帮办代办很贴心，一次就办好了"),
    ("other", "neutral", "今天济南天气不错，{s}的银杏叶黄了，周末适合拍照"),
    ("other", "positive", "{c}组织的邻里节很热闹，包饺子、下象棋，大家很开心"),
]

SOURCE_FOR_TYPE = {
    "microblog": ["weibo"],
    "forum": ["tieba-jinan", "jinan-forum"],
    "news": ["jinan-news", "licheng-news"],
    "hotline": ["hotline-12345"],
    "petition": ["petition"],
    "message_board": ["leader-board"],
}
TYPE_WEIGHTS = {
    "microblog": 0.36,
    "forum": 0.14,
    "news": 0.08,
    "hotline": 0.3,
    "petition": 0.04,
    "message_board": 0.08,
}

HEATING_INCIDENT = [
    "{x}暖气又不热了，家里只有{n}度，老人孩子都冻感冒了，热力公司电话一直打不通",
    "来电人反映：{s}{c}{x}多栋楼暖气不热，室温{n}度，诉求：尽快排查供暖管网故障",
    "{c}整个小区都停暖了！！！零下的天气一点说法都没有 #济南供暖#",
    "{x}业主群里都在骂，停暖两天了没人管，大家商量明天一起去热力公司讨说法",
    "尊敬的领导您好，{s}{c}{x}小区自前天起暖气不热，多次联系供热站未果，恳请协调解决，谢谢！",
    "{c}停暖第二天，物业说是主管线漏了，什么时候修好没人知道😡",
]
WAGE_INCIDENT = [
    "{s}{x}项目工地二十多个农民工被拖欠工资，包工头失联了",
    "来电人反映：在{s}{x}工地务工，被拖欠工资{n}万元，诉求：协调支付工资",
    "{x}工地门口聚集了一群讨薪的工人，拉着横幅，说再不给钱就去区政府",
    "年底了{x}项目的工钱还没结，我们十几个人商量明天一起去劳动监察大队",
]


def _divisions() -> dict[str, list[str]]:
    streets: dict[str, str] = {}
    communities: dict[str, list[str]] = {}
    with DIVISIONS.open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if row["level"] == "street" and row["name"] not in EXCLUDED_STREETS:
                streets[row["code"]] = row["name"]
                communities[row["name"]] = []
        fh.seek(0)
        for row in csv.DictReader(fh):
            if row["level"] == "community" and row["parent_code"] in streets:
                name = (
                    row["name"]
                    .replace("社区居民委员会", "社区")
                    .replace("村民委员会", "村")
                    .replace("居民委员会", "社区")
                )
                communities[streets[row["parent_code"]]].append(name)
    return communities


def _fill(tpl: str, rnd: random.Random, street: str, community: str) -> str:
    r1, r2 = rnd.sample(ROADS, 2)
    return tpl.format(
        s=street, c=community, x=rnd.choice(COMPOUNDS), r=r1, r2=r2, n=rnd.randint(2, 15)
    )


def _time(rnd: random.Random, start: datetime, days: int) -> datetime:
    while True:
        day = rnd.randrange(days)
        hour = rnd.choices(range(24), HOUR_WEIGHTS)[0]
        t = start + timedelta(
            days=day, hours=hour, minutes=rnd.randrange(60), seconds=rnd.randrange(60)
        )
        if t <= datetime.now(SHANGHAI):
            return t


def _record(
    rnd: random.Random, idx: int, text: str, stype: str, t: datetime, street: str | None
) -> dict[str, Any]:
    source = rnd.choice(SOURCE_FOR_TYPE[stype])
    likes = int(math.exp(rnd.gauss(1.5, 1.4))) if stype in ("microblog", "forum", "news") else 0
    rec: dict[str, Any] = {
        "id": f"demo:{source}:{idx:06d}",
        "source": source,
        "source_type": stype,
        "text": text,
        "published_at": t.isoformat(),
        "engagement": {
            "likes": likes,
            "comments": int(likes * rnd.uniform(0.05, 0.6)),
            "reposts": int(likes * rnd.uniform(0.0, 0.4)),
            "views": likes * rnd.randint(10, 60),
        },
        "author": {"name": f"网友{rnd.randint(1000, 99999)}"}
        if stype in ("microblog", "forum")
        else {},
        "extra": {"synthetic": True},
    }
    if stype in ("news", "forum", "message_board"):
        rec["url"] = f"https://example.invalid/{source}/{idx}"
        rec["title"] = text[: rnd.randint(10, 22)]
    if stype == "microblog" and rnd.random() < 0.5:
        rec["author_location"] = "发布于 山东"
    if stype in ("hotline", "petition") and street:
        rec["address"] = f"济南市历城区{street}"
    return rec


def generate_demo_posts(
    seed: int = 20261126, days: int = 7, n: int = 2400, now: datetime | None = None
) -> list[dict[str, Any]]:
    from geo.sample import demo_point

    rnd = random.Random(seed)
    point_rnd = random.Random(seed + 1)  # separate stream: the texts stay as they were
    now = (now or datetime.now(UTC)).astimezone(SHANGHAI)
    start = (now - timedelta(days=days)).replace(minute=0, second=0, microsecond=0)
    comms = _divisions()
    streets = [s for s in comms if comms[s]]
    types, weights = zip(*TYPE_WEIGHTS.items(), strict=True)
    posts: list[dict[str, Any]] = []
    idx = 0
    base_n = int(n * 0.9)
    for _ in range(base_n):
        street = rnd.choice(streets)
        community = rnd.choice(comms[street])
        _cat, _sent, tpl = rnd.choice(TEMPLATES)
        text = _fill(tpl, rnd, street, community)
        stype = rnd.choices(types, weights)[0]
        if stype == "hotline" and not text.startswith("来电人"):
            text = "来电人反映：" + text
        rec = _record(rnd, idx, text, stype, _time(rnd, start, days), street)
        if stype in ("microblog", "forum") and point_rnd.random() < 0.6:
            # a geotagged 微博 post (GCJ-02, as the app reports it) inside the named community
            point = demo_point(street, community, point_rnd)
            if point:
                rec["coordinates"] = point
        posts.append(rec)
        idx += 1
    # incident 1: heating outage cluster in one community over the last ~36 hours
    heat_street, heat_comm = "洪家楼街道", "花园北区社区"
    for _ in range(int(n * 0.07)):
        t = now - timedelta(hours=rnd.uniform(0.2, 36))
        text = _fill(rnd.choice(HEATING_INCIDENT), rnd, heat_street, heat_comm)
        text = text if heat_comm in text else f"{heat_street}{heat_comm}{text}"
        stype = rnd.choices(
            ["microblog", "hotline", "forum", "message_board"], [0.4, 0.4, 0.1, 0.1]
        )[0]
        rec = _record(rnd, idx, text, stype, t, heat_street)
        if stype == "microblog" and point_rnd.random() < 0.6:
            point = demo_point(heat_street, heat_comm, point_rnd)
            if point:
                rec["coordinates"] = point
        posts.append(rec)
        idx += 1
    # incident 2: unpaid wages at a construction site, two days ago
    wage_street = "唐冶街道"
    for _ in range(n - len(posts)):
        t = now - timedelta(days=2, hours=rnd.uniform(-6, 6))
        text = _fill(rnd.choice(WAGE_INCIDENT), rnd, wage_street, rnd.choice(comms[wage_street]))
        stype = rnd.choices(["microblog", "hotline", "forum"], [0.5, 0.3, 0.2])[0]
        posts.append(_record(rnd, idx, text, stype, t, wage_street))
        idx += 1
    posts.sort(key=lambda p: p["published_at"])
    return posts
