"""The permission matrix of SPEC section 2, on every endpoint, for every role.

One world is built per module (inside a transaction that is rolled back at the end; every test
runs in its own savepoint), with four rounds:

- X (launched, two groups): unit 0 and 2 are in group 1, unit 1 and 3 in group 2. The head of
  unit 2 is also an expert of group 1 (recusal). Case X0 waits for review (three sheets), X1 is
  being scored (expert 2 of group 2 still has his sheet open), X2 has a saved draft, X3's prepare
  task is claimed by its staff.
- Y (launched, one group with its own people) over units 0 and 1 of X: Y0 waits for sign-off,
  Y1 for its report.
- Z (one unit, its own group) has reached the leader's approval.
- D is a draft with one unit, for group creation and launch.

Expected visibility is written out by hand in the tables below (by case key, never computed with
the code under test), and every row of every resource is checked on list and detail.
"""

from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.db import transaction
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from cases import models as m
from cases.services import inspections, submissions
from tests.api_helpers import API, all_pages, ids
from tests.conftest import module_world
from tests.factories import UnitFactory, act, advance_case, make_round, make_user, round_dates
from workflow.flows import CaseFlow, RoundFlow

# --- the world -----------------------------------------------------------------------------------


@dataclass
class World:
    X: object
    Y: object
    Z: object
    D: object
    spare_unit: m.Unit
    actors: dict
    cases: dict  # key -> Case
    rounds: dict  # key -> Round
    tasks: dict  # key -> Task id
    sheets: dict  # key -> ScoreSheet id


def _task_id(case, step, owner=None) -> int:
    qs = Task.objects.filter(process__data__case=case.pk, flow_task=getattr(CaseFlow, step))
    if owner is not None:
        qs = qs.filter(owner=owner)
    return qs.order_by("-pk").values_list("pk", flat=True)[0]


