"""The landing page (我的待办) shows the work waiting to be claimed, not only assigned work: six of
eight demo roles landed on an empty page while their work waited under 可认领."""

import re

import pytest

from cases import models as m
from tests.factories import make_round, make_user

pytestmark = pytest.mark.django_db


def test_landing_page_lists_claimable_work_with_a_claim_button(client):
    r = make_round(units=1, experts=1)
    # Two staff members: whose the unit's preparation is is not evident, so the task waits in the queue.
    second = make_user("second-staff")
    m.UnitMembership.objects.create(user=second, unit=r.units[0], role=m.UnitRole.STAFF)
    r.launch()
    task = r.task("prepare", r.cases[0])
    assert task.owner_id is None
    client.force_login(r.staff[0])
    html = client.get("/").content.decode()
    claimable = html.split('id="tasks-claimable"', 1)[1].split("</table>", 1)[0]
    assert f'action="/tasks/{task.pk}/"' in claimable and 'value="claim"' in claimable
    assert r.units[0].name in claimable
    assert client.post(f"/tasks/{task.pk}/", {"action": "claim"}).status_code == 302
    task.refresh_from_db()
    assert task.owner_id == r.staff[0].pk
    html = client.get("/").content.decode()
    # claimed: in 我的待办, no longer under 可认领
    mine = html.split('id="tasks-inbox"', 1)[1].split("</table>", 1)[0]
    assert f"/tasks/{task.pk}/" in mine
    assert 'id="tasks-claimable"' not in html


def test_claimable_work_is_only_the_users(client):
    r = make_round(units=2, experts=1, launch=True)
    client.force_login(r.staff[1])
    html = client.get("/").content.decode()
    tasks_shown = set(re.findall(r'href="/tasks/(\d+)/"', html))
    assert str(r.task("prepare", r.cases[0]).pk) not in tasks_shown
    assert r.units[0].name not in html
