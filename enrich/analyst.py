"""Analyst corrections win over models: a re-ingested post keeps the label an analyst set.

Labels written through the labels API carry a ``model_version`` starting with ``analyst``
(``core/labels.py``); the category and risk components look the stored copy up and keep it.
"""

from __future__ import annotations

import logging
from typing import Any

from core.schema import Post

log = logging.getLogger(__name__)
ANALYST_PREFIX = "analyst"


def analyst_values(store: Any, posts: list[Post], field: str) -> dict[str, Any]:
    """``{post id: stored value}`` for the posts whose ``field`` an analyst set."""
    if store is None or not posts:
        return {}
    try:
        stored = store.get_many([p.id for p in posts])
    except Exception as exc:  # the store being down must not stop enrichment
        log.warning("could not look up analyst labels: %s", exc)
        return {}
    out: dict[str, Any] = {}
    for p in stored:
        value = getattr(p, field, None)
        if value is not None and (value.model_version or "").startswith(ANALYST_PREFIX):
            out[p.id] = value
    return out
