"""Seed 004's task pages and the office's overview of a social round, with Django's test client: each step's
form renders, drafts are saved, submits move the unit's SocialCaseFlow, the services' errors appear next to
their fields (the whole round through the API: test_social_round.py)."""

import dataclasses
import re
from datetime import timedelta

import pytest
from django.utils import timezone
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from cases import models as m
from cases import round_templates
from cases.evaluation import services as evaluation_services
from cases.services import rounds as round_services
from cases.social import services as sample_services
from tests.cases.test_sample_frames import person, xlsx
from tests.factories import make_user
from workflow import services
from workflow.flows import SocialCaseFlow

pytestmark = pytest.mark.django_db
QUESTIONS = [f"您对本部门热点工作第{n}项的满意程度如何？" for n in range(1, 6)]
SITUATION = {"liaison": "韦明（办公室主任）", "liaison_phone": "0771-2800001", "leaders": "覃华（党组书记、主任）",
             "rectification_report": "2014年度存在问题已全部整改。", "performance_report": "1月1日至11月30日工作情况。"}


class World:
    def __init__(self):
        self.office = make_user("sp-office", org_role=m.OrgRole.OFFICE)
        self.leader = make_user("sp-leader", org_role=m.OrgRole.LEADER)
        template = round_templates.ready_template("social_evaluation")
        template = dataclasses.replace(template, config={**template.config,
                                                         "sample_minimums": {"economic": 3, "party_mass": 2}})
        self.round = round_services.round_create_from_template(
            user=self.office, template=template, year=2015, start=timezone.localdate() - timedelta(days=3))
        self.unit = m.Unit.objects.create(code="S01", name="自治区统计局", category=m.UnitCategory.GOVERNMENT)
        self.other = m.Unit.objects.create(code="S02", name="自治区妇联", category=m.UnitCategory.PARTY)
        self.staff, self.head, self.other_staff = make_user("sp-staff"), make_user("sp-head"), make_user("sp-o-staff")
        m.UnitMembership.objects.create(user=self.staff, unit=self.unit, role=m.UnitRole.STAFF)
        m.UnitMembership.objects.create(user=self.head, unit=self.unit, role=m.UnitRole.HEAD)
        m.UnitMembership.objects.create(user=self.other_staff, unit=self.other, role=m.UnitRole.STAFF)
        liaison = make_user("sp-liaison")
        round_services.group_create(user=self.office, round=self.round, number=1, name="政府工作部门",
                                    members=[{"user": liaison, "role": m.GroupRole.LIAISON}],
                                    units=[self.unit, self.other])
        services.round_launch(user=self.office, round_id=self.round.pk)
        self.round.refresh_from_db()
        self.case = self.round.cases.get(unit=self.unit)

    def task(self, step: str) -> Task:
        return Task.objects.get(process__flow_class=SocialCaseFlow, process__artifact_object_id=self.case.pk,
                                flow_task=getattr(SocialCaseFlow, step), status__in=[STATUS.NEW, STATUS.ASSIGNED])

    def url(self, step: str) -> str:
        return f"/tasks/{self.task(step).pk}/"

    def upload(self, kind, n: int) -> None:
        rows = [person(i, kind, mobile=f"0139{1 if 'system' in kind else 2}{i:07d}") for i in range(1, n + 1)]
        sample_services.upload_frame(user=self.staff, round=self.round, unit=self.unit, kind=kind,
                                     fileobj=xlsx(kind, rows), filename="list.xlsx")


@pytest.fixture
def world():
    return World()


def page(client, user, url, data=None):
    client.force_login(user)
    response = client.post(url, data) if data is not None else client.get(url)
    return response, response.content.decode() if response.status_code != 302 else ""


