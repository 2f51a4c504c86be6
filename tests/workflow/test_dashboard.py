"""The office dashboard (红黄绿灯) and 一键催办, on a frozen clock."""

from datetime import timedelta

import pytest
import time_machine

from cases import models as m
from notifications.models import Notification
from tests.factories import advance_case, make_round

pytestmark = pytest.mark.django_db


@pytest.fixture
def late_round():
    """Three units; unit 0 has submitted (its sign-off is open), units 1 and 2 have not.
    Every open task is in the prepare phase, due 10 days from now."""
    r = make_round(units=3, experts=1, launch=True)
    for user in m.User.objects.all():
        user.mobile, user.email = f"139{user.pk:08d}", f"{user.username}@example.gov.cn"
        user.save(update_fields=["mobile", "email"])
    advance_case(r, 0, upto="sign_off")
    return r


def test_upcoming_before_the_due_and_overdue_after_it(api, late_round):
    r = late_round
    due = r.round.prepare_due
    with time_machine.travel(due - timedelta(days=5), tick=False):
        data = api(r.office).get(f"/api/v1/rounds/{r.round.pk}/dashboard/").json()
        assert data["overdue"] == []
        assert sorted(u["unit"] for u in data["upcoming"]) == sorted(u.name for u in r.units)
        assert data["lights"] == {"green": 0, "yellow": 0, "red": 0} | {"green": 3}
    with time_machine.travel(due + timedelta(days=3, seconds=1), tick=False):  # the same local day, whatever the hour
        data = api(r.office).get(f"/api/v1/rounds/{r.round.pk}/dashboard/").json()
    steps = {s["step"]: (s["done"], s["open"], s["overdue"]) for s in data["steps"]}
    assert steps["prepare"] == (1, 2, 2)
    assert steps["sign_off"] == (0, 1, 1)
    assert data["lights"]["red"] == 3
    assert len(data["overdue"]) == 3 and {row["days_overdue"] for row in data["overdue"]} == {3}
    by_unit = {row["unit"]: row["tasks"] for row in data["overdue_by_unit"]}
    assert by_unit == {u.name: 1 for u in r.units}
    # The unit's one staff member was given the task when it was created.
    claimed = next(row for row in data["overdue"] if row["unit"] == r.units[1].name)
    assert claimed["claimed"] and [p["id"] for p in claimed["people"]] == [r.staff[1].pk]
    assert claimed["people"][0]["mobile"] == f"139{r.staff[1].pk:08d}"


def test_dashboard_is_for_office_leader_and_auditor(api, client, late_round):
    r = late_round
    for user, status in ((r.office, 200), (r.leader, 200), (r.auditor, 200), (r.staff[0], 403),
                         (r.group_of(0).leader, 403)):
        assert api(user).get(f"/api/v1/rounds/{r.round.pk}/dashboard/").status_code == status
    client.force_login(r.office)
    page = client.get(f"/rounds/{r.round.pk}/dashboard/")
    assert page.status_code == 200 and "督办看板" in page.content.decode()


def test_urge_reminds_every_overdue_owner_once_an_hour(api, late_round):
    r = late_round
    moment = r.round.prepare_due + timedelta(days=1)
    with time_machine.travel(moment, tick=False):
        assert api(r.staff[0]).post(f"/api/v1/rounds/{r.round.pk}/urge/").status_code == 403
        first = api(r.office).post(f"/api/v1/rounds/{r.round.pk}/urge/")
        assert first.json() == {"notifications": 3}
        urged = Notification.objects.filter(event="task.urged")
        assert sorted(n.recipient_id for n in urged) == sorted([r.heads[0].pk, r.staff[1].pk, r.staff[2].pk])
        # Urging is urgent: SMS as well as email (both on by default).
        assert all(set(n.deliveries.values_list("channel", flat=True)) == {"email", "sms"} for n in urged)
        again = api(r.office).post(f"/api/v1/rounds/{r.round.pk}/urge/")
        assert again.status_code == 409 and "一小时内已催办过" in again.json()["detail"]
    with time_machine.travel(moment + timedelta(minutes=61), tick=False):
        assert api(r.office).post(f"/api/v1/rounds/{r.round.pk}/urge/").json() == {"notifications": 3}
    entries = m.AuditEntry.objects.filter(action="round.urge", round=r.round)
    assert entries.count() == 2 and entries.first().after["tasks"] == 3