def build_world() -> World:
    X = make_round(units=4, experts=2, groups=2, recused_expert=2, launch=True, title="X")
    org = {"office": X.office, "leader": X.leader, "auditor": X.auditor}
    Y = make_round(
        unit_objs=X.units[:2], unit_people=(X.staff[:2], X.heads[:2]), experts=1, launch=True, title="Y", **org
    )
    Z = make_round(units=1, experts=1, launch=True, title="Z", **org)
    D = make_round(units=1, experts=1, title="D", **org)
    g1, g2 = X.groups
    recused = X.extra["recused_expert"]

    # X0: through prepare, sign-off and inspection (with a record and a finding) to review.
    x0 = advance_case(X, 0, upto="inspect")
    inspections.inspection_record_create(user=g1.leader, case=x0, method="听汇报", date="2026-07-01", notes="汇报")
    inspections.finding_create(user=g1.leader, case=x0, source="inspection", description="台账不全")
    advance_case(X, 0, upto="review")
    # X1: inspected by the deputy, expert 1 scored, expert 2's sheet still open.
    x1 = advance_case(X, 1, upto="inspect")
    inspections.finding_create(user=g2.deputy, case=x1, source="spot_check", description="察访发现")
    inspections.inspection_record_create(user=g2.deputy, case=x1, method="现场察访", date="2026-07-02")
    # The inspection went to the group's one leader; he gives it back so that his deputy can do it.
    from workflow import services as wf

    wf.task_unclaim(user=g2.leader, task_id=X.task("inspect", x1).pk)
    act(X, g2.deputy, "inspect", x1)
    act(X, g2.experts[0], "score", x1, items=[{"item": "S1.1", "deduction": "1", "reason": "缺"}])
    # X2: a saved draft, its task given back to the queue; X3: the prepare task held by its staff
    # (the unit's one staff member: assigned at launch).
    x2 = X.case(2)
    submissions.submission_save(user=X.staff[2], case=x2, report="草稿")
    from workflow import services as wf

    wf.task_unclaim(user=X.staff[2], task_id=X.task("prepare", x2).pk)
    x3 = X.case(3)
    wf.task_claim(user=X.staff[3], task_id=X.task("prepare", x3).pk)
    # Y0: submitted, waiting for its head; Y1 untouched.
    y0 = advance_case(Y, 0, upto="sign_off")
    y1 = Y.case(1)
    # Z: every case done, compiled by the office, waiting for the leader.
    z0 = advance_case(Z, 0, upto="done")
    act(Z, Z.office, "compile")
    d0 = D.case(0)

    actors = {
        **org,
        "nobody": make_user("nobody"),
        "g1_leader": g1.leader,
        "g1_deputy": g1.deputy,
        "g1_liaison": g1.liaison,
        "g1_expert": g1.experts[0],
        "g2_leader": g2.leader,
        "g2_deputy": g2.deputy,
        "g2_liaison": g2.liaison,
        "g2_expert2": g2.experts[1],
        "recused": recused,
        "y_expert": Y.groups[0].experts[0],
        "u0_staff": X.staff[0],
        "u0_head": X.heads[0],
        "u1_staff": X.staff[1],
        "u1_head": X.heads[1],
        "u2_staff": X.staff[2],
        "u3_staff": X.staff[3],
    }
    cases = {"X0": x0, "X1": x1, "X2": x2, "X3": x3, "Y0": y0, "Y1": y1, "Z0": z0, "D0": d0}
    tasks = {
        "X0.prepare": _task_id(x0, "prepare"),
        "X0.sign_off": _task_id(x0, "sign_off"),
        "X0.inspect": _task_id(x0, "inspect"),
        "X0.review": _task_id(x0, "review"),
        "X0.score.g1_expert": _task_id(x0, "score", g1.experts[0]),
        "X0.score.g1_expert2": _task_id(x0, "score", g1.experts[1]),
        "X0.score.recused": _task_id(x0, "score", recused),
        "X1.prepare": _task_id(x1, "prepare"),
        "X1.sign_off": _task_id(x1, "sign_off"),
        "X1.inspect": _task_id(x1, "inspect"),
        "X1.score.g2_expert1": _task_id(x1, "score", g2.experts[0]),
        "X1.score.g2_expert2": _task_id(x1, "score", g2.experts[1]),
        "X2.prepare": _task_id(x2, "prepare"),
        "X3.prepare": _task_id(x3, "prepare"),
        "Y0.prepare": _task_id(y0, "prepare"),
        "Y0.sign_off": _task_id(y0, "sign_off"),
        "Y1.prepare": _task_id(y1, "prepare"),
        "Z.compile": Task.objects.get(
            process__flow_class=RoundFlow, process__data__round=Z.round.pk, flow_task=RoundFlow.compile
        ).pk,
        "Z.approve": Z.task("approve").pk,
    }
    sheets = {
        f"{key}.{who}": m.ScoreSheet.objects.get(case=cases[key], expert=actors[who]).pk
        for key, who in [("X0", "g1_expert"), ("X0", "recused"), ("X1", "g2_expert2")]
    }
    sheets["X0.g1_expert2"] = m.ScoreSheet.objects.get(case=x0, expert=g1.experts[1]).pk
    sheets["X1.g2_expert1"] = m.ScoreSheet.objects.get(case=x1, expert=g2.experts[0]).pk
    rounds = {"X": X.round, "Y": Y.round, "Z": Z.round, "D": D.round}
    return World(X, Y, Z, D, UnitFactory(name="备用单位"), actors, cases, rounds, tasks, sheets)


world = module_world(build_world)


@pytest.fixture
def as_(world, api):
    """`as_("g1_leader")` → the API client of that actor."""
    return lambda name: api(world.actors[name])


# --- expected visibility, by hand ------------------------------------------------------------------

ALL = "ALL"
SEE_ALL = ["office", "leader", "auditor"]
ACTORS = [
    "office",
    "leader",
    "auditor",
    "nobody",
    "g1_leader",
    "g1_deputy",
    "g1_liaison",
    "g1_expert",
    "g2_leader",
    "g2_deputy",
    "g2_liaison",
    "g2_expert2",
    "recused",
    "y_expert",
    "u0_staff",
    "u0_head",
    "u1_staff",
    "u1_head",
    "u2_staff",
    "u3_staff",
]

