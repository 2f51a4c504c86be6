"""Publication (公示), objections (异议) and finality; reward coefficients (seed 002) and commendation
eligibility (违法案件, seed 003). Hand-computed figures: see `_published_round`."""

from datetime import timedelta
from decimal import Decimal as D
from io import BytesIO

import pytest
from django.utils import timezone
from openpyxl import load_workbook

from cases import models as m
from cases.errors import Conflict
from cases.objections import services
from cases.scoring import round_config
from cases.services import inspections
from tests.factories import act, advance_case, make_round, make_user
from tests.rectification_helpers import attachment

pytestmark = pytest.mark.django_db

GRADES = {"scheme": "thresholds", "bands": [["优秀", "14"], ["良好", "13"], ["达标", "12"], ["不达标", "0"]]}
# Seed 002 as reconstructed in docs/round-config.md: 优秀 +10 %, 良好 +5 %, 达标 the base, 不达标 −20 %.
COEFFICIENTS = {"优秀": "1.10", "良好": "1.05", "达标": "1.00", "不达标": "0.80"}
CONFIG = {"grades": GRADES, "reward_coefficients": COEFFICIENTS, "commendation_barred_grades": ["不达标"],
          "publication_days": 5}


def _approved_round(config=None, *, illegal_case: bool = True):
    """Four units A, B, C, D in one group with one expert, who deducts 1 on S1.1 from everyone: panel 14.00.
    Findings deduct A 0, B 0.50 (a 违法案件: eligibility lost, score kept), C 1.50, D 3.00, so
    A 14.00 (1, 优秀), B 13.50 (2, 良好), C 12.50 (3, 达标), D 11.00 (4, 不达标). Compiled and approved."""
    setup = make_round(units=4, experts=1, launch=True, config=CONFIG if config is None else config)
    amounts = [D("0"), D("0.50"), D("1.50"), D("3.00")]
    for index, amount in enumerate(amounts):
        case = advance_case(setup, index, upto="inspect")
        if amount:
            inspections.finding_create(
                user=setup.group_of(index).leader, case=case, source=m.FindingSource.SPOT_CHECK,
                description="察访核验发现问题", deduction_kind="察访核验", deduction_amount=amount,
                bars_commendation=illegal_case and index == 1)
        advance_case(setup, index, upto="done")
    act(setup, setup.office, "compile")
    act(setup, setup.leader, "approve", None, "approve", comment="同意")
    return setup.refresh()


def _table(setup) -> dict[str, tuple]:
    """Unit letter → (total, rank, grade) of the stored results."""
    letters = {u.pk: "ABCD"[i] for i, u in enumerate(setup.units)}
    return {letters[r.case.unit_id]: (r.total, r.rank, r.grade)
            for r in m.Result.objects.filter(round=setup.round).select_related("case")}


def _publish(api, setup, **body):
    response = api(setup.office).post(f"/api/v1/rounds/{setup.round.pk}/publication/open/", body, format="json")
    assert response.status_code == 200, response.content
    setup.refresh()
    return response.json()


def _end_period(setup):
    """The period is over: its end moved into the past (the clock is not mocked)."""
    m.Round.objects.filter(pk=setup.round.pk).update(
        publication_starts_at=timezone.now() - timedelta(days=10), publication_ends_at=timezone.now() - timedelta(seconds=1))
    setup.refresh()


def _file(api, setup, index, reasons="扣分依据有误", evidence=(), user=None):
    return api(user or setup.staff[index]).post(
        "/api/v1/objections/", {"case": setup.case(index).pk, "reasons": reasons, "evidence": list(evidence)},
        format="json")


