"""Round templates (考评模板): the ready ones load and give the seeds' dates; a bad file names every problem; the
office creates a draft round from one (by code, or from a changed copy), through the API and the rounds page;
nobody else can, and they are refused before the body is read."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import yaml

from cases import models as m
from cases import round_templates as t
from cases.scoring import round_config
from notifications.documents import kinds
from tests.api_helpers import API, ok
from tests.factories import make_user

SH = ZoneInfo("Asia/Shanghai")
URL = f"{API}/round-templates/create-round/"


def test_every_seed_has_a_ready_template_whose_rubric_and_config_are_valid():
    ready = {x.seed: x for x in t.ready_templates()}
    assert sorted(ready) == ["000", "001", "002", "003", "004"]
    for template in ready.values():
        assert t.rubric_file(template.rubric) is not None, template.code
        assert round_config.problems(template.round_config()) == [], template.code
    assert ready["002"].round_config()["grades"]["bands"] == [["优秀", "25"], ["良好", "35"], ["达标", "34"],
                                                              ["不达标", "6"]]
    assert ready["000"].config["grade_source"] == "proposal" and ready["000"].config["report_char_limit"] == 2000


def test_the_phases_follow_each_other_as_the_seed_s_dates_do():
    # Seed 001: self-check until 12-22, group assessment 12-23 to 12-27, the committee 12-28 to 12-31.
    dues = t.ready_template("party_building_annual").dues(date(2013, 12, 9))
    at = {k: v.astimezone(SH).strftime("%m-%d %H:%M") for k, v in dues.items()}
    assert at == {"prepare_due": "12-22 23:59", "inspect_due": "12-27 23:59", "review_due": "12-29 23:59",
                  "approve_due": "12-31 23:59", "report_due": "01-05 23:59"}
    # Seed 004: lists and questionnaires by 11-13, the situation table and reports by 12-10, the analysis by 12-20.
    dues = t.ready_template("social_evaluation").dues(date(2015, 11, 2))
    assert [dues[f].astimezone(SH).strftime("%m-%d") for f in ("prepare_due", "inspect_due", "review_due")] == \
        ["11-13", "12-10", "12-20"]
    # Seed 000: preparation 6-28 to 7-8, inspection 7-9 to 7-19, the rest to 7-30.
    dues = t.ready_template("half_year_tracking").dues(date(2018, 6, 28))
    assert (dues["prepare_due"].date(), dues["inspect_due"].date(), dues["report_due"].date()) == (
        date(2018, 7, 8), date(2018, 7, 19), date(2018, 7, 30))


def test_a_bad_template_names_every_problem_by_its_path():
    doc = yaml.safe_load(t.template_path("city_organ_annual").read_text("utf-8"))
    doc.update(kind="yearly", methods=["听汇报", "打电话"], extra=1)
    doc["phases"]["inspect"] = 0
    del doc["phases"]["report"]
    doc["config"]["rectification_start"] = "soon"
    with pytest.raises(t.DocumentError) as refused:
        t.template_from_dict(doc)
    messages = refused.value.messages
    for path in ("kind:", "methods[1]:", "extra: unknown key", "phases.inspect: must be at least 1",
                 "phases.report: missing", "config: rectification_start"):
        assert any(x.startswith(path) for x in messages), (path, messages)


@pytest.mark.django_db
def test_the_office_creates_a_round_from_a_template_and_its_rubric_is_loaded_on_first_use(api):
    office = make_user("office-t", org_role=m.OrgRole.OFFICE)
    assert not m.Rubric.objects.filter(code="wuxing_2016").exists()
    body = ok(api(office).post(URL, {"template": "wuxing_creation", "year": 2016, "start": "2017-05-08"},
                               format="json"), 201)
    round = m.Round.objects.get(pk=body["id"])
    assert (round.title, round.kind, round.rubric.code, round.status) == (
        "2016年度市直机关创建“五型机关”调研考核", "creation", "wuxing_2016", m.RoundStatus.DRAFT)
    assert round.inspect_due == datetime(2017, 5, 27, 23, 59, 59, tzinfo=SH)  # 5-15 to 5-27, as the seed
    assert round.config["template"] == "wuxing_creation" and round.config["methods"][-1] == "座谈交流"
    assert m.AuditEntry.objects.filter(action="round.create", object_id=str(round.pk)).exists()
    # A second round reuses the loaded rubric.
    again = ok(api(office).post(URL, {"template": "wuxing_creation", "year": 2017, "start": "2018-05-07",
                                      "title": "2017年度五型机关考核"}, format="json"), 201)
    assert again["title"] == "2017年度五型机关考核" and m.Rubric.objects.filter(code="wuxing_2016").count() == 1
    # The launch notice speaks of the template's methods and requirements.
    content = kinds.launch_notice(round, None, {})
    text = "".join(content.body)
    assert "听汇报、查资料、现场察访、座谈交流" in text and "不得打“人情分”“关系分”" in text


@pytest.mark.django_db
def test_a_changed_copy_is_checked_like_a_rubric_file(api):
    office = make_user("office-t", org_role=m.OrgRole.OFFICE)
    download = api(office).get(f"{API}/round-templates/city_organ_annual.yaml")
    assert download.status_code == 200 and download["Content-Type"].startswith("application/yaml")
    text = download.content.decode()
    assert "city_organ_2013" in text
    changed = text.replace("inspect: 15", "inspect: 20").replace("title: \"{year}年度市机关绩效考评\"",
                                                                  "title: \"{year}年度师机关绩效考评\"")
    body = ok(api(office).post(URL, {"template_yaml": changed, "year": 2013, "start": "2013-11-01"},
                               format="json"), 201)
    round = m.Round.objects.get(pk=body["id"])
    assert round.title == "2013年度师机关绩效考评"
    assert round.inspect_due.astimezone(SH).date() == date(2013, 12, 5)  # 15 + 20 days from 11-01
    bad = ok(api(office).post(URL, {"template_yaml": changed.replace("kind: annual", "kind: yearly"),
                                    "year": 2013, "start": "2013-11-01"}, format="json"), 400)
    assert any(x.startswith("kind:") for x in bad["errors"]["template_yaml"])
    both = ok(api(office).post(URL, {"template": "city_organ_annual", "template_yaml": changed, "year": 2013,
                                     "start": "2013-11-01"}, format="json"), 400)
    assert "template" in both["errors"]
    unknown = ok(api(office).post(URL, {"template": "nope", "year": 1999, "start": "x", "color": 1},
                                  format="json"), 400)
    assert {"year", "start", "color"} <= set(unknown["errors"])
    assert m.Round.objects.count() == 1


@pytest.mark.django_db
def test_only_the_office_creates_rounds_and_others_are_refused_before_the_body(api, client):
    staff = make_user("staff-t")
    leader = make_user("leader-t", org_role=m.OrgRole.LEADER)
    for user in (staff, leader):
        ok(api(user).post(URL, "not json at all", content_type="application/json"), 403)
        assert len(ok(api(user).get(f"{API}/round-templates/"))) == 5  # reading them is fine
    assert api().post(URL, {}, format="json").status_code in (401, 403)
    assert m.Round.objects.count() == 0
    # The rounds page: the office's form only.
    client.force_login(staff)
    assert "按模板新建考评轮次" not in client.get("/rounds/").content.decode()
    office = make_user("office-t", org_role=m.OrgRole.OFFICE)
    client.force_login(office)
    assert "按模板新建考评轮次" in client.get("/rounds/").content.decode()
    bad = client.post("/rounds/", {"template": "city_organ_annual", "year": "2013", "start": ""})
    assert bad.status_code == 200 and "start" in bad.content.decode() and m.Round.objects.count() == 0
    made = client.post("/rounds/", {"template": "city_organ_annual", "year": "2013", "start": "2013-11-01"})
    round = m.Round.objects.get()
    assert made.status_code == 302 and made["Location"] == f"/rounds/{round.pk}/"
    assert round.config["grades"]["scheme"] == "distribution" and round.config["rank_by_category"] is True