# Cases each actor sees. The recused expert is head of unit 2 (sees X2 as its head) and an expert
# of group 1 (sees X0 for scoring, never X2 as an expert: see test_recused_expert).
CASES = {
    "office": ALL,
    "leader": ALL,
    "auditor": ALL,
    "nobody": set(),
    "g1_leader": {"X0", "X2"},
    "g1_deputy": {"X0", "X2"},
    "g1_liaison": {"X0", "X2"},
    "g1_expert": {"X0", "X2"},
    "g2_leader": {"X1", "X3"},
    "g2_deputy": {"X1", "X3"},
    "g2_liaison": {"X1", "X3"},
    "g2_expert2": {"X1", "X3"},
    "recused": {"X0", "X2"},
    "y_expert": {"Y0", "Y1"},
    "u0_staff": {"X0", "Y0"},
    "u0_head": {"X0", "Y0"},
    "u1_staff": {"X1", "Y1"},
    "u1_head": {"X1", "Y1"},
    "u2_staff": {"X2"},
    "u3_staff": {"X3"},
}
ROUNDS = {
    "office": ALL,
    "leader": ALL,
    "auditor": ALL,
    "nobody": set(),
    **{
        a: {"X"}
        for a in [
            "g1_leader",
            "g1_deputy",
            "g1_liaison",
            "g1_expert",
            "g2_leader",
            "g2_deputy",
            "g2_liaison",
            "g2_expert2",
            "recused",
            "u2_staff",
            "u3_staff",
        ]
    },
    "y_expert": {"Y"},
    "u0_staff": {"X", "Y"},
    "u0_head": {"X", "Y"},
    "u1_staff": {"X", "Y"},
    "u1_head": {"X", "Y"},
}
# Score sheets: an expert sees their own, the group's leader and deputy all of the group's; the
# liaison and the units none.
SHEETS = {
    "office": ALL,
    "leader": ALL,
    "auditor": ALL,
    "nobody": set(),
    "g1_leader": {"X0.g1_expert", "X0.g1_expert2", "X0.recused"},
    "g1_deputy": {"X0.g1_expert", "X0.g1_expert2", "X0.recused"},
    "g1_liaison": set(),
    "g1_expert": {"X0.g1_expert"},
    "recused": {"X0.recused"},
    "g2_leader": {"X1.g2_expert1", "X1.g2_expert2"},
    "g2_deputy": {"X1.g2_expert1", "X1.g2_expert2"},
    "g2_liaison": set(),
    "g2_expert2": {"X1.g2_expert2"},
    "y_expert": set(),
    "u0_staff": set(),
    "u0_head": set(),
    "u1_staff": set(),
    "u1_head": set(),
    "u2_staff": set(),
    "u3_staff": set(),
}
AUDIT_READERS = {"office", "auditor"}

# Tasks per scope. A task whose role one person holds is that person's from the start (inbox, not
# queue): every unit here has one staff member and one head, every group one leader, the world one
# leader. "all" = everything for office/leader/auditor, else one's own and every task of
# one's roles, including those a colleague has claimed or done ("colleagues": the deputy sees the
# inspection the leader did, so acting second on a task gets a 409, not a 404).
TASKS = {
    "office": {"queue": set(), "inbox": set(), "archive": {"Z.compile"}, "all": ALL},
    "leader": {"queue": set(), "inbox": {"Z.approve"}, "archive": set(), "all": ALL},
    "auditor": {"queue": set(), "inbox": set(), "archive": set(), "all": ALL},
    "g1_leader": {"inbox": {"X0.review"}, "archive": {"X0.inspect"}},
    "g1_deputy": {"colleagues": {"X0.review", "X0.inspect"}},
    "g1_expert": {"archive": {"X0.score.g1_expert"}},
    "recused": {"archive": {"X0.score.recused"}},
    "g2_leader": {"colleagues": {"X1.inspect"}},
    "g2_deputy": {"archive": {"X1.inspect"}},
    "g2_expert2": {"inbox": {"X1.score.g2_expert2"}},
    "u0_staff": {"archive": {"X0.prepare", "Y0.prepare"}},
    "u0_head": {"inbox": {"Y0.sign_off"}, "archive": {"X0.sign_off"}},
    "u1_staff": {"inbox": {"Y1.prepare"}, "archive": {"X1.prepare"}},
    "u1_head": {"archive": {"X1.sign_off"}},
    "u2_staff": {"queue": {"X2.prepare"}},
    "u3_staff": {"inbox": {"X3.prepare"}},
}


def expected_tasks(actor: str, scope: str):
    table = TASKS.get(actor, {})
    if scope == "all" and table.get("all") is not ALL:
        parts = ("queue", "inbox", "archive", "colleagues")
        return set().union(*(table.get(part, set()) for part in parts))
    return table.get(scope, set())


def world_ids(world, resource: str) -> dict:
    """key → id of every row of `resource` that the world holds, and the expected keys per actor."""
    visible_cases = {k: c.pk for k, c in world.cases.items()}
    if resource == "cases":
        return visible_cases
    if resource == "rounds":
        return {k: r.pk for k, r in world.rounds.items()}
    if resource == "score-sheets":
        return dict(world.sheets)
    model = {"submissions": m.Submission, "inspections": m.InspectionRecord, "findings": m.Finding}[resource]
    rows = {}
    for key, case in world.cases.items():
        for n, pk in enumerate(model.objects.filter(case=case).order_by("pk").values_list("pk", flat=True)):
            rows[f"{key}#{n}"] = pk
    return rows


