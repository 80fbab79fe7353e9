"""Import of the internal lines (12345 hotline work orders, petitions) from CSV/Excel or JSON.

Column names are mapped by config (``crawler.imports.<line>.columns``: field → header names
tried in order). Rows become posts with the address and the caller's account (来电人反映…)
kept for geotagging; caller names and phone numbers are never mapped. Bad rows are reported
with their row number (the header is row 1) and dead-lettered; good rows go in.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from core.queue import Inbox
from core.schema import make_post_id
from crawler.config import ImportLine
from crawler.dates import parse_date
from crawler.normalise import clean_text

MAX_ROWS = 1_000_000


class ImportError_(Exception):
    """The file as a whole cannot be read (one line, for the user)."""


@dataclass
class ImportReport:
    accepted: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)  # (row number, reason)
    ids: list[str] = field(default_factory=list)
    encoding: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "rejected": [{"row": r, "reason": m} for r, m in self.errors],
            "ids": self.ids,
            "encoding": self.encoding,
        }


def decode_csv(data: bytes) -> tuple[str, str]:
    """CSV bytes as text: UTF-8 (with or without BOM), else GB18030 (covers GBK/GB2312)."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8"), "utf-8-sig"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16"), "utf-16"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030"), "gb18030"
    except UnicodeDecodeError as exc:
        raise ImportError_(
            f"cannot decode the CSV as UTF-8 or GBK/GB18030 (bad byte at {exc.start})"
        ) from None


def read_rows(path: Path, sheet: str | None = None) -> tuple[list[tuple[int, dict[str, Any]]], str]:
    """(row number, {header: value}) for every non-empty data row, and the encoding/format."""
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return _read_xlsx(path, sheet), "xlsx"
    if suffix == ".xls":
        raise ImportError_("old .xls files are not supported: save the sheet as .xlsx or CSV")
    text, enc = decode_csv(path.read_bytes())
    return rows_from_csv(text), enc


def rows_from_csv(text: str) -> list[tuple[int, dict[str, Any]]]:
    sample = text[:4096]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",\t;")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    header: list[str] | None = None
    out = []
    for n, row in enumerate(reader, 1):
        if header is None:
            if any(c.strip() for c in row):
                header = [c.strip() for c in row]
            continue
        if not any(c.strip() for c in row):
            continue
        out.append((n, dict(zip(header, row, strict=False))))
        if len(out) > MAX_ROWS:
            raise ImportError_(f"more than {MAX_ROWS} rows: split the file")
    if header is None:
        raise ImportError_("the file is empty (no header row)")
    return out


def _read_xlsx(path: Path, sheet: str | None) -> list[tuple[int, dict[str, Any]]]:
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, OSError, KeyError, ValueError) as exc:
        raise ImportError_(f"cannot open {path.name} as an Excel workbook: {exc}") from None
    try:
        if sheet and sheet not in wb.sheetnames:
            raise ImportError_(f"no sheet {sheet!r} (sheets: {', '.join(wb.sheetnames)})")
        ws = wb[sheet] if sheet else wb.worksheets[0]
        header = None
        out = []
        for n, row in enumerate(ws.iter_rows(values_only=True), 1):
            cells = ["" if v is None else v for v in row]
            if header is None:
                if any(str(c).strip() for c in cells):
                    header = [str(c).strip() for c in cells]
                continue
            if not any(str(c).strip() for c in cells):
                continue
            out.append((n, dict(zip(header, cells, strict=False))))
            if len(out) > MAX_ROWS:
                raise ImportError_(f"more than {MAX_ROWS} rows: split the file")
        if header is None:
            raise ImportError_("the sheet is empty (no header row)")
        return out
    finally:
        wb.close()


def _pick(row: dict[str, Any], names: list[str]) -> Any:
    for name in names:
        if name in row and row[name] is not None and str(row[name]).strip() != "":
            return row[name]
    return None


def _when(value: Any) -> datetime | str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    parsed = parse_date(str(value))
    return parsed if parsed is not None else str(value)[:100]


def row_to_record(line_name: str, line: ImportLine, row: dict[str, Any]) -> dict[str, Any]:
    """A Post-shaped dict; invalid values are left for validation to report."""
    cols = line.columns
    rec: dict[str, Any] = {"source": line.source, "source_type": line.source_type}
    text = clean_text(str(_pick(row, cols["text"]) or ""))
    title = clean_text(str(_pick(row, cols.get("title", [])) or "")) or None
    published = _when(_pick(row, cols["published_at"]))
    native = _pick(row, cols.get("id", []))
    if native is not None and str(native).strip():
        native = str(native).strip()
        if native.endswith(".0") and native[:-2].isdigit():  # Excel turned the number into a float
            native = native[:-2]
    elif text and published is not None:
        # no work-order number: the same row imported twice must still be one post
        native = "h" + hashlib.sha1(f"{published}|{text}".encode()).hexdigest()[:16]
    else:
        native = None
    if native:
        rec["id"] = make_post_id(line.source, native)
    if title:
        rec["title"] = title[:1000]
    rec["text"] = text
    if published is not None:
        rec["published_at"] = published
    address = _pick(row, cols.get("address", []))
    if address is not None:
        rec["address"] = clean_text(str(address))[:500]
    extra = {}
    for key, names in line.extra.items():
        v = _pick(row, names)
        if v is not None:
            extra[key] = clean_text(str(v))[:500]
    extra["line"] = line_name
    rec["extra"] = extra
    return rec


def import_rows(
    inbox: Inbox, line_name: str, line: ImportLine, rows: list[tuple[int, dict[str, Any]]]
) -> ImportReport:
    report = ImportReport()
    origin = f"import:{line_name}"
    for start in range(0, len(rows), 1000):
        chunk = rows[start : start + 1000]
        records = [row_to_record(line_name, line, r) for _, r in chunk]
        result = inbox.put(records, origin=origin)
        report.accepted += result.accepted
        report.ids.extend(result.ids)
        for rej in result.rejected:
            rowno = chunk[rej.index][0]
            reason = (
                rej.reason.split(": ", 1)[1] if rej.reason.startswith("record ") else rej.reason
            )
            report.errors.append((rowno, reason))
    return report


def import_file(inbox: Inbox, line_name: str, line: ImportLine, path: Path) -> ImportReport:
    if not path.is_file():
        raise ImportError_(f"no such file: {path}")
    rows, enc = read_rows(path, line.sheet)
    missing = [
        f for f in ("text", "published_at") if rows and _pick_header(rows, line.columns[f]) is None
    ]
    if missing:
        headers = ", ".join(list(rows[0][1].keys())[:20])
        need = "; ".join(f"{f}: one of {line.columns[f]}" for f in missing)
        raise ImportError_(
            f"no column for {need} (file headers: {headers}); map them in crawler.imports.{line_name}.columns"
        )
    report = import_rows(inbox, line_name, line, rows)
    report.encoding = enc
    return report


def _pick_header(rows, names: list[str]) -> str | None:
    headers = rows[0][1].keys()
    return next((n for n in names if n in headers), None)
