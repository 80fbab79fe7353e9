"""Pipeline component: 3-class sentiment from the promoted model version.

Each post gets ``sentiment = {label, score, probs, model_version}``.  ``reload()`` (called by the
processor every few seconds) re-reads ``models/sentiment/CURRENT``: a newly promoted version is
loaded and swapped in between batches, so posts already scored keep the version that scored them
and a broken new version is logged and ignored (the old one keeps serving).

Analyst corrections win: when the store already holds a post whose sentiment came from an
analyst (``model_version`` starting with ``analyst``), a re-ingested copy keeps that label
instead of being re-scored over it.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from core.pipeline import Context, PipelineError
from core.schema import Post, Sentiment
from nlp.sentiment import ModelError, SentimentModel, resolve_model_dir

log = logging.getLogger(__name__)

ANALYST_PREFIX = "analyst"


class SentimentComponent:
    name = "sentiment"

    def __init__(self, ctx: Context) -> None:
        cfg = ctx.settings.nlp.sentiment
        self.root = Path(cfg.model_dir)
        if not self.root.is_absolute() and not self.root.exists():
            # relative to the repository when the service runs from another directory
            in_repo = Path(__file__).resolve().parent.parent / self.root
            if in_repo.exists():
                self.root = in_repo
        self.threads = ctx.settings.nlp.threads
        self.batch_size = cfg.batch_size
        self.max_length = cfg.max_length
        self.max_chunks = cfg.max_chunks
        self.quantize = getattr(cfg, "quantize", True)
        self.store = ctx.store
        self._lock = threading.Lock()
        try:
            self.model = self._load(resolve_model_dir(self.root))
        except ModelError as exc:
            raise PipelineError(str(exc)) from None

    def _load(self, path: Path) -> SentimentModel:
        return SentimentModel(
            path,
            batch_size=self.batch_size,
            max_length=self.max_length,
            max_chunks=self.max_chunks,
            threads=self.threads,
            quantize=self.quantize,
        )

    @property
    def version(self) -> str:
        return self.model.version

    def reload(self) -> bool:
        """Swap in the version ``CURRENT`` names if it changed; False when nothing changed."""
        try:
            target = resolve_model_dir(self.root)
        except ModelError as exc:
            log.error("sentiment reload skipped: %s", exc)
            return False
        if target.resolve() == self.model.dir.resolve():
            return False
        try:
            new = self._load(target)
        except Exception as exc:  # keep serving the old version
            log.error(
                "sentiment model %s could not be loaded, keeping %s: %s", target, self.version, exc
            )
            return False
        with self._lock:
            old, self.model = self.model, new
        log.info("sentiment model switched %s -> %s", old.version, new.version)
        return True

    def _analyst_labels(self, posts: list[Post]) -> dict[str, Sentiment]:
        if self.store is None:
            return {}
        try:
            stored = self.store.get_many([p.id for p in posts])
        except Exception as exc:  # a store hiccup must not stop enrichment
            log.warning("could not look up analyst labels: %s", exc)
            return {}
        return {
            p.id: p.sentiment
            for p in stored
            if p.sentiment is not None
            and (p.sentiment.model_version or "").startswith(ANALYST_PREFIX)
        }

    def __call__(self, posts: list[Post]) -> list[Post]:
        if not posts:
            return posts
        kept = self._analyst_labels(posts)
        todo = [p for p in posts if p.id not in kept]
        with self._lock:
            model = self.model
        preds = model.predict([p.full_text for p in todo])
        for p, pred in zip(todo, preds, strict=True):
            p.sentiment = Sentiment(
                label=pred.label, score=pred.score, probs=pred.probs, model_version=model.version
            )
        for p in posts:
            if p.id in kept:
                p.sentiment = kept[p.id]
        return posts


def create(ctx: Context) -> SentimentComponent:
    return SentimentComponent(ctx)