def expected_keys(world, resource: str, actor: str, keys) -> set:
    if resource == "rounds":
        table = ROUNDS[actor]
        return set(keys) if table is ALL else table
    if resource == "score-sheets":
        table = SHEETS[actor]
        return set(keys) if table is ALL else table
    table = CASES[actor]
    visible = set(world.cases) if table is ALL else table
    return {k for k in keys if k.split("#")[0] in visible}


def sample(keys, expected, n: int = 2, actor: str = "") -> list:
    """A few visible and a few invisible keys for detail checks (each request costs ~15 ms; the
    list checks cover every row). Which ones rotates with the actor, so that together the actors
    try every row."""
    offset = ACTORS.index(actor) if actor in ACTORS else 0

    def pick(rows):
        rows = sorted(rows, key=str)
        return (rows[offset % len(rows) :] + rows[: offset % len(rows)])[:n] if rows else []

    return pick([k for k in keys if k in expected]) + pick([k for k in keys if k not in expected])


def each_actor(check, actors=None) -> None:
    """Run `check(actor)` for every actor, each in a savepoint that is rolled back, and report every
    actor that fails at once (one test per table row costs ~10x more on a busy machine)."""
    failures = []
    for actor in actors or ACTORS:
        with transaction.atomic():
            try:
                check(actor)
            except AssertionError as exc:
                failures.append(f"{actor}: {exc}")
            transaction.set_rollback(True)
    assert not failures, "\n".join(failures)


# --- reads ---------------------------------------------------------------------------------------


def test_world_has_rows_for_every_resource(world):
    """Guard: the matrix below is only meaningful if every resource has rows to hide."""
    for resource in ["cases", "rounds", "score-sheets", "submissions", "inspections", "findings"]:
        assert len(world_ids(world, resource)) >= 2, resource
    statuses = set(m.Case.objects.filter(pk__in=[c.pk for c in world.cases.values()]).values_list("status", flat=True))
    assert statuses == {"review", "score", "prepare", "sign_off", "done", "draft"}


@pytest.mark.parametrize("resource", ["cases", "rounds", "submissions", "inspections", "findings", "score-sheets"])
def test_read_matrix(world, as_, resource):
    """List shows exactly the visible rows; detail is 200 for them and 404 for every other row."""
    rows = world_ids(world, resource)

    def check(actor):
        client = as_(actor)
        expected = expected_keys(world, resource, actor, rows)
        listed = ids(all_pages(client, f"{API}/{resource}/"))
        in_world = listed & set(rows.values())
        assert in_world == {rows[k] for k in expected}, f"listed {sorted(in_world)}"
        if actor not in SEE_ALL:
            assert listed == in_world  # nothing from outside the world either
        for key in sample(rows, expected, n=3 if resource == "cases" else 1, actor=actor):
            status = client.get(f"{API}/{resource}/{rows[key]}/").status_code
            assert status == (200 if key in expected else 404), (key, status)

    each_actor(check)


UNIT_ONLY = ("u0_staff", "u0_head", "u1_staff", "u1_head", "u2_staff", "u3_staff")


def test_groups_and_units(world, as_):
    """Groups: a group member sees every group of the member's rounds, a unit only the group that
    assesses it. Units: one's own and those of visible cases."""
    all_groups = {g.pk: key for key, r in world.rounds.items() for g in r.groups.all()}
    all_units = {c.unit_id for c in world.cases.values()} | {world.spare_unit.pk}

    def check(actor):
        client = as_(actor)
        rounds = set(world.rounds) if ROUNDS[actor] is ALL else ROUNDS[actor]
        want_groups = {pk for pk, key in all_groups.items() if key in rounds}
        if actor in UNIT_ONLY:
            want_groups = {world.cases[key].group_id for key in CASES[actor]}
        assert ids(all_pages(client, f"{API}/groups/")) & set(all_groups) == want_groups
        for pk in sample(all_groups, want_groups, n=1, actor=actor):
            assert client.get(f"{API}/groups/{pk}/").status_code == (200 if pk in want_groups else 404), pk
        cases = set(world.cases) if CASES[actor] is ALL else CASES[actor]
        want_units = set(all_units) if CASES[actor] is ALL else {world.cases[k].unit_id for k in cases}
        assert ids(all_pages(client, f"{API}/units/")) & all_units == want_units
        for pk in sample(all_units, want_units, n=1, actor=actor):
            assert client.get(f"{API}/units/{pk}/").status_code == (200 if pk in want_units else 404), pk

    each_actor(check)


