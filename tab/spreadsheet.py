"""CSV files for spreadsheets: RFC 4180, UTF-8, and no cell a spreadsheet would run.

Every CSV the tab answers with goes through :func:`csv_response`, and every text cell
through :func:`formula_safe`: OWASP's rule for CSV injection. A cell that starts with
``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read by Excel, LibreOffice and
Google Sheets as a formula (``-2+3+cmd|' /C calc'!A0`` runs a program in old Excel), so it
gets a leading apostrophe, which spreadsheets show as text and do not display. A whole
number (``-12.5``, ``1e3``) or an E.164 phone number (``+14255550100``) is left alone:
those are what a report means, and a spreadsheet reads them as values, never as formulas.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence

from aiohttp import web

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_E164 = re.compile(r"\+[1-9]\d{1,14}")


def formula_safe(text: str) -> str:
    """Return ``text`` as a cell no spreadsheet runs: formula-looking text gets a ``'``."""
    if not text.startswith(_FORMULA_START):
        return text
    if _NUMBER.fullmatch(text) or _E164.fullmatch(text):
        return text
    return "'" + text


def csv_cell(value: object) -> str:
    """Return a CSV cell: numbers as numbers, booleans as words, text made formula-safe."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.6g}" if abs(value) < 1e15 else str(value)
    if isinstance(value, int):
        return str(value)
    return formula_safe(str(value))


def csv_response(
    name: str, header: Sequence[str], rows: Iterable[Sequence[object]]
) -> web.Response:
    """Answer with a CSV file (RFC 4180, UTF-8, CRLF line ends)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([formula_safe(title) for title in header])
    for row in rows:
        writer.writerow([csv_cell(value) for value in row])
    return web.Response(
        text=buffer.getvalue(),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )
