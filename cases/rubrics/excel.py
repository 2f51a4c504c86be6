"""Rubric files as an Excel workbook: written for the office to edit, read back losslessly.

Sheets (layout in ``docs/rubrics.md``): ``rubric`` (key/value), ``items`` (one row per item, its
section repeated or left blank), and one sheet per optional table. Reading turns the workbook into
the dict form of :mod:`cases.rubrics.document` and validates it there; every message then names the
sheet, row and column it came from: ``items: row 5, column F (item_max): ...``.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any, BinaryIO

from openpyxl import Workbook
from openpyxl.cell.cell import Cell as WriteCell
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from cases.rubrics.document import RubricError, RubricSpec, rubric_from_dict, rule_to_dict
from cases.rubrics.text import json_object
from cases.validation import canonical
from cases.workbooks import Row, WorkbookError, open_workbook

ITEM_COLUMNS = (
    "section_code",
    "section_title",
    "section_max",
    "item_code",
    "content",
    "item_max",
    "bonus_cap",
    "evidence_required",
    "veto",
    "rules_json",
)
META_KEYS = ("code", "title", "version", "source", "total_max", "special_bonus_cap")
TABLES: dict[str, tuple[str, ...]] = {
    "special_bonus_levels": ("level", "amount"),
    "deduction_catalogue": ("code", "kind", "amount", "per", "note", "veto"),
    "components": ("code", "title", "max", "weight", "note"),
    "activity_targets": ("code", "name", "group", "target", "note"),
    "reconstructed": ("note",),
}
TABLE_REQUIRED: dict[str, tuple[str, ...]] = {
    "special_bonus_levels": ("level", "amount"),
    "deduction_catalogue": ("code", "kind", "amount", "per"),
    "components": ("code", "title"),
    "activity_targets": ("code", "name"),
    "reconstructed": ("note",),
}
_TEXT_COLUMNS = frozenset(
    (
        "section_code",
        "section_title",
        "item_code",
        "content",
        "key",
        "code",
        "title",
        "kind",
        "per",
        "note",
        "name",
        "group",
        "level",
    )
)
_TRUE = {"true", "yes", "y", "1", "是", "√", "x"}
_FALSE = {"false", "no", "n", "0", "否", ""}

Cell = Decimal | int | str | bool | None
Sheet = tuple[str, list[Row]]  # a sheet's title and its rows, read within the import's bounds

# ---------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------


def _xl_value(value: Cell) -> Cell:
    if isinstance(value, Decimal):
        value = canonical(value)
        return int(value) if value == value.to_integral_value() else value  # openpyxl writes Decimals as numbers
    return value


class _Writer:
    """Appends header and value rows to a workbook's sheets."""

    def __init__(self) -> None:
        self.wb = Workbook()
        self.bold = Font(bold=True)

    def put_row(self, ws: Worksheet, row: list[Cell]) -> WriteCell:
        """Append a row; returns its content cell (column E). Cells are built here rather than read back
        through ``ws.max_row``, which scans every cell of the sheet: exporting 10,000 items took minutes."""
        cells = []
        for value in row:
            cell = WriteCell(ws, value=_xl_value(value))
            if isinstance(cell.value, str):
                cell.data_type = "s"  # never let a leading "=" become a formula
            cells.append(cell)
        ws.append(cells)
        return cells[4] if len(cells) > 4 else cells[-1]

    def sheet(self, title: str, header: tuple[str, ...], widths: dict[int, int]) -> Worksheet:
        ws = self.wb.create_sheet(title)
        ws.append(list(header))
        for cell in ws[1]:
            cell.font = self.bold
        ws.freeze_panes = "A2"
        for col, width in widths.items():
            ws.column_dimensions[chr(ord("A") + col)].width = width
        return ws

    def meta(self, spec: RubricSpec) -> None:
        meta = self.wb.active
        meta.title = "rubric"
        meta.append(["key", "value"])
        for cell in meta[1]:
            cell.font = self.bold
        meta.column_dimensions["A"].width = 20
        meta.column_dimensions["B"].width = 60
        for key in META_KEYS:
            value = getattr(spec, key)
            if value is None or value == "":
                continue
            self.put_row(meta, [key, value])

    def items(self, spec: RubricSpec) -> None:
        ws = self.sheet("items", ITEM_COLUMNS, {0: 12, 1: 18, 2: 10, 3: 10, 4: 80, 5: 9, 6: 9, 9: 60})
        for s in spec.sections:
            for item in s.items:
                rules = json.dumps([rule_to_dict(r) for r in item.rules], ensure_ascii=False) if item.rules else None
                content = self.put_row(
                    ws,
                    [
                        s.code,
                        s.title,
                        s.max,
                        item.code,
                        item.content,
                        item.max,
                        item.bonus_cap,
                        item.evidence_required,
                        item.veto,
                        rules,
                    ],
                )
                content.alignment = Alignment(wrap_text=True, vertical="top")

    def tables(self, spec: RubricSpec) -> None:
        rows: dict[str, list[list[Cell]]] = {
            "special_bonus_levels": [[k, v] for k, v in spec.special_bonus_levels],
            "deduction_catalogue": [
                [d.code, d.kind, d.amount, d.per, d.note or None, d.veto] for d in spec.deduction_catalogue
            ],
            "components": [[c.code, c.title, c.max, c.weight, c.note or None] for c in spec.components],
            "activity_targets": [
                [t.code, t.name, t.group or None, t.target, t.note or None] for t in spec.activity_targets
            ],
            "reconstructed": [[note] for note in spec.reconstructed],
        }
        for title, header in TABLES.items():
            if rows[title]:
                ws = self.sheet(title, header, {0: 14, 1: 30, 4: 40} if len(header) > 4 else {0: 90})
                for row in rows[title]:
                    self.put_row(ws, row)