def test_audit_log(world, as_):
    total = m.AuditEntry.objects.count()
    some = list(m.AuditEntry.objects.order_by("pk").values_list("pk", flat=True)[:3])

    def check(actor):
        client = as_(actor)
        rows = all_pages(client, f"{API}/audit/")
        if actor in AUDIT_READERS:
            assert len(rows) == total > 10
            assert {"round.launch", "submission.submit", "score_sheet.submit", "finding.create"} <= {
                r["action"] for r in rows
            }
        else:
            assert rows == []
        for pk in some:
            assert client.get(f"{API}/audit/{pk}/").status_code == (200 if actor in AUDIT_READERS else 404)

    each_actor(check)


@pytest.mark.parametrize("scope", ["queue", "inbox", "archive", "all"])
def test_task_scopes(world, as_, scope):
    human = set(Task.objects.filter(flow_task_type="HUMAN").values_list("pk", flat=True))

    def check(actor):
        client = as_(actor)
        expected = expected_tasks(actor, scope)
        got = ids(all_pages(client, f"{API}/tasks/", {"scope": scope}))
        if expected is ALL:
            assert got == human and set(world.tasks.values()) <= got
            return
        assert got == {world.tasks[k] for k in expected}, f"got {sorted(k for k, v in world.tasks.items() if v in got)}"
        if scope == "all":  # detail follows the same rule
            for key in sample(world.tasks, expected, n=2, actor=actor):
                status = client.get(f"{API}/tasks/{world.tasks[key]}/").status_code
                assert status == (200 if key in expected else 404), key

    each_actor(check)


def test_anonymous_sees_nothing(world, api):
    client = api()
    for url in [
        "units",
        "rounds",
        "groups",
        "cases",
        "submissions",
        "inspections",
        "findings",
        "score-sheets",
        "audit",
        "tasks",
        f"cases/{world.cases['X0'].pk}",
    ]:
        resp = client.get(f"{API}/{url}/")
        assert resp.status_code in (401, 403), url
        assert "results" not in resp.json()


# --- writes --------------------------------------------------------------------------------------


@dataclass
class Op:
    request: object  # (client, world) -> response
    state: object  # (world) -> a value that changes iff the write happened
    ok: int
    allowed: tuple
    forbidden: tuple = ()  # 403; everyone else gets `default`
    default: int = 404
    conflict: tuple = ()  # 409: holds the task's role, but a colleague holds the task


def _round_payload(w):
    return {
        "title": "新一轮",
        "kind": "annual",
        "year": 2027,
        "rubric": w.X.rubric.pk,
        **{k: v.isoformat() for k, v in round_dates().items()},
    }


def _task_state(key):
    def state(w):
        task = Task.objects.get(pk=w.tasks[key])
        return task.status, task.owner_id, Task.objects.filter(process_id=task.process_id).count()

    return state


def _task_op(key, action, allowed, forbidden=tuple(SEE_ALL), conflict=(), **data):
    return Op(
        lambda c, w: c.post(f"{API}/tasks/{w.tasks[key]}/{action}/", data, format="json"),
        _task_state(key),
        200,
        tuple(allowed),
        tuple(forbidden),
        conflict=tuple(conflict),
    )