def test_questionnaire_draft_submit_return_and_approve(client, world):
    url = world.url("questionnaire")
    response, html = page(client, world.staff, url)
    assert response.status_code == 200
    assert html.count('name="question__') == 10 and 'name="topic"' in html and "保存草稿" in html
    # A draft with three questions and blank rows: blanks are not questions.
    data = {"action": "save", "topic": "统计数据质量", "question__0": QUESTIONS[0], "question__1": "  ",
            "question__2": QUESTIONS[1], "question__3": QUESTIONS[2], "question__9": ""}
    response, _ = page(client, world.staff, url, data)
    assert response.status_code == 302
    assert m.Questionnaire.objects.get(case=world.case).questions == QUESTIONS[:3]
    # Submitting it: fewer than five questions, shown beside the questions; the task stays open.
    response, html = page(client, world.staff, url, {**data, "action": "submit"})
    assert response.status_code == 200 and "问题不少于 5 个" in html and 'class="field-error"' in html
    assert world.task("questionnaire").pk
    # A question too long is named in its own row.
    response, html = page(client, world.staff, url, {"action": "save", "topic": "统计数据质量",
                                                     "question__0": QUESTIONS[0], "question__1": "长" * 501})
    assert response.status_code == 200 and "不能超过 500 个字符" in html
    assert html.rindex("不能超过 500 个字符") > html.index('name="question__1"')
    rows = {f"question__{n}": q for n, q in enumerate(QUESTIONS)}
    response, _ = page(client, world.staff, url, {"action": "submit", "topic": "统计数据质量", **rows})
    assert response.status_code == 302
    assert m.Questionnaire.objects.get(case=world.case).status == m.DraftStatus.SUBMITTED

    # The office reads it and returns it with its comment (a return without one is refused beside the field).
    review = world.url("questionnaire_review")
    response, html = page(client, world.office, review)
    assert response.status_code == 200 and QUESTIONS[4] in html and "统计数据质量" in html
    response, html = page(client, world.office, review, {"action": "return", "comment": ""})
    assert "退回时必须填写审核意见" in html
    response, _ = page(client, world.office, review, {"action": "return", "comment": "第3题表述不清。"})
    assert response.status_code == 302
    response, html = page(client, world.staff, world.url("questionnaire"))
    assert "第3题表述不清。" in html and QUESTIONS[4] in html  # the saved questions in their rows
    response, _ = page(client, world.staff, world.url("questionnaire"), {"action": "submit"})
    assert response.status_code == 302  # submitted as saved
    response, _ = page(client, world.office, world.url("questionnaire_review"), {"action": "approve"})
    assert response.status_code == 302
    assert m.Questionnaire.objects.get(case=world.case).status == m.DraftStatus.APPROVED


def test_situation_errors_beside_fields_then_delivered(client, world):
    url = world.url("situation")
    response, html = page(client, world.staff, url)
    for label in ("联络员", "联系电话", "主要领导", "如党组（委）书记和行政首长不是同一人", "整改情况报告", "年度绩效情况报告"):
        assert label in html
    response, html = page(client, world.staff, url, {**SITUATION, "liaison_phone": "电话", "leaders": "",
                                                     "action": "submit"})
    assert response.status_code == 200
    assert "电话号码格式不正确" in html and "必须填写" in html
    assert "韦明（办公室主任）" in html  # what was typed stays
    response, _ = page(client, world.staff, url, {**SITUATION, "action": "submit"})
    assert response.status_code == 302
    assert m.SituationReport.objects.get(case=world.case).liaison_phone == "0771-2800001"
    assert m.MaterialDelivery.objects.filter(case=world.case, material=m.Material.SITUATION).exists()


