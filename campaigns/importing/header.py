"""The header row: which column is tel1..tel10, starttime, a flow variable, or ignored."""

import csv
import re
from dataclasses import dataclass

from campaigns.importing.limits import MAX_TEL, TEL_RE, VARIABLE_RE, FileRefused, Limits, where_in
from campaigns.importing.reading import Position, sniff_delimiter

REPORT_COLUMNS = ("rejectedline", "rejectedcolumn", "rejectedreason")


@dataclass
class Header:
    columns: list[str]  # canonical name per cell: tel1, starttime, client-identifier, $flow.key.X, "" (ignored)
    tels: list[tuple[int, str]]  # (cell index, "telN"), tel1 first
    start: int | None
    external: int | None
    variables: list[tuple[int, str]]  # (cell index, variable name)


def _column_key(cell: str) -> tuple[str, str]:
    name = cell.strip().lstrip("\ufeff").strip()
    if not name:
        return "ignored", ""
    variable = VARIABLE_RE.match(name)
    if variable:
        return ("variable", variable.group(1).strip()) if variable.group(1).strip() else ("ignored", "")
    compact = re.sub(r"[\s_\-.]+", "", name).lower()
    if compact in REPORT_COLUMNS:
        return "ignored", ""  # the rejected-rows report's own columns: its rows upload again once fixed
    tel = TEL_RE.match(compact)
    if tel:
        return "tel", f"tel{int(tel.group(1))}"
    if compact == "starttime":
        return "starttime", "starttime"
    if compact in ("clientidentifier", "clientid"):
        return "client-identifier", "client-identifier"
    return "variable", name


def parse_header(cells: list[str], limits: Limits, member: str | None = None) -> Header:
    while cells and not cells[-1].strip():
        cells = cells[:-1]  # spreadsheets often add empty trailing columns
    where = where_in(member)
    if len(cells) > limits.max_columns:
        raise FileRefused(f"The header{where} has {len(cells)} columns; at most {limits.max_columns} are accepted.")
    header = Header(columns=[], tels=[], start=None, external=None, variables=[])
    seen = {}
    for index, cell in enumerate(cells):
        kind, name = _column_key(cell)
        if kind == "ignored":
            header.columns.append("")
            continue
        if kind == "tel":
            number = int(name[3:])
            if number > MAX_TEL:
                raise FileRefused(
                    f"The header{where} has a {name} column, but a row may carry at most {MAX_TEL} numbers "
                    "(tel1 to tel10)."
                )
            if number < 1:
                raise FileRefused(f"The header{where} has a {name} column; numbers go in tel1 to tel10.")
        key = (kind, name)
        label = f"$flow.key.{name}" if kind == "variable" else name
        if key in seen:
            raise FileRefused(f'The column "{label}" appears twice in the header{where}.')
        seen[key] = index
        header.columns.append(label)
        if kind == "tel":
            header.tels.append((index, name))
        elif kind == "starttime":
            header.start = index
        elif kind == "client-identifier":
            header.external = index
        else:
            header.variables.append((index, name))
    if ("tel", "tel1") not in seen:
        raise FileRefused(
            f"The file{where} has no tel1 column: its first line must be a header naming the columns, "
            "with the customer's number under tel1."
        )
    header.tels.sort(key=lambda item: int(item[1][3:]))
    return header


def read_header(lines, position: Position, limits: Limits, member: str | None):
    """Return (delimiter, header cells, header line number), skipping blank lines and Excel's `sep=`."""
    delimiter = None
    for line in lines:
        stripped = line.strip().lstrip("\ufeff")
        if not stripped:
            continue
        hint = re.fullmatch(r"\ufeff?sep=(.)", line.rstrip("\r\n"), re.IGNORECASE)
        if delimiter is None and hint:
            delimiter = hint.group(1)
            continue
        delimiter = delimiter or sniff_delimiter(line)
        cells = next(csv.reader([line], delimiter=delimiter), [])
        return delimiter, cells, position.physical
    raise FileRefused(
        f"The file{where_in(member)} is empty."
        if position.physical == 0
        else f"The file{where_in(member)} has no header line, only blank lines."
    )