G1_SEES_X0 = ("g1_leader", "g1_deputy", "g1_liaison", "g1_expert", "recused", "u0_staff", "u0_head")
OPS = {
    "round_create": Op(
        lambda c, w: c.post(f"{API}/rounds/", _round_payload(w), format="json"),
        lambda w: m.Round.objects.count(),
        201,
        ("office",),
        default=403,
    ),
    "round_patch": Op(
        lambda c, w: c.patch(
            f"{API}/rounds/{w.rounds['X'].pk}/",
            {"report_due": (w.rounds["X"].report_due + timedelta(days=1)).isoformat()},
            format="json",
        ),
        lambda w: m.Round.objects.get(pk=w.rounds["X"].pk).report_due,
        200,
        ("office",),
        default=403,
    ),
    "unit_create": Op(
        lambda c, w: c.post(f"{API}/units/", {"code": "NEW1", "name": "新单位", "category": "其他"}, format="json"),
        lambda w: m.Unit.objects.count(),
        201,
        ("office",),
        default=403,
    ),
    "group_create": Op(
        lambda c, w: c.post(
            f"{API}/groups/",
            {
                "round": w.rounds["D"].pk,
                "number": 2,
                "name": "第二组",
                "units": [w.spare_unit.pk],
                "members": [{"user": w.actors["nobody"].pk, "role": "leader"}],
            },
            format="json",
        ),
        lambda w: m.Group.objects.filter(round=w.rounds["D"]).count(),
        201,
        ("office",),
        default=403,
    ),
    "launch": Op(
        lambda c, w: c.post(f"{API}/rounds/{w.rounds['D'].pk}/launch/"),
        lambda w: (m.Round.objects.get(pk=w.rounds["D"].pk).status, Task.objects.count()),
        200,
        ("office",),
        ("leader", "auditor"),
    ),
    "submission_put": Op(
        lambda c, w: c.put(f"{API}/cases/{w.cases['X2'].pk}/submission/", {"report": "改写"}, format="json"),
        lambda w: list(m.Submission.objects.filter(case=w.cases["X2"]).values_list("report", "status")),
        200,
        ("u2_staff",),
        (*SEE_ALL, "g1_leader", "g1_deputy", "g1_liaison", "g1_expert", "recused"),
    ),
    "inspection_post": Op(
        lambda c, w: c.post(
            f"{API}/inspections/",
            {"case": w.cases["X0"].pk, "method": "座谈交流", "date": "2026-07-03", "notes": "座谈"},
            format="json",
        ),
        lambda w: m.InspectionRecord.objects.filter(case=w.cases["X0"]).count(),
        201,
        ("g1_leader", "g1_deputy"),  # the inspect step is theirs; experts score
        (*SEE_ALL, "g1_liaison", "g1_expert", "recused", "u0_staff", "u0_head"),
    ),
    "finding_post": Op(
        lambda c, w: c.post(
            f"{API}/findings/",
            {"case": w.cases["X0"].pk, "source": "complaint", "description": "投诉属实", "deduction_amount": "1.00"},
            format="json",
        ),
        lambda w: m.Finding.objects.filter(case=w.cases["X0"]).count(),
        201,
        ("office", "g1_leader", "g1_deputy"),  # office: complaints, criticism
        (*(a for a in SEE_ALL if a != "office"), "g1_liaison", "g1_expert", "recused", "u0_staff", "u0_head"),
    ),
    "sheet_items_put": Op(
        lambda c, w: c.put(
            f"{API}/score-sheets/{w.sheets['X1.g2_expert2']}/items/",
            {"items": [{"item": "S2.2", "deduction": "1", "reason": "迟报"}]},
            format="json",
        ),
        lambda w: list(
            m.ItemScore.objects.filter(sheet_id=w.sheets["X1.g2_expert2"]).values_list("item__code", "deduction")
        ),
        200,
        ("g2_expert2",),
        (*SEE_ALL, "g2_leader", "g2_deputy"),
    ),
    "task_claim": _task_op("X2.prepare", "claim", ["u2_staff"]),
    "task_unclaim": _task_op("X3.prepare", "unclaim", ["u3_staff"]),
    "task_submit_prepare": _task_op("X2.prepare", "submit", ["u2_staff"]),
    "task_submit_score": _task_op("X1.score.g2_expert2", "submit", ["g2_expert2"], reason="全部达标"),
    # The review went to the group's one leader: the deputy, of the same role, gets 409.
    "task_approve_review": _task_op("X0.review", "approve", ["g1_leader"], conflict=["g1_deputy"]),
    "task_return_sign_off": _task_op("Y0.sign_off", "return", ["u0_head"], comment="请补充"),
    "task_approve_round": _task_op("Z.approve", "approve", ["leader"], ["office", "auditor"]),
}


def expected_status(op: Op, actor: str) -> int:
    if actor in op.allowed:
        return op.ok
    if actor in op.forbidden:
        return 403
    if actor in op.conflict:
        return 409
    return op.default


@pytest.mark.parametrize("op_name", list(OPS))
def test_write_matrix(world, as_, op_name):
    """Each write succeeds for exactly its owners; for everyone else it is 403 (may see, may not
    change) or 404 (may not even see), and nothing changes, not even the audit log."""
    op = OPS[op_name]

    def check(actor):
        before, audit_before = op.state(world), m.AuditEntry.objects.count()
        resp = op.request(as_(actor), world)
        want = expected_status(op, actor)
        assert resp.status_code == want, f"{resp.status_code} != {want}: {resp.content[:300].decode()}"
        if want == op.ok:
            assert op.state(world) != before
        else:
            assert op.state(world) == before
            assert m.AuditEntry.objects.count() == audit_before
            assert "detail" in resp.json()

    each_actor(check)