def test_hand_computed_results_with_coefficients_and_eligibility(api):
    setup = _approved_round()
    assert _table(setup) == {"A": (D("14.00"), 1, "优秀"), "B": (D("13.50"), 2, "良好"),
                             "C": (D("12.50"), 3, "达标"), "D": (D("11.00"), 4, "不达标")}
    rows = {row["unit"]: row for row in api(setup.office).get(
        "/api/v1/results/", {"round": setup.round.pk}).json()["results"]}
    a, b, c, d = (rows[u.name] for u in setup.units)
    assert [a["reward_coefficient"], b["reward_coefficient"], c["reward_coefficient"], d["reward_coefficient"]] == [
        "1.10", "1.05", "1.00", "0.80"]
    # 违法案件: B keeps its score, rank and grade, and loses its eligibility; D loses it by its grade (seed 002).
    assert (b["total"], b["rank"], b["grade"]) == ("13.50", 2, "良好")
    assert (b["commendation_eligible"], b["commendation_barred"]) == (False, "违法案件")
    assert (d["commendation_eligible"], d["commendation_barred"]) == (False, "等次为不达标")
    assert a["commendation_eligible"] and c["commendation_eligible"]

    sheet = list(load_workbook(BytesIO(api(setup.office).get(
        f"/api/v1/rounds/{setup.round.pk}/results-export/").content)).active.values)
    assert sheet[0][12:] == ("异议更正", "奖励系数", "评先资格")
    by_unit = {row[2]: row for row in sheet[1:]}
    assert by_unit[setup.units[0].name][12:] == (0, 1.1, "有")
    assert by_unit[setup.units[1].name][12:] == (0, 1.05, "取消（违法案件）")


def test_illegal_case_does_not_change_the_score():
    """The same round without the 违法案件 flag gives the same totals, ranks and grades."""
    flagged, plain = _approved_round(), _approved_round(illegal_case=False)
    assert _table(flagged) == _table(plain)
    assert m.Result.objects.get(case=plain.case(1)).commendation_barred == ""


def test_no_coefficients_configured_shows_none(api):
    setup = _approved_round({"grades": GRADES})
    rows = api(setup.office).get("/api/v1/results/", {"round": setup.round.pk}).json()["results"]
    assert {row["reward_coefficient"] for row in rows} == {None}
    sheet = list(load_workbook(BytesIO(api(setup.office).get(
        f"/api/v1/rounds/{setup.round.pk}/results-export/").content)).active.values)
    assert sheet[0][12:] == ("异议更正", "评先资格")


def test_upheld_objection_reranks_every_unit_and_is_audited(api):
    setup = _approved_round()
    state = _publish(api, setup)
    assert state["open"] and state["configured_days"] == 5 and state["day_kind"] == "working"
    c_staff = setup.staff[2]
    evidence = attachment(setup.case(2), c_staff, m.Attachment.Purpose.OBJECTION)
    filed = _file(api, setup, 2, reasons="察访核验扣分所涉问题已于检查前整改完毕", evidence=[evidence.pk])
    assert filed.status_code == 201, filed.content
    objection = filed.json()
    assert (objection["status"], objection["evidence"]) == ("open", [evidence.pk])

    resolved = api(setup.office).post(f"/api/v1/objections/{objection['id']}/resolve/",
                                      {"decision": "uphold", "resolution": "核实后扣分不当，予以更正", "adjustment": "2.00"},
                                      format="json")
    assert resolved.status_code == 200, resolved.content
    assert (resolved.json()["status"], resolved.json()["adjustment"]) == ("upheld", "2.00")
    # C: 12.50 + 2.00 = 14.50 → first, 优秀; A 14.00 → 2 (still 优秀); B 13.50 → 3; D unchanged.
    assert _table(setup) == {"A": (D("14.00"), 2, "优秀"), "B": (D("13.50"), 3, "良好"),
                             "C": (D("14.50"), 1, "优秀"), "D": (D("11.00"), 4, "不达标")}
    c_result = m.Result.objects.get(case=setup.case(2))
    assert c_result.correction == D("2.00")
    # The unit sees its corrected result and the resolution.
    mine = api(c_staff).get("/api/v1/results/", {"round": setup.round.pk}).json()["results"]
    assert [(r["total"], r["rank"], r["reward_coefficient"], r["correction"]) for r in mine] == [
        ("14.50", 1, "1.10", "2.00")]
    assert api(c_staff).get(f"/api/v1/objections/{objection['id']}/").json()["resolution"] == "核实后扣分不当，予以更正"

    entries = {e.action: e for e in m.AuditEntry.objects.filter(round=setup.round)}
    assert {"round.publication_open", "objection.file", "objection.resolve", "round.results_corrected"} <= set(entries)
    corrected = entries["round.results_corrected"]
    a, b, c = (str(setup.case(i).pk) for i in range(3))
    assert corrected.before == {a: ["14.00", 1, "优秀"], b: ["13.50", 2, "良好"], c: ["12.50", 3, "达标"]}
    assert corrected.after == {a: ["14.00", 2, "优秀"], b: ["13.50", 3, "良好"], c: ["14.50", 1, "优秀"]}
    assert corrected.actor == setup.office


