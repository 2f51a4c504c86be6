"""Bounded reading of an uploaded Excel workbook: every spreadsheet import goes through here.

A .xlsx is a zip of XML: 96 KB can expand to 300,000 rows. So, in this order:

1. before anything is parsed, the archive's declared uncompressed size is checked (``zipfile`` stops
   a member at its declared size, so the declaration is a real bound), and each sheet's rows and cells
   are counted in its raw XML (a fast byte scan, no parser): a sheet over the limits is refused before
   openpyxl looks at it;
2. the workbook is opened read-only (openpyxl streams each sheet instead of building every cell);
3. a sheet whose recorded dimension is already too large is refused before a row is iterated;
4. while iterating, rows, columns and the workbook's cells are counted and the time budget is checked
   at every row: a sheet that lies about its dimension, or has none, is stopped at the limit.

Limits come from settings (``IMPORT_MAX_*``); an import may pass tighter ones.
"""

from __future__ import annotations

import re
import time
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import IO, Any
from zipfile import BadZipFile

from django.conf import settings
from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException

Row = tuple[Any, ...]


class WorkbookError(ValueError):
    """The workbook cannot be read, or is larger than an import may be; ``messages`` say where."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__("; ".join(messages))
        self.messages = messages


@dataclass(frozen=True)
class WorkbookLimits:
    max_rows: int  # per sheet, the header row included
    max_columns: int  # per sheet
    max_cells: int  # the whole workbook
    max_seconds: float  # the whole read, opening included
    max_unzipped_bytes: int

    @classmethod
    def from_settings(cls, **tighter: Any) -> WorkbookLimits:
        limits = cls(
            max_rows=int(settings.IMPORT_MAX_ROWS),
            max_columns=int(settings.IMPORT_MAX_COLUMNS),
            max_cells=int(settings.IMPORT_MAX_CELLS),
            max_seconds=float(settings.IMPORT_MAX_SECONDS),
            max_unzipped_bytes=int(settings.IMPORT_MAX_UNZIPPED_BYTES),
        )
        return replace(limits, **tighter)


class BoundedWorkbook:
    """An open read-only workbook whose sheets are read under one budget of cells and seconds."""

    def __init__(self, book: Any, limits: WorkbookLimits, deadline: float, clock: Callable[[], float]) -> None:
        self._book = book
        self.limits = limits
        self._deadline = deadline
        self._clock = clock
        self.cells = 0
        self.sheetnames: list[str] = list(book.sheetnames)

    def _check_time(self, where: str) -> None:
        if self._clock() > self._deadline:
            raise WorkbookError(
                [f"{where}: reading took longer than {self.limits.max_seconds:g} s, the limit of an import"]
            )

    def _check_dimension(self, title: str, ws: Any) -> None:
        # Read-only sheets know their size only from the <dimension> the writer recorded (None when absent).
        max_row, max_column = ws.max_row, ws.max_column
        problems = []
        if isinstance(max_row, int) and max_row > self.limits.max_rows:
            problems.append(f"{title}: {max_row} rows, more than the {self.limits.max_rows} an import may have")
        if isinstance(max_column, int) and max_column > self.limits.max_columns:
            problems.append(
                f"{title}: {max_column} columns, more than the {self.limits.max_columns} an import may have"
            )
        if problems:
            raise WorkbookError(problems)

    def _bounded(self, title: str, rows: Iterator[Row]) -> Iterator[Row]:
        limits = self.limits
        for number, row in enumerate(rows, start=1):
            where = f"{title}: row {number}"
            self._check_time(where)
            if number > limits.max_rows:
                raise WorkbookError([f"{where}: more than the {limits.max_rows} rows an import may have"])
            width = len(row)
            while width and row[width - 1] is None:
                width -= 1  # trailing empty cells of a padded row are not content
            if width > limits.max_columns:
                raise WorkbookError([f"{where}: more than the {limits.max_columns} columns an import may have"])
            self.cells += width
            if self.cells > limits.max_cells:
                raise WorkbookError([f"{where}: more than the {limits.max_cells} cells an import may have"])
            yield row[:width]

    def rows(self, title: str) -> list[Row]:
        """The sheet's rows (values; row 1 first, empty rows kept so numbers match Excel's)."""
        ws = self._book[title]
        self._check_dimension(title, ws)
        return list(self._bounded(title, ws.iter_rows(values_only=True)))


# A row or cell start tag, with or without a namespace prefix (<row r="2">, <x:c r="A2" t="s">).
_ELEMENT = re.compile(rb"<(?:[A-Za-z_][\w.-]{0,15}:)?(row|c)[\s/>]")
_CHUNK = 1 << 20


def _count_sheet(name: str, stream: IO[bytes], limits: WorkbookLimits, cells: int, timer: Callable[[str], None]) -> int:
    """Count a worksheet part's rows and cells in its raw XML, refusing at the limit; returns the cells
    so far. Needed because openpyxl, opening a sheet without a <dimension>, parses the whole sheet to
    find its size: 300,000 rows cost seconds before the first row could be counted."""
    rows, tail = 0, b""
    while chunk := stream.read(_CHUNK):
        timer(name)
        buffer = tail + chunk
        last_end = 0
        for match in _ELEMENT.finditer(buffer):
            last_end = match.end()
            if match.group(1) == b"row":
                rows += 1
                if rows > limits.max_rows:
                    raise WorkbookError([f"{name}: more than the {limits.max_rows} rows an import may have"])
            else:
                cells += 1
                if cells > limits.max_cells:
                    raise WorkbookError([f"{name}: more than the {limits.max_cells} cells an import may have"])
        # Keep the end of the chunk (after the last counted tag), where a tag may be cut in two.
        tail = buffer[max(len(buffer) - 32, last_end):]
    return cells


def _check_archive(fileobj: IO[bytes] | str, limits: WorkbookLimits, timer: Callable[[str], None]) -> None:
    try:
        with zipfile.ZipFile(fileobj) as archive:
            members = archive.infolist()
            unzipped = sum(info.file_size for info in members)
            if unzipped > limits.max_unzipped_bytes:
                raise WorkbookError([
                    f"the workbook unpacks to {unzipped} bytes, more than the {limits.max_unzipped_bytes} "
                    "an import may have"
                ])
            cells = 0
            for info in members:
                if info.filename.startswith("xl/worksheets/") and info.filename.endswith(".xml"):
                    with archive.open(info) as stream:
                        cells = _count_sheet(info.filename, stream, limits, cells, timer)
    except WorkbookError:
        raise
    except (BadZipFile, OSError, ValueError, EOFError, zlib.error) as exc:
        raise WorkbookError([f"not a readable .xlsx workbook: {exc}"]) from None


@contextmanager
def open_workbook(
    fileobj: IO[bytes] | str,
    limits: WorkbookLimits | None = None,
    *,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[BoundedWorkbook]:
    """Open an uploaded .xlsx for a bounded read; raises :class:`WorkbookError` with what is wrong."""
    limits = limits or WorkbookLimits.from_settings()
    deadline = clock() + limits.max_seconds

    def timer(where: str) -> None:
        if clock() > deadline:
            raise WorkbookError([f"{where}: reading took longer than {limits.max_seconds:g} s, the limit of an import"])

    _check_archive(fileobj, limits, timer)
    if not isinstance(fileobj, str):
        fileobj.seek(0)
    try:
        book = load_workbook(fileobj, read_only=True, data_only=True)
    except (InvalidFileException, OSError, KeyError, ValueError, BadZipFile) as exc:
        raise WorkbookError([f"not a readable .xlsx workbook: {exc}"]) from None
    try:
        bounded = BoundedWorkbook(book, limits, deadline, clock)
        bounded._check_time("workbook")
        yield bounded
    finally:
        book.close()
