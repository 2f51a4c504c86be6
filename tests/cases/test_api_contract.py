"""The API contract (issue 9): pages past the end, numbers, unknown fields, every problem of a sheet,
what a write answers, who records findings and inspection records and corrects them, what a unit
sees of the group that assesses it, revoking one's token.

One world per module (rolled back at the end; each test in its own savepoint): a launched round of
five units in one group. Case 0 is being prepared (a draft is saved), case 1 is at inspection (with
a record and a finding), case 2 is being scored (expert 0 saved S1.1), case 3 waits for review,
case 4 is done (its record and finding were made during its inspection). A second round has a unit
and a group of its own: the outsiders.
"""

from dataclasses import dataclass
from datetime import date

import pytest
from drf_spectacular.generators import SchemaGenerator
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient
from viewflow.workflow.models import Task

from cases import models as m
from cases.services import inspections, sheets, submissions
from notifications.documents import services as documents
from notifications.documents.models import Document, DocumentBatch
from notifications.models import Notification
from tests.api_helpers import API
from tests.conftest import module_world
from tests.factories import PASSWORD, advance_case, make_round
from workflow.pages.forms import FindingForm, ReviewForm

BOGUS = "bogus_field"


@dataclass
class World:
    r: object
    other: object
    record: m.InspectionRecord
    finding: m.Finding
    done_record: m.InspectionRecord
    done_finding: m.Finding
    notification: Notification
    document: Document
    batch: DocumentBatch
    rectification: m.Rectification
    objection: m.Objection

    def case(self, i):
        return self.r.case(i)

    @property
    def group(self):
        return self.r.groups[0]

    def people(self) -> dict:
        g = self.group
        return {
            "office": self.r.office, "leader": self.r.leader, "group_leader": g.leader, "deputy": g.deputy,
            "liaison": g.liaison, "expert0": g.experts[0], "expert1": g.experts[1], "staff0": self.r.staff[0],
            "staff1": self.r.staff[1], "head1": self.r.heads[1], "outsider": self.other.staff[0],
        }


def build_world() -> World:
    r = make_round(units=5, experts=2, launch=True)
    other = make_round(units=1, experts=1, launch=True, office=r.office, leader=r.leader, auditor=r.auditor)
    for n, user in enumerate(m.User.objects.order_by("pk")):
        user.mobile, user.office_phone = f"1390000{n:04d}", f"0991-{n:04d}"
        user.save(update_fields=["mobile", "office_phone"])
    leader = r.groups[0].leader
    # Seed 004's leader evaluation: the round's leader listed as an evaluator (the body is read after that check).
    m.LeaderEvaluator.objects.create(round=r.round, user=r.leader)
    submissions.submission_save(user=r.staff[0], case=r.case(0), report="原稿", self_scores={"S1.1": "5"})
    case1 = advance_case(r, 1, upto="inspect")
    record = inspections.inspection_record_create(user=leader, case=case1, method="听汇报", date="2026-07-01")
    finding = inspections.finding_create(user=leader, case=case1, source="inspection", description="台账不全")
    case2 = advance_case(r, 2, upto="score")
    expert = r.groups[0].experts[0]
    sheet = m.ScoreSheet.objects.get(case=case2, expert=expert)
    sheets.score_sheet_save(user=expert, sheet=sheet, items=[{"item": "S1.1", "deduction": "1", "reason": "缺"}])
    advance_case(r, 3, upto="review")
    case4 = advance_case(r, 4, upto="inspect")
    done_record = inspections.inspection_record_create(user=leader, case=case4, method="听汇报", date="2026-07-01")
    done_finding = inspections.finding_create(user=leader, case=case4, source="inspection", description="已整改")
    advance_case(r, 4, upto="done")
    notification = Notification.objects.create(recipient=r.staff[0], event="test", subject="测试")
    document = documents.draft_create(user=r.office, round=r.round, kind="launch_notice")
    batch = DocumentBatch.objects.create(round=r.round, kind="feedback_letter", created_by=r.office)
    case0 = r.case(0)
    rectification = m.Rectification.objects.create(  # written directly: its flow is tested elsewhere
        round=r.round, case=case0, unit_id=case0.unit_id, group_id=case0.group_id, source="finding",
        problem="台账不全", plan_due=date(2030, 1, 1), due_date=date(2030, 2, 1))
    objection = m.Objection.objects.create(round=r.round, case=case0, reasons="扣分有误")  # directly, as above
    r.extra["declaration"] = m.BonusDeclaration.objects.create(  # written directly: tested in test_party_building
        round=r.round, case=case0, title="表彰", reason="理由", points_requested="1", declared_by=r.staff[0])
    return World(r, other, record, finding, done_record, done_finding, notification, document, batch, rectification,
                 objection)


