"""The import workbook's layout: its sheets and columns, how a sheet is read into rows of text (within
the import bounds of `cases.workbooks`), how the cells people type are split (names with a title in
brackets, lists of units separated by 、), and the downloadable template.

Sheets other than 单位, 人员 and 考评组 (the examples, the notes) are never read.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import IO, Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from cases import models as m
from cases.workbooks import WorkbookError, WorkbookLimits, open_workbook

UNITS = "单位"
PEOPLE = "人员"
GROUPS = "考评组"

# (header, required). The order is the template's; a file may leave optional columns out or reorder them.
COLUMNS: dict[str, tuple[tuple[str, bool], ...]] = {
    UNITS: (("名称", True), ("简称", False), ("类别", True), ("上级单位", False), ("排序", False), ("编码", False)),
    PEOPLE: (("姓名", True), ("账号", False), ("单位", False), ("角色", False), ("职务", False), ("办公电话", False),
             ("手机", False), ("邮箱", False)),
    GROUPS: (("组别", True), ("组长", False), ("副组长", False), ("成员", False), ("联络员", False), ("联系电话", False),
             ("联络员手机", False), ("考评单位", True)),
}

# Data rows per sheet (the header row comes on top): an office's whole directory fits many times over.
MAX_DATA_ROWS = 5_000

# 角色 in the 人员 sheet: a unit role (needs 单位) or an organisation role; 专家 and 无 are neither
# (experts are placed in groups by the 考评组 sheet).
UNIT_ROLES = {str(label): value for value, label in m.UnitRole.choices}
ORG_ROLES = {str(label): value for value, label in m.OrgRole.choices if value}
NO_ROLE = ("专家", "无")
ROLE_LABELS = (*UNIT_ROLES, *ORG_ROLES, *NO_ROLE)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the file: where (sheet, Excel row, column letter and header) and what."""

    sheet: str
    row: int
    column: str
    header: str
    message: str

    def location(self) -> str:
        if not self.sheet:
            return "文件"
        if not self.row:
            return self.sheet
        return f"{self.sheet}!{self.column}{self.row}" if self.column else f"{self.sheet}!{self.row}"

    def as_dict(self) -> dict[str, Any]:
        return {"sheet": self.sheet, "row": self.row, "column": self.column, "header": self.header,
                "message": self.message}


@dataclass
class SheetRow:
    """One non-empty data row: its Excel row number, its cells as text by header, and each header's column letter."""

    sheet: str
    number: int
    cells: dict[str, str]
    letters: dict[str, str] = field(repr=False)

    def get(self, header: str) -> str:
        return self.cells.get(header, "")

    def letter(self, header: str) -> str:
        return self.letters.get(header, "")


def cell_text(value: object) -> str:
    """A cell as the text the person typed: numbers typed into a phone column come back as numbers
    (15311135579, 88902151.0) and are written back without a decimal point."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return str(int(value))
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value).strip()


def _header(sheet: str, row: tuple[Any, ...], problems: list[Problem]) -> dict[int, str]:
    """The header row's known columns by index; unknown, repeated and missing headers are problems."""
    known = {name for name, _ in COLUMNS[sheet]}
    positions: dict[int, str] = {}
    for index, value in enumerate(row):
        name = cell_text(value)
        letter = get_column_letter(index + 1)
        if not name:
            continue
        if name not in known:
            problems.append(Problem(sheet, 1, letter, name, f"未知的列“{name}”（可用的列：{'、'.join(sorted(known))}）。"))
        elif name in positions.values():
            problems.append(Problem(sheet, 1, letter, name, f"列“{name}”重复。"))
        else:
            positions[index] = name
    for name, required in COLUMNS[sheet]:
        if required and name not in positions.values():
            problems.append(Problem(sheet, 1, "", name, f"缺少必填列“{name}”。"))
    return positions


def _rows(sheet: str, raw: list[tuple[Any, ...]], problems: list[Problem]) -> list[SheetRow]:
    if not raw:
        return []
    positions = _header(sheet, raw[0], problems)
    letters = {name: get_column_letter(index + 1) for index, name in positions.items()}
    rows = []
    for number, values in enumerate(raw[1:], start=2):
        cells = {name: cell_text(values[index]) for index, name in positions.items() if index < len(values)}
        if not any(cells.values()):
            continue  # an empty row (or one with text only under unknown headers, already reported)
        rows.append(SheetRow(sheet, number, cells, letters))
    if len(rows) > MAX_DATA_ROWS:
        problems.append(Problem(sheet, 0, "", "", f"数据行超过 {MAX_DATA_ROWS} 行的上限，请分批导入。"))
        return []
    return rows


@dataclass
class ReadWorkbook:
    sheets: dict[str, list[SheetRow]]
    problems: list[Problem]