def test_a_downward_correction_moves_the_unit_down():
    setup = _approved_round()
    services.publication_open(user=setup.office, round=setup.round)
    objection = services.objection_file(user=setup.heads[0], case=setup.case(0), reasons="我单位一项加分应为扣分")
    services.objection_resolve(user=setup.office, objection=objection, decision="uphold",
                               resolution="属实，更正", adjustment="-1.00")
    # A: 14.00 − 1.00 = 13.00 → 良好, behind B 13.50: B 1, A 2, C 3, D 4.
    assert _table(setup) == {"A": (D("13.00"), 2, "良好"), "B": (D("13.50"), 1, "良好"),
                             "C": (D("12.50"), 3, "达标"), "D": (D("11.00"), 4, "不达标")}


def test_a_correction_into_the_lowest_band_starts_the_unit_s_rectification():
    setup = _approved_round()
    lowest = m.Rectification.objects.filter(round=setup.round, source=m.RectificationSource.LOWEST_GRADE)
    assert [r.unit_id for r in lowest] == [setup.units[3].pk]  # D, 不达标 at approval
    services.publication_open(user=setup.office, round=setup.round)
    objection = services.objection_file(user=setup.heads[2], case=setup.case(2), reasons="复核")
    services.objection_resolve(user=setup.office, objection=objection, decision="uphold",
                               resolution="复核后更正", adjustment="-1.00")
    # C: 12.50 − 1.00 = 11.50 → 不达标: its rectification starts now, D's is not started twice.
    assert _table(setup)["C"] == (D("11.50"), 3, "不达标")
    assert sorted(r.unit_id for r in lowest.all()) == sorted([setup.units[2].pk, setup.units[3].pk])


def test_results_cannot_become_final_with_an_open_objection(api):
    setup = _approved_round()
    office = api(setup.office)
    finalise = f"/api/v1/rounds/{setup.round.pk}/publication/finalise/"
    assert office.post(finalise).status_code == 409  # not published yet
    _publish(api, setup)
    early = office.post(finalise)
    assert early.status_code == 409 and "公示期尚未结束" in early.json()["detail"]
    objection = _file(api, setup, 3).json()
    _end_period(setup)
    pending = office.post(finalise)
    assert pending.status_code == 409 and "尚有 1 件异议未处理" in pending.json()["detail"]
    assert services.finalise_due() == 0  # the periodic check waits too
    with pytest.raises(Conflict):  # and so does the report step
        act(setup, setup.office, "report")
    setup.refresh()
    assert setup.round.results_final_at is None and setup.round.status == m.RoundStatus.REPORTING

    # Rejected: a written reason is required, and nothing changes without it.
    resolve = f"/api/v1/objections/{objection['id']}/resolve/"
    no_reason = office.post(resolve, {"decision": "reject", "resolution": ""}, format="json")
    assert no_reason.status_code == 400 and "resolution" in no_reason.json()["errors"]
    both_bad = office.post(resolve, {"decision": "reject", "resolution": " ", "adjustment": "1"}, format="json")
    assert both_bad.status_code == 400 and {"resolution", "adjustment"} <= set(both_bad.json()["errors"])
    upheld_without_amount = office.post(resolve, {"decision": "uphold", "resolution": "成立"}, format="json")
    assert upheld_without_amount.status_code == 400 and "adjustment" in upheld_without_amount.json()["errors"]
    assert m.Objection.objects.get(pk=objection["id"]).status == m.ObjectionStatus.OPEN
    before = _table(setup)
    rejected = office.post(resolve, {"decision": "reject", "resolution": "扣分依据充分，维持原结果"}, format="json")
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    assert _table(setup) == before
    assert office.post(resolve, {"decision": "reject", "resolution": "再次"}, format="json").status_code == 409

    assert services.finalise_due() == 1  # the periodic check finalises
    setup.refresh()
    assert setup.round.results_final_at is not None
    assert office.post(finalise).status_code == 409  # already final
    final = m.AuditEntry.objects.get(round=setup.round, action="round.results_final")
    assert final.actor is None and final.after["objections"] == {"rejected": 1}
    act(setup, setup.office, "report")  # now the round can be reported and closed
    assert setup.refresh().round.status == m.RoundStatus.CLOSED


