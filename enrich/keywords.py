"""Pipeline component: top keywords per post."""

from __future__ import annotations

from core.pipeline import Context
from core.schema import Post
from nlp.keywords import extract_keywords


class KeywordsComponent:
    name = "keywords"
    version = "kw-1"

    def __call__(self, posts: list[Post]) -> list[Post]:
        for p in posts:
            p.keywords = extract_keywords(p.full_text)
        return posts


def create(ctx: Context) -> KeywordsComponent:
    return KeywordsComponent()