# --- the three personas of each role ---------------------------------------------------------------
# Alice holds the role on the object, Bob is a colleague in another role on the same object, Charlie
# an outsider. Each role's object is read (200 / 404) and its characteristic write attempted.

PERSONAS = [
    # role, object, write, (actor, read status, may write?) × 3
    ("office", "rounds/X", "round_patch", [("office", 200, True), ("leader", 200, False), ("nobody", 404, False)]),
    (
        "leader",
        "rounds/Z",
        "task_approve_round",
        [("leader", 200, True), ("office", 200, False), ("nobody", 404, False)],
    ),
    (
        "group_leader",
        "cases/X0",
        "task_approve_review",
        [("g1_leader", 200, True), ("g1_expert", 200, False), ("g2_leader", 404, False)],
    ),
    (
        "deputy",
        "cases/X0",
        "inspection_post",
        [("g1_deputy", 200, True), ("g1_liaison", 200, False), ("g2_deputy", 404, False)],
    ),
    (
        "expert",
        "cases/X1",
        "task_submit_score",
        [("g2_expert2", 200, True), ("g2_leader", 200, False), ("g1_expert", 404, False)],
    ),
    (
        "liaison",
        "cases/X0",
        "finding_post",  # the liaison reads but never writes; the leader does
        [("g1_liaison", 200, False), ("g1_leader", 200, True), ("g2_liaison", 404, False)],
    ),
    (
        "unit_staff",
        "cases/X2",
        "submission_put",
        [("u2_staff", 200, True), ("recused", 200, False), ("u0_staff", 404, False)],
    ),
    (
        "unit_head",
        "cases/Y0",
        "task_return_sign_off",
        [("u0_head", 200, True), ("u0_staff", 200, False), ("u1_head", 404, False)],
    ),
    ("auditor", "audit", None, [("auditor", 200, False), ("leader", 200, False), ("nobody", 200, False)]),
]


def _object_url(world, obj: str) -> str:
    kind, _, key = obj.partition("/")
    if not key:
        return f"{API}/{kind}/"
    pk = world.rounds[key].pk if kind == "rounds" else world.cases[key].pk
    return f"{API}/{kind}/{pk}/"


@pytest.mark.parametrize("persona", [0, 1, 2], ids=["alice", "bob", "charlie"])
@pytest.mark.parametrize("role,obj,write,people", PERSONAS, ids=[p[0] for p in PERSONAS])
def test_personas(world, as_, role, obj, write, people, persona):
    actor, read_status, may_write = people[persona]
    client = as_(actor)
    resp = client.get(_object_url(world, obj))
    assert resp.status_code == read_status
    if role == "auditor":
        # Only Alice (the auditor) sees audit entries; Bob (leader) and Charlie see an empty log.
        assert bool(resp.json()["results"]) == (persona == 0)
        return
    op = OPS[write]
    before = op.state(world)
    status = op.request(client, world).status_code
    assert (status == op.ok) == may_write, status
    assert (op.state(world) != before) == may_write


# --- the rules the spec singles out ----------------------------------------------------------------


def test_expert_sees_only_their_groups_cases_in_that_round(world, as_):
    """Expert 2 of group 2 in X: X1 and X3 only; not group 1's X0/X2 and not Y1 (their unit 1 is
    in Y, but they are no member of Y)."""
    client = as_("g2_expert2")
    got = {c["id"] for c in all_pages(client, f"{API}/cases/")}
    assert got == {world.cases["X1"].pk, world.cases["X3"].pk}
    assert client.get(f"{API}/cases/", {"round": world.rounds["Y"].pk}).json()["results"] == []
    assert client.get(f"{API}/rounds/{world.rounds['Y'].pk}/").status_code == 404
    for key in ("X0", "X2", "Y0", "Y1"):
        assert client.get(f"{API}/cases/{world.cases[key].pk}/").status_code == 404


