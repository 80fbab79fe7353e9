"""The geo state a process shares: registry, hierarchy, gazetteer and the current tagger.

One :class:`GeoService` per process lives in ``services.extras["geo"]`` (the pipeline component
and the API router both use it). :meth:`GeoService.tagger` returns the tagger for the active
layer and gazetteer, rebuilding it when ``yuqing grids import`` (another process) activated a
new layer version or the gazetteer file changed — so a running service picks up a re-import
without a restart. The check is throttled to ``geo.reload_interval_s``.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
from pathlib import Path
from typing import Any

from core.config import Settings
from geo.gazetteer import (
    SAMPLE_GAZETTEER,
    Entry,
    GazetteerError,
    bundled_non_places,
    merge,
    read_gazetteer,
)
from geo.hierarchy import Hierarchy, load_hierarchy
from geo.layer import Grid, build_layer, read_features
from geo.locator import GridIndex
from geo.matcher import TextMatcher
from geo.names import NEVER_STEMS
from geo.registry import GridRegistry
from geo.tagger import Geotagger

log = logging.getLogger(__name__)

SAMPLE_LAYER = Path(__file__).resolve().parent.parent / "data" / "geo" / "sample_grids.geojson"
SAMPLE_LAYER_NAME = "sample (synthetic)"
_EXTRAS_KEY = "geo"
_extras_lock = threading.Lock()


def geo_config(settings: Settings):
    from geo.config import GeoConfig

    return getattr(settings, "geo", None) or GeoConfig()


class GeoService:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.config = geo_config(settings)
        self.registry = GridRegistry(settings.path(self.config.db), keep=self.config.keep_versions)
        self.base_hierarchy = load_hierarchy(
            self.config.divisions, excluded_streets=self.config.excluded_streets
        )
        self.gazetteer_path = settings.path(self.config.gazetteer)
        self.block_stems = frozenset(NEVER_STEMS | set(self.config.block_stems))
        self._lock = threading.Lock()
        self._tagger: Geotagger | None = None
        self._state: tuple[int | None, float] | None = None
        self._checked = 0.0
        self._grids: list[Grid] = []
        self.hierarchy: Hierarchy = self.base_hierarchy
        self.last_error: str | None = None

    # ---- layers -----------------------------------------------------------------------------

    def ensure_sample_layer(self) -> int | None:
        """Import the bundled synthetic layer when the registry is empty (first start)."""
        if not self.config.load_sample_layer or self.registry.active_version() is not None:
            return None
        if not SAMPLE_LAYER.exists():
            log.warning("no grid layer and no sample layer at %s", SAMPLE_LAYER)
            return None
        feats, declared = read_features(SAMPLE_LAYER)
        grids, report = build_layer(feats, declared, default_district=self.base_hierarchy.district)
        version = self.registry.import_layer(
            grids, report, SAMPLE_LAYER_NAME, str(SAMPLE_LAYER.name), only_if_empty=True
        )
        if version is not None:
            log.info(
                "loaded the synthetic sample grid layer (%d grids) as version %d",
                len(grids),
                version,
            )
        return version

    # ---- gazetteer ----------------------------------------------------------------------------

    def user_entries(self) -> list[Entry]:
        if not self.gazetteer_path.exists():
            return []
        return read_gazetteer(self.gazetteer_path, self.hierarchy)

    def _entries_for_build(self) -> list[Entry]:
        """Like :meth:`entries`, but a broken deployment file must not stop geotagging:
        it is logged and skipped (the sample entries still apply)."""
        try:
            return self.entries()
        except GazetteerError as exc:
            self.last_error = str(exc)
            log.error("gazetteer not loaded, fix it and it reloads: %s", exc)
            return self._base_entries()

    def _base_entries(self) -> list[Entry]:
        """The bundled non-place phrases, then the sample entries (when configured)."""
        sample = (
            read_gazetteer(SAMPLE_GAZETTEER, self.hierarchy)
            if self.config.sample_gazetteer and SAMPLE_GAZETTEER.exists()
            else []
        )
        return merge(bundled_non_places(), sample)

    def entries(self) -> list[Entry]:
        return merge(self._base_entries(), self.user_entries())

    def _gazetteer_mtime(self) -> float:
        try:
            return self.gazetteer_path.stat().st_mtime_ns / 1e9
        except FileNotFoundError:
            return 0.0

    # ---- the tagger ---------------------------------------------------------------------------

    def tagger(self) -> Geotagger:
        now = time.monotonic()
        if self._tagger is not None and now - self._checked < self.config.reload_interval_s:
            return self._tagger
        with self._lock:
            self._checked = time.monotonic()
            state = (self.registry.active_version(), self._gazetteer_mtime())
            if self._tagger is None or state != self._state:
                self.last_error = None
                try:
                    self._tagger = self._build(state[0])
                except Exception as exc:
                    if self._tagger is None:
                        raise
                    # keep tagging with the previous layer rather than failing every post
                    self.last_error = f"{type(exc).__name__}: {exc}"
                    log.exception("could not rebuild the geotagger; keeping layer v%s", self._state)
                self._state = state
            return self._tagger

    def _build(self, version: int | None) -> Geotagger:
        started = time.perf_counter()
        loaded = self.registry.load(version) if version is not None else None
        grids = loaded[1] if loaded else []
        hierarchy = copy.deepcopy(self.base_hierarchy)
        hierarchy.add_names(
            [
                (g.street, g.community)
                for g in grids
                if g.street and (g.district in (None, hierarchy.district))
            ]
        )
        self.hierarchy = hierarchy
        index = GridIndex(grids, snap_m=self.config.snap_m) if grids else None
        specials = [(g.id, g.name, g.street, g.community) for g in grids if g.kind == "special"]
        matcher = TextMatcher(
            hierarchy,
            self._entries_for_build(),
            specials,
            self.block_stems,
            outside_areas=tuple(self.config.excluded_area_names),
        )
        self._grids = grids
        log.info(
            "geotagger built: layer v%s (%d grids), %d names, in %.0f ms",
            version,
            len(grids),
            matcher.size,
            (time.perf_counter() - started) * 1000,
        )
        return Geotagger(hierarchy, matcher, index, version)

    def grids(self) -> list[Grid]:
        self.tagger()
        return self._grids

    def close(self) -> None:
        self.registry.close()


def get_geo(settings: Settings, extras: dict[str, Any]) -> GeoService:
    """The process's GeoService (created on first use, the sample layer loaded if none exists)."""
    with _extras_lock:
        svc = extras.get(_EXTRAS_KEY)
        if svc is None:
            svc = GeoService(settings)
            svc.ensure_sample_layer()
            extras[_EXTRAS_KEY] = svc
        return svc
