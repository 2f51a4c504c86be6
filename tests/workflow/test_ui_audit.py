"""The audit log page reads as Chinese: an action label, the object named, before/after as lines, not
`score_sheet.submit`, `scoresheet #53` and Python dicts."""

import re

import pytest

from cases.services import sheets
from cases.services.audit import audit
from tests.factories import make_round

pytestmark = pytest.mark.django_db


def visible_cells(html: str) -> list[str]:
    """The text of the audit table's cells, as a reader sees it (attributes and tags left out)."""
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    cells = re.findall(r"<td[^>]*>(.*?)</td>", body, re.S)
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", cell)).strip() for cell in cells]


def test_audit_page_names_actions_objects_and_changes(client):
    r = make_round(units=1, experts=1, launch=True)
    case, expert = r.case(0), r.group_of(0).experts[0]
    sheet = sheets.score_sheet_open(case=case, expert=expert)
    audit(actor=expert, action="score_sheet.submit", obj=sheet, after={"total": "95.50", "rubric": "T"},
          round_id=case.round_id)
    audit(actor=r.office, action="case.status", obj=case, before={"status": "prepare"}, after={"status": "inspect"},
          round_id=case.round_id)
    audit(actor=r.office, action="finding.update", obj=case, round_id=case.round_id)  # a code without a label
    audit(actor=r.staff[0], action="submission.submit", obj=case, after={"late": False}, round_id=case.round_id)

    client.force_login(r.office)
    cells = visible_cells(client.get("/audit/").content.decode())
    text = " | ".join(cells)

    assert "提交评分表" in cells and "启动考评" in cells and "变更考评状态" in cells
    assert f"{case.unit.name}的评分表（{expert}）" in text
    assert "总分 95.50" in text
    assert "状态 准备" in cells and "状态 检查" in cells  # the status's label, not its code
    assert f"单位 {case.unit.name}" in cells  # group.create's units by name, not by primary key
    assert "修改发现问题" in cells
    # no raw codes, no "type #id", no Python dicts in what a reader sees
    assert "逾期提交 否" in cells
    assert not [c for c in cells if re.search(r"[a-z_]+\.[a-z_]+|#\d+|\{'|': |\b[a-z_]{3,}\b", c)], cells


def test_computed_results_read_as_units_with_their_scores(client):
    r = make_round(units=2, experts=1, launch=True)
    first, second = r.case(0), r.case(1)
    audit(actor=r.office, action="round.results_computed", obj=first.round,
          before={str(first.pk): None, str(second.pk): ["90.00", 2, "良好"]},
          after={str(first.pk): ["99.50", 1, "好"], str(second.pk): ["91.00", 2, None]}, round_id=first.round_id)

    client.force_login(r.office)
    text = " | ".join(visible_cells(client.get("/audit/").content.decode()))
    assert "计算考评结果" in text
    assert f"{first.unit.name} 总分 99.50，第 1 名，等次 好" in text
    assert f"{second.unit.name} 总分 91.00，第 2 名，等次 —" in text
    assert f"{second.unit.name} 总分 90.00，第 2 名，等次 良好" in text
    for case in (first, second):  # no line labelled with a bare case id
        assert not re.search(rf"(?<![\w-]){case.pk} (总分|—)", text), text