def read_workbook(fileobj: IO[bytes]) -> ReadWorkbook:
    """The 单位, 人员 and 考评组 sheets' rows (absent sheets are empty); problems of the file or its headers."""
    problems: list[Problem] = []
    sheets: dict[str, list[SheetRow]] = {name: [] for name in COLUMNS}
    limits = WorkbookLimits.from_settings(max_rows=MAX_DATA_ROWS + 1)
    try:
        with open_workbook(fileobj, limits) as book:
            present = [name for name in COLUMNS if name in book.sheetnames]
            if not present:
                problems.append(Problem("", 0, "", "", f"文件中没有“{UNITS}”“{PEOPLE}”或“{GROUPS}”工作表（请使用导入模板）。"))
            for name in present:
                sheets[name] = _rows(name, book.rows(name), problems)
    except WorkbookError as exc:
        problems.extend(Problem("", 0, "", "", workbook_message(message)) for message in exc.messages)
    return ReadWorkbook(sheets, problems)


# `cases.workbooks` words its refusals in English (shared with the rubric import); the office reads these.
_WORKBOOK_MESSAGES = (
    (re.compile(r"more than the (\d+) rows"), "每个工作表最多 {} 行（含列名行），请分批导入。"),
    (re.compile(r"more than the (\d+) columns"), "每个工作表最多 {} 列。"),
    (re.compile(r"more than the (\d+) cells"), "整个文件最多 {} 个单元格，请分批导入。"),
    (re.compile(r"longer than (\S+) s"), "读取超过 {} 秒的上限，请分批导入。"),
    (re.compile(r"unpacks to \d+ bytes, more than the (\d+)"), "文件解压后超过 {} 字节的上限。"),
    (re.compile(r"not a readable \.xlsx workbook"), "不是可读取的 .xlsx 文件{}。"),
)


def workbook_message(message: str) -> str:
    """A refusal of `cases.workbooks` in Chinese (the English original kept in brackets for support)."""
    for pattern, text in _WORKBOOK_MESSAGES:
        match = pattern.search(message)
        if match:
            return f"{text.format(*match.groups())}（{message}）"
    return f"无法读取该 Excel 文件：{message}"


# --- the cells people type ------------------------------------------------------------------------

_OPEN, _CLOSE = "(（", ")）"
LIST_SEPARATORS = "、，,；;\n"
_WHITESPACE = re.compile(r"\s+")
_PERSON = re.compile(r"^([^()（）]+?)\s*(?:[(（]([^()（）]*)[)）])?$")


def split_list(text: str) -> list[str]:
    """A list typed in one cell: items separated by 、，,；; or line breaks, never inside brackets
    (“省委党校（省行政学院）”, “陈东晓（办公室主任科员、科员）” stay whole); a closing 。 is dropped."""
    items: list[str] = []
    current: list[str] = []
    depth = 0
    for char in text.strip().rstrip("。."):
        if char in _OPEN:
            depth += 1
        elif char in _CLOSE:
            depth = max(0, depth - 1)
        if char in LIST_SEPARATORS and depth == 0:
            items.append("".join(current))
            current = []
        else:
            current.append(char)
    items.append("".join(current))
    return [item.strip() for item in items if item.strip()]


def compact(text: str) -> str:
    """A Chinese name without the spaces typeset into two-character names (“杜  娟” → “杜娟”)."""
    return _WHITESPACE.sub("", text)


def person_ref(text: str) -> tuple[str, str] | None:
    """“石书明（市直工委副书记）” → ("石书明", "市直工委副书记"); a bare name or account → (name, "");
    None when the text is not of that shape."""
    match = _PERSON.match(text.strip())
    if match is None:
        return None
    return compact(match.group(1)), (match.group(2) or "").strip()


_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_GROUP_NUMBER = re.compile(r"^第?([0-9]+|[零〇一二两三四五六七八九十]+)(?:\S*组)?$")


def chinese_number(text: str) -> int | None:
    """1–99 written in Chinese numerals (一, 十二, 二十三) or digits."""
    if text.isdigit():
        return int(text)
    if not text or any(c not in _CN_DIGITS and c != "十" for c in text):
        return None
    if "十" not in text:
        return _CN_DIGITS[text] if len(text) == 1 else None
    tens, _, ones = text.partition("十")
    if len(tens) > 1 or len(ones) > 1:
        return None
    return (_CN_DIGITS[tens] if tens else 1) * 10 + (_CN_DIGITS[ones] if ones else 0)


def group_number(text: str) -> int | None:
    """The group's number from 组别: “1”, “第一组”, “第一考核调研组”, “第十二组”."""
    match = _GROUP_NUMBER.match(compact(text))
    if match is None:
        return None
    return chinese_number(match.group(1))


CN_NUMERALS = "一二三四五六七八九十"


