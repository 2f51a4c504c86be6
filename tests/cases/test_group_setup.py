"""Setting a round up: bad group input is refused with field messages and writes nothing."""

import pytest

from cases import models as m
from tests.factories import make_round, make_user

pytestmark = pytest.mark.django_db


def test_duplicate_members_and_group_numbers_are_field_errors(api):
    r = make_round(units=1, experts=1)
    expert = make_user("dup-expert")
    unit = m.Unit.objects.create(code="NEW1", name="新单位", category="其他")
    body = {"round": r.round.pk, "number": 2, "name": "第二组", "units": [unit.pk],
            "members": [{"user": expert.pk, "role": "expert"}, {"user": expert.pk, "role": "expert"}]}
    response = api(r.office).post("/api/v1/groups/", body, format="json")
    assert response.status_code == 400 and "members" in response.json()["errors"]
    body["members"] = body["members"][:1]
    body["number"] = 1  # taken by make_round's group
    response = api(r.office).post("/api/v1/groups/", body, format="json")
    assert response.status_code == 400 and "number" in response.json()["errors"]
    assert r.round.groups.count() == 1 and not m.Case.objects.filter(unit=unit).exists()


def test_unit_changes_are_audited(api):
    r = make_round(units=1, experts=1)
    created = api(r.office).post("/api/v1/units/", {"code": "Z9", "name": "新设单位", "category": "其他"}, format="json")
    assert created.status_code == 201
    unit_id = created.json()["id"]
    assert api(r.office).patch(f"/api/v1/units/{unit_id}/", {"name": "更名单位"}, format="json").status_code == 200
    entry = m.AuditEntry.objects.get(action="unit.update", object_id=str(unit_id))
    assert (entry.before, entry.after) == ({"name": "新设单位"}, {"name": "更名单位"})
    assert api(r.staff[0]).post("/api/v1/units/", {"code": "Z8", "name": "x", "category": "其他"},
                                format="json").status_code == 403
