"""Pipeline component ``risk``: level and explained signals for each post.

The lexicon is required (it is the safety net); the model is optional: without one, or with
one trained on another lexicon version, the lexicon decides alone and a warning is logged.
"""

from __future__ import annotations

import logging

from core.pipeline import Context, PipelineError
from core.schema import SHANGHAI, Post
from enrich.analyst import analyst_values
from nlp.risk import RiskAnalyzer, RiskLexicon, RiskLexiconError
from nlp.textclf import ModelLoadError, TextClassifier, resolve_data_file, resolve_model_dir

log = logging.getLogger(__name__)


class RiskComponent:
    name = "risk"

    def __init__(self, ctx: Context) -> None:
        self.cfg = ctx.settings.analysis.risk
        self._dir = None
        self.store = ctx.store
        self.analyzer = self._build()

    def _build(self) -> RiskAnalyzer:
        try:
            lexicon = RiskLexicon.load(resolve_data_file(self.cfg.lexicon))
        except RiskLexiconError as exc:
            raise PipelineError(f"risk: {exc}") from None
        try:
            d = resolve_model_dir(self.cfg.model_dir)
            model, meta = TextClassifier.load(d)
        except ModelLoadError as exc:
            log.warning("risk: %s; the lexicon decides alone", exc)
            self._dir = None
            return RiskAnalyzer(lexicon)
        if meta.get("lexicon_version") != lexicon.version:
            log.warning(
                "risk model %s was trained with lexicon %s, not %s: the lexicon decides alone "
                "until `yuqing train risk` is run",
                meta.get("version"),
                meta.get("lexicon_version"),
                lexicon.version,
            )
            self._dir = d
            return RiskAnalyzer(lexicon)
        self._dir = d
        return RiskAnalyzer(lexicon, model, meta)

    @property
    def version(self) -> str:
        return self.analyzer.version

    def reload(self) -> bool:
        try:
            d = resolve_model_dir(self.cfg.model_dir)
        except ModelLoadError:
            return False
        if d == self._dir:
            return False
        try:
            self.analyzer = self._build()
        except PipelineError as exc:
            log.error("risk reload failed, keeping %s: %s", self.version, exc)
            return False
        return True

    def __call__(self, posts: list[Post]) -> list[Post]:
        if not posts:
            return posts
        texts = [p.full_text[: self.cfg.max_chars] for p in posts]
        years = [p.published_at.astimezone(SHANGHAI).year for p in posts]
        kept = analyst_values(self.store, posts, "risk")
        for p, r in zip(posts, self.analyzer.analyze(texts, years), strict=True):
            p.risk = kept.get(p.id, r)
        return posts


def create(ctx: Context) -> RiskComponent:
    return RiskComponent(ctx)
