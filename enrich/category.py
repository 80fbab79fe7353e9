"""Pipeline component ``category``: the governance category of each post."""

from __future__ import annotations

import logging

from core.pipeline import Context, PipelineError
from core.schema import Category, Post
from enrich.analyst import analyst_values
from nlp.category import CategoryModel
from nlp.textclf import ModelLoadError, resolve_model_dir

log = logging.getLogger(__name__)


class CategoryComponent:
    name = "category"

    def __init__(self, ctx: Context) -> None:
        self.cfg = ctx.settings.analysis.category
        self.taxonomy = self.cfg.taxonomy
        self.store = ctx.store
        self._dir = None
        self.model: CategoryModel
        self._load()

    def _load(self) -> None:
        try:
            d = resolve_model_dir(self.cfg.model_dir)
            model = CategoryModel.load(d)
        except ModelLoadError as exc:
            raise PipelineError(f"category: {exc}") from None
        unknown = [lab for lab in model.labels if lab not in self.taxonomy]
        if unknown:  # a taxonomy edited after training: those labels are shown as 其他
            log.warning(
                "category model %s predicts %s, not in the configured taxonomy: shown as 'other'",
                model.version,
                ", ".join(unknown),
            )
        self.model, self._dir = model, d

    @property
    def version(self) -> str:
        return self.model.version

    def reload(self) -> bool:
        """Pick up a newly promoted version (CURRENT changed)."""
        try:
            d = resolve_model_dir(self.cfg.model_dir)
        except ModelLoadError as exc:
            log.error("category reload skipped: %s", exc)
            return False
        if d == self._dir:
            return False
        try:
            self._load()
        except PipelineError as exc:
            log.error("category reload failed, keeping %s: %s", self.version, exc)
            return False
        return True

    def __call__(self, posts: list[Post]) -> list[Post]:
        if not posts:
            return posts
        preds = self.model.predict([p.full_text[: self.cfg.max_chars] for p in posts])
        kept = analyst_values(self.store, posts, "category")
        for p, pred in zip(posts, preds, strict=True):
            if p.id in kept:
                p.category = kept[p.id]
                continue
            label = pred.label if pred.label in self.taxonomy else "other"
            p.category = Category(
                label=label,
                name=self.taxonomy.get(label, label),
                score=pred.score,
                model_version=self.model.version,
            )
        return posts


def create(ctx: Context) -> CategoryComponent:
    return CategoryComponent(ctx)
