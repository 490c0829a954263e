"""Storing rows fast: COPY on PostgreSQL (the tuned path), bulk INSERT on SQLite; and deleting a
failed import's rows."""

import re
from contextlib import ExitStack

from django.db import connection

from campaigns.importing.limits import CONTACT_COLUMNS
from campaigns.models import Contact, RejectedRow

# COPY text's escapes that checking.copy_text and RowChecker write.
COPY_ESCAPE_RE = re.compile(r"\\(.)")
COPY_ESCAPES = {"t": "\t", "n": "\n", "r": "\r"}


def copy_supported() -> bool:
    """Whether the database takes COPY (PostgreSQL); elsewhere rows go in as INSERTs."""
    return connection.vendor == "postgresql"


def copy_sql(model, columns) -> str:
    quote = connection.ops.quote_name
    names = ", ".join(quote(model._meta.get_field(column).column) for column in columns)
    return f"COPY {quote(model._meta.db_table)} ({names}) FROM STDIN"


def insert_rows(model, columns, rows):
    """Insert plain tuples fast: COPY on PostgreSQL, executemany elsewhere, on the raw cursor so
    that DEBUG's query log never holds a chunk's values."""
    if not rows:
        return
    with connection.cursor() as cursor:
        raw = cursor.cursor
        if copy_supported():
            with raw.copy(copy_sql(model, columns)) as copy:
                write_row = copy.write_row
                for row in rows:
                    write_row(row)
        else:
            quote = connection.ops.quote_name
            names = ", ".join(quote(model._meta.get_field(column).column) for column in columns)
            table = quote(model._meta.db_table)
            raw.executemany(f"INSERT INTO {table} ({names}) VALUES ({', '.join(['%s'] * len(columns))})", rows)


def copy_unescaped(value: str) -> str:
    return COPY_ESCAPE_RE.sub(lambda found: COPY_ESCAPES.get(found.group(1), found.group(1)), value)


def contact_rows(text: str) -> list[list]:
    """The contacts that lines of COPY text hold (CONTACT_COLUMNS), as a COPY would read them. The
    list and line stay text: SQLite stores them as integers (the columns' affinity)."""
    rows = [line.split("\t") for line in text.split("\n")]
    rows.pop()  # what follows the last line's end
    for row in rows:
        if row[5] == "\\N":  # no start time
            row[5] = None
        if "\\" in row[4] or "\\" in row[6]:  # only variables and client-identifier may hold escapes
            row[4], row[6] = copy_unescaped(row[4]), copy_unescaped(row[6])
    return rows


class ContactWriter:
    """A chunk's contacts, written as they come within its transaction from their COPY text
    (checking.Checked): on PostgreSQL into one COPY that stays open until `close`, so the server
    stores them while the import reads on; elsewhere as INSERTs of the rows the text holds."""

    def __init__(self):
        self.stack = ExitStack()
        self.copy = None
        if copy_supported():
            cursor = self.stack.enter_context(connection.cursor())
            self.copy = self.stack.enter_context(cursor.cursor.copy(copy_sql(Contact, CONTACT_COLUMNS)))

    def write(self, text: str) -> None:
        if self.copy is not None:
            self.copy.write(text)
        else:
            insert_rows(Contact, CONTACT_COLUMNS, contact_rows(text))

    def close(self) -> None:
        self.stack.close()

    def abort(self, *exc_info) -> None:
        self.stack.__exit__(*exc_info)


def list_rows_delete(contact_list_id: int):
    """Delete a list's contacts and rejected rows (a refused or failed import's, or a stale one's)."""
    # Raw deletes: a never-imported list has no calls, and the ORM would load every contact first.
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        for model in (Contact, RejectedRow):
            column = quote(model._meta.get_field("contact_list").column)
            cursor.execute(f"DELETE FROM {quote(model._meta.db_table)} WHERE {column} = %s", [contact_list_id])
