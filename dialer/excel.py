"""The results CSV for Excel: the same rows as the plain download, behind a UTF-8 byte-order mark
(so that Excel reads names in any script), with long digit strings and numbers with a leading zero
written as text formulas (="919812345678"), so that Excel neither shows 9.19812E+11 nor drops the
zero. The plain CSV and `export_results` stay byte for byte as they were."""

import csv
import io
import re
import tempfile

from dialer.results import export_results_csv, results_filename

# Only cells that are digits alone are wrapped: nothing a person wrote can become a formula.
KEPT_AS_TEXT = re.compile(r"\d{8,}|0\d+")
EXPORT_CHUNK = 64 * 1024


def excel_cell(cell: str) -> str:
    return f'="{cell}"' if KEPT_AS_TEXT.fullmatch(cell) else cell


def excel_filename(campaign) -> str:
    return results_filename(campaign).removesuffix(".csv") + "_excel.csv"


def results_excel_chunks(campaign):
    """The Excel variant as byte chunks for a streaming response; written first, inside the request,
    to a spooled file (memory up to 4 MB, disk beyond), then rewritten row by row."""
    spooled = tempfile.SpooledTemporaryFile(max_size=4 * 1024 * 1024, mode="w+", encoding="utf-8", newline="")
    export_results_csv(campaign, spooled)

    def chunks():
        try:
            spooled.seek(0)
            out = io.StringIO()
            out.write("\ufeff")
            writer = csv.writer(out)
            for row in csv.reader(spooled):
                writer.writerow([excel_cell(cell) for cell in row])
                if out.tell() >= EXPORT_CHUNK:
                    yield out.getvalue().encode()
                    out.seek(0)
                    out.truncate()
            if out.tell():
                yield out.getvalue().encode()
        finally:
            spooled.close()

    return chunks()
