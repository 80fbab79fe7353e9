"""`yuqing grids eval`: scoring rules, and the held-out labelled set meets the targets."""

from __future__ import annotations

from argparse import Namespace
from pathlib import Path

import pytest
from conftest import REPO, make_settings

from core.cli import CliError
from core.schema import Geo
from geo import commands
from geo.evaluate import evaluate, load_rows, wrong
from geo.service import GeoService

TEST_SET = REPO / "data" / "labelled" / "geo_test.jsonl"
DEV_SET = REPO / "data" / "labelled" / "geo_dev.jsonl"


def test_wrong_placement_rules():
    row = {
        "expected_level": "community",
        "expected_street": "董家街道",
        "expected_community": "苏家庄村",
    }
    assert wrong(row, Geo(level="street", street="王舍人街道")) == "street 王舍人街道 ≠ 董家街道"
    assert wrong(row, Geo(level="district", district="历城区")) is None  # a miss, not wrong
    assert wrong(row, Geo(level="outside")) == "marked outside"
    assert wrong({"expected_level": "outside"}, Geo(level="street", street="唐冶街道"))
    assert wrong({"expected_level": "unlocated"}, Geo(level="district")) is None
    assert wrong({"expected_level": "unlocated"}, Geo(level="street", street="唐冶街道"))


def test_bad_rows_are_named(tmp_path: Path):
    p = tmp_path / "x.jsonl"
    p.write_text('{"text": "a", "expected_level": "somewhere"}\n', encoding="utf-8")
    with pytest.raises(ValueError, match="x.jsonl:1: expected_level"):
        load_rows(p)
    settings = make_settings(tmp_path)
    with pytest.raises(CliError, match="not found"):
        commands.cmd_eval(
            Namespace(data=str(tmp_path / "none.jsonl"), json=False, show=5), settings
        )


@pytest.mark.parametrize("path", [TEST_SET, DEV_SET], ids=["held-out", "dev"])
def test_labelled_sets_meet_the_targets(tmp_path: Path, path: Path):
    svc = GeoService(make_settings(tmp_path))
    svc.ensure_sample_layer()
    rows = load_rows(path)
    assert len(rows) >= 100
    result = evaluate(svc.tagger(), rows)
    svc.close()
    named = result["street_accuracy_named"]
    assert named["n"] >= 50 and named["accuracy"] >= 0.95, result["misses"][:5]
    assert result["wrong_placement_rate"] <= 0.02, result["wrong"]