def test_analysis_count_save_submit_and_sign(client, world):
    url = world.url("analysis")
    response, html = page(client, world.staff, url)
    assert "重点工作任务完成情况" in html and "工作创新和亮点" in html and "工作难点和薄弱环节" in html
    assert "data-char-count" in html and "<script>" not in html  # the counter is app.js's (CSP: no inline script)
    parts = {"completion": "全年 重点工作\n任务按期完成。", "innovation": "推行“一站式”服务。", "weaknesses": "基层调研不够。"}
    response, _ = page(client, world.staff, url, {"action": "save", **parts})
    assert response.status_code == 302
    response, html = page(client, world.staff, url)
    assert "已用 <span data-char-used>30</span> / 1400 字（不计空白）" in html
    # Over 1,400 characters together: refused, the count shown in red with the message.
    response, html = page(client, world.staff, url, {"action": "save", **parts, "completion": "完" * 1400})
    assert response.status_code == 200 and "三部分合计不超过 1400 字" in html and "1417" in html
    assert m.PerformanceAnalysis.objects.get(case=world.case).completion == parts["completion"]
    # A part left blank is refused at submit, beside the part.
    response, html = page(client, world.staff, url, {"action": "submit", **parts, "weaknesses": " "})
    assert response.status_code == 200 and "必须填写" in html
    response, _ = page(client, world.staff, url, {"action": "submit", **parts})
    assert response.status_code == 302

    sign = world.url("analysis_sign")
    response, html = page(client, world.staff, sign)
    assert response.status_code == 404 or "审定通过" not in html  # the staff do not sign
    response, html = page(client, world.head, sign)
    assert "推行“一站式”服务。" in html and "审定通过" in html
    response, _ = page(client, world.head, sign, {"action": "return", "comment": "请补充数据。"})
    assert response.status_code == 302
    response, html = page(client, world.staff, world.url("analysis"))
    assert "请补充数据。" in html
    response, _ = page(client, world.staff, world.url("analysis"), {"action": "submit", **parts})
    response, _ = page(client, world.head, world.url("analysis_sign"), {"action": "approve"})
    assert response.status_code == 302
    assert m.PerformanceAnalysis.objects.get(case=world.case).status == m.DraftStatus.APPROVED

    # The leader evaluation page shows the signed analysis beside the evaluator's form.
    evaluation_services.evaluators_set(user=world.office, round=world.round, user_ids=[world.leader.pk])
    response, html = page(client, world.leader, f"/rounds/{world.round.pk}/leader-evaluation/")
    assert "推行“一站式”服务。" in html and "尚未经党委（党组）审定" in html  # the other unit's is not signed


def test_samples_counts_link_and_delivery(client, world):
    url = world.url("samples")
    response, html = page(client, world.staff, url)
    assert f"/rounds/{world.round.pk}/sample-frames/" in html and "尚未上传" in html
    response, html = page(client, world.staff, url, {"action": "submit"})
    assert response.status_code == 200 and "尚未上传" in html
    world.upload(m.SampleListKind.GOV_SYSTEM, 2)
    world.upload(m.SampleListKind.GOV_HOT, 3)
    response, html = page(client, world.staff, url)
    assert "尚未上传" not in html and "<td>3</td>" in html
    response, _ = page(client, world.staff, url, {"action": "submit"})
    assert response.status_code == 302
    assert m.MaterialDelivery.objects.filter(case=world.case, material=m.Material.SAMPLES).exists()


def test_overview_is_the_offices(client, world):
    page(client, world.staff, world.url("situation"), {**SITUATION, "action": "submit"})
    m.MaterialDelivery.objects.filter(case=world.case).update(late=True)
    url = f"/rounds/{world.round.pk}/social-materials/"
    response, html = page(client, world.office, url)
    assert response.status_code == 200
    assert "自治区统计局" in html and "自治区妇联" in html and "late-delivery" in html and "未报送" in html
    response, html = page(client, world.leader, url)  # organisation-wide roles read it too
    assert response.status_code == 200
    for user in (world.staff, world.head, world.other_staff):
        response, _ = page(client, user, url)
        assert response.status_code == 403
    # The unit's case page shows its materials, not a self-assessment it does not have.
    response, html = page(client, world.staff, f"/cases/{world.case.pk}/")
    assert "社会评价材料报送情况" in html and "逾期报送" in html and "自评材料" not in html
    # A material not yet delivered shows its step's due (the analysis: the review phase's).
    review_due = timezone.localtime(world.round.review_due).strftime("%Y-%m-%d")
    assert re.search(r"年度绩效分析（附件9–11）</td><td>" + review_due, html), html
    response, html = page(client, world.office, f"/rounds/{world.round.pk}/")
    assert url in html
    response, html = page(client, world.staff, f"/rounds/{world.round.pk}/")
    assert url not in html
