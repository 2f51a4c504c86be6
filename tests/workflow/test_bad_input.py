"""Bad input gets a clear 4xx JSON error with field-level messages and changes nothing (SPEC 11).

One world per module (rolled back at the end; each test in its own savepoint). Its round has a
report limit of 50 characters and four cases: case 0 is being prepared (a draft "原稿" is saved),
case 1 waits for its head's sign-off, case 2 is being scored (expert 0 saved one item), case 3 waits
for review. A second round waits for the leader's approval.

Every test compares a snapshot of everything the API can change before and after the request.
"""

from dataclasses import dataclass

import pytest
from viewflow.workflow.models import Process, Task

from cases import models as m
from cases.services import sheets, submissions
from tests.api_helpers import API
from tests.conftest import module_world
from tests.factories import act, advance_case, make_round, make_rubric, round_dates

LIMIT = 50


@dataclass
class World:
    r: object
    approving: object
    foreign_item: m.RubricItem

    def case(self, i):
        return self.r.case(i)


def build_world() -> World:
    r = make_round(units=4, experts=2, launch=True, config={"report_char_limit": LIMIT})
    submissions.submission_save(user=r.staff[0], case=r.case(0), report="原稿", self_scores={"S1.1": "5"})
    advance_case(r, 1, upto="sign_off")
    case2 = advance_case(r, 2, upto="score")
    expert = r.groups[0].experts[0]
    sheet = m.ScoreSheet.objects.get(case=case2, expert=expert)
    sheets.score_sheet_save(user=expert, sheet=sheet, items=[{"item": "S1.1", "deduction": "1", "reason": "缺"}])
    advance_case(r, 3, upto="review")
    approving = make_round(units=1, experts=1, launch=True, office=r.office, leader=r.leader, auditor=r.auditor)
    advance_case(approving, 0, upto="done")
    act(approving, approving.office, "compile")
    foreign_item = make_rubric().items.get(code="S1.1")
    return World(r, approving, foreign_item)


world = module_world(build_world)


def snapshot() -> dict:
    """Everything a request could have changed."""
    return {
        "submissions": list(
            m.Submission.objects.order_by("pk").values_list(
                "pk", "attempt", "status", "report", "self_scores", "statistics", "return_comment"
            )
        ),
        "sheets": list(
            m.ScoreSheet.objects.order_by("pk").values_list(
                "pk", "attempt", "status", "total", "reason", "return_comment"
            )
        ),
        "item_scores": list(
            m.ItemScore.objects.order_by("pk").values_list("pk", "sheet", "item", "deduction", "bonus", "reason")
        ),
        "tasks": list(Task.objects.order_by("pk").values_list("pk", "status", "owner", "data")),
        "processes": list(Process.objects.order_by("pk").values_list("pk", "status", "data")),
        "cases": list(m.Case.objects.order_by("pk").values_list("pk", "status", "submitted_at")),
        "rounds": list(
            m.Round.objects.order_by("pk").values_list(
                "pk",
                "status",
                "title",
                "config",
                "prepare_due",
                "inspect_due",
                "review_due",
                "approve_due",
                "report_due",
            )
        ),
        "counts": [
            model.objects.count()
            for model in (m.Unit, m.Group, m.GroupMember, m.Finding, m.InspectionRecord, m.AuditEntry, m.Rubric)
        ],
    }


# --- request builders: (world) -> (actor, method, url, body) --------------------------------------


def task_id(w, step, case_index=None, expert=None, *, approving=False):
    setup = w.approving if approving else w.r
    case = None if case_index is None else setup.case(case_index)
    return setup.task(step, case, expert=expert).pk


def sheet_id(w, case_index, expert_index):
    return m.ScoreSheet.objects.get(
        case=w.case(case_index), expert=w.r.groups[0].experts[expert_index], status="draft"
    ).pk


def round_body(w, **over):
    body = {
        "title": "新一轮",
        "kind": "annual",
        "year": 2027,
        "rubric": w.r.rubric.pk,
        **{k: v.isoformat() for k, v in round_dates().items()},
    }
    body.update(over)
    return {k: v for k, v in body.items() if v is not None}


