"""Every seed's round as its notice says: the office creates the round from the seed's template, imports its
units, people and groups from one workbook built from the seed's own table (two units of each of seed 000's
and seed 003's groups; seeds 001 and 002 print no group table, so a small one with units of their kind),
launches it, and every role carries it through to the leader's approval and the report. The totals, ranks
and grades are worked out by hand below.

The experts' sheets are built so the arithmetic is plain: in a round of n units, expert A deducts a_i and
expert B b_i points from unit i, so the panel (the mean) is the item maximum less (a_i + b_i) / 2."""

from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from cases import models as m
from cases.imports.sheets import GROUPS, PEOPLE, UNITS, build_xlsx, split_list
from tests.api_helpers import API, ok
from tests.cases.seed_group_tables import SEED_000_GROUPS, SEED_003_GROUPS
from tests.factories import make_user
from workflow import services
from workflow.flows import CaseFlow, RoundFlow

pytestmark = pytest.mark.django_db
D = Decimal


def _groups(seed_rows: list[list[str]], per_group: int, tag: str) -> list[list[str]]:
    """The seed's groups with their first `per_group` units; a leader and two experts added where the seed
    names none (seed 000: "由工委领导分别带队，成员从专家库抽调")."""
    rows = []
    for n, row in enumerate(seed_rows, start=1):
        units = "、".join(split_list(row[-1])[:per_group])
        leader = row[1] or f"{tag}组长{n}"
        members = row[3] if row[1] else f"{tag}专家{n}甲、{tag}专家{n}乙"
        rows.append([row[0], leader, row[2], members, row[4], row[5], row[6], units])
    return rows


def _workbook(groups: list[list[str]], category: str) -> tuple[bytes, list[str]]:
    """单位 (the groups' units, all of `category`), 人员 (a staff member and a head per unit, the leader) and
    考评组 sheets; and the units' names in order."""
    names = [name for row in groups for name in split_list(row[-1])]
    units = [[name, "", category, "", n, ""] for n, name in enumerate(names, start=1)]
    people = [["考核领导", "seed-leader", "", "领导", "", "", "13900000000", ""]]
    for n, name in enumerate(names, start=1):
        people += [[f"填报员{n}", f"staff{n}", name, "填报员", "", "", f"1390000{n:04d}", ""],
                   [f"负责人{n}", f"head{n}", name, "单位负责人", "", "", f"1391000{n:04d}", ""]]
    return build_xlsx({UNITS: units, PEOPLE: people, GROUPS: groups}), names


class Round:
    """A round driven through the API and the task services as each of its people."""

    def __init__(self, api, template: str, groups: list[list[str]], category: str, year: int, start: str):
        self.api = api
        self.office = make_user("seed-office", org_role=m.OrgRole.OFFICE)
        body = ok(api(self.office).post(f"{API}/round-templates/create-round/",
                                        {"template": template, "year": year, "start": start}, format="json"), 201)
        self.round = m.Round.objects.get(pk=body["id"])
        content, self.names = _workbook(groups, category)
        imported = api(self.office).post(f"{API}/rounds/{self.round.pk}/groups/import/",
                                         {"file": SimpleUploadedFile("分组.xlsx", content)}, format="multipart")
        assert imported.status_code == 200, imported.content
        assert self.round.cases.count() == len(self.names)
        ok(api(self.office).post(f"{API}/rounds/{self.round.pk}/launch/", {}, format="json"))
        self.leader = m.User.objects.get(username="seed-leader")

    def case(self, n: int) -> m.Case:
        return self.round.cases.get(unit__name=self.names[n])

    def _task(self, node, case: m.Case | None = None, owner: m.User | None = None) -> Task:
        qs = Task.objects.filter(flow_task=node, status__in=[STATUS.NEW, STATUS.ASSIGNED])
        qs = qs.filter(process__data__case=case.pk) if case else qs.filter(process__data__round=self.round.pk)
        task = (qs.filter(owner=owner) if owner else qs).order_by("pk").first()
        assert task is not None, (node, case)
        return task

    def act(self, user: m.User, node, action: str, case: m.Case | None = None, owner=None, **data) -> None:
        services.task_act(user=user, task_id=self._task(node, case, owner).pk, action=action, data=data)

    def experts(self, case: m.Case) -> list[m.User]:
        return list(m.User.objects.filter(group_memberships__group=case.group, group_memberships__role=m.GroupRole.EXPERT)
                    .order_by("pk"))

    def group_leader(self, case: m.Case) -> m.User:
        return m.User.objects.get(group_memberships__group=case.group, group_memberships__role=m.GroupRole.LEADER)

    def prepare(self, n: int, **data) -> m.Case:
        case = self.case(n)
        staff = m.User.objects.get(username=f"staff{n + 1}")
        self.act(staff, CaseFlow.prepare, "submit", case, report=f"{case.unit.name}自评报告。", **data)
        self.act(m.User.objects.get(username=f"head{n + 1}"), CaseFlow.sign_off, "approve", case)
        self.act(self.group_leader(case), CaseFlow.inspect, "submit", case)
        return case

    def score(self, case: m.Case, item: str, deductions: list[str], **data) -> None:
        for expert, deduction in zip(self.experts(case), deductions, strict=True):
            self.act(expert, CaseFlow.score, "submit", case, owner=expert, reason="逐项核查",
                     items=[{"item": item, "deduction": deduction, "reason": "核查扣分"}], **data)

    def finish(self) -> dict[str, m.Result]:
        self.act(self.office, RoundFlow.compile, "submit")
        self.act(self.leader, RoundFlow.approve, "approve", comment="同意")
        self.act(self.office, RoundFlow.report, "submit")
        self.round.refresh_from_db()
        assert self.round.status == m.RoundStatus.CLOSED
        return {r.case.unit.name: r for r in m.Result.objects.filter(round=self.round).select_related("case__unit")}


