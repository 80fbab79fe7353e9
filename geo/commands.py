"""``yuqing grids …``: import/list/activate layers, the gazetteer, tagging and evaluation."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from core.cli import CliError
from core.config import Settings


def _service(settings: Settings, sample: bool = True):
    from geo.hierarchy import HierarchyError
    from geo.service import GeoService

    try:
        svc = GeoService(settings)
    except HierarchyError as exc:
        raise CliError(str(exc)) from None
    if sample:
        svc.ensure_sample_layer()
    return svc


def _fields(pairs: list[str] | None) -> dict[str, str]:
    out = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or key not in ("id", "name", "kind", "community", "street", "district"):
            raise CliError(
                f"--field expects id|name|kind|community|street|district=PROPERTY, got {pair!r}"
            )
        out[key] = value
    return out


def cmd_import(args, settings: Settings) -> int:
    from geo.layer import LayerError, build_layer, read_features

    svc = _service(settings, sample=False)
    try:
        feats, declared = read_features(args.file, args.layer)
        grids, report = build_layer(
            feats,
            args.crs or declared,
            _fields(args.field),
            default_district=svc.base_hierarchy.district,
            default_kind=args.default_kind,
        )
    except LayerError as exc:
        raise CliError(str(exc)) from None
    rep = report.as_dict()
    basic = sum(g.kind == "basic" for g in grids)
    print(
        f"{args.file}: {rep['features']} features → {basic} basic + {len(grids) - basic} special grids"
        f" (crs {rep['crs']}); repaired {rep['repaired_count']}, rejected {rep['rejected_count']},"
        f" overlaps {rep['overlap_count']} (+{rep['sliver_count']} slivers), gaps {rep['gap_count']}"
    )
    for r in rep["repaired"]:
        print(f"  repaired {r['id']}: {r['reason']}")
    for r in rep["rejected"]:
        print(f"  rejected {r['id']}: {r['reason']}")
    for o in rep["overlaps"]:
        print(f"  overlap {o['grids'][0]} × {o['grids'][1]}: {o['area_m2']} m²")
    for g in rep["gaps"]:
        print(f"  gap near {g['at'][0]},{g['at'][1]}: {g['area_m2']} m²")
    for w in rep["warnings"][:10]:
        print(f"  warning: {w}")
    if args.strict and (rep["rejected_count"] or rep["overlap_count"]):
        raise CliError("--strict: not imported because grids were rejected or overlap")
    if args.dry_run:
        print("dry run: nothing imported")
        return 0
    version = svc.registry.import_layer(
        grids, report, args.name or Path(args.file).stem, str(args.file)
    )
    print(f"imported as layer version {version} (now active; running services pick it up)")
    return 0


def cmd_list(args, settings: Settings) -> int:
    svc = _service(settings, sample=False)
    layers = svc.registry.layers()
    if not layers:
        print("no grid layer imported (the sample layer loads on first start)")
    for layer in layers:
        mark = "*" if layer.active else " "
        print(f"{mark} v{layer.version}  {layer.imported_at}  {layer.grids:5d} grids  {layer.name}")
    return 0


def cmd_activate(args, settings: Settings) -> int:
    from geo.registry import RegistryError

    svc = _service(settings, sample=False)
    try:
        svc.registry.activate(args.version)
    except RegistryError as exc:
        raise CliError(str(exc)) from None
    print(f"layer version {args.version} is now active")
    return 0


def cmd_tag(args, settings: Settings) -> int:
    svc = _service(settings)
    tagger = svc.tagger()
    point = None
    if args.lon is not None or args.lat is not None:
        if args.lon is None or args.lat is None:
            raise CliError("give both --lon and --lat")
        point = tagger.locate_points([args.lon], [args.lat], args.crs)[0]
    geo = tagger.tag_fields(
        args.text or "", args.address, args.author_location, point, has_point=point is not None
    )
    print(json.dumps(geo.model_dump(), ensure_ascii=False, indent=1))
    return 0


def cmd_eval(args, settings: Settings) -> int:
    from geo.evaluate import EvalError, evaluate, load_rows

    svc = _service(settings)
    try:
        rows = load_rows(args.data)
    except EvalError as exc:
        raise CliError(str(exc)) from None
    result = evaluate(svc.tagger(), rows)
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=1))
        return 0
    print(f"{args.data}: {result['rows']} rows")
    for key, v in result["accuracy"].items():
        if v["n"]:
            print(f"  {key:10s} accuracy {v['accuracy']:.3f}  (n={v['n']})")
    sn = result["street_accuracy_named"]
    if sn["n"]:
        print(
            f"  street accuracy where a street/community is named: {sn['accuracy']:.3f} (n={sn['n']})"
        )
    print(
        f"  wrong placements: {result['wrong_placements']} ({result['wrong_placement_rate']:.2%})"
    )
    for w in result["wrong"][: args.show]:
        print(f"    WRONG line {w['line']}: {w['why']} — {w['text']} {w['matched']}")
    for m in result["misses"][: args.show]:
        print(f"    miss line {m['line']}: expected {m['expected']} got {m['got']} — {m['text']}")
    return 0


# ---- gazetteer ---------------------------------------------------------------------------------


def cmd_gaz_add(args, settings: Settings) -> int:
    from geo.gazetteer import GazetteerError, make_entry, merge, write_gazetteer

    svc = _service(settings, sample=False)
    svc.tagger()  # hierarchy including the layer's names
    try:
        entry = make_entry(
            args.name,
            args.kind,
            args.street,
            args.community,
            args.grid,
            args.alias or [],
            args.note or "",
            hierarchy=svc.hierarchy,
            where=args.name,
        )
        write_gazetteer(svc.gazetteer_path, merge(svc.user_entries(), [entry]))
    except GazetteerError as exc:
        raise CliError(str(exc)) from None
    place = (
        "outside the area"
        if entry.outside
        else "not a place (the name inside it never places a post)"
        if entry.not_place
        else " / ".join(x for x in (entry.street, entry.community, entry.grid_id) if x)
        or svc.hierarchy.district
    )
    print(f"added {entry.name} ({entry.kind}) → {place}; file {svc.gazetteer_path}")
    return 0


def cmd_gaz_import(args, settings: Settings) -> int:
    from geo.gazetteer import GazetteerError, merge, read_gazetteer, write_gazetteer

    svc = _service(settings, sample=False)
    svc.tagger()
    try:
        new = read_gazetteer(args.file, svc.hierarchy)
        entries = new if args.replace else merge(svc.user_entries(), new)
        write_gazetteer(svc.gazetteer_path, entries)
    except GazetteerError as exc:
        raise CliError(str(exc)) from None
    print(
        f"imported {len(new)} entries; the gazetteer now holds {len(entries)} ({svc.gazetteer_path})"
    )
    return 0


def cmd_gaz_remove(args, settings: Settings) -> int:
    from geo.gazetteer import write_gazetteer

    svc = _service(settings, sample=False)
    svc.tagger()
    entries = svc.user_entries()
    kept = [e for e in entries if e.name != args.name]
    if len(kept) == len(entries):
        raise CliError(f"{args.name!r} is not in {svc.gazetteer_path}")
    write_gazetteer(svc.gazetteer_path, kept)
    print(f"removed {args.name}")
    return 0


def cmd_gaz_list(args, settings: Settings) -> int:
    import csv

    svc = _service(settings, sample=False)
    svc.tagger()
    entries = svc.entries() if args.all else svc.user_entries()
    w = csv.writer(sys.stdout)
    w.writerow(["name", "kind", "street", "community", "grid_id", "aliases", "note"])
    for e in sorted(entries, key=lambda e: (e.kind, e.name)):
        row = e.as_row()
        w.writerow(
            [row[k] for k in ("name", "kind", "street", "community", "grid_id", "aliases", "note")]
        )
    return 0


def register(sub) -> None:
    p = sub.add_parser("grids", help="grid layers, gazetteer and geotagging")
    gs = p.add_subparsers(dest="grids_command", metavar="ACTION")
    gs.required = True

    imp = gs.add_parser(
        "import", help="import a grid layer (GeoJSON or Shapefile); it becomes active"
    )
    imp.add_argument("file")
    imp.add_argument(
        "--crs", help="source CRS, e.g. EPSG:4548, gcj02, bd09 (default: the file's, else WGS-84)"
    )
    imp.add_argument(
        "--layer", help="Shapefile name inside a .zip, or GeoJSON features with layer=NAME"
    )
    imp.add_argument("--name", help="a label for this version (default: the file name)")
    imp.add_argument(
        "--field", action="append", metavar="FIELD=PROPERTY", help="map a property, e.g. id=WGBM"
    )
    imp.add_argument("--default-kind", choices=["basic", "special"], default="basic")
    imp.add_argument(
        "--strict",
        action="store_true",
        help="refuse the import if any grid is rejected or overlaps",
    )
    imp.add_argument("--dry-run", action="store_true", help="check and report only")
    imp.set_defaults(func=cmd_import)

    ls = gs.add_parser("list", help="layer versions (* = active)")
    ls.set_defaults(func=cmd_list)

    act = gs.add_parser("activate", help="make an earlier layer version active again")
    act.add_argument("version", type=int)
    act.set_defaults(func=cmd_activate)

    tag = gs.add_parser("tag", help="geotag one text / address / point and print the result")
    tag.add_argument("text", nargs="?", default="")
    tag.add_argument("--address")
    tag.add_argument("--author-location")
    tag.add_argument("--lon", type=float)
    tag.add_argument("--lat", type=float)
    tag.add_argument("--crs", choices=["wgs84", "gcj02", "bd09"], default="wgs84")
    tag.set_defaults(func=cmd_tag)

    ev = gs.add_parser("eval", help="accuracy per level and wrong placements on labelled JSONL")
    ev.add_argument("--data", required=True)
    ev.add_argument("--json", action="store_true")
    ev.add_argument("--show", type=int, default=20, help="wrong placements and misses to list")
    ev.set_defaults(func=cmd_eval)

    gz = gs.add_parser(
        "gazetteer", help="places (小区, roads, landmarks, schools) → community/grid"
    )
    gzs = gz.add_subparsers(dest="gazetteer_command", metavar="ACTION")
    gzs.required = True
    add = gzs.add_parser("add", help="add or replace one entry")
    add.add_argument("name")
    add.add_argument("--kind", default="compound")
    add.add_argument("--street")
    add.add_argument("--community")
    add.add_argument("--grid")
    add.add_argument("--alias", action="append")
    add.add_argument("--note")
    add.set_defaults(func=cmd_gaz_add)
    gi = gzs.add_parser(
        "import", help="merge a CSV (name,kind,street,community,grid_id,aliases,note)"
    )
    gi.add_argument("file")
    gi.add_argument(
        "--replace", action="store_true", help="replace the deployment's entries instead of merging"
    )
    gi.set_defaults(func=cmd_gaz_import)
    gr = gzs.add_parser("remove", help="remove one entry of the deployment's file")
    gr.add_argument("name")
    gr.set_defaults(func=cmd_gaz_remove)
    gl = gzs.add_parser(
        "list", help="print the deployment's entries as CSV (--all: with the sample)"
    )
    gl.add_argument("--all", action="store_true")
    gl.set_defaults(func=cmd_gaz_list)
