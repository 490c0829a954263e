"""Call-list import: stream a CSV (or a ZIP of CSVs), validate every row, store contacts in chunks.

The path of one file, module by module:

    upload.contact_list_create   the upload is copied to a private file; the list waits in `pending`
    job.contact_list_import      (a Celery task) claims the list and runs the import, one pipeline:
      batches                    read: bytes -> counted and capped (limits) -> decoded -> physical lines
                                 (reading) -> the header (header) -> records in order, a batch at a time
                                 (line numbers, blank rows, the row cap) -> checked (checking, numbers:
                                 numbers normalised, start times read, or why a row is rejected)
      workers                    for a file of 2 MB or more, CALL_LIST_IMPORT_WORKERS processes do that
                                 reading and checking: a forked reading process, and checking workers of
                                 its own beyond one; they hand the checked batches over in file order
      rows, firsts               the importing process de-duplicates tel1 (whoever read) and stores
      writing                    contacts and rejected rows committed a chunk at a time (COPY on
                                 PostgreSQL, the tuned path; INSERTs on SQLite)
    preview.preview_rows         what the upload page shows before the file is sent

A file is either imported (every bad row kept as a RejectedRow with its line, column and reason)
or refused whole with one sentence (`ContactList.error`). Nothing is half-imported: a refusal or
a failure half way deletes the rows already committed, and only an `imported` list can be launched.

Decisions that are not obvious from the provider's documents:
- Encodings: a BOM always wins (UTF-8, UTF-16 LE/BE, UTF-32); without one the file must be valid
  UTF-8 unless the uploader chose another encoding (cp1252 is never guessed).
- Line numbers count records as a spreadsheet shows rows: the header is line 1, blank lines count
  (and are skipped without a report line), a quoted cell holding a line break stays one line.
- A header with tel11 or higher is refused whole; a row with non-empty cells beyond the header's
  last column is rejected. Columns with no recognised name become flow variables named as written;
  `$flow.key.` is stripped. Columns with an empty header cell are ignored.
- Duplicates: a tel1 number already imported earlier in the list rejects the later row (the first
  row is named). Alternate numbers repeated within one row are kept once.
- Do-not-call lists are not consulted here: a number may be listed (or its entry expire) between
  the import and the call, so they are checked where it matters, when the calls are planned and
  again when each batch's body is frozen (dialer.eligibility). Loading the account's list into
  memory, as the import once did, cost 325 MB with 2,000,000 numbers and could not scale further.
- ZIP: only .csv members, read as streams (never extracted); nested archives, encrypted members,
  members with unsafe names ('..', absolute) and other files refuse the whole ZIP. Folders and the
  `__MACOSX/`, `._*`, `.DS_Store`, `Thumbs.db` entries that zip tools add are skipped. In a ZIP of
  several CSVs, lines count within each CSV and a rejected row's reason starts with the CSV's name.
- Start times: ISO-8601, or the day-first `dd-mm-yyyy HH:MM[:SS]` / `dd/mm/yyyy ...` spreadsheets
  write; no offset means PHONON_TIMEZONE. A date before today (in that zone) rejects the row.
- A start time common to all rows comes from `upload_ddMMyyyyHHmmss` in the file's name, or else
  in the name of a CSV inside the ZIP (CSVs naming different times refuse the ZIP). One that has
  passed (by more than a quarter of an hour) refuses the file whole, on every channel, unless the
  manager confirmed "start now" in the browser (`start_now`): then the rows start at once.

Limits (settings; defaults in config/settings.py): CALL_LIST_MAX_BYTES 5 MB per CSV, counted on the
decompressed stream; CALL_LIST_MAX_TOTAL_BYTES 50 MB read from one ZIP; CALL_LIST_MAX_ROWS
1,000,000; CALL_LIST_MAX_COLUMNS 50; CALL_LIST_MAX_LINE_BYTES 10,000 (characters of one line);
CALL_LIST_MAX_ZIP_MEMBERS 20; CALL_LIST_CHUNK_ROWS 50,000 rows a transaction; CALL_LIST_IMPORT_WORKERS
the cores less one (processes besides the storing one for a large file; 0: none); PHONE_NUMBERS_FAST_PATH
on (0: every number through phonenumbers alone).

The do-not-call loads (campaigns.donotcall.loading) read files with this package's public reading
(reading.csv_sources, open_text, physical_lines, sniff_delimiter) and numbers (NumberNormaliser).
"""

from campaigns.importing.header import Header, parse_header
from campaigns.importing.job import contact_list_import
from campaigns.importing.limits import FileRefused, Limits
from campaigns.importing.numbers import NumberNormaliser, parse_start_time
from campaigns.importing.preview import (
    flow_column_map,
    preview_foreign_numbers,
    preview_mapping_choices,
    preview_rows,
    preview_warnings,
)
from campaigns.importing.upload import StartTimePassed, common_start_from_filename, contact_list_create

__all__ = [
    "FileRefused",
    "Header",
    "Limits",
    "NumberNormaliser",
    "StartTimePassed",
    "common_start_from_filename",
    "contact_list_create",
    "contact_list_import",
    "flow_column_map",
    "parse_header",
    "parse_start_time",
    "preview_foreign_numbers",
    "preview_mapping_choices",
    "preview_rows",
    "preview_warnings",
]
