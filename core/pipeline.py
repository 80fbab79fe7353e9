"""Config-driven enrichment pipeline (spaCy-style components).

``pipeline.components`` in the config names registered components in order. Each name maps to
a module exposing ``create(ctx) -> Component``; modules are imported only when named, so a
deployment that does not use a model never loads it.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from core.schema import Post

if TYPE_CHECKING:
    from core.config import Settings
    from store.base import Store

log = logging.getLogger(__name__)

# name -> module with create(ctx). Add a line here when a new component lands.
COMPONENT_MODULES: dict[str, str] = {
    "keywords": "enrich.keywords",
    "sentiment": "enrich.sentiment",
    "category": "enrich.category",
    "risk": "enrich.risk",
    "geo": "enrich.geo",
    "dedup": "enrich.dedup",
    "events": "enrich.events",
}


class Component(Protocol):
    name: str

    def __call__(self, posts: list[Post]) -> list[Post]: ...


@dataclass
class Context:
    settings: Settings
    store: Store | None = None
    extras: dict[str, Any] = field(default_factory=dict)


class PipelineError(Exception):
    pass


class Pipeline:
    def __init__(self, components: list[Component]) -> None:
        self.components = components

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.components]

    def __call__(self, posts: list[Post]) -> list[Post]:
        for comp in self.components:
            posts = comp(posts)
        return posts

    def versions(self) -> dict[str, str | None]:
        return {c.name: getattr(c, "version", None) for c in self.components}

    def reload(self) -> list[str]:
        """Ask components that can (models) to pick up a newly promoted version."""
        changed = []
        for c in self.components:
            fn = getattr(c, "reload", None)
            if callable(fn) and fn():
                changed.append(c.name)
        return changed


def build_pipeline(ctx: Context, names: list[str] | None = None) -> Pipeline:
    names = list(ctx.settings.pipeline.components if names is None else names)
    comps: list[Component] = []
    for name in names:
        module_name = COMPONENT_MODULES.get(name)
        if module_name is None:
            raise PipelineError(
                f"unknown pipeline component {name!r}; known: {', '.join(sorted(COMPONENT_MODULES))}"
            )
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise PipelineError(f"pipeline component {name!r} is not available: {exc}") from None
        comps.append(module.create(ctx))
    return Pipeline(comps)