def test_office_finalises_after_the_period_with_no_objection(api):
    setup = _approved_round()
    _publish(api, setup, days=3)
    _end_period(setup)
    response = api(setup.office).post(f"/api/v1/rounds/{setup.round.pk}/publication/finalise/")
    assert response.status_code == 200 and response.json()["final"] is True
    assert m.AuditEntry.objects.get(round=setup.round, action="round.results_final").actor == setup.office
    # Once final, nothing more can be filed.
    assert _file(api, setup, 0).status_code == 403


def test_unit_cannot_object_outside_the_period_or_for_another_unit(api):
    setup = _approved_round()
    assert _file(api, setup, 0).status_code == 403  # not published yet
    _publish(api, setup)
    other = _file(api, setup, 1, user=setup.staff[0])  # unit A on unit B's result: B's case is not A's to see
    assert other.status_code == 404
    leader = _file(api, setup, 1, user=setup.group_of(1).leader)  # sees the case, is not the unit
    assert leader.status_code == 403
    expert = _file(api, setup, 1, user=setup.group_of(1).experts[0])
    assert expert.status_code == 403
    foreign = attachment(setup.case(1), setup.staff[1])
    bad = _file(api, setup, 0, reasons="", evidence=[foreign.pk])
    assert bad.status_code == 400 and {"reasons"} <= set(bad.json()["errors"])
    bad_evidence = _file(api, setup, 0, evidence=[foreign.pk])
    assert bad_evidence.status_code == 400 and "evidence" in bad_evidence.json()["errors"]
    unknown = api(setup.staff[0]).post("/api/v1/objections/", {"case": setup.case(0).pk, "reasons": "x", "grade": "优秀"},
                                       format="json")
    assert unknown.status_code == 400 and "grade" in unknown.json()["errors"]
    _end_period(setup)
    assert _file(api, setup, 0).status_code == 403  # the period is over
    assert not m.Objection.objects.exists()
    assert not m.AuditEntry.objects.filter(action="objection.file").exists()


def test_evidence_upload_for_an_objection_only_during_the_period(api):
    setup = _approved_round()
    url = f"/api/v1/attachments/?case={setup.case(0).pk}"

    def upload():
        from django.core.files.uploadedfile import SimpleUploadedFile

        return api(setup.staff[0]).post(url, {"purpose": "objection", "file": SimpleUploadedFile(
            "说明.pdf", b"%PDF-1.4 objection evidence", content_type="application/pdf")}, format="multipart")

    assert upload().status_code == 409
    _publish(api, setup)
    response = upload()
    assert response.status_code == 201, response.content
    filed = _file(api, setup, 0, evidence=[response.json()["id"]])
    assert filed.status_code == 201


