"""Risk lexicon rules on fixed examples: each rule family, and the traps that must not alarm."""

from __future__ import annotations

import pytest

from nlp.risk import RiskAnalyzer, RiskLexicon, RiskLexiconError, lexicon_level
from nlp.textclf import resolve_data_file


@pytest.fixture(scope="module")
def lex() -> RiskLexicon:
    return RiskLexicon.load(resolve_data_file("data/lexicons/risk_v1.yaml"))


def _sig(lex, text, year=2026):
    sigs = lex.signals(text, year)
    return lexicon_level(sigs), {(s.kind, s.rule, s.level) for s in sigs}, sigs


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("业主群约好周一早上八点全体去物业中心门口拉横幅，能来的都来", "collective_action"),
        ("现在几十个村民把工业北路辅路堵上了，车全堵死了", "collective_action"),
        ("有个大哥在项目部门口浇了一身汽油，说再不给钱就点火", "extreme_act"),
        ("华山街道某小区3号楼起火，浓烟滚滚", "fire_explosion"),
        ("小区门口车祸，一人受伤被送医", "casualty"),
        ("菜市场门口有人持刀砍人，大家快躲开", "violence"),
        ("幼儿园午餐后八九个孩子呕吐发烧，怀疑食物中毒", "mass_poisoning"),
        ("孩子在奥体中路地铁站走丢了！6岁男孩，看到的请报警", "missing_person"),
    ],
)
def test_critical_families(lex, text, kind):
    level, found, sigs = _sig(lex, text)
    assert level == "critical", sigs
    assert any(k == kind and lvl == "critical" for k, _, lvl in found), sigs
    for s in sigs:  # every signal names its words and rule
        assert s.words and s.rule


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("本次事故没有造成人员伤亡", "negation"),
        ("网传某小区业主聚集，经核实，并未发生聚集", "negation"),
        ("2019年这里曾发生过火灾，后来整改了", "history"),
        ("去年业主拉过横幅，后来解决了", "history"),
        ("看新闻说外省某小区业主堵路了", "other_place"),
        ("今天小区搞消防演练，模拟起火疏散", "drill"),
        ("网传某学校学生集体中毒系谣言", "debunked"),
        ("商场跳楼价大甩卖", "idiom"),
    ],
)
def test_traps_are_not_critical(lex, text, rule):
    level, found, sigs = _sig(lex, text)
    assert level != "critical", sigs
    assert any(r == rule for _, r, _ in found), sigs


def test_history_needs_an_earlier_year(lex):
    # the same year is news, not history
    assert _sig(lex, "2026年11月20日，唐冶街道一小区发生火灾", 2026)[0] == "critical"
    assert _sig(lex, "2019年11月20日，唐冶街道一小区发生火灾", 2026)[0] == "none"


def test_hyperbole_and_hedges_are_elevated(lex):
    for text in ("气得我想跳楼", "停车费再涨我真要去物业门口自焚了（气话）"):
        level, found, sigs = _sig(lex, text)
        assert level == "elevated", sigs
        assert any(r == "hyperbole" for _, r, _ in found), sigs


def test_hypothetical_and_resolved_downgrade(lex):
    level, found, _ = _sig(lex, "电动车推进楼道充电，万一着火怎么办")
    assert level == "elevated" and ("fire_explosion", "hypothetical", "elevated") in found
    level, found, _ = _sig(lex, "小区餐馆油烟管道起火，火已被扑灭")
    assert level == "elevated" and ("fire_explosion", "resolved", "elevated") in found


def test_elevated_families(lex):
    assert _sig(lex, "再不解决就去信访，第三次反映了")[0] == "elevated"
    assert _sig(lex, "消防通道被私家车占用，楼道里闻到燃气味")[0] == "elevated"
    assert _sig(lex, "今天天气不错，去公园走了走")[0] == "none"
    assert _sig(lex, "价格1200元，点了外卖")[0] == "none"  # no 120 / 点火 false hits


def test_lexicon_errors_are_one_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: x\nkinds:\n  fire:\n    urgent: {words: [火]}\n", encoding="utf-8")
    with pytest.raises(RiskLexiconError, match="not critical or elevated"):
        RiskLexicon.load(bad)
    bad.write_text("kinds: {}\n", encoding="utf-8")
    with pytest.raises(RiskLexiconError, match="version"):
        RiskLexicon.load(bad)
    bad.write_text(
        "version: x\nkinds:\n  fire:\n    critical: {patterns: ['(火']}\n", encoding="utf-8"
    )
    with pytest.raises(RiskLexiconError, match="bad regular expression"):
        RiskLexicon.load(bad)
    with pytest.raises(RiskLexiconError, match="not found"):
        RiskLexicon.load(tmp_path / "missing.yaml")