world = module_world(build_world)


@pytest.fixture
def as_(world, api):
    people = world.people()
    return lambda who: api(people[who])


def snapshot() -> dict:
    """Everything the requests below could change."""
    return {
        "submissions": list(m.Submission.objects.order_by("pk").values_list("pk", "status", "report", "self_scores")),
        "item_scores": list(m.ItemScore.objects.order_by("pk").values_list("pk", "item", "deduction", "bonus", "reason")),
        "sheets": list(m.ScoreSheet.objects.order_by("pk").values_list("pk", "status", "reason", "total")),
        "findings": list(m.Finding.objects.order_by("pk").values_list("pk", "description", "deduction_amount",
                                                                       "occurrences")),
        "records": list(m.InspectionRecord.objects.order_by("pk").values_list("pk", "method", "date", "notes")),
        "cases": list(m.Case.objects.order_by("pk").values_list("pk", "status", "panel_override")),
        "tasks": list(Task.objects.order_by("pk").values_list("pk", "status", "owner")),
        "counts": [model.objects.count() for model in (m.Unit, m.Round, m.Group, m.SpecialBonus, m.AuditEntry, Token)],
        "notifications": list(Notification.objects.order_by("pk").values_list("pk", "read_at")),
        "documents": list(Document.objects.order_by("pk").values_list("pk", "status", "title", "body", "render_status")),
        "batches": DocumentBatch.objects.count(),
        "objections": list(m.Objection.objects.order_by("pk").values_list("pk", "status", "resolution")),
        "publication": list(m.Round.objects.order_by("pk").values_list("pk", "publication_starts_at", "results_final_at")),
    }


def refused(response, *fields: str) -> dict:
    """A field-level JSON 400 naming every one of `fields`."""
    assert response.status_code == 400, f"{response.status_code}: {response.content[:1000]!r}"
    body = response.json()
    assert set(fields) <= set(body["errors"]), body
    return body


def task_of(world, step: str, case_index: int, expert=None) -> int:
    return world.r.task(step, world.case(case_index), expert=expert).pk


def sheet_of(world) -> int:
    return m.ScoreSheet.objects.get(case=world.case(2), expert=world.group.experts[0], status="draft").pk


# --- 1. pages past the end ------------------------------------------------------------------------


