"""The flow diagrams: Chinese branch labels (they read yes/no), the open step drawn differently from a
finished one (a step reopened by a return was drawn as finished), and nothing inline that the
Content-Security-Policy would block (the diagram lost its colours under it)."""

import re

import pytest
from viewflow.workflow.models import Task

from tests.factories import act, advance_case, make_round
from workflow.flows import CaseFlow
from workflow.selectors import case_process, flow_svg

pytestmark = pytest.mark.django_db


def classes(svg: str) -> dict[str, str]:
    return dict(re.findall(r'<g id="(\w+)" transform="[^"]*"(?: class="([^"]*)")?', svg))


def test_a_step_reopened_by_a_return_is_drawn_open_not_finished(client):
    r = make_round(units=1, experts=1, launch=True)
    case = advance_case(r, 0, upto="sign_off")
    act(r, r.heads[0], "sign_off", case, "return", comment="请补充数据")  # prepare opens again

    svg = flow_svg(CaseFlow, case_process(case.pk).pk)
    steps = classes(svg)
    assert "current" in steps["prepare"].split() and "done" not in steps["prepare"].split()
    assert steps["sign_off"].split() == ["done"]
    prepare = svg.split('<g id="prepare"', 1)[1].split("</g>", 1)[0]
    assert "当前" in prepare

    client.force_login(r.office)
    response = client.get(f"/api/v1/cases/{case.pk}/diagram.svg")
    # Open again: queued (new) or, with one staff member, assigned to them at once; drawn current either way.
    assert response.status_code == 200 and re.search(r'class="(new|assigned) current"', response.content.decode())


def test_branch_labels_are_chinese_and_nothing_is_inline():
    svg = flow_svg(CaseFlow)
    labels = re.findall(r'<text class="edge-label"[^>]*>([^<]*)</text>', svg)
    assert labels and set(labels) == {"通过", "退回"}
    assert "<style" not in svg and "style=" not in svg  # blocked by the page's policy: a stylesheet instead
    assert '<?xml-stylesheet type="text/css" href="/static/css/diagram.css"?>' in svg
    assert "<title>开始</title>" in svg and "<title>结束</title>" in svg


def test_a_parallel_step_with_a_sheet_still_out_is_drawn_open():
    r = make_round(units=1, experts=2, launch=True)
    case = advance_case(r, 0, upto="score")
    # The expert of the later score task submits; the earlier one's sheet stays open. Drawing the step
    # by its latest task showed it finished.
    later = Task.objects.filter(process=case_process(case.pk), flow_task=CaseFlow.score).order_by("pk").last()
    act(r, later.owner, "score", case, items=[{"item": "S1.1", "deduction": "1", "reason": "缺"}])
    steps = classes(flow_svg(CaseFlow, case_process(case.pk).pk))
    assert "current" in steps["score"].split() and "done" not in steps["score"].split()
