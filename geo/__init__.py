"""Grids and geotagging: grid registry, administrative hierarchy, gazetteer, and the tagger."""
