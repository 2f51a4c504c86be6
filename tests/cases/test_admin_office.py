"""The office in the admin: it manages people and their memberships, never privileges, and cannot
take over a privileged account (separation of duties would be one password reset away)."""

import pytest
from django.test import Client

from cases import models as m
from tests.factories import make_user
from workflow.demo import office_admin_group

pytestmark = pytest.mark.django_db


@pytest.fixture
def office_client():
    office = make_user("office_admin", org_role=m.OrgRole.OFFICE, is_staff=True)
    office.groups.add(office_admin_group())
    client = Client()
    client.force_login(office)
    return client


def _change_form(user: m.User, **changes) -> dict:
    data = {
        "username": user.username, "display_name": user.display_name, "title": user.title,
        "office_phone": user.office_phone, "mobile": user.mobile, "org_role": user.org_role,
        "is_active": "on", "date_joined_0": "2026-01-01", "date_joined_1": "00:00:00",
        "unitmembership_set-TOTAL_FORMS": "0", "unitmembership_set-INITIAL_FORMS": "0",
    }
    data.update(changes)
    return data


def test_the_office_edits_a_unit_member_but_not_their_privileges(office_client):
    staff = make_user("u_staff")
    page = office_client.get(f"/admin/cases/user/{staff.pk}/change/")
    assert page.status_code == 200
    response = office_client.post(
        f"/admin/cases/user/{staff.pk}/change/",
        _change_form(staff, display_name="新名字", is_superuser="on", is_staff="on", org_role=m.OrgRole.LEADER),
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    staff.refresh_from_db()
    assert staff.display_name == "新名字"
    assert not staff.is_superuser and not staff.is_staff and staff.org_role == ""


@pytest.mark.parametrize("privilege", [{"org_role": m.OrgRole.LEADER}, {"is_staff": True}, {"is_superuser": True}])
def test_the_office_cannot_change_a_privileged_account_or_its_password(office_client, privilege):
    target = make_user("privileged", **privilege)
    old_hash = target.password
    response = office_client.post(
        f"/admin/cases/user/{target.pk}/password/",
        {"password1": "Another-pass-123", "password2": "Another-pass-123", "usable_password": "true"},
    )
    assert response.status_code == 403
    response = office_client.post(f"/admin/cases/user/{target.pk}/change/", _change_form(target, display_name="x"))
    assert response.status_code == 403
    target.refresh_from_db()
    assert target.password == old_hash and target.display_name != "x"