def test_seed_000_half_year_grade_first(api):
    # Seed 000 附件2: four groups (two units each here), grade first: the experts propose, the group leader
    # decides, the experts score within the band (好 ≥ 90, 较好 ≥ 80 of 100; at most 30 % 好 per group, so
    # one of each group's two units).
    r = Round(api, "half_year_tracking", _groups(SEED_000_GROUPS, 2, "半年"), "党委工作部门", 2018, "2018-06-28")
    assert r.round.prepare_due.date().isoformat() == "2018-07-08"
    for n in range(8):
        case = r.prepare(n)
        g = case.group.number
        good = n % 2 == 0  # the first unit of each group
        for expert in r.experts(case):
            r.act(expert, CaseFlow.score, "submit", case, owner=expert,
                  proposal={"grade": "好" if good else "较好", "rank": 1 if good else 2, "deduction": "0"})
        r.act(r.group_leader(case), CaseFlow.review, "return", case, grade="好" if good else "较好",
              comment="按确定的档次赋分")
        # 好: 100 − (10 − g) = 90 + g; 较好: 100 − (20 − g) = 80 + g (item 1.1 has 25 points).
        cut = str(10 - g if good else 20 - g)
        r.score(case, "1.1", [cut, cut])
        r.act(r.group_leader(case), CaseFlow.review, "approve", case)
    results = r.finish()
    by_total = sorted(results.values(), key=lambda x: x.rank)
    assert [(x.total, x.grade) for x in by_total] == [
        (D("94.00"), "好"), (D("93.00"), "好"), (D("92.00"), "好"), (D("91.00"), "好"),
        (D("84.00"), "较好"), (D("83.00"), "较好"), (D("82.00"), "较好"), (D("81.00"), "较好")]
    assert [x.rank for x in by_total] == list(range(1, 9))


def test_seed_001_party_building_with_the_self_check_table(api):
    # Seed 001 prints no group table: two liaison groups of two units each. The self-check table is the
    # seed's (18 rows, A11 without a target); 1000 points; each expert deducts on item 1.1 (40 points).
    groups = [["第一联络组", "一组组长", "", "党建专家甲、党建专家乙", "", "", "", "市委办公室、市委组织部"],
              ["第二联络组", "二组组长", "", "党建专家丙、党建专家丁", "", "", "", "市直工委、市总工会"]]
    r = Round(api, "party_building_annual", groups, "党委工作部门", 2013, "2013-12-09")
    counts = {f"A{k:02d}": 24 for k in range(1, 19)}  # every target met: no shortfall
    cuts = [("10", "20"), ("5", "5"), ("30", "40"), ("0", "2")]
    for n in range(4):
        case = r.prepare(n, statistics=counts)
        r.score(case, "1.1", list(cuts[n]))
        r.act(r.group_leader(case), CaseFlow.review, "approve", case)
    results = r.finish()
    # 1000 − mean(a, b): 985, 995, 965, 999.
    assert {name: (x.total, x.rank) for name, x in results.items()} == {
        "市委办公室": (D("985.00"), 3), "市委组织部": (D("995.00"), 2), "市直工委": (D("965.00"), 4),
        "市总工会": (D("999.00"), 1)}