def rubric_to_xlsx(spec: RubricSpec) -> bytes:
    """Write a rubric workbook (layout in docs/rubrics.md); lossless with load_rubric_xlsx."""
    writer = _Writer()
    writer.meta(spec)
    writer.items(spec)
    writer.tables(spec)
    buffer = io.BytesIO()
    writer.wb.save(buffer)
    return buffer.getvalue()


# ---------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------


class _Cells:
    """Reads cells of one worksheet and remembers where every value came from."""

    def __init__(
        self,
        sheet: Sheet,
        header: tuple[str, ...],
        required: tuple[str, ...],
        errors: list[str],
    ) -> None:
        self.title, self.values = sheet
        self.errors = errors
        self.columns: dict[str, int] = {}
        first = self.values[0] if self.values else ()
        for idx, name in enumerate(first):
            if isinstance(name, str) and name.strip():
                key = name.strip()
                if key in self.columns:
                    self.errors.append(f"{self.title}: row 1: duplicate column {key!r}")
                self.columns[key] = idx
        for name in required:
            if name not in self.columns:
                self.errors.append(f"{self.title}: row 1: missing column {name!r}")
        for name in self.columns:
            if name not in header:
                self.errors.append(f"{self.title}: row 1: unknown column {name!r}")

    def where(self, row: int, name: str) -> str:
        idx = self.columns.get(name, 0)
        return f"{self.title}: row {row}, column {get_column_letter(idx + 1)} ({name})"

    def rows(self) -> Iterator[tuple[int, tuple[Any, ...]]]:
        for r, values in enumerate(self.values[1:], start=2):
            if all(v is None or (isinstance(v, str) and not v.strip()) for v in values):
                continue
            yield r, values

    def get(self, values: tuple[Any, ...], name: str, *, text: bool = False) -> object:
        idx = self.columns.get(name)
        if idx is None or idx >= len(values):
            return None
        value = values[idx]
        if isinstance(value, float):
            # Excel stores numbers as binary doubles; the shortest repr is what the user
            # typed (0.5, 0.2) and is checked for ≤ 2 decimals like any other number.
            value = int(value) if value.is_integer() else Decimal(repr(value))
        if isinstance(value, str) and not value.strip():
            return None
        numeric = isinstance(value, (int, Decimal)) and not isinstance(value, bool)
        if numeric and (text or name in _TEXT_COLUMNS):
            # a code typed as a number in Excel (1, 1.1) is still a code
            return str(value)
        return value

    def boolean(self, values: tuple[Any, ...], name: str, row: int) -> bool:
        value = self.get(values, name)
        if value is None or isinstance(value, bool):
            return bool(value)
        text = str(value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        self.errors.append(f"{self.where(row, name)}: expected TRUE/FALSE, got {value!r}")
        return False


class _Reader:
    """Turns a workbook into the dict form, remembering the cell of every path (``locations``)."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.locations: dict[str, str] = {}
        self.data: dict[str, Any] = {}

    def check_sheets(self, names: list[str]) -> None:
        for name in ("rubric", "items"):
            if name not in names:
                self.errors.append(f"missing sheet {name!r}")
        for name in names:
            if name not in ("rubric", "items", *TABLES):
                self.errors.append(f"unknown sheet {name!r}")

    def meta(self, ws: Sheet) -> None:
        meta = _Cells(ws, ("key", "value"), ("key", "value"), self.errors)
        for r, values in meta.rows():
            key = meta.get(values, "key")
            if key not in META_KEYS:
                self.errors.append(f"{meta.where(r, 'key')}: unknown key {key!r}")
                continue
            if key in self.data:
                self.errors.append(f"{meta.where(r, 'key')}: duplicate key {key!r}")
                continue
            self.data[key] = meta.get(values, "value", text=key in ("code", "title", "source"))
            self.locations[key] = meta.where(r, "value")

    def items(self, ws: Sheet) -> None:
        cells = _Cells(ws, ITEM_COLUMNS, ITEM_COLUMNS[:6], self.errors)
        sections: list[dict[str, Any]] = []
        for r, values in cells.rows():
            current = self._section_of(cells, r, values, sections)
            if current is not None:
                current["items"].append(self._item(cells, r, values, f"sections[{len(sections) - 1}]", current))
        self.data["sections"] = sections
        self.locations["sections"] = "items"

    def _section_of(
        self, cells: _Cells, r: int, values: tuple[Any, ...], sections: list[dict[str, Any]]
    ) -> dict[str, Any] | None:
        """The section a row belongs to: a new one where the section code changes, else the current."""
        current = sections[-1] if sections else None
        scode = cells.get(values, "section_code")
        stitle = cells.get(values, "section_title")
        smax = cells.get(values, "section_max")
        if scode is None and current is None:
            self.errors.append(f"{cells.where(r, 'section_code')}: missing")
            return None
        if current is not None and (scode is None or scode == current["code"]):
            for key, col, value in (("title", "section_title", stitle), ("max", "section_max", smax)):
                if value is not None and value != current[key]:
                    self.errors.append(
                        f"{cells.where(r, col)}: differs from the first row of "
                        f"section {current['code']!r} ({current[key]!r})"
                    )
            return current
        if any(s["code"] == scode for s in sections):
            self.errors.append(
                f"{cells.where(r, 'section_code')}: section {scode!r} appears "
                "again after other sections; keep its rows together"
            )
        spath = f"sections[{len(sections)}]"
        for key, col in (("code", "section_code"), ("title", "section_title"), ("max", "section_max")):
            self.locations[f"{spath}.{key}"] = cells.where(r, col)
        self.locations[spath] = cells.where(r, "section_code")
        section: dict[str, Any] = {"code": scode, "title": stitle, "max": smax, "items": []}
        sections.append(section)
        return section

    def _item(
        self, cells: _Cells, r: int, values: tuple[Any, ...], spath: str, section: dict[str, Any]
    ) -> dict[str, Any]:
        ipath = f"{spath}.items[{len(section['items'])}]"
        item: dict[str, Any] = {}
        for key, col in (("code", "item_code"), ("content", "content"), ("max", "item_max"), ("bonus_cap", "bonus_cap")):
            item[key] = cells.get(values, col)
            self.locations[f"{ipath}.{key}"] = cells.where(r, col)
        for key in ("evidence_required", "veto"):
            item[key] = cells.boolean(values, key, r)
            self.locations[f"{ipath}.{key}"] = cells.where(r, key)
        self.locations[ipath] = cells.where(r, "item_code")
        rules_text = cells.get(values, "rules_json")
        self.locations[f"{ipath}.rules"] = cells.where(r, "rules_json")
        if rules_text is not None:
            try:
                item["rules"] = json.loads(str(rules_text), parse_float=Decimal, object_pairs_hook=json_object)
            except ValueError as exc:
                self.errors.append(f"{cells.where(r, 'rules_json')}: invalid JSON: {exc}")
        return item

    def table(self, ws: Sheet, title: str) -> None:
        header = TABLES[title]
        table = _Cells(ws, header, TABLE_REQUIRED[title], self.errors)
        self.locations[title] = title
        if title == "special_bonus_levels":
            self.data[title] = self._levels(table, title)
        elif title == "reconstructed":
            notes: list[object] = []
            for r, values in table.rows():
                self.locations[f"{title}[{len(notes)}]"] = table.where(r, "note")
                notes.append(table.get(values, "note"))
            self.data[title] = notes
        else:
            self.data[title] = self._rows(table, title, header)

    def _levels(self, table: _Cells, title: str) -> dict[object, object]:
        levels: dict[object, object] = {}
        for r, values in table.rows():
            level = table.get(values, "level")
            if level in levels:
                self.errors.append(f"{table.where(r, 'level')}: duplicate level {level!r}")
            levels[level] = table.get(values, "amount")
            self.locations[f"{title}.{level}"] = table.where(r, "amount")
        return levels

    def _rows(self, table: _Cells, title: str, header: tuple[str, ...]) -> list[dict[str, Any]]:
        rows_out: list[dict[str, Any]] = []
        for r, values in table.rows():
            path = f"{title}[{len(rows_out)}]"
            row: dict[str, Any] = {}
            for col in header:
                value = table.boolean(values, col, r) if col == "veto" else table.get(values, col)
                if value is not None and not (col == "veto" and value is False):
                    row[col] = value
                self.locations[f"{path}.{col}"] = table.where(r, col)
            self.locations[path] = table.where(r, header[0])
            rows_out.append(row)
        return rows_out


def load_rubric_xlsx(fileobj: BinaryIO | str) -> RubricSpec:
    """Load a rubric workbook written by :func:`rubric_to_xlsx` or by hand.

    Errors name the sheet, row and column: ``items: row 5, column F (item_max): ...``. The read is
    bounded in bytes, rows, columns, cells and seconds (:mod:`cases.workbooks`).
    """
    reader = _Reader()
    try:
        with open_workbook(fileobj) as wb:
            reader.check_sheets(wb.sheetnames)
            if reader.errors:
                raise RubricError(reader.errors)
            reader.meta(("rubric", wb.rows("rubric")))
            reader.items(("items", wb.rows("items")))
            for title in TABLES:
                if title in wb.sheetnames:
                    reader.table((title, wb.rows(title)), title)
    except WorkbookError as exc:
        raise RubricError(exc.messages) from None
    # Structural problems (sheets, columns, cells) are reported before the fields are validated.
    if reader.errors:
        raise RubricError(reader.errors)
    try:
        return rubric_from_dict(reader.data)
    except RubricError as exc:
        raise RubricError([_locate(m, reader.locations) for m in exc.messages]) from None


def _locate(message: str, locations: Mapping[str, str]) -> str:
    """Translate "sections[0].items[2].max: msg" into the Excel cell it came from."""
    path, sep, text = message.partition(": ")
    if not sep:
        return message
    probe = path
    while probe:
        if probe in locations:
            rest = path[len(probe) :].lstrip(".")
            return f"{locations[probe]}: {rest + ': ' if rest else ''}{text}"
        cut = max(probe.rfind("."), probe.rfind("["))
        probe = probe[:cut] if cut > 0 else ""
    return message
