"""What the office saw on the round page and the dashboard in Chromium: 逾期 meant "submitted late",
no case was ever green, 完成情况 was empty, empty tables had no 暂无 row, units came in code-point
order; the demo's short names (委办公厅, 直机关工委)."""

import re
from datetime import timedelta

import pytest
import time_machine

from tests.factories import advance_case, make_round
from workflow.deadlines import dashboard
from workflow.demo import GROUPS, short_name

pytestmark = pytest.mark.django_db


@pytest.fixture
def round_after_prepare_due():
    """Three units; official order (sort_order) the reverse of their names' order. Preparation ended
    a day ago: unit 0 submitted late and its head signed off (now at inspection, due later), units 1
    and 2 have not submitted (overdue now)."""
    r = make_round(units=3, experts=1, launch=True)
    for unit, order in zip(r.units, (3, 2, 1)):
        unit.sort_order = order
        unit.save(update_fields=["sort_order"])
    traveller = time_machine.travel(r.round.prepare_due + timedelta(days=1, seconds=1), tick=False)  # the same local day
    traveller.start()
    advance_case(r, 0, upto="inspect")
    yield r
    traveller.stop()


def _row_of(html: str, unit_name: str) -> str:
    return next(row for row in re.findall(r"<tr>(.*?)</tr>", html, re.S) if unit_name in row)


def test_round_page_overdue_is_open_work_past_due_not_a_late_submission(client, round_after_prepare_due):
    r = round_after_prepare_due
    client.force_login(r.office)
    html = client.get(f"/rounds/{r.round.pk}/").content.decode()
    late_but_on_time_now = _row_of(html, r.units[0].name)
    overdue = _row_of(html, r.units[1].name)
    assert re.search(r'class="overdue-now">—<', late_but_on_time_now)
    assert re.search(r'class="late">是<', late_but_on_time_now)
    assert "逾期1天" in overdue
    # the page lists units in the official order
    positions = [html.index(u.name) for u in r.units]
    assert positions == sorted(positions, reverse=True)


def test_dashboard_lights_follow_open_work_and_units_come_in_official_order(round_after_prepare_due):
    r = round_after_prepare_due
    data = dashboard.round_dashboard(r.round)
    lights = {c.unit.name: light for c, light in data["cases"]}
    assert lights == {r.units[0].name: "green", r.units[1].name: "red", r.units[2].name: "red"}
    assert [c.unit for c, _ in data["cases"]] == [r.units[2], r.units[1], r.units[0]]
    assert [name for name, _, _ in data["overdue_by_unit"]] == [r.units[2].name, r.units[1].name]
    assert data["finished_total"] == 2  # the late submission and its sign-off


def test_dashboard_page_draws_completion_on_launch_day_and_says_when_a_table_is_empty(client):
    r = make_round(units=2, experts=1, launch=True)
    advance_case(r, 0, upto="sign_off")
    client.force_login(r.office)
    html = client.get(f"/rounds/{r.round.pk}/dashboard/").content.decode()
    completion = html.split("完成情况", 1)[1].split("</div>", 1)[0]
    assert "<polyline" in completion  # a round launched today: one day of data is still a chart
    assert "已完成 1 项任务" in html
    for title in ("按单位", "按考评组", "按办理人"):
        table = html.split(title, 1)[1].split("</table>", 1)[0]
        assert "暂无" in table, title


def test_demo_short_names_are_the_seed_abbreviations():
    names = [name for _, _, units in GROUPS for name in units]
    shorts = {name: short_name(name) for name in names}
    assert shorts["省委办公厅"] == "省委办公厅" and shorts["省直机关工委"] == "省直机关工委"
    assert shorts["省委政研室（省改革办）"] == "省委政研室"
    assert not [s for s in shorts.values() if s.startswith(("委", "直"))]
