"""Config section ``analysis``: taxonomy, category and risk models, near-duplicates, events.

One section for the governance analysis components so a deployment tunes them in one place;
every value has a measured default (see the README section on categories, risk and events).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator


class Section(BaseModel):
    # same as core.config.Section; defined here so core.config can import this module
    model_config = ConfigDict(extra="forbid")


# The default governance taxonomy (key -> Chinese name shown to users).
DEFAULT_TAXONOMY: dict[str, str] = {
    "property": "物业管理",
    "demolition": "拆迁征收",
    "environment": "环境污染",
    "noise": "噪音扰民",
    "traffic": "交通出行",
    "wages": "劳动欠薪",
    "education": "教育",
    "health": "医疗卫生",
    "food_safety": "食品安全",
    "public_security": "社会治安",
    "safety": "安全生产与消防",
    "housing": "房产住建",
    "utilities": "水电气暖",
    "urban_management": "城市管理",
    "consumer": "消费维权",
    "social_welfare": "社会保障",
    "government_service": "政务服务",
    "other": "其他",
}


class CategoryConfig(Section):
    model_dir: str = "models/category"  # a version directory, or a parent with CURRENT naming one
    taxonomy: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_TAXONOMY))
    max_chars: int = Field(2000, ge=50, le=200_000, description="text the classifier reads")

    @field_validator("taxonomy")
    @classmethod
    def _taxonomy(cls, v: dict[str, str]) -> dict[str, str]:
        if not v:
            raise ValueError("the taxonomy needs at least one category")
        if "other" not in v:
            raise ValueError(
                "the taxonomy must keep an 'other' category (labels it lacks map there)"
            )
        for key in v:
            if not key or not key.replace("_", "").isalnum() or not key.isascii():
                raise ValueError(f"category key {key!r} must be ASCII letters, digits or _")
        return v


class RiskConfig(Section):
    lexicon: str = "data/lexicons/risk_v1.yaml"
    model_dir: str = "models/risk"  # optional: without a model the lexicon decides alone
    max_chars: int = Field(5000, ge=50, le=200_000)


class DedupConfig(Section):
    threshold: float = Field(0.5, gt=0, lt=1, description="MinHash LSH Jaccard threshold")
    num_perm: int = Field(128, ge=16, le=512)
    min_chars: int = Field(12, ge=1, description="shorter texts are never marked duplicates")
    window_days: float = Field(7, gt=0, description="how far back a copy finds its original")
    max_posts: int = Field(200_000, ge=100, description="upper bound of the in-memory index")


class EventsConfig(Section):
    window_hours: float = Field(72, gt=0, description="a post joins events seen within this time")
    threshold: float = Field(0.45, gt=0, lt=2, description="join score needed to join an event")
    min_text_similarity: float = Field(0.05, ge=0, le=1)
    max_active: int = Field(50_000, ge=100, description="open events kept in memory")
    max_terms: int = Field(40, ge=5, le=500, description="terms kept per event centroid")
    max_age_days: float = Field(
        14,
        gt=0,
        description="an event older than this takes no new posts: a problem that keeps coming back "
        "opens a new event (and the relapse rule can link them) instead of one event for months",
    )


class AnalysisConfig(Section):
    category: CategoryConfig = CategoryConfig()
    risk: RiskConfig = RiskConfig()
    dedup: DedupConfig = DedupConfig()
    events: EventsConfig = EventsConfig()
