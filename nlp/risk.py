"""Risk signals: a curated lexicon with context rules, combined with a trained model.

The lexicon (``data/lexicons/risk_v1.yaml``, documented in the file) finds the words that
make a post urgent and the context rules take back the false alarms a keyword list is known
for: negation (没有人员伤亡), reported history (2019年曾发生火灾), other places (外省某地堵路),
drills (消防演练), idioms (跳楼价) and hyperbole (气得我想跳楼). Every signal names the words
and the rule that fired, so an officer can see why a post was flagged.

Strong critical words make a post critical on their own (no model can veto them); weak ones
(推搡, 不想活了) need the model to agree. The model (char n-grams + the lexicon's non-critical
signals, see :mod:`nlp.risk_train`) also flags critical posts the lexicon missed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ahocorasick
import yaml

from core.schema import RISK_LEVELS, Risk, RiskSignal

_RANK = {lvl: i for i, lvl in enumerate(RISK_LEVELS)}
_SENTENCE = "。！？!?；;\n…"
_CLAUSE = _SENTENCE + "，,：: \t"
_YEAR = re.compile(r"((?:19|20)\d{2})年")
_SUPPRESS = ("negation", "debunked", "drill", "fiction", "history", "other_place", "idiom")
STRONG_RULES = ("lexicon", "pattern")  # a critical signal with one of these needs no model
_DOWNGRADE = ("hypothetical", "resolved")


class RiskLexiconError(Exception):
    """The lexicon file is missing or malformed (one line naming the problem)."""


@dataclass(frozen=True)
class Match:
    kind: str
    level: str
    word: str
    start: int
    end: int
    rule: str  # lexicon | pattern | weak (an ambiguous critical word) | hyperbole | idiom


def _str_list(data: dict[str, Any], key: str, where: str) -> list[str]:
    v = data.get(key, [])
    if not isinstance(v, list) or not all(isinstance(x, str | int) for x in v):
        raise RiskLexiconError(f"{where}: {key!r} must be a list of strings")
    return [str(x) for x in v if str(x)]


def _compile(pattern: str, where: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise RiskLexiconError(f"{where}: bad regular expression {pattern!r}: {exc}") from None


def _bounds(text: str, start: int, end: int, delims: str) -> tuple[int, int]:
    a = start
    while a > 0 and text[a - 1] not in delims:
        a -= 1
    b = end
    while b < len(text) and text[b] not in delims:
        b += 1
    return a, b


class RiskLexicon:
    """Keyword and pattern matching with context rules. Thread-safe after construction."""

    def __init__(self, data: dict[str, Any], source: str = "<lexicon>") -> None:
        if not isinstance(data, dict):
            raise RiskLexiconError(f"{source}: expected a mapping at the top level")
        self.source = source
        self.version = str(data.get("version") or "")
        if not self.version:
            raise RiskLexiconError(f"{source}: 'version' is required")
        self.negation_window = int(data.get("negation_window", 8))
        self.negators = _str_list(data, "negators", source)
        self.debunk = _str_list(data, "debunk", source)
        self.drill = _str_list(data, "drill", source)
        self.drill_post = _str_list(data, "drill_post", source)
        self.drill_real = _str_list(data, "drill_real", source)
        self.fiction = _str_list(data, "fiction", source)
        self.history = _str_list(data, "history", source)
        self.ongoing = _str_list(data, "ongoing", source)
        self.hypothetical = _str_list(data, "hypothetical", source)
        self.hedges = _str_list(data, "hedges", source)
        self.local_places = _str_list(data, "local_places", source)
        self.other_places = _str_list(data, "other_places", source)
        resolved = data.get("resolved", {})
        if not isinstance(resolved, dict):
            raise RiskLexiconError(f"{source}: 'resolved' must map a kind (or any) to words")
        self.resolved = {str(k): _str_list(resolved, k, source) for k in resolved}

        self.hyperbole: list[tuple[str, re.Pattern[str]]] = []
        for i, h in enumerate(data.get("hyperbole", []) or []):
            if not isinstance(h, dict) or "pattern" not in h or "kind" not in h:
                raise RiskLexiconError(f"{source}: hyperbole[{i}] needs kind and pattern")
            self.hyperbole.append((str(h["kind"]), _compile(str(h["pattern"]), source)))

        kinds = data.get("kinds")
        if not isinstance(kinds, dict) or not kinds:
            raise RiskLexiconError(f"{source}: 'kinds' must map signal kinds to levels")
        self.kinds: list[str] = []
        self.patterns: list[tuple[str, str, re.Pattern[str], str]] = []
        self._auto = ahocorasick.Automaton()
        words: dict[str, tuple[str, str, str]] = {}  # word -> (kind, level, rule)
        for kind, levels in kinds.items():
            if not isinstance(levels, dict):
                raise RiskLexiconError(f"{source}: kind {kind!r} must map levels to words")
            self.kinds.append(str(kind))
            for level, spec in levels.items():
                if level not in ("critical", "elevated"):
                    raise RiskLexiconError(
                        f"{source}: kind {kind!r}: level {level!r} is not critical or elevated"
                    )
                where = f"{source}: {kind}.{level}"
                if not isinstance(spec, dict):
                    raise RiskLexiconError(f"{where}: expected words and/or patterns")
                for key, rule in (("words", "lexicon"), ("weak_words", "weak")):
                    for w in _str_list(spec, key, where):
                        prev = words.get(w)
                        if prev is None or _RANK[level] > _RANK[prev[1]]:
                            words[w] = (
                                str(kind),
                                level,
                                rule if level == "critical" else "lexicon",
                            )
                for key, rule in (("patterns", "pattern"), ("weak_patterns", "weak")):
                    for pat in _str_list(spec, key, where):
                        rule = rule if level == "critical" else "pattern"
                        self.patterns.append((str(kind), level, _compile(pat, where), rule))
        # idioms go into the same automaton: the longest match wins, so 跳楼价 hides 跳楼
        self.idioms: dict[str, str | None] = {}
        for idiom in _str_list(data, "idioms", source):
            inner = [w for w in words if w in idiom]
            self.idioms[idiom] = words[max(inner, key=len)][0] if inner else None
        for w, (kind, level, rule) in words.items():
            self._auto.add_word(w, (kind, level, w, rule))
        for idiom in self.idioms:
            self._auto.add_word(idiom, ("__idiom__", "none", idiom, "idiom"))
        self._auto.make_automaton()
        self.n_words = len(words)

    @classmethod
    def load(cls, path: str | Path) -> RiskLexicon:
        p = Path(path)
        if not p.exists():
            raise RiskLexiconError(f"risk lexicon not found: {p}")
        try:
            data = yaml.safe_load(p.read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise RiskLexiconError(f"{p} is not valid YAML: {str(exc).splitlines()[0]}") from None
        return cls(data, str(p))

    # ---- matching ---------------------------------------------------------------------------
    def matches(self, text: str) -> list[Match]:
        """Raw matches before context rules (hyperbole and idioms already recognised)."""
        out: list[Match] = []
        masked = text
        for kind, rx in self.hyperbole:
            for m in rx.finditer(masked):
                out.append(Match(kind, "elevated", m.group(0), m.start(), m.end(), "hyperbole"))
                masked = masked[: m.start()] + "□" * (m.end() - m.start()) + masked[m.end() :]
        for end, (kind, level, word, rule) in self._auto.iter_long(masked):
            start = end - len(word) + 1
            if kind == "__idiom__":
                hidden = self.idioms.get(word)
                if hidden:
                    out.append(Match(hidden, "none", word, start, end + 1, "idiom"))
                masked = masked[:start] + "□" * len(word) + masked[end + 1 :]
            else:
                out.append(Match(kind, level, word, start, end + 1, rule))
        for kind, level, rx, rule in self.patterns:
            for m in rx.finditer(masked):
                out.append(Match(kind, level, m.group(0), m.start(), m.end(), rule))
        return out

    def _context_rule(self, text: str, m: Match, year: int | None, text_flags: dict) -> str | None:
        c0, c1 = _bounds(text, m.start, m.end, _CLAUSE)
        s0, s1 = _bounds(text, m.start, m.end, _SENTENCE)
        clause, sentence = text[c0:c1], text[s0:s1]
        before = text[max(c0, m.start - self.negation_window) : m.start]
        near = text[max(c0, m.start - 3) : m.start]
        for neg in self.negators:
            if neg in (before if len(neg) > 1 else near):
                return "negation"
        if any(w in sentence for w in self.debunk):
            return "debunked"
        if any(w in sentence for w in self.drill) or text_flags["drill_post"]:
            return "drill"
        if any(w in sentence for w in self.fiction):
            return "fiction"
        if not any(w in clause for w in self.ongoing):
            if any(w in sentence for w in self.history):
                return "history"
            if year is not None:
                for y in _YEAR.findall(sentence):
                    if int(y) < year:
                        return "history"
        if any(w in clause for w in self.other_places) and not any(
            w in clause for w in self.local_places
        ):
            return "other_place"
        local_here = any(w in sentence for w in self.local_places)
        if local_here and self._nearest_place_is_other(text[s0 : m.start]):
            return "other_place"
        if not local_here:
            if any(w in sentence for w in self.other_places):
                return "other_place"
            if text_flags["other"] and not text_flags["local"]:
                return "other_place"
        if m.level == "critical":
            if m.kind in ("extreme_act", "violence") and text_flags["hedged"]:
                return "hyperbole"
            if any(w in clause for w in self.hypothetical):
                return "hypothetical"
            for key in ("any", m.kind):
                if any(w in text for w in self.resolved.get(key, ())):
                    return "resolved"
        return None

    def _nearest_place_is_other(self, before: str) -> bool:
        """The last place named before the match (same sentence) is outside 济南."""
        last_other = max((before.rfind(w) for w in self.other_places), default=-1)
        last_local = max((before.rfind(w) for w in self.local_places), default=-1)
        return last_other > last_local

    def signals(self, text: str, year: int | None = None) -> list[RiskSignal]:
        """Context-checked signals, grouped by (kind, rule, level), words in text order."""
        text_flags = {
            "local": any(w in text for w in self.local_places),
            "other": any(w in text for w in self.other_places),
            "hedged": any(w in text for w in self.hedges),
            "drill_post": any(w in text for w in self.drill_post)
            and not any(w in text for w in self.drill_real),
        }
        grouped: dict[tuple[str, str, str], list[str]] = {}
        for m in sorted(self.matches(text), key=lambda x: x.start):
            level, rule = m.level, m.rule
            if rule in ("lexicon", "pattern", "weak"):
                ctx = self._context_rule(text, m, year, text_flags)
                if ctx in _SUPPRESS:
                    level, rule = "none", ctx
                elif ctx in _DOWNGRADE or ctx == "hyperbole":
                    level, rule = "elevated", ctx
            elif rule == "hyperbole":
                ctx = self._context_rule(text, m, year, text_flags)
                if ctx in _SUPPRESS:
                    level, rule = "none", ctx
            words = grouped.setdefault((m.kind, rule, level), [])
            if m.word not in words:
                words.append(m.word)
        return [
            RiskSignal(kind=k, words=w, rule=r, level=lvl)  # type: ignore[arg-type]
            for (k, r, lvl), w in grouped.items()
        ]


def lexicon_level(signals: Sequence[RiskSignal]) -> str:
    best = "none"
    for s in signals:
        if _RANK[s.level] > _RANK[best]:
            best = s.level
    return best


def strong_critical(signals: Sequence[RiskSignal]) -> bool:
    """A critical signal from a strong word or pattern: critical whatever a model says."""
    return any(s.level == "critical" and s.rule in STRONG_RULES for s in signals)


def signal_features(signals: Sequence[RiskSignal], critical: bool = True) -> dict[str, float]:
    """The lexicon's verdict as model features: counts per level, kind×level and rule.

    ``critical=False`` leaves out the critical signals, so the model's P(critical) is a second
    opinion independent of the lexicon's critical words (risk-v2 and later)."""
    f: dict[str, float] = {}
    for s in signals:
        if not critical and s.level == "critical":
            continue
        n = float(len(s.words))
        for key in (f"lvl={s.level}", f"kind={s.kind}:{s.level}", f"rule={s.rule}"):
            f[key] = f.get(key, 0.0) + n
    return f


