"""The office configures rounds and groups in the admin; those writes go through the audited services."""

from datetime import timedelta

import pytest
from django.utils import timezone

from cases import models as m
from tests.factories import make_rubric, make_user

pytestmark = pytest.mark.django_db



def test_office_creates_round_and_group_in_admin_and_deadline_change_is_audited(client):
    office = make_user("office-admin", org_role=m.OrgRole.OFFICE, is_staff=True, is_superuser=True)
    client.force_login(office)
    rubric = make_rubric()
    units = [m.Unit.objects.create(code=f"A{n}", name=f"单位{n}", category="其他") for n in range(2)]
    day = lambda n: (timezone.localdate() + timedelta(days=n)).isoformat()  # noqa: E731
    form = {"title": "年度考核", "kind": "annual", "year": "2026", "rubric": rubric.pk, "config": "{}"}
    for n, name in enumerate(["prepare_due", "inspect_due", "review_due", "approve_due", "report_due"], start=1):
        form[f"{name}_0"], form[f"{name}_1"] = day(n * 5), "17:00:00"

    response = client.post("/admin/cases/round/add/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    round = m.Round.objects.get(title="年度考核")
    assert round.created_by == office
    assert m.AuditEntry.objects.filter(action="round.create", object_id=str(round.pk)).exists()

    expert = make_user("admin-expert")
    group_form = {
        "round": round.pk, "number": 1, "name": "第一组", "phone": "3568226", "units": [u.pk for u in units],
        "members-TOTAL_FORMS": 1, "members-INITIAL_FORMS": 0, "members-0-user": expert.pk, "members-0-role": "expert",
    }
    response = client.post("/admin/cases/group/add/", group_form)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert sorted(round.cases.values_list("unit__code", flat=True)) == ["A0", "A1"]

    form["prepare_due_0"] = day(3)
    response = client.post(f"/admin/cases/round/{round.pk}/change/", form)
    assert response.status_code == 302
    entry = m.AuditEntry.objects.get(action="round.update", object_id=str(round.pk))
    round.refresh_from_db()
    assert timezone.localtime(round.prepare_due).isoformat().startswith(f"{day(3)}T17:00:00")
    assert entry.after["prepare_due"] == timezone.localtime(round.prepare_due).isoformat() != entry.before["prepare_due"]


def test_admin_refuses_bad_edits_as_form_errors_and_saves_nothing(client):
    from tests.factories import make_round

    r = make_round(units=2, experts=1, launch=False)
    admin_user = make_user("office-admin-2", org_role=m.OrgRole.OFFICE, is_staff=True, is_superuser=True)
    client.force_login(admin_user)
    taken = r.units[0]
    form = {"round": r.round.pk, "number": 2, "name": "第二组", "units": [taken.pk],
            "members-TOTAL_FORMS": 0, "members-INITIAL_FORMS": 0}
    response = client.post("/admin/cases/group/add/", form)
    assert response.status_code == 200 and "已在" in response.content.decode()
    assert r.round.groups.count() == 1

    r.launch()
    change = {"title": "改名", "kind": r.round.kind, "year": r.round.year, "rubric": r.round.rubric_id,
              "config": "{}"}
    for name in ("prepare_due", "inspect_due", "review_due", "approve_due", "report_due"):
        value = timezone.localtime(getattr(r.round, name))
        change[f"{name}_0"], change[f"{name}_1"] = value.date().isoformat(), value.strftime("%H:%M:%S")
    response = client.post(f"/admin/cases/round/{r.round.pk}/change/", change)
    assert response.status_code == 200 and "只能调整期限" in response.content.decode()
    r.round.refresh_from_db()
    assert r.round.title != "改名"


def test_phase_dues_out_of_order_are_refused_everywhere(client, api):
    """The services refuse a phase due before the previous phase's; the API answers with the field,
    the admin shows it on the form, and nothing is written."""
    from django.core.exceptions import ValidationError

    from cases.services import rounds
    from tests.api_helpers import API
    from tests.factories import make_round

    r = make_round(units=1, experts=1, launch=False)
    office = make_user("office-dues", org_role=m.OrgRole.OFFICE, is_staff=True, is_superuser=True)
    before = {k: getattr(r.round, k) for k in m.Round.DUE_FIELDS}

    early = r.round.prepare_due - timedelta(days=1)
    response = api(office).patch(f"{API}/rounds/{r.round.pk}/", {"review_due": early.isoformat()}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {"review_due": ["不能早于 inspect_due。"]}
    body = {"title": "新考评", "kind": "annual", "year": 2026, "rubric": r.round.rubric_id,
            **{k: v.isoformat() for k, v in before.items()}, "report_due": early.isoformat()}
    response = api(office).post(f"{API}/rounds/", body, format="json")
    assert response.status_code == 400 and set(response.json()["errors"]) == {"report_due"}
    assert not m.Round.objects.filter(title="新考评").exists()

    with pytest.raises(ValidationError) as raised:
        rounds.round_update(user=office, round=r.round, inspect_due=early)
    assert raised.value.message_dict == {"inspect_due": ["不能早于 prepare_due。"]}

    client.force_login(office)
    change = {"title": r.round.title, "kind": r.round.kind, "year": r.round.year, "rubric": r.round.rubric_id,
              "config": "{}"}
    for name, value in before.items():
        value = timezone.localtime(early if name == "approve_due" else value)
        change[f"{name}_0"], change[f"{name}_1"] = value.date().isoformat(), value.strftime("%H:%M:%S")
    response = client.post(f"/admin/cases/round/{r.round.pk}/change/", change)
    assert response.status_code == 200 and "不能早于 review_due" in response.content.decode()

    r.round.refresh_from_db()
    assert {k: getattr(r.round, k) for k in m.Round.DUE_FIELDS} == before


def test_rubrics_are_shown_not_edited_in_the_admin(client):
    """A rubric comes from its imported file, which exports and the bonus cap read: the admin edits neither."""
    client.force_login(make_user("office-rubric", org_role=m.OrgRole.OFFICE, is_staff=True, is_superuser=True))
    rubric = make_rubric()
    page = client.get(f"/admin/cases/rubric/{rubric.pk}/change/")
    assert page.status_code == 200 and "S1.1" in page.content.decode()
    assert 'name="_save"' not in page.content.decode()
    title = rubric.title
    assert client.post(f"/admin/cases/rubric/{rubric.pk}/change/", {"title": "改过"}).status_code == 403
    assert client.get("/admin/cases/rubric/add/").status_code == 403
    rubric.refresh_from_db()
    assert rubric.title == title
