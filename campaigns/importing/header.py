"""The header row: which column is tel1..tel10, starttime, a flow variable, or ignored."""

import csv
import re
from dataclasses import dataclass

from campaigns.importing.limits import MAX_TEL, TEL_RE, VARIABLE_RE, FileRefused, Limits, where_in
from campaigns.importing.reading import Position, sniff_delimiter

REPORT_COLUMNS = ("rejectedline", "rejectedcolumn", "rejectedreason")
# Header words that name a phone-number column, shared with the do-not-call upload
# (campaigns.donotcall.loading). A call list without any telN column reads the columns so named
# as its numbers, in order (the first is tel1); the do-not-call upload takes the first match.
NUMBER_WORDS = ("tel1", "msisdn", "mobile", "phone", "number", "tel", "contact")
# Around those words in a CRM export: "Customer Mobile", "Alt Phone No", "Contact Number".
_NUMBER_PREFIXES = ("customer", "cust", "primary", "main", "alternate", "alternative", "alt", "secondary", "other")
_ALTERNATE_PREFIXES = ("alternate", "alternative", "alt", "secondary", "other")
_NUMBER_SUFFIXES = ("number", "num", "nos", "no")
# What a column may be mapped to in the upload preview besides a flow variable ($flow.key.NAME).
MAPPING_TARGETS = tuple(f"tel{n}" for n in range(1, MAX_TEL + 1)) + ("starttime", "client-identifier")
# A cell the manager chose to ignore: read as an empty header cell, but never trimmed as one at the end
# of the header (the row's cells under it are then not "beyond the header's last column").
IGNORED_CELL = "\x00ignored"


@dataclass
class Header:
    columns: list[str]  # canonical name per cell: tel1, starttime, client-identifier, $flow.key.X, "" (ignored)
    tels: list[tuple[int, str]]  # (cell index, "telN"), tel1 first
    start: int | None
    external: int | None
    variables: list[tuple[int, str]]  # (cell index, variable name)


def _compact(cell: str) -> str:
    return re.sub(r"[\s_\-.#:/]+", "", cell.strip().lstrip("\ufeff")).lower()


def number_synonym_rank(cell: str) -> int | None:
    """0 for a cell naming a (primary) phone-number column ("Mobile", "Phone No", "Contact Number",
    "MSISDN"), 1 for an alternate one ("Alt Mobile"), None for anything else ("Account Number")."""
    compact = _compact(cell)
    rank = 0
    for prefix in _NUMBER_PREFIXES:
        if compact.startswith(prefix) and compact != prefix:
            compact = compact.removeprefix(prefix)
            rank = 1 if prefix in _ALTERNATE_PREFIXES else 0
            break
    if compact not in NUMBER_WORDS:
        for suffix in _NUMBER_SUFFIXES:
            if compact.endswith(suffix) and compact != suffix:
                compact = compact.removesuffix(suffix)
                break
    return rank if compact in NUMBER_WORDS + ("telephone", "cell", "cellphone", "mobilephone") else None


def with_number_synonyms(cells: list[str]) -> list[str]:
    """The header with its phone-number columns named tel1, tel2... when it names no telN column
    itself: a CRM export's "Mobile" is the customer's number. A header with a tel column is kept as
    written (there "Phone" stays a flow variable, as it always was)."""
    if any(_column_key(cell)[0] == "tel" for cell in cells):
        return cells
    found = sorted((rank, index) for index, cell in enumerate(cells) if (rank := number_synonym_rank(cell)) is not None)
    renamed = list(cells)
    for number, (_rank, index) in enumerate(found[:MAX_TEL], start=1):
        renamed[index] = f"tel{number}"
    return renamed


def apply_column_mapping(cells: list[str], mapping: dict[str, str] | None) -> list[str]:
    """The header as the manager mapped it in the preview: `mapping` names a cell as written (any case,
    surrounding space ignored) and what it is: tel1..tel10, starttime, client-identifier,
    $flow.key.NAME, or "" (ignored). Cells it does not name are kept."""
    if not mapping:
        return cells
    wanted = {cell.strip().lstrip("\ufeff").strip().lower(): target or IGNORED_CELL for cell, target in mapping.items()}
    return [wanted.get(cell.strip().lstrip("\ufeff").strip().lower(), cell) for cell in cells]


def parse_header_mapped(
    cells: list[str], limits: Limits, member: str | None = None, *, mapping: dict[str, str] | None = None
) -> Header:
    """`parse_header` after the manager's mapping (`apply_column_mapping`)."""
    return parse_header(apply_column_mapping(cells, mapping), limits, member)


def _column_key(cell: str) -> tuple[str, str]:
    if cell == IGNORED_CELL:
        return "ignored", ""
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
    cells = with_number_synonyms(cells)
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
            "with the customer's number under tel1 (or Mobile, Phone, Number, MSISDN); in the preview you "
            "can say which column holds it."
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