def test_publication_needs_approval_and_opens_once(api):
    setup = make_round(units=1, experts=1, launch=True, config=CONFIG)
    url = f"/api/v1/rounds/{setup.round.pk}/publication/open/"
    assert api(setup.office).post(url, {}, format="json").status_code == 409  # not approved
    approved = _approved_round()
    url = f"/api/v1/rounds/{approved.round.pk}/publication/open/"
    assert api(approved.office).post(url, {"days": 0}, format="json").status_code == 400
    assert api(approved.office).post(url, {"days": 5, "weeks": 1}, format="json").status_code == 400
    assert api(approved.office).post(url, {}, format="json").status_code == 200
    assert api(approved.office).post(url, {}, format="json").status_code == 409


def test_the_period_counts_working_days():
    """Opened on Wednesday 2026-09-30, 5 working days: the National Day holiday (10-01…10-07) is skipped
    and Saturday 10-10 is a make-up workday (调休): 10-08, 10-09, 10-10, 10-12, 10-13. The period ends at
    the end of 10-13 (local midnight). Counted in calendar days: the end of 10-05."""
    import datetime as dt

    start = timezone.make_aware(dt.datetime(2026, 9, 30, 10, 0))
    assert services.period_end(start, 5, "working") == timezone.make_aware(dt.datetime(2026, 10, 14))
    assert services.period_end(start, 5, "calendar") == timezone.make_aware(dt.datetime(2026, 10, 6))


def test_permission_matrix(api):
    """Office, unit staff, group leader, expert on every new endpoint."""
    setup = _approved_round()
    office, staff, lead, expert = setup.office, setup.staff[0], setup.group_of(0).leader, setup.group_of(0).experts[0]
    base = f"/api/v1/rounds/{setup.round.pk}/publication/"
    for user, code in ((staff, 403), (lead, 403), (expert, 403)):
        assert api(user).post(f"{base}open/", {}, format="json").status_code == code
    _publish(api, setup)
    mine = _file(api, setup, 0).json()
    theirs = _file(api, setup, 1).json()
    for user in (office, staff, lead, expert):
        assert api(user).get(base).status_code == 200
    assert api(staff).get(base).json()["objections"]["open"] == 1  # its own only
    assert api(office).get(base).json()["objections"]["open"] == 2

    listed = {user: {o["id"] for o in api(user).get("/api/v1/objections/").json()["results"]}
              for user in (office, staff, lead, expert)}
    assert listed == {office: {mine["id"], theirs["id"]}, staff: {mine["id"]}, lead: {mine["id"], theirs["id"]},
                      expert: set()}
    assert api(staff).get(f"/api/v1/objections/{theirs['id']}/").status_code == 404
    assert api(expert).get(f"/api/v1/objections/{mine['id']}/").status_code == 404

    # Filing: the unit only (the office and the group see the case, yet are not the unit).
    for user, code in ((office, 403), (lead, 403), (expert, 403)):
        assert _file(api, setup, 0, user=user).status_code == code
    # Resolving and finalising: the office only, checked before the body.
    for user in (staff, lead, expert):
        assert api(user).post(f"/api/v1/objections/{mine['id']}/resolve/", {}, format="json").status_code in (403, 404)
        assert api(user).post(f"{base}finalise/").status_code == 403
    assert api(office).post(f"{base}finalise/").status_code == 409
    ok = api(office).post(f"/api/v1/objections/{mine['id']}/resolve/", {"decision": "reject", "resolution": "维持"},
                          format="json")
    assert ok.status_code == 200
    auditor = make_user("objection-auditor", org_role=m.OrgRole.AUDITOR)
    assert len(api(auditor).get("/api/v1/objections/").json()["results"]) == 2
    assert api(auditor).post(f"/api/v1/objections/{theirs['id']}/resolve/", {}, format="json").status_code == 403