def sheet_put(item="S1.1", **row):
    return lambda w: (
        "expert0",
        "put",
        f"{API}/score-sheets/{sheet_id(w, 2, 0)}/items/",
        {"items": [{"item": item, "reason": "理由", **row}]},
    )


def score_submit(item="S1.1", **row):
    return lambda w: (
        "expert0",
        "post",
        f"{API}/tasks/{task_id(w, 'score', 2, w.r.groups[0].experts[0])}/submit/",
        {"items": [{"item": item, "reason": "理由", **row}]},
    )


def sub_put(**body):
    return lambda w: ("staff0", "put", f"{API}/cases/{w.case(0).pk}/submission/", body)


def prepare_submit(**body):
    return lambda w: ("staff0", "post", f"{API}/tasks/{task_id(w, 'prepare', 0)}/submit/", body)


def review_return(**body):
    return lambda w: ("group_leader", "post", f"{API}/tasks/{task_id(w, 'review', 3)}/return/", body)


def submitted_sheet(w, case_index=3):
    return m.ScoreSheet.objects.filter(case=w.case(case_index), status="submitted").order_by("pk").first().pk


# name, request, status, error fields, a text the messages must contain
CASES = [
    # --- missing fields and wrong types
    (
        "round: missing fields",
        lambda w: ("office", "post", f"{API}/rounds/", {}),
        400,
        ["title", "kind", "year", "rubric", "prepare_due", "report_due"],
        None,
    ),
    (
        "round: wrong types",
        lambda w: (
            "office",
            "post",
            f"{API}/rounds/",
            round_body(w, kind="weekly", year="二〇二七", rubric=999999, prepare_due="tomorrow"),
        ),
        400,
        ["kind", "year", "rubric", "prepare_due"],
        None,
    ),
    (
        "round: phases out of order",
        lambda w: ("office", "post", f"{API}/rounds/", round_body(w, inspect_due="2020-01-01T00:00:00+08:00")),
        400,
        ["inspect_due"],
        "prepare_due",
    ),
    (
        "round: report limit not a number",
        lambda w: ("office", "post", f"{API}/rounds/", round_body(w, config={"report_char_limit": "many"})),
        400,
        ["config"],
        "report_char_limit",
    ),
    (
        "round: patch with a bad date",
        lambda w: ("office", "patch", f"{API}/rounds/{w.r.round.pk}/", {"review_due": "next week"}),
        400,
        ["review_due"],
        None,
    ),
    (
        "group: missing fields",
        lambda w: ("office", "post", f"{API}/groups/", {"round": w.r.round.pk}),
        400,
        ["number", "name", "members", "units"],
        None,
    ),
    (
        "group: unknown member role",
        lambda w: (
            "office",
            "post",
            f"{API}/groups/",
            {
                "round": w.r.round.pk,
                "number": 9,
                "name": "第九组",
                "units": [],
                "members": [{"user": w.r.office.pk, "role": "boss"}],
            },
        ),
        400,
        ["members"],
        "members[0].role",
    ),
    (
        "unit: duplicate code, missing category",
        lambda w: ("office", "post", f"{API}/units/", {"code": w.r.units[0].code, "name": "另一个单位"}),
        400,
        ["code", "category"],
        None,
    ),
    (
        "submission: wrong types",
        sub_put(self_scores=["S1.1"], statistics="完成6次"),
        400,
        ["self_scores", "statistics"],
        None,
    ),
    (
        "prepare submit: wrong types",
        prepare_submit(self_scores="5", statistics=[1, 2]),
        400,
        ["self_scores", "statistics"],
        None,
    ),
    (
        "finding: missing fields",
        lambda w: ("group_leader", "post", f"{API}/findings/", {"case": w.case(2).pk}),
        400,
        ["source", "description"],
        None,
    ),
    (
        "inspection: unknown method, bad date",
        lambda w: (
            "group_leader",
            "post",
            f"{API}/inspections/",
            {"case": w.case(2).pk, "method": "打电话", "date": "昨天"},
        ),
        400,
        ["method", "date"],
        None,
    ),
    (
        "sheet: items missing",
        lambda w: ("expert0", "put", f"{API}/score-sheets/{sheet_id(w, 2, 0)}/items/", {}),
        400,
        ["items"],
        None,
    ),
    (
        "sheet: items not a list",
        lambda w: ("expert0", "put", f"{API}/score-sheets/{sheet_id(w, 2, 0)}/items/", {"items": "全部满分"}),
        400,
        ["items"],
        None,
    ),
    (
        "score submit: items not a list",
        lambda w: (
            "expert0",
            "post",
            f"{API}/tasks/{task_id(w, 'score', 2, w.r.groups[0].experts[0])}/submit/",
            {"items": "全部满分"},
        ),
        400,
        ["items"],
        None,
    ),
    (
        "review return: sheets not integers",
        review_return(sheets=["第一张"], comment="请复核"),
        400,
        ["sheets"],
        "sheets[0]",
    ),
    # --- the report limit of the round's configuration
    ("submission: report over the limit", sub_put(report="字" * (LIMIT + 1)), 400, ["report"], f"{LIMIT}"),
    ("prepare submit: report over the limit", prepare_submit(report="字" * (LIMIT + 1)), 400, ["report"], f"{LIMIT}"),
    ("prepare submit: empty report", prepare_submit(report="  "), 400, ["report"], None),
    # --- numbers: above max, above the bonus cap, unknown item, > 2 decimals, negative
    (
        "submission: self-score above the item's max",
        sub_put(self_scores={"S1.1": "6.01"}),
        400,
        ["self_scores"],
        "S1.1",
    ),
    ("submission: self-score unknown item", sub_put(self_scores={"S9.9": "1"}), 400, ["self_scores"], "S9.9"),
    ("submission: self-score three decimals", sub_put(self_scores={"S1.1": "1.005"}), 400, ["self_scores"], "S1.1"),
    ("submission: self-score negative", sub_put(self_scores={"S1.1": "-1"}), 400, ["self_scores"], "S1.1"),
    ("sheet: deduction above the item's max", sheet_put(deduction="6.01"), 400, ["items"], "6"),
    ("sheet: bonus above the cap", sheet_put("S1.2", bonus="2.01"), 400, ["items"], "2"),
    ("sheet: bonus on an item without bonus", sheet_put(bonus="0.5"), 400, ["items"], None),
    ("sheet: unknown item", sheet_put("S9.9", deduction="1"), 400, ["items"], "S9.9"),
    ("sheet: three decimals", sheet_put(deduction="0.125"), 400, ["items"], "items[0].deduction"),
    ("sheet: negative deduction", sheet_put(deduction="-1"), 400, ["items"], "items[0].deduction"),
    ("sheet: not a number", sheet_put(deduction="一分"), 400, ["items"], "items[0].deduction"),
    ("score submit: deduction above the item's max", score_submit("S2.1", deduction="3.5"), 400, ["items"], "3"),
    ("score submit: bonus above the cap", score_submit("S1.2", bonus="2.5"), 400, ["items"], "2"),
    ("score submit: unknown item", score_submit("S9.9", deduction="1"), 400, ["items"], "S9.9"),
    ("score submit: three decimals", score_submit(deduction="1.001"), 400, ["items"], "items[0].deduction"),
    ("score submit: negative", score_submit(deduction="-0.5"), 400, ["items"], "items[0].deduction"),
    ("score submit: deduction without a reason", score_submit(deduction="1", reason=""), 400, ["items"], "S1.1"),
    (
        "finding: negative deduction",
        lambda w: (
            "group_leader",
            "post",
            f"{API}/findings/",
            {"case": w.case(2).pk, "source": "inspection", "description": "问题", "deduction_amount": "-1"},
        ),
        400,
        ["deduction_amount"],
        None,
    ),
    (
        "finding: item of another rubric",
        lambda w: (
            "group_leader",
            "post",
            f"{API}/findings/",
            {"case": w.case(2).pk, "source": "inspection", "description": "问题", "item": w.foreign_item.pk},
        ),
        400,
        ["item"],
        None,
    ),
    # --- task actions
    (
        "task: not yours (office on the unit's prepare)",
        lambda w: ("office", "post", f"{API}/tasks/{task_id(w, 'prepare', 0)}/submit/", {"report": "代写"}),
        403,
        [],
        None,
    ),
    (
        "task: not yours (leader on an expert's sheet)",
        lambda w: ("leader", "post", f"{API}/tasks/{task_id(w, 'score', 2, w.r.groups[0].experts[0])}/submit/", {}),
        403,
        [],
        None,
    ),
    (
        "task: action not offered by the step",
        lambda w: ("staff0", "post", f"{API}/tasks/{task_id(w, 'prepare', 0)}/approve/", {}),
        400,
        ["action"],
        "prepare",
    ),
    (
        "task: return on a score step",
        lambda w: (
            "expert0",
            "post",
            f"{API}/tasks/{task_id(w, 'score', 2, w.r.groups[0].experts[0])}/return/",
            {"comment": "不想评"},
        ),
        400,
        ["action"],
        None,
    ),
    (
        "sign-off: return without comment",
        lambda w: ("head1", "post", f"{API}/tasks/{task_id(w, 'sign_off', 1)}/return/", {"comment": "  "}),
        400,
        ["comment"],
        None,
    ),
    (
        "review: return without comment",
        lambda w: (
            "group_leader",
            "post",
            f"{API}/tasks/{task_id(w, 'review', 3)}/return/",
            {"sheets": [submitted_sheet(w)]},
        ),
        400,
        ["comment"],
        None,
    ),
    ("review: return without sheets", review_return(comment="请复核"), 400, ["sheets"], None),
    (
        "review: return a sheet of another case",
        lambda w: (
            "group_leader",
            "post",
            f"{API}/tasks/{task_id(w, 'review', 3)}/return/",
            {"sheets": [sheet_id(w, 2, 0)], "comment": "请复核"},
        ),
        400,
        ["sheets"],
        None,
    ),
    (
        "round approval: return without comment",
        lambda w: ("leader", "post", f"{API}/tasks/{task_id(w, 'approve', approving=True)}/return/", {}),
        400,
        ["comment"],
        None,
    ),
]


