"""The rectification ledger (整改台账) as Excel: a write-only workbook streamed from the ledger's rows.

Callers pass rows already narrowed by `cases.access` and bound their number (`MAX_ROWS`)."""

from collections.abc import Iterable
from datetime import date
from io import BytesIO

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from cases.rectification.selectors import LedgerRow

MAX_ROWS = 50_000  # one workbook; more is refused (narrow by round, unit or group)

LIGHTS = {"green": "绿", "yellow": "黄", "red": "红"}
HEADER = [
    "序号", "考评轮次", "单位", "考评组", "问题", "责任人", "方案截止", "整改截止", "状态", "预警", "逾期天数",
    "销号日期", "验收结论", "验收人", "验收日期", "反复出现", "公示开始", "公示结束",
]
WIDTHS = [6, 24, 18, 12, 48, 14, 12, 12, 12, 6, 8, 12, 8, 10, 12, 8, 12, 12]


def _row(n: int, r: LedgerRow) -> list[str | int | date | None]:
    return [
        n, r.round_title, r.unit_name, r.group_name, r.finding, r.owner, r.plan_due, r.due_date, r.status_label,
        LIGHTS.get(r.light or "", ""), r.days_overdue or None, r.closed_on, r.verification_label, r.verified_by,
        r.verified_at, r.recurrence, r.published_from, r.published_until,
    ]


def ledger_xlsx(rows: Iterable[LedgerRow]) -> bytes:
    """One sheet 整改台账: a bold header, dates as dates (yyyy-mm-dd), the header frozen."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("整改台账")
    for i, width in enumerate(WIDTHS):
        ws.column_dimensions[chr(ord("A") + i)].width = width
    ws.freeze_panes = "A2"
    bold = Font(bold=True)
    header = []
    for title in HEADER:
        cell = WriteOnlyCell(ws, value=title)
        cell.font = bold
        header.append(cell)
    ws.append(header)
    for n, row in enumerate(rows, start=1):
        ws.append(_row(n, row))
    out = BytesIO()
    wb.save(out)
    return out.getvalue()
