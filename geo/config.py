"""Config section ``geo``: where the grid registry and gazetteer live and how points snap."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class GeoConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    db: str = "geo.db"  # versioned grid layers; relative paths are under data_dir
    gazetteer: str = "gazetteer.csv"  # the deployment's own entries (yuqing grids gazetteer add)
    divisions: str | None = None  # divisions CSV; default: the bundled NBS 2023 list for 历城区
    sample_gazetteer: bool = True  # also load data/geo/gazetteer_sample.csv
    load_sample_layer: bool = True  # import the synthetic sample layer when no layer exists
    # run by the 南部山区 committee, not the district grid centre: known, but a post naming them,
    # their villages or their stems (仲宫那边) is ``outside``, never placed in a grid-centre street
    excluded_streets: list[str] = ["仲宫街道", "柳埠街道", "西营街道"]
    excluded_area_names: list[str] = ["南部山区"]  # names of the area those streets form: outside
    block_stems: list[str] = []  # extra bare names never read as a place (added to the built-ins)
    snap_m: float = Field(50.0, ge=0, le=1000)  # a point this close to a grid snaps to it
    reload_interval_s: float = Field(2.0, ge=0.1, le=3600)  # how often to look for a new layer
    keep_versions: int = Field(5, ge=1, le=100)
