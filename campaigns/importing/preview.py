"""The preview the upload page shows before a file is sent: header, first rows, problems."""

import csv
import zipfile
import zlib
from pathlib import Path

from campaigns.importing.header import _read_header, parse_header
from campaigns.importing.limits import ACCEPTED_EXTENSIONS, FileRefused, Limits
from campaigns.importing.reading import _csv_sources, _open_text, _physical_lines, _Position, _Totals


def preview_rows(*, fileobj, filename: str, encoding: str = "", limit: int = 10) -> dict:
    """The header (normalised) and the first rows, reading only the start of the file."""
    columns, rows, error = [], [], None
    limits = Limits.from_settings()
    start = fileobj.tell() if hasattr(fileobj, "seekable") and fileobj.seekable() else None
    try:
        if Path(filename).suffix.lower() not in ACCEPTED_EXTENSIONS:
            raise FileRefused("Only .csv and .zip files are accepted.")
        for member, stream in _csv_sources(fileobj, filename, limits):
            position = _Position()
            text, _ = _open_text(stream, member, encoding, limits, _Totals())
            lines = _physical_lines(text, limits, position, member)
            delimiter, cells, _ = _read_header(lines, position, limits, member)
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
    return {"columns": columns, "rows": rows, "error": error}