class RiskAnalyzer:
    """Lexicon + optional model. Without a model the lexicon's level is the answer."""

    def __init__(self, lexicon: RiskLexicon, model: Any | None = None, meta: dict | None = None):
        self.lexicon = lexicon
        self.model = model
        self.meta = meta or {}
        self.t_critical = float(self.meta.get("thresholds", {}).get("critical", 0.5))
        self.t_elevated = float(self.meta.get("thresholds", {}).get("elevated", 0.5))
        self.t_lex_critical = float(self.meta.get("thresholds", {}).get("lexicon_critical", 1.0))
        self.critical_features = self.meta.get("features") != "no_critical"
        model_version = self.meta.get("version")
        self.version = f"{lexicon.version}+{model_version}" if model_version else lexicon.version

    def decide(
        self, probs: dict[str, float], lex_level: str, strong: bool = False
    ) -> tuple[str, str | None]:  # (level, deciding rule when the model alone decided)
        """Strong critical hits are never vetoed; weak ones need P(critical) ≥ t_lex_critical;
        without a critical hit the model alone says critical at P(critical) ≥ t_critical."""
        p_crit = probs.get("critical", 0.0)
        p_elev = probs.get("elevated", 0.0)
        if strong:
            return "critical", None
        if p_crit >= self.t_critical:
            return "critical", None if lex_level == "critical" else "model"
        if lex_level == "critical" and p_crit >= self.t_lex_critical:
            return "critical", None
        if p_crit + p_elev >= self.t_elevated:
            return "elevated", None if lex_level != "none" else "model"
        return "none", None

    def analyze(
        self, texts: Sequence[str], years: Sequence[int | None] | None = None
    ) -> list[Risk]:
        years = list(years) if years is not None else [None] * len(texts)
        sigs = [self.lexicon.signals(t, y) for t, y in zip(texts, years, strict=True)]
        if self.model is None:
            out = []
            for s in sigs:
                lvl = lexicon_level(s)
                score = {"none": 0.0, "elevated": 0.5, "critical": 1.0}[lvl]
                out.append(Risk(level=lvl, signals=s, score=score, model_version=self.version))  # type: ignore[arg-type]
            return out
        feats = [signal_features(s, self.critical_features) for s in sigs]
        proba = self.model.predict_proba(list(texts), feats)
        classes = self.model.classes
        out = []
        for text, s, f, row in zip(texts, sigs, feats, proba, strict=True):
            probs = {c: float(p) for c, p in zip(classes, row, strict=True)}
            level, by_model = self.decide(probs, lexicon_level(s), strong_critical(s))
            signals = list(s)
            if by_model:
                words = self.model.top_features(text, level, f, k=3)
                signals.append(
                    RiskSignal(kind="model", words=words, rule="model", level=level)  # type: ignore[arg-type]
                )
            score = round(
                min(1.0, probs.get("critical", 0.0) + 0.5 * probs.get("elevated", 0.0)), 4
            )
            out.append(Risk(level=level, signals=signals, score=score, model_version=self.version))  # type: ignore[arg-type]
        return out
