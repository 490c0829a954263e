"""Storing rows fast: COPY on PostgreSQL, bulk INSERT elsewhere, and deleting a failed import's rows."""

from django.db import connection

from campaigns.models import Contact, RejectedRow


def _copy_sql(model, columns) -> str:
    quote = connection.ops.quote_name
    names = ", ".join(quote(model._meta.get_field(column).column) for column in columns)
    return f"COPY {quote(model._meta.db_table)} ({names}) FROM STDIN"


def _insert(model, columns, rows):
    """Insert plain tuples fast: COPY on PostgreSQL, executemany elsewhere, on the raw cursor so
    that DEBUG's query log never holds a chunk's values."""
    if not rows:
        return
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    names = ", ".join(quote(model._meta.get_field(column).column) for column in columns)
    with connection.cursor() as cursor:
        raw = cursor.cursor
        if connection.vendor == "postgresql":
            with raw.copy(_copy_sql(model, columns)) as copy:
                write_row = copy.write_row
                for row in rows:
                    write_row(row)
        else:
            raw.executemany(f"INSERT INTO {table} ({names}) VALUES ({', '.join(['%s'] * len(columns))})", rows)


def _delete_rows(contact_list_id: int):
    # Raw deletes: a never-imported list has no calls, and the ORM would load every contact first.
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        for model in (Contact, RejectedRow):
            column = quote(model._meta.get_field("contact_list").column)
            cursor.execute(f"DELETE FROM {quote(model._meta.db_table)} WHERE {column} = %s", [contact_list_id])
