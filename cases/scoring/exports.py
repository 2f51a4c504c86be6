"""Excel exports (openpyxl). Callers pass rows already narrowed by `access.visible`."""

from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from io import BytesIO

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font

from cases import models as m
from cases.scoring import round_config

Cell = str | int | Decimal | datetime | None


def _workbook(title: str, header: list[str], rows: Iterable[Sequence[Cell]]) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = title[:31]
    ws.append(header)
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(horizontal="center")
    for row in rows:
        ws.append(row)
    for column in ws.columns:
        width = max(len(str(c.value or "")) for c in column)
        ws.column_dimensions[column[0].column_letter].width = min(60, max(8, width * 2))
    ws.freeze_panes = "A2"
    out = BytesIO()
    wb.save(out)
    return out.getvalue()


def results_xlsx(results: Iterable[m.Result], *, round: m.Round | None = None) -> bytes:
    """The ranking table: numbers as numbers with two decimals, as the office works with them. With the
    round given: its 奖励系数 column when it configures them (seed 002), and always the 异议更正 and
    评先资格 columns (cases.objections; seed 003's 违法案件)."""
    coefficients = round_config.reward_coefficients(round.config or {}) if round is not None else {}
    header = ["名次", "单位编码", "单位", "类别", "考评组", "评审得分", "扣分", "加分", "总分", "等次", "升降", "一票否决"]
    if round is not None:  # the added columns go last: the first twelve keep their places
        header += ["异议更正", *(["奖励系数"] if coefficients else []), "评先资格"]

    def row(r: m.Result) -> list[Cell]:
        cells: list[Cell] = [r.rank, r.case.unit.code, r.case.unit.name, r.category, r.case.group.name, r.panel,
                             r.deductions, r.bonus, r.total, r.grade, r.movement, "是" if r.veto else ""]
        if round is not None:
            cells += [r.correction, *([coefficients.get(r.grade)] if coefficients else []),
                      f"取消（{r.commendation_barred}）" if r.commendation_barred else "有"]
        return cells

    return _workbook("考评结果", header, (row(r) for r in results))


def score_sheets_xlsx(sheets: Iterable[m.ScoreSheet]) -> bytes:
    """One row per item score of every sheet (returned attempts included, marked as such)."""
    header = ["单位", "考评组", "专家", "次数", "状态", "评分项", "扣分", "加分", "理由", "评分表总分", "说明"]
    rows: list[list[Cell]] = []
    for sheet in sheets:
        scores: list[m.ItemScore | None] = [*sheet.item_scores.all()] or [None]
        for score in scores:
            rows.append([
                sheet.case.unit.name, sheet.case.group.name, str(sheet.expert), sheet.attempt,
                sheet.get_status_display(), score.item.code if score else "", score.deduction if score else None,
                score.bonus if score else None, score.reason if score else "", sheet.total,
                sheet.return_comment or sheet.reason,
            ])
    return _workbook("评分表", header, rows)