def test_recused_expert(world, as_):
    """The head of unit 2 is an expert of group 1: a score task (and sheet) on X0, none on X2, no
    score sheets of X2 visible, and no inspection or finding recorded on their own unit's case."""
    recused = world.actors["recused"]
    x0, x2 = world.cases["X0"], world.cases["X2"]
    g1_experts = set(m.GroupMember.objects.filter(group=x0.group, role="expert").values_list("user", flat=True))
    assert recused.pk in g1_experts
    scored = set(
        Task.objects.filter(process__data__case=x0.pk, flow_task=CaseFlow.score).values_list("owner", flat=True)
    )
    assert scored == g1_experts  # everyone in group 1 scores X0, the recused expert too
    advance_case(world.X, 2, upto="score")  # X2 reaches scoring: the recused expert is left out
    x2_scorers = set(
        Task.objects.filter(process__data__case=x2.pk, flow_task=CaseFlow.score).values_list("owner", flat=True)
    )
    assert x2_scorers == g1_experts - {recused.pk}
    assert not m.ScoreSheet.objects.filter(case=x2, expert=recused).exists()

    client = as_("recused")
    scored_cases = {t["case"]["id"] for t in all_pages(client, f"{API}/tasks/", {"scope": "all"}) if t["step"] == "score"}
    assert x0.pk in scored_cases and x2.pk not in scored_cases
    # X2 has its two other experts' sheets, and the recused expert sees none of them.
    assert m.ScoreSheet.objects.filter(case=x2).count() == 2
    assert all_pages(client, f"{API}/score-sheets/", {"case": x2.pk}) == []
    for url, body in [
        (f"{API}/findings/", {"case": x2.pk, "source": "inspection", "description": "自己单位"}),
        (f"{API}/inspections/", {"case": x2.pk, "method": "查资料", "date": "2026-07-01"}),
    ]:
        assert client.post(url, body, format="json").status_code == 403
    assert not m.Finding.objects.filter(case=x2).exists()
    assert not m.InspectionRecord.objects.filter(case=x2).exists()


def test_unit_staff_cannot_see_another_units_case(world, as_):
    client = as_("u0_staff")
    other = world.cases["X1"]
    assert client.get(f"{API}/cases/{other.pk}/").status_code == 404
    assert client.get(f"{API}/cases/{other.pk}/submission/").status_code == 404
    assert client.get(f"{API}/cases/{other.pk}/diagram.svg").status_code == 404
    assert other.pk not in ids(all_pages(client, f"{API}/cases/"))
    assert all_pages(client, f"{API}/submissions/", {"case": other.pk}) == []
    assert all_pages(client, f"{API}/findings/", {"case": other.pk}) == []


WRITES = [name for name in OPS]


@pytest.mark.parametrize("op_name", WRITES)
def test_auditor_reads_audit_but_every_write_is_403(world, as_, op_name):
    client = as_("auditor")
    assert len(all_pages(client, f"{API}/audit/")) == m.AuditEntry.objects.count()
    op = OPS[op_name]
    before = op.state(world)
    resp = op.request(client, world)
    assert resp.status_code == 403, resp.content[:300]
    assert op.state(world) == before


def test_auditor_cannot_claim_or_unclaim_any_open_task(world, as_):
    client = as_("auditor")
    for key in ("X0.review", "X2.prepare", "X3.prepare", "X1.score.g2_expert2", "Y0.sign_off", "Z.approve"):
        before = _task_state(key)(world)
        for action in ("claim", "unclaim", "submit", "approve", "return"):
            resp = client.post(f"{API}/tasks/{world.tasks[key]}/{action}/", {"comment": "x"}, format="json")
            # 400: the step offers no such action; 409: unclaiming a task that nobody has claimed.
            allowed = (400, 403, 409) if action == "unclaim" and before[0] == STATUS.NEW else (400, 403)
            assert resp.status_code in allowed, (key, action, resp.status_code)
        assert _task_state(key)(world) == before


def test_liaison_reads_the_groups_cases_but_cannot_write(world, as_):
    client = as_("g1_liaison")
    assert ids(all_pages(client, f"{API}/cases/")) == {world.cases["X0"].pk, world.cases["X2"].pk}
    assert len(all_pages(client, f"{API}/findings/", {"case": world.cases["X0"].pk})) == 1
    assert len(all_pages(client, f"{API}/inspections/", {"case": world.cases["X0"].pk})) == 1
    findings = m.Finding.objects.count()
    resp = client.post(
        f"{API}/findings/",
        {"case": world.cases["X0"].pk, "source": "inspection", "description": "联络员记录"},
        format="json",
    )
    assert resp.status_code == 403 and m.Finding.objects.count() == findings
    # The review task is the group leader's: the liaison neither sees it nor can act on it.
    review = world.tasks["X0.review"]
    assert all_pages(client, f"{API}/tasks/", {"scope": "queue"}) == []
    for action in ("claim", "approve"):
        assert client.post(f"{API}/tasks/{review}/{action}/").status_code == 404
    assert (Task.objects.get(pk=review).status, Task.objects.get(pk=review).owner) == (STATUS.ASSIGNED, world.actors["g1_leader"])
