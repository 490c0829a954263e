"""The preview the upload page shows before a file is sent: header, first rows, problems."""

import csv
import zipfile
import zlib
from pathlib import Path

from campaigns.importing.header import parse_header, read_header
from campaigns.importing.limits import ACCEPTED_EXTENSIONS, VARIABLE_RE, FileRefused, Limits
from campaigns.importing.reading import Position, Totals, csv_sources, open_text, physical_lines


def preview_rows(*, fileobj, filename: str, encoding: str = "", limit: int = 10) -> dict:
    """The header (normalised) and the first rows, reading only the start of the file."""
    columns, rows, error, cells = [], [], None, []
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
            columns = parse_header(cells, limits, member).columns
            for row in csv.reader(lines, delimiter=delimiter):
                if len(rows) >= limit:
                    break
                if any(cell.strip() for cell in row):
                    rows.append([cell.strip() for cell in (row + [""] * len(columns))[: len(columns)]])
            break
    except FileRefused as refusal:
        error = refusal.message
    except UnicodeDecodeError:
        error = "The file is not valid UTF-8; choose its encoding (for example Windows-1252) when you upload it."
    except (csv.Error, zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, OSError):
        error = "The file cannot be read as a CSV call list."
    finally:
        if start is not None:
            fileobj.seek(start)
    return {"columns": columns, "rows": rows, "error": error, "header_cells": cells[: len(columns)]}


def preview_warnings(preview: dict, *, known_variables: list[str]) -> list[str]:
    """What in the previewed rows would waste calls: a column read as a flow variable without being
    written as one, a variable this flow's earlier lists never used, and empty variable values."""
    if preview.get("error") or not preview.get("columns"):
        return []
    warnings = []
    known = {name.lower() for name in known_variables}
    cells = preview.get("header_cells") or [""] * len(preview["columns"])
    for index, column in enumerate(preview["columns"]):
        if not column.startswith("$flow.key."):
            continue
        name = column.removeprefix("$flow.key.")
        if not VARIABLE_RE.match(cells[index] if index < len(cells) else column):
            warnings.append(f"The column “{cells[index]}” is not a column we know; it will be sent as the flow "
                            f"variable {column}. Rename it to {column} if that is meant, or remove it.")
        elif known and name.lower() not in known:
            warnings.append(f"{column} was not used by this flow's earlier lists "
                            f"({', '.join(sorted(known_variables))}); check its spelling.")
        empty = sum(1 for row in preview["rows"] if index < len(row) and not row[index])
        if empty:
            rows = len(preview["rows"])
            warnings.append(f"{column} is empty in {empty} of the first {rows} row{'s' if rows != 1 else ''}: "
                            "those customers hear the flow without it.")
    return warnings