def test_seed_002_city_organ_forced_distribution_and_coefficients(api):
    # Seed 002: 90 points, forced distribution 25/35/34/6 over 8 units of one category:
    # C = round_half_up(8 × 25/100) = 2, round_half_up(8 × 60/100) = 5, round_half_up(8 × 94/100) = 8, 8,
    # so ranks 1–2 优秀, 3–5 良好, 6–8 达标, none 不达标 (a reward coefficient each, seed 002 reconstructed).
    names = ["市发展改革委", "市财政局", "市教育局", "市民政局", "市人社局", "市住建局", "市交通局", "市水利局"]
    groups = [[f"第{n + 1}组", f"二〇〇二组长{n + 1}", "", f"城建专家{n + 1}甲、城建专家{n + 1}乙", "", "", "",
               "、".join(names[2 * n: 2 * n + 2])] for n in range(4)]
    r = Round(api, "city_organ_annual", groups, "政府工作部门", 2013, "2013-11-01")
    for n in range(8):
        case = r.prepare(n)
        # Expert A deducts n × 0.5 and B n × 0.5 + 1 on item 2.2 (敬业型, 20 points).
        r.score(case, "2.2", [str(D("0.5") * n), str(D("0.5") * n + 1)])
        r.act(r.group_leader(case), CaseFlow.review, "approve", case)
    results = r.finish()
    # 90 − 0.5 n − 0.5: 89.5, 89, …, 86.
    expected = {names[n]: D("89.5") - D("0.5") * n for n in range(8)}
    assert {k: v.total for k, v in results.items()} == expected
    grades = [results[names[n]].grade for n in range(8)]
    assert grades == ["优秀", "优秀", "良好", "良好", "良好", "达标", "达标", "达标"]
    body = ok(api(r.office).get(f"{API}/results/", {"round": r.round.pk, "page_size": 50}))
    coefficients = {row["rank"]: row["reward_coefficient"] for row in body["results"]}
    assert (coefficients[1], coefficients[3], coefficients[8]) == ("1.10", "1.05", "1.00")


def test_seed_003_wuxing_hundred_points_and_commendation(api):
    # Seed 003 附件1: four groups (two units each here) with their own leaders, deputies and members;
    # 100 points; a 违法案件 finding removes the unit's eligibility without changing its score.
    r = Round(api, "wuxing_creation", _groups(SEED_003_GROUPS, 2, "五型"), "政府工作部门", 2016, "2017-05-08")
    assert r.round.inspect_due.date().isoformat() == "2017-05-27"
    for n in range(8):
        case = r.case(n)
        staff = m.User.objects.get(username=f"staff{n + 1}")
        r.act(staff, CaseFlow.prepare, "submit", case, report="创建总结。")
        r.act(m.User.objects.get(username=f"head{n + 1}"), CaseFlow.sign_off, "approve", case)
        leader = r.group_leader(case)
        if n == 3:
            ok(api(leader).post(f"{API}/findings/", {"case": case.pk, "source": "inspection",
                                                     "description": "工作人员违法被查处", "bars_commendation": True},
                                format="json"), 201)
        r.act(leader, CaseFlow.inspect, "submit", case)
        # A deducts n × 0.5 on 1.1 (5 points), B n × 0.5 + 1; groups 3 and 4 name one member each (one expert).
        cuts = [str(D("0.5") * n), str(D("0.5") * n + 1)]
        r.score(case, "1.1", cuts[: len(r.experts(case))])
        r.act(leader, CaseFlow.review, "approve", case)
    results = r.finish()
    # Two experts (units 0–3): 100 − 0.5 n − 0.5; one (units 4–7): 100 − 0.5 n.
    expected = ["99.50", "99.00", "98.50", "98.00", "98.00", "97.50", "97.00", "96.50"]
    assert [results[r.names[n]].total for n in range(8)] == [D(x) for x in expected]
    assert [results[r.names[n]].rank for n in range(8)] == [1, 2, 3, 4, 4, 6, 7, 8]
    barred = [name for name, x in results.items() if x.commendation_barred]
    assert barred == [r.names[3]] and results[r.names[3]].total == D("98.00")  # the score is unchanged