def test_round_config_checks_the_new_keys():
    assert round_config.problems(CONFIG) == []
    found = round_config.problems({"grades": GRADES, "reward_coefficients": {"优秀": "-1", "特优": "1.2"},
                                   "commendation_barred_grades": ["差"], "publication_days": 0,
                                   "publication_day_kind": "weekly"})
    assert len(found) == 5, found
    assert round_config.reward_coefficients(CONFIG)["良好"] == D("1.05")


def test_publication_page_office_opens_and_resolves_unit_files(client):
    setup = _approved_round()
    url = f"/rounds/{setup.round.pk}/publication/"
    client.force_login(setup.staff[2])
    assert client.post(url, {"action": "file", "reasons": "理由"}).status_code == 403  # not published yet
    client.force_login(setup.office)
    page = client.get(url)
    assert page.status_code == 200 and "公示考评结果" in page.content.decode()
    assert client.post(url, {"action": "open", "days": "5"}).status_code == 302
    client.force_login(setup.staff[2])
    page = client.get(url).content.decode()
    assert "提出异议" in page and "奖励系数" in page and setup.units[0].name not in page  # its own result only
    missing = client.post(url, {"action": "file", "reasons": ""})
    assert missing.status_code == 400 and "reasons" in missing.content.decode()
    assert client.post(url, {"action": "file", "reasons": "扣分有误"}).status_code == 302
    objection = m.Objection.objects.get()
    client.force_login(setup.group_of(0).leader)
    assert client.post(url, {"action": "resolve", "objection": objection.pk, "decision": "reject",
                             "resolution": "维持"}).status_code == 403
    client.force_login(setup.office)
    no_reason = client.post(url, {"action": "resolve", "objection": objection.pk, "decision": "uphold",
                                  "adjustment": "2", "resolution": ""})
    assert no_reason.status_code == 400
    assert client.post(url, {"action": "resolve", "objection": objection.pk, "decision": "uphold",
                             "adjustment": "2", "resolution": "属实"}).status_code == 302
    assert _table(setup)["C"] == (D("14.50"), 1, "优秀")
    assert client.post(url, {"action": "finalise"}).status_code == 409
    assert "异议" in client.get(f"/rounds/{setup.round.pk}/dashboard/").content.decode()


def test_results_notice_names_the_barred_units_and_the_coefficients():
    from notifications.documents.kinds import results_notice

    setup = _approved_round()
    body = "\n".join(results_notice(setup.round, None, {}).body)
    assert f"{setup.units[1].name}因违法案件，取消当年评先资格（不影响其得分和名次）。" in body
    assert f"{setup.units[3].name}因等次为不达标，取消当年评先资格" in body
    assert "优秀1.10，良好1.05，达标1.00，不达标0.80" in body


def test_units_and_office_are_told():
    from notifications.models import Notification

    setup = _approved_round()
    services.publication_open(user=setup.office, round=setup.round)
    told = set(Notification.objects.filter(event="results_published").values_list("recipient_id", flat=True))
    assert told == {u.pk for u in setup.staff + setup.heads}
    objection = services.objection_file(user=setup.staff[2], case=setup.case(2), reasons="扣分有误")
    assert list(Notification.objects.filter(event="objection_filed").values_list("recipient_id", flat=True)) == [
        setup.office.pk]
    services.objection_resolve(user=setup.office, objection=objection, decision="reject", resolution="依据充分")
    resolved = Notification.objects.filter(event="objection_resolved")
    assert {n.recipient_id for n in resolved} == {setup.staff[2].pk, setup.heads[2].pk}
    assert "异议不成立" in resolved[0].subject and "依据充分" in resolved[0].body


def test_a_round_without_publication_days_reports_at_once_unless_published():
    plain = _approved_round({"grades": GRADES})
    act(plain, plain.office, "report")
    assert plain.refresh().round.status == m.RoundStatus.CLOSED
    opened = _approved_round({"grades": GRADES})
    services.publication_open(user=opened.office, round=opened.round, days=3)
    with pytest.raises(Conflict):
        act(opened, opened.office, "report")