def list_urls() -> list[str]:
    """Every paginated list of the API, from the schema (so a new one is covered without editing this)."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return [path for path, ops in schema["paths"].items()
            if "get" in ops and "{" not in path and "page" in {p["name"] for p in ops["get"].get("parameters", [])}]


BAD_PAGES = ["99999999999999999999", "9223372036854775807", "2147483648", "0", "-1", "abc", "1.5", "NaN", "1e3"]


@pytest.mark.parametrize("who", ["office", "expert0", "staff0"])
def test_a_page_out_of_range_is_the_documented_json_404_everywhere(world, as_, who):
    urls = list_urls()
    assert f"{API}/tasks/" in urls and f"{API}/findings/" in urls and len(urls) >= 10, urls
    queries = [{}] + [{"scope": scope} for scope in ("inbox", "queue", "archive", "all")]
    for url in urls:
        for query in queries if url == f"{API}/tasks/" else [{}]:
            for page in BAD_PAGES:
                response = as_(who).get(url, {**query, "page": page})
                assert response.status_code == 404, (url, query, page, response.status_code)
                assert response["Content-Type"] == "application/json" and "detail" in response.json()
            assert as_(who).get(url, {**query, "page": "1"}).status_code == 200, (url, query)


# --- 2. one parser for every number -----------------------------------------------------------------

BAD_POINTS = ["NaN", "Infinity", "-Infinity", "sNaN", "1e309", "-0.001", "1.005", "99999999999999999999",
              "1_0", "", True, [], {}]
BAD_INTS = ["99999999999999999999", "2147483648", "-1", "1.5", "NaN", "1e3", True]


def points_entry_points(world, bad):
    """(actor, method, url, body, the field the 400 must name) for every API body that takes points."""
    expert = world.group.experts[0]
    return [
        ("staff0", "put", f"{API}/cases/{world.case(0).pk}/submission/", {"self_scores": {"S1.1": bad}}, "self_scores"),
        ("staff0", "post", f"{API}/tasks/{task_of(world, 'prepare', 0)}/submit/", {"self_scores": {"S1.1": bad}},
         "self_scores"),
        ("expert0", "put", f"{API}/score-sheets/{sheet_of(world)}/items/",
         {"items": [{"item": "S1.1", "deduction": bad, "reason": "r"}]}, "items"),
        ("expert0", "put", f"{API}/score-sheets/{sheet_of(world)}/items/",
         {"items": [{"item": "S1.2", "bonus": bad, "reason": "r"}]}, "items"),
        ("expert0", "post", f"{API}/tasks/{task_of(world, 'score', 2, expert)}/submit/",
         {"items": [{"item": "S1.1", "deduction": bad, "reason": "r"}], "reason": "说明"}, "items"),
        ("group_leader", "post", f"{API}/findings/",
         {"case": world.case(1).pk, "source": "inspection", "description": "问题", "deduction_amount": bad},
         "deduction_amount"),
        ("group_leader", "patch", f"{API}/findings/{world.finding.pk}/", {"deduction_amount": bad}, "deduction_amount"),
        ("office", "post", f"{API}/special-bonuses/",
         {"case": world.case(1).pk, "level": "national", "title": "表彰", "amount": bad}, "amount"),
        ("group_leader", "post", f"{API}/cases/{world.case(3).pk}/panel-override/", {"panel": bad, "reason": "复核"},
         "panel"),
    ]


def int_entry_points(world, bad):
    return [
        ("group_leader", "post", f"{API}/findings/",
         {"case": world.case(1).pk, "source": "inspection", "description": "问题", "occurrences": bad}, "occurrences"),
        ("group_leader", "patch", f"{API}/findings/{world.finding.pk}/", {"occurrences": bad}, "occurrences"),
        ("group_leader", "post", f"{API}/tasks/{task_of(world, 'review', 3)}/return/",
         {"sheets": [bad], "comment": "请复核"}, "sheets"),
        ("office", "post", f"{API}/groups/",
         {"round": world.r.round.pk, "number": bad, "name": "新组", "units": [], "members": []}, "number"),
        ("office", "patch", f"{API}/units/{world.r.units[0].pk}/", {"sort_order": bad}, "sort_order"),
        ("office", "patch", f"{API}/rounds/{world.r.round.pk}/", {"year": bad}, "year"),
    ]


@pytest.mark.parametrize("bad", BAD_POINTS, ids=repr)
def test_bad_amounts_are_a_field_level_400_at_every_entry_point(world, as_, bad):
    before = snapshot()
    for who, method, url, body, field in points_entry_points(world, bad):
        if field == "panel" and bad == "":
            continue  # a blank panel clears the override: not a number, not an error
        refused(getattr(as_(who), method)(url, body, format="json"), field)
        assert snapshot() == before, url


@pytest.mark.parametrize("bad", BAD_INTS, ids=repr)
def test_bad_integers_are_a_field_level_400_at_every_entry_point(world, as_, bad):
    before = snapshot()
    for who, method, url, body, field in int_entry_points(world, bad):
        refused(getattr(as_(who), method)(url, body, format="json"), field)
        assert snapshot() == before, url


@pytest.mark.parametrize("bad", [b for b in BAD_POINTS if isinstance(b, str) and b], ids=repr)
def test_the_pages_forms_use_the_same_parser(bad):
    form = FindingForm({"source": "inspection", "description": "问题", "deduction_amount": bad})
    assert not form.is_valid() and "deduction_amount" in form.errors, form.errors


@pytest.mark.parametrize("bad", ["99999999999999999999", "-1", "1.5", "abc"])
def test_the_review_form_refuses_ids_out_of_range(bad):
    form = ReviewForm({"sheets": [bad], "grade": "", "comment": "请复核"})
    assert not form.is_valid() and "sheets" in form.errors, form.errors


def test_the_parser_itself():
    from django.core.exceptions import ValidationError

    from cases.services.common import parse_int, parse_points

    assert parse_points("2.5", "x") == parse_points(2.5, "x") == parse_points("2.50", "x")
    assert str(parse_points("-0", "x")) == "0.00"
    assert str(parse_points("999999.99", "x")) == "999999.99"
    assert parse_int("2147483647", "n") == 2**31 - 1
    for bad in BAD_POINTS:
        with pytest.raises(ValidationError):
            parse_points(bad, "x")
    for bad in [*BAD_INTS, "١٢"]:
        with pytest.raises(ValidationError):
            parse_int(bad, "n")


# --- 3. unknown fields refused by name, on every write endpoint ----------------------------------------


def write_requests(world) -> dict:
    """(method, path as the schema names it) → (actor, url, a body with only known fields): every
    write endpoint, as one who may write there. Each gets `BOGUS` added."""
    expert = world.group.experts[0]
    group_body = {"round": world.r.round.pk, "number": 7, "name": "第七组", "units": [],
                  "members": [{"user": world.r.office.pk, "role": "leader"}]}
    return {
        ("POST", "/api/v1/auth/token/"): (None, f"{API}/auth/token/",
                                          {"username": world.r.staff[0].username, "password": PASSWORD}),
        ("DELETE", "/api/v1/auth/token/"): ("staff0", f"{API}/auth/token/", {}),
        ("POST", "/api/v1/cases/{id}/extend/"): ("office", f"{API}/cases/{world.case(0).pk}/extend/",
                                                {"due": "2030-01-01T00:00:00+08:00", "reason": "延期"}),
        ("POST", "/api/v1/cases/{id}/panel-override/"): ("group_leader",
                                                         f"{API}/cases/{world.case(3).pk}/panel-override/",
                                                         {"panel": "80", "reason": "复核"}),
        ("PUT", "/api/v1/cases/{id}/submission/"): ("staff0", f"{API}/cases/{world.case(0).pk}/submission/",
                                                    {"report": "改写"}),
        ("POST", "/api/v1/document-batches/"): ("office", f"{API}/document-batches/", {"round": world.r.round.pk}),
        ("POST", "/api/v1/document-batches/{id}/retry/"): ("office", f"{API}/document-batches/{world.batch.pk}/retry/", {}),
        ("POST", "/api/v1/documents/"): ("office", f"{API}/documents/", {"round": world.r.round.pk,
                                                                         "kind": "launch_notice"}),
        ("PATCH", "/api/v1/documents/{id}/"): ("office", f"{API}/documents/{world.document.pk}/", {"title": "改"}),
        ("POST", "/api/v1/documents/{id}/correct/"): ("office", f"{API}/documents/{world.document.pk}/correct/", {}),
        ("POST", "/api/v1/documents/{id}/issue/"): ("office", f"{API}/documents/{world.document.pk}/issue/", {}),
        ("POST", "/api/v1/documents/{id}/preview/"): ("office", f"{API}/documents/{world.document.pk}/preview/", {}),
        ("POST", "/api/v1/findings/"): ("group_leader", f"{API}/findings/",
                                        {"case": world.case(1).pk, "source": "inspection", "description": "问题"}),
        ("PATCH", "/api/v1/findings/{id}/"): ("group_leader", f"{API}/findings/{world.finding.pk}/",
                                              {"description": "改"}),
        ("DELETE", "/api/v1/findings/{id}/"): ("group_leader", f"{API}/findings/{world.finding.pk}/", {}),
        ("POST", "/api/v1/groups/"): ("office", f"{API}/groups/", group_body),
        ("POST", "/api/v1/inspections/"): ("group_leader", f"{API}/inspections/",
                                           {"case": world.case(1).pk, "method": "听汇报", "date": "2026-07-02"}),
        ("PATCH", "/api/v1/inspections/{id}/"): ("group_leader", f"{API}/inspections/{world.record.pk}/",
                                                 {"notes": "改"}),
        ("DELETE", "/api/v1/inspections/{id}/"): ("group_leader", f"{API}/inspections/{world.record.pk}/", {}),
        ("POST", "/api/v1/notifications/{id}/read/"): ("staff0", f"{API}/notifications/{world.notification.pk}/read/",
                                                       {}),
        ("PUT", "/api/v1/notifications/preferences/"): ("staff0", f"{API}/notifications/preferences/",
                                                        {"email_enabled": False, "sms_enabled": False,
                                                         "daily_digest": False}),
        ("PATCH", "/api/v1/notifications/preferences/"): ("staff0", f"{API}/notifications/preferences/",
                                                          {"email_enabled": False}),
        ("POST", "/api/v1/notifications/read-all/"): ("staff0", f"{API}/notifications/read-all/", {}),
        ("POST", "/api/v1/rounds/"): ("office", f"{API}/rounds/", {"title": "新一轮"}),
        ("PATCH", "/api/v1/rounds/{id}/"): ("office", f"{API}/rounds/{world.r.round.pk}/", {"title": "改名"}),
        ("POST", "/api/v1/rounds/{id}/compute-results/"): ("office", f"{API}/rounds/{world.r.round.pk}/compute-results/",
                                                           {}),
        ("POST", "/api/v1/rounds/{id}/extend-phase/"): ("office", f"{API}/rounds/{world.r.round.pk}/extend-phase/",
                                                        {"phase": "prepare", "due": "2030-01-01T00:00:00+08:00",
                                                         "reason": "延期"}),
        ("POST", "/api/v1/rounds/{id}/launch/"): ("office", f"{API}/rounds/{world.r.round.pk}/launch/", {}),
        ("POST", "/api/v1/rounds/{id}/urge/"): ("office", f"{API}/rounds/{world.r.round.pk}/urge/", {}),
        ("PUT", "/api/v1/score-sheets/{id}/items/"): ("expert0", f"{API}/score-sheets/{sheet_of(world)}/items/",
                                                      {"items": [{"item": "S1.1", "deduction": "2", "reason": "r"}]}),
        ("POST", "/api/v1/scoring/compute"): ("staff0", f"{API}/scoring/compute", {}),
        ("POST", "/api/v1/special-bonuses/"): ("office", f"{API}/special-bonuses/",
                                               {"case": world.case(1).pk, "level": "national", "title": "表彰",
                                                "amount": "1"}),
        ("POST", "/api/v1/tasks/{id}/approve/"): ("group_leader", f"{API}/tasks/{task_of(world, 'review', 3)}/approve/",
                                                  {}),
        ("POST", "/api/v1/tasks/{id}/claim/"): ("staff0", f"{API}/tasks/{task_of(world, 'prepare', 0)}/claim/", {}),
        ("POST", "/api/v1/tasks/{id}/extend/"): ("office", f"{API}/tasks/{task_of(world, 'prepare', 0)}/extend/",
                                                 {"due": "2030-01-01T00:00:00+08:00", "reason": "延期"}),
        ("POST", "/api/v1/tasks/{id}/return/"): ("group_leader", f"{API}/tasks/{task_of(world, 'review', 3)}/return/",
                                                 {"comment": "请复核"}),
        ("POST", "/api/v1/tasks/{id}/submit/"): ("expert0",
                                                 f"{API}/tasks/{task_of(world, 'score', 2, expert)}/submit/",
                                                 {"reason": "说明"}),
        ("POST", "/api/v1/tasks/{id}/unclaim/"): ("staff0", f"{API}/tasks/{task_of(world, 'prepare', 0)}/unclaim/",
                                                  {}),
        ("PUT", "/api/v1/rectifications/{id}/plan/"): ("staff0", f"{API}/rectifications/{world.rectification.pk}/plan/",
                                                       {"target": "目标", "measures": [
                                                           {"text": "措施", "responsible": "张三",
                                                            "due_date": "2030-01-15"}]}),
        ("PUT", "/api/v1/rectifications/{id}/publication/"): (
            "office", f"{API}/rectifications/{world.rectification.pk}/publication/",
            {"published_from": "2030-01-01", "published_until": "2030-02-15", "where": "门户网站"}),
        ("PUT", "/api/v1/rectifications/{id}/dues/"): (
            "office", f"{API}/rectifications/{world.rectification.pk}/dues/",
            {"plan_due": "2030-01-10", "due_date": "2030-02-15", "reason": "延期"}),
        ("POST", "/api/v1/round-templates/create-round/"): (
            "office", f"{API}/round-templates/create-round/",
            {"template": "city_organ_annual", "year": 2030, "start": "2030-01-01"}),
        ("POST", "/api/v1/rectifications/{id}/progress/"): ("staff0",
                                                            f"{API}/rectifications/{world.rectification.pk}/progress/",
                                                            {"text": "进展"}),
        ("PUT", "/api/v1/cases/{id}/self-check/"): ("staff0", f"{API}/cases/{world.case(0).pk}/self-check/",
                                                    {"counts": {}}),
        ("PUT", "/api/v1/groups/{id}/recommendations/"): ("head1", f"{API}/groups/{world.group.group.pk}/recommendations/",
                                                          {"organisations": []}),
        ("POST", "/api/v1/bonus-declarations/"): ("staff0", f"{API}/bonus-declarations/",
                                                  {"case": world.case(0).pk, "title": "表彰", "reason": "理由",
                                                   "points_requested": "1"}),
        ("POST", "/api/v1/bonus-declarations/{id}/approve/"): (
            "office", f"{API}/bonus-declarations/{world.r.extra['declaration'].pk}/approve/", {"points_granted": "1"}),
        ("POST", "/api/v1/bonus-declarations/{id}/refuse/"): (
            "office", f"{API}/bonus-declarations/{world.r.extra['declaration'].pk}/refuse/", {"reason": "否"}),
        ("POST", "/api/v1/units/"): ("office", f"{API}/units/", {"code": "NEW9", "name": "新单位"}),
        ("POST", "/api/v1/objections/"): ("staff0", f"{API}/objections/", {"case": world.case(0).pk, "reasons": "异议"}),
        ("POST", "/api/v1/objections/{id}/resolve/"): ("office", f"{API}/objections/{world.objection.pk}/resolve/",
                                                       {"decision": "reject", "resolution": "维持"}),
        ("POST", "/api/v1/rounds/{id}/publication/open/"): ("office", f"{API}/rounds/{world.r.round.pk}/publication/open/",
                                                            {"days": 5}),
        ("POST", "/api/v1/rounds/{id}/publication/finalise/"): (
            "office", f"{API}/rounds/{world.r.round.pk}/publication/finalise/", {}),
        ("PATCH", "/api/v1/units/{id}/"): ("office", f"{API}/units/{world.r.units[0].pk}/", {"name": "改名"}),
        ("PUT", "/api/v1/rounds/{id}/leader-evaluators/"): ("office", f"{API}/rounds/{world.r.round.pk}/leader-evaluators/",
                                                            {"users": [world.r.leader.pk]}),
        ("POST", "/api/v1/rounds/{id}/leader-evaluation/submit/"): (
            "leader", f"{API}/rounds/{world.r.round.pk}/leader-evaluation/submit/", {"case": world.case(0).pk, "score": 4}),
        ("POST", "/api/v1/rounds/{id}/leader-evaluation/compile/"): (
            "office", f"{API}/rounds/{world.r.round.pk}/leader-evaluation/compile/", {}),
        ("POST", "/api/v1/rounds/{id}/leader-evaluation/approve/"): (
            "leader", f"{API}/rounds/{world.r.round.pk}/leader-evaluation/approve/", {}),
        ("PUT", "/api/v1/cases/{id}/publication-duties/{kind}/"): (
            "staff0", f"{API}/cases/{world.case(0).pk}/publication-duties/notice/",
            {"place": "门户网站", "start_date": "2026-01-05"}),
        ("PUT", "/api/v1/cases/{id}/questionnaire/"): (
            "staff0", f"{API}/cases/{world.case(0).pk}/questionnaire/", {"topic": "热点工作", "questions": ["问题一"]}),
        ("PUT", "/api/v1/cases/{id}/performance-analysis/"): (
            "staff0", f"{API}/cases/{world.case(0).pk}/performance-analysis/",
            {"completion": "完成情况", "innovation": "亮点", "weaknesses": "不足"}),
    }


# Multipart uploads: their serializers are strict like the rest, but their views are another part of
# issue 9 (permission before reading the file); tests/cases/test_attachments.py and test_rubric_api.py;
# the Excel imports of units, people and groups in tests/cases/test_people_import.py, the sample frames in
# tests/cases/test_sample_frames.py.
UPLOADS = {("POST", "/api/v1/attachments/"), ("POST", "/api/v1/rubrics/import/"),
           ("POST", "/api/v1/imports/people/"), ("POST", "/api/v1/rounds/{id}/groups/import/"),
           ("POST", "/api/v1/rounds/{id}/units/{unit}/sample-frames/{kind}/")}


def test_every_write_endpoint_is_walked(world):
    schema = SchemaGenerator().get_schema(request=None, public=True)
    writes = {(method.upper(), path) for path, ops in schema["paths"].items() for method in ops
              if method in ("post", "put", "patch", "delete")}
    assert writes == set(write_requests(world)) | UPLOADS


def test_unknown_fields_are_refused_by_name_on_every_write_endpoint(world, as_):
    before = snapshot()
    for (method, path), (who, url, body) in write_requests(world).items():
        client = APIClient() if who is None else as_(who)
        response = getattr(client, method.lower())(url, {**body, BOGUS: 1, "bogus_two": "x"}, format="json")
        if path == "/api/v1/scoring/compute":  # the exchange validator: every unknown key by its path
            assert response.status_code == 400 and BOGUS in str(response.json()["errors"]), response.content
        else:
            refused(response, BOGUS, "bogus_two")
        assert snapshot() == before, (method, path)


def test_unknown_fields_in_nested_bodies_are_named_with_their_path(world, as_):
    before = snapshot()
    body = {"round": world.r.round.pk, "number": 7, "name": "第七组", "units": [],
            "members": [{"user": world.r.office.pk, "role": "leader", "mobile": "1"}]}
    errors = refused(as_("office").post(f"{API}/groups/", body, format="json"), "members")["errors"]
    assert any("members[0].mobile" in msg for msg in errors["members"]), errors
    rows = {"items": [{"item": "S1.1", "deduction": "1", "reason": "r", "dedcution": "2"}]}
    errors = refused(as_("expert0").put(f"{API}/score-sheets/{sheet_of(world)}/items/", rows, format="json"),
                     "items")["errors"]
    assert any("items[0].dedcution" in msg for msg in errors["items"]), errors
    # A field the API only shows is not written either, and says so.
    errors = refused(as_("group_leader").patch(f"{API}/findings/{world.finding.pk}/",
                                               {"created_by": world.r.office.pk, "description": "改"}, format="json"),
                     "created_by")["errors"]
    assert errors["created_by"] == ["只读字段，不能写入。"]
    assert snapshot() == before


# --- 4, 5. score sheets: every problem at once; the answer is what was written ---------------------


def test_a_sheet_with_several_problems_gets_all_of_them(world, as_):
    before = snapshot()
    rows = {"items": [
        {"item": "S1.1", "deduction": "99", "bonus": "x", "reason": "r"},
        {"item": "S9.9", "deduction": "1"},
        {"item": "S1.2", "deduction": "1.005", "bonus": "-1"},
        {"item": "S2.1", "deduction": "1", "reason": {"text": "not a string"}},  # was stored as its repr
    ]}
    messages = refused(as_("expert0").put(f"{API}/score-sheets/{sheet_of(world)}/items/", rows, format="json"),
                       "items")["errors"]["items"]
    for where in ("items[0].deduction", "items[0].bonus", "items[1].item", "items[2].deduction", "items[2].bonus",
                  "items[3].reason"):
        assert any(msg.startswith(where) for msg in messages), (where, messages)
    # At submit, the rows' problems and the sheet's (a deduction without its reason) together.
    submit = {"items": [{"item": "S1.1", "deduction": "99", "reason": "r"}, {"item": "S1.2", "deduction": "1"}],
              "reason": "说明"}
    url = f"{API}/tasks/{task_of(world, 'score', 2, world.group.experts[0])}/submit/"
    messages = refused(as_("expert0").post(url, submit, format="json"), "items")["errors"]["items"]
    assert any(msg.startswith("items[0].deduction") for msg in messages), messages
    assert any(msg.startswith("S1.2") for msg in messages), messages
    assert snapshot() == before


def test_saving_items_answers_what_was_written(world, as_):
    url = f"{API}/score-sheets/{sheet_of(world)}/items/"
    body = {"items": [{"item": "S1.1", "deduction": "2.5", "reason": "新理由"}, {"item": "S1.2", "bonus": "1"}]}
    response = as_("expert0").put(url, body, format="json")
    assert response.status_code == 200, response.content
    written = {row["item"]: (row["deduction"], row["bonus"], row["reason"]) for row in response.json()["item_scores"]}
    assert written == {"S1.1": ("2.50", "0.00", "新理由"), "S1.2": ("0.00", "1.00", "")}
    assert response.json() == as_("expert0").get(f"{API}/score-sheets/{sheet_of(world)}/").json()


# --- 6, 7. findings and inspection records: the leader's and deputies', corrected until reviewed -------


def test_only_the_leader_and_deputies_record_findings_and_inspections(world, as_):
    finding = {"case": world.case(1).pk, "source": "inspection", "description": "问题"}
    record = {"case": world.case(1).pk, "method": "听汇报", "date": "2026-07-02"}
    bonus = {"case": world.case(1).pk, "level": "national", "title": "表彰", "amount": "1"}
    expected = {
        "group_leader": (201, 201, 403), "deputy": (201, 201, 403), "office": (201, 403, 201),
        "expert0": (403, 403, 403), "liaison": (403, 403, 403), "staff1": (403, 403, 403),
        "outsider": (404, 404, 404),
    }
    for who, (want_finding, want_record, want_bonus) in expected.items():
        got = (as_(who).post(f"{API}/findings/", finding, format="json").status_code,
               as_(who).post(f"{API}/inspections/", record, format="json").status_code,
               as_(who).post(f"{API}/special-bonuses/", bonus, format="json").status_code)
        assert got == (want_finding, want_record, want_bonus), who


def test_a_finding_is_corrected_and_withdrawn_with_audit_entries(world, as_):
    url = f"{API}/findings/{world.finding.pk}/"
    for who, status in [("expert0", 403), ("liaison", 403), ("staff1", 403), ("office", 403), ("outsider", 404)]:
        assert as_(who).patch(url, {"description": "改"}, format="json").status_code == status, who
        # Permission before the body: a bad body from one who may not write is still a 403 / 404.
        assert as_(who).patch(url, {"occurrences": "many", BOGUS: 1}, format="json").status_code == status, who
        assert as_(who).delete(url).status_code == status, who
    response = as_("deputy").patch(url, {"description": "台账不全（已核实）", "deduction_amount": "0.5"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["description"] == "台账不全（已核实）" and response.json()["deduction_amount"] == "0.50"
    entry = m.AuditEntry.objects.get(action="finding.update", object_id=str(world.finding.pk))
    assert entry.actor == world.group.deputy
    assert entry.before["description"] == "台账不全" and entry.after["description"] == "台账不全（已核实）"
    assert (entry.before["deduction_amount"], entry.after["deduction_amount"]) == ("0.00", "0.50")
    assert as_("group_leader").delete(url).status_code == 204
    assert not m.Finding.objects.filter(pk=world.finding.pk).exists()
    entry = m.AuditEntry.objects.get(action="finding.delete", object_id=str(world.finding.pk))
    assert entry.before["description"] == "台账不全（已核实）"
    assert as_("group_leader").delete(url).status_code == 404


def test_an_inspection_record_is_corrected_and_withdrawn_with_audit_entries(world, as_):
    url = f"{API}/inspections/{world.record.pk}/"
    assert as_("expert0").patch(url, {"notes": "改"}, format="json").status_code == 403
    refused(as_("deputy").patch(url, {"date": "昨天", "method": "打电话"}, format="json"), "date", "method")
    refused(as_("deputy").patch(url, {"case": world.case(2).pk}, format="json"), "case")
    response = as_("deputy").patch(url, {"notes": "补记", "place": "会议室"}, format="json")
    assert response.status_code == 200 and response.json()["notes"] == "补记", response.content
    entry = m.AuditEntry.objects.get(action="inspection.update", object_id=str(world.record.pk))
    assert (entry.before["notes"], entry.after["notes"]) == ("", "补记")
    assert as_("group_leader").delete(url).status_code == 204
    assert m.AuditEntry.objects.filter(action="inspection.delete", object_id=str(world.record.pk)).exists()


def test_once_the_case_is_reviewed_corrections_are_a_conflict(world, as_):
    before = snapshot()
    for url in (f"{API}/findings/{world.done_finding.pk}/", f"{API}/inspections/{world.done_record.pk}/"):
        assert as_("group_leader").patch(url, {"notes" if "insp" in url else "description": "改"},
                                         format="json").status_code == 409
        assert as_("group_leader").delete(url).status_code == 409
    assert snapshot() == before


# --- 8. the group as a unit sees it ---------------------------------------------------------------------


def test_a_unit_sees_its_group_with_the_published_contacts_only(world, as_):
    group = world.group.group
    for who in ("office", "group_leader", "expert1", "liaison"):  # the group itself and the office: everything
        members = {row["role"]: row["user_detail"] for row in as_(who).get(f"{API}/groups/{group.pk}/").json()["members"]}
        assert members["expert"]["mobile"].startswith("139"), who
    for who in ("staff0", "head1"):
        listed = as_(who).get(f"{API}/groups/").json()["results"]
        assert [row["id"] for row in listed] == [group.pk], who
        rows = {row["user"]: row for row in listed[0]["members"]}
        assert listed[0]["phone"] == group.phone
        for member in group.members.all():
            detail = rows[member.user_id]["user_detail"]
            assert detail["display_name"] == member.user.display_name and "username" not in detail
            public = member.role in (m.GroupRole.LEADER, m.GroupRole.LIAISON)
            assert (detail["mobile"] == member.user.mobile) is public, (who, member.role)
            assert (detail["office_phone"] == member.user.office_phone) is public, (who, member.role)
    # The outsider (a unit of another round) sees neither the group nor anyone in it.
    assert as_("outsider").get(f"{API}/groups/{group.pk}/").status_code == 404
    assert group.pk not in {row["id"] for row in as_("outsider").get(f"{API}/groups/").json()["results"]}


# --- 9. revoking one's token ---------------------------------------------------------------------------


def test_a_token_is_revoked_by_its_owner_with_an_audit_entry(world):
    staff = world.r.staff[0]
    client = APIClient()
    key = client.post(f"{API}/auth/token/", {"username": staff.username, "password": PASSWORD},
                      format="json").json()["token"]
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get(f"{API}/cases/").status_code == 200
    assert client.delete(f"{API}/auth/token/").status_code == 204
    assert client.get(f"{API}/cases/").status_code in (401, 403)  # 403: DRF's answer with session auth first
    assert not Token.objects.filter(user=staff).exists()
    entry = m.AuditEntry.objects.get(action="account.token_revoked", object_id=staff.username)
    assert entry.actor == staff and entry.after == {"api_tokens_revoked": 1}
    assert APIClient().delete(f"{API}/auth/token/").status_code in (401, 403)  # no one to revoke for