def group_name(text: str, number: int) -> str:
    """The name a group is stored with: the cell as typed, or “第N组” for a bare number."""
    text = compact(text)
    if text.isdigit():
        return f"第{CN_NUMERALS[number - 1]}组" if 1 <= number <= 10 else f"第{number}组"
    return text


# --- the template ------------------------------------------------------------------------------------

EXAMPLES: dict[str, list[list[str | int]]] = {
    UNITS: [
        ["市委办公室", "市委办", "党委工作部门", "", 1, ""],
        ["市政府办公室", "市政府办", "政府工作部门", "", 2, ""],
        ["市政府法制办", "法制办", "政府工作部门", "市政府办公室", 3, ""],
    ],
    PEOPLE: [
        ["张三", "", "市委办公室", "填报员", "综合科科员", "0391-3568226", "13800000001", "zhangsan@example.cn"],
        ["李四", "lisi", "市委办公室", "单位负责人", "副主任", "0391-3568227", "13800000002", ""],
        ["王五", "", "", "专家", "市直工委办公室主任科员", "", "13800000003", ""],
    ],
    GROUPS: [
        ["第一考核调研组", "石书明（市直工委副书记）", "贾世平（市直工委办公室主任）",
         "陈东晓（市直工委办公室主任科员）、王五", "马玥", "3568226", "13694308321",
         "市委办公室、市政府办公室、市政府法制办"],
    ],
}

NOTES = [
    "填写说明",
    "",
    "1. 只读取“单位”“人员”“考评组”三个工作表；示例表与本说明表不会被导入。请勿修改第一行列名，可以删去不用的选填列。",
    "2. 整个文件要么全部导入，要么（有任何一处错误时）全部不导入：错误清单会列出每一处错误所在的工作表、行号、列和原因。",
    "3. 重复导入同一文件不会产生重复数据：单位以“名称”识别，人员以“账号”识别（未填账号时以“手机”识别），考评组以“组别”序号识别；"
    "内容相同则不作修改，内容不同则更新。选填单元格留空表示不修改已有的值。",
    "4. 单位：名称、类别必填；类别为：" + "、".join(str(label) for _, label in m.UnitCategory.choices) + "。"
    "上级单位填写已有单位或本表中单位的名称；排序为不小于 0 的整数；编码留空时自动生成。",
    "5. 人员：姓名必填，账号与手机至少填写一项。角色为：" + "、".join(ROLE_LABELS) + "；"
    "角色为填报员或单位负责人时须填写单位，填写了单位时角色须为这两者之一。"
    "文件中列出的人员的单位角色以文件为准（原有的其他单位角色将被移除）。",
    "6. 新建的账号会生成一次性初始密码，只在导入结果中显示一次，请妥善转交本人，并提醒其首次登录后修改密码。",
    "7. 考评组：须在某一考评轮次（草稿状态）中导入。组别如“第一组”“第一考核调研组”或“1”；"
    "组长、副组长、成员、联络员填写姓名，可在括号中注明职务，如“石书明（市直工委副书记）”，多人用顿号“、”分隔；"
    "重名时请改填账号。考评单位填写单位名称（或简称），用顿号“、”或逗号分隔。系统中没有的组内人员会自动建立账号。",
    f"8. 每个工作表最多 {MAX_DATA_ROWS} 行数据。",
]


def template_xlsx() -> bytes:
    """The template: the three sheets with their headers, one example sheet of each, and 填写说明."""
    wb = Workbook()
    bold = Font(bold=True)
    first = True
    for title in (*COLUMNS, *(f"{name}（示例）" for name in COLUMNS)):
        ws = wb.active if first else wb.create_sheet()
        first = False
        ws.title = title
        name = title.removesuffix("（示例）")
        ws.append([header for header, _ in COLUMNS[name]])
        for cell in ws[1]:
            cell.font = bold
        ws.freeze_panes = "A2"
        for index in range(len(COLUMNS[name])):
            ws.column_dimensions[get_column_letter(index + 1)].width = 24
        if title != name:
            for row in EXAMPLES[name]:
                ws.append(row)
    notes = wb.create_sheet("填写说明")
    notes.column_dimensions["A"].width = 120
    for line in NOTES:
        notes.append([line])
        notes.cell(row=notes.max_row, column=1).alignment = Alignment(wrap_text=True)
    notes["A1"].font = bold
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def build_xlsx(sheets: dict[str, list[list[Any]]], headers: dict[str, list[str]] | None = None) -> bytes:
    """A workbook of the given sheets (rows under the template's headers, or the given ones): what
    tests, the benchmark and scripts build an import file with."""
    wb = Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        ws.append((headers or {}).get(name) or [header for header, _ in COLUMNS[name]])
        for row in rows:
            ws.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def iter_problem_lines(problems: list[Problem]) -> Iterator[str]:
    for p in problems:
        yield f"{p.location()}（{p.header}）：{p.message}" if p.header else f"{p.location()}：{p.message}"