def test_analyzer_without_model_uses_lexicon(lex):
    a = RiskAnalyzer(lex)
    r = a.analyze(["华山街道某小区起火，已有一人送医", "今天天气不错"], [2026, 2026])
    assert [x.level for x in r] == ["critical", "none"]
    assert r[0].score == 1.0 and r[0].model_version == lex.version


def test_analyzer_model_decision_is_explained(lex):
    """A model-only decision carries a signal of kind 'model' naming the n-grams behind it."""
    from nlp.textclf import TextClassifier

    texts = ["楼顶有人要跳", "今天天气很好", "楼顶有人坐着要跳", "公园的花开了"] * 5
    labels = ["critical", "none", "critical", "none"] * 5
    model = TextClassifier(kind="logreg", ngram_max=2, C=10).fit(texts, labels, [{} for _ in texts])
    meta = {"version": "t", "thresholds": {"critical": 0.5, "elevated": 0.5}}
    r = RiskAnalyzer(lex, model, meta).analyze(["楼顶有人要跳"], [2026])[0]
    assert r.level == "critical"
    model_sig = [s for s in r.signals if s.kind == "model"]
    assert model_sig and model_sig[0].words and model_sig[0].rule == "model"


@pytest.mark.parametrize(
    ("text", "kind"),
    [  # risk-lex-2: the many other ways posts say the same things
        ("维权群里说好了，后天上午九点在售楼处门口集合，一起去讨说法", "collective_action"),
        ("工地门口现在围了一百多个居民，两边都不肯走", "collective_action"),
        ("楼下有个大姐爬上塔吊了，说不给工钱就不下来", "extreme_act"),
        ("他攥着一瓶敌敌畏在信访局门口，说今天拿不到钱就喝", "extreme_act"),
        ("电动车和三轮车撞了，骑车的大爷满脸是血，倒地不起", "casualty"),
        ("二环东路一个仓库窜出火苗，冒着黑烟", "fire_explosion"),
        ("单元里煤气味越来越浓，敲门也没人应", "fire_explosion"),
        ("烧烤摊两伙人打起来了，有人掏出刀", "violence"),
        ("公司食堂中午吃完饭，十几个员工陆续呕吐腹泻", "mass_poisoning"),
        ("我爸有老年痴呆，早上出门到现在还没回来，穿灰色夹克，见到请联系", "missing_person"),
    ],
)
def test_broadened_critical_wording(lex, text, kind):
    level, found, sigs = _sig(lex, text)
    assert level == "critical", sigs
    assert any(k == kind and lvl == "critical" for k, _, lvl in found), sigs


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("电视剧里那场大火拍得太真了，演员全身是血", "fiction"),
        ("今天早上地铁站里消防车、救护车都来了，别慌！是应急演练", "drill"),
        ("上海一小区昨晚起火，我们济南的小区也要注意", "other_place"),
        ("前几年这条街天天打架，后来建了便民市场就好了", "history"),
        ("评估价一平才给这么点，气得我真想当场喝药", "hyperbole"),
    ],
)
def test_more_traps_are_not_critical(lex, text, rule):
    level, found, sigs = _sig(lex, text)
    assert level != "critical", sigs
    assert any(r == rule for _, r, _ in found), sigs


def test_weak_hits_need_the_model_and_strong_hits_are_never_vetoed(lex):
    from nlp.risk import strong_critical

    weak = lex.signals("孩子在学校被同学推搡，不敢上学了", 2026)
    strong = lex.signals("菜市场门口有人持刀砍人", 2026)
    assert lexicon_level(weak) == "critical" and not strong_critical(weak)
    assert strong_critical(strong)
    a = RiskAnalyzer(lex, meta={"thresholds": {"critical": 0.9, "lexicon_critical": 0.4}})
    low = {"none": 0.9, "elevated": 0.08, "critical": 0.02}
    assert a.decide(low, "critical", strong=True)[0] == "critical"  # no veto
    assert a.decide(low, "critical", strong=False)[0] != "critical"  # weak: the model disagrees
    assert a.decide({"critical": 0.5}, "critical", strong=False)[0] == "critical"
    assert a.decide({"critical": 0.95}, "none") == ("critical", "model")