@pytest.fixture
def actor(world, api):
    g = world.r.groups[0]
    people = {
        "office": world.r.office,
        "leader": world.r.leader,
        "staff0": world.r.staff[0],
        "head1": world.r.heads[1],
        "group_leader": g.leader,
        "expert0": g.experts[0],
    }
    return lambda name: api(people[name])


def test_world(world):
    """Guard: the steps the table acts on are where the table expects them."""
    statuses = [c.status for c in world.r.round.cases.order_by("unit__sort_order", "unit__code")]
    assert sorted(statuses) == sorted(["prepare", "sign_off", "score", "review"])
    assert world.approving.task("approve") is not None


@pytest.mark.parametrize("name,build,status,fields,contains", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_refused_and_changes_nothing(world, actor, name, build, status, fields, contains):
    who, method, url, body = build(world)
    before = snapshot()
    resp = getattr(actor(who), method)(url, body, format="json")
    assert resp.status_code == status, resp.content[:600].decode()
    assert resp["Content-Type"].startswith("application/json")
    data = resp.json()
    assert isinstance(data.get("detail"), str) and data["detail"].strip()
    if status == 400:
        errors = data["errors"]
        assert set(fields) <= set(errors), errors
        # {field: [message, ...]}: flat lists of text, nested rows named by their path (items[0].deduction)
        for messages in errors.values():
            assert isinstance(messages, list) and messages, errors
            assert all(isinstance(msg, str) and msg.strip() for msg in messages), errors
        if contains:
            assert any(contains in msg for f in fields for msg in errors[f]), errors
    assert snapshot() == before


def test_the_same_requests_done_right_do_change_things(world, actor):
    """Control: the snapshot sees a change when the input is good (so the test above can fail)."""
    before = snapshot()
    resp = actor("expert0").put(
        f"{API}/score-sheets/{sheet_id(world, 2, 0)}/items/",
        {"items": [{"item": "S1.2", "bonus": "2", "reason": "创新"}]},
        format="json",
    )
    assert resp.status_code == 200, resp.content
    assert snapshot() != before
    before = snapshot()
    resp = actor("staff0").put(f"{API}/cases/{world.case(0).pk}/submission/", {"report": "字" * LIMIT}, format="json")
    assert resp.status_code == 200 and resp.json()["report"] == "字" * LIMIT
    assert snapshot() != before
