"""The preview the upload page shows before a file is sent: header, first rows, problems."""

import csv
import zipfile
import zlib
from pathlib import Path

import phonenumbers
from django.conf import settings

from campaigns.importing.header import MAPPING_TARGETS, apply_column_mapping, parse_header_mapped, read_header
from campaigns.importing.limits import ACCEPTED_EXTENSIONS, VARIABLE_RE, FileRefused, Limits
from campaigns.importing.numbers import NumberNormaliser
from campaigns.importing.reading import Position, Totals, csv_sources, open_text, physical_lines
from campaigns.models import ContactList


def preview_rows(
    *, fileobj, filename: str, encoding: str = "", limit: int = 10, mapping: dict[str, str] | None = None
) -> dict:
    """The header (normalised, after the manager's `mapping`) and the first rows, reading only the start
    of the file. A header the import would refuse (no tel1 column) still shows its cells and rows, so
    that the manager can map them."""
    columns, rows, error, cells, read_cells = [], [], None, [], []
    limits = Limits.from_settings()
    start = fileobj.tell() if hasattr(fileobj, "seekable") and fileobj.seekable() else None
    try:
        if Path(filename).suffix.lower() not in ACCEPTED_EXTENSIONS:
            raise FileRefused("Only .csv and .zip files are accepted.")
        for member, stream in csv_sources(fileobj, filename, limits):
            position = Position()
            text, _ = open_text(stream, member, encoding, limits, Totals())
            lines = physical_lines(text, limits, position, member)
            delimiter, cells, _ = read_header(lines, position, limits, member)
            cells = [cell.strip().lstrip("\ufeff").strip() for cell in cells]
            while cells and not cells[-1]:
                cells = cells[:-1]
            read_cells = apply_column_mapping(cells, mapping)
            try:
                columns = parse_header_mapped(cells, limits, member, mapping=mapping).columns
            except FileRefused as refusal:
                error = refusal.message
            width = len(columns) or len(cells)
            for row in csv.reader(lines, delimiter=delimiter):
                if len(rows) >= limit:
                    break
                if any(cell.strip() for cell in row):
                    rows.append([cell.strip() for cell in (row + [""] * width)[:width]])
            break
    except FileRefused as refusal:
        # Before the upload, the encoding is chosen on the same form: the file is not refused for it.
        error = refusal.message.replace("when you upload it", "under Encoding")
        cells = []
    except UnicodeDecodeError:
        error = "The file is not valid UTF-8: choose its encoding (for example Windows-1252) under Encoding."
        cells = []
    except (csv.Error, zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, OSError):
        error = "The file cannot be read as a CSV call list."
        cells = []
    finally:
        if start is not None:
            fileobj.seek(start)
    width = len(columns) or len(cells)
    return {
        "columns": columns,
        "rows": rows,
        "error": error,
        "header_cells": cells[:width],
        "read_cells": read_cells[:width],
        "mapping": dict(mapping or {}),
    }


def preview_mapping_choices(preview: dict, *, known_variables: list[str]) -> list[dict]:
    """For each header cell of the preview: what the import reads it as, and what it may be mapped to
    (tel1..tel10, starttime, client-identifier, this flow's keys, "ignore")."""
    mapping = {cell.lower(): target for cell, target in (preview.get("mapping") or {}).items()}
    columns = preview.get("columns") or []
    keys = [f"$flow.key.{name}" for name in known_variables]
    choices = []
    for index, cell in enumerate(preview.get("header_cells") or []):
        read_as = columns[index] if index < len(columns) else ""
        chosen = mapping.get(cell.lower())
        options = list(MAPPING_TARGETS) + [key for key in keys if key not in MAPPING_TARGETS]
        variable = f"$flow.key.{cell}" if cell and not VARIABLE_RE.match(cell) else ""
        if variable and variable not in options:
            options.append(variable)
        choices.append({"index": index, "cell": cell, "read_as": read_as, "chosen": chosen, "options": options})
    return choices


def preview_foreign_numbers(preview: dict, *, region: str = "") -> int:
    """How many previewed rows have a tel1 outside the default region's country (e.g. +91)."""
    columns = preview.get("columns") or []
    if preview.get("error") or "tel1" not in columns:
        return 0
    region = region or settings.PHONON_DEFAULT_REGION
    code = str(phonenumbers.country_code_for_region(region))
    normalise = NumberNormaliser(region)
    index = columns.index("tel1")
    foreign = 0
    for row in preview.get("rows") or []:
        number = normalise(row[index]) if index < len(row) and row[index] else None
        if number and not number.startswith(code):
            foreign += 1
    return foreign


def preview_warnings(preview: dict, *, known_variables: list[str]) -> list[str]:
    """What in the previewed rows would waste calls: a column read as a flow variable without being
    written as one, a variable this flow's earlier lists never used, and empty variable values."""
    if preview.get("error") or not preview.get("columns"):
        return []
    warnings = []
    known = {name.lower() for name in known_variables}
    cells = preview.get("read_cells") or preview.get("header_cells") or [""] * len(preview["columns"])
    for index, column in enumerate(preview["columns"]):
        if not column.startswith("$flow.key."):
            continue
        name = column.removeprefix("$flow.key.")
        if not VARIABLE_RE.match(cells[index] if index < len(cells) else column):
            warnings.append(
                f"The column “{cells[index]}” is not a column we know; it will be sent as the flow "
                f"variable {column}. Rename it to {column} if that is meant, or remove it."
            )
        elif known and name.lower() not in known:
            warnings.append(
                f"{column} was not used by this flow's earlier lists "
                f"({', '.join(sorted(known_variables))}); check its spelling."
            )
        empty = sum(1 for row in preview["rows"] if index < len(row) and not row[index])
        if empty:
            rows = len(preview["rows"])
            warnings.append(
                f"{column} is empty in {empty} of the first {rows} row{'s' if rows != 1 else ''}: "
                "those customers hear the flow without it."
            )
    return warnings


def flow_column_map(flow) -> dict[str, str]:
    """The mapping the manager last chose for this flow's uploads: the same CRM export maps the same way."""
    last = ContactList.objects.filter(flow=flow).exclude(column_map={}).order_by("-created_at").first()
    return dict(last.column_map) if last else {}
