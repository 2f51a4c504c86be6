"""A whole round of three units through every step, only through the HTTP API.

Setup that has no API (people, unit memberships, the rubric) is made with the builders; everything
from creating units, the round and its group onwards is an HTTP request by the role that owns it.
"""

from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from cases import models as m
from tests.api_helpers import API, act, all_pages, find_task, ids, ok, tasks
from tests.factories import PASSWORD, make_rubric, make_user, round_dates


def token_client(username: str) -> APIClient:
    """A client that authenticates with a real token from /api/v1/auth/token/."""
    anonymous = APIClient()
    token = ok(anonymous.post(f"{API}/auth/token/", {"username": username, "password": PASSWORD}))["token"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def session_client(username: str) -> APIClient:
    """A client that signs in through the login page and sends the CSRF token like a browser."""
    client = APIClient(enforce_csrf_checks=True)
    assert client.get("/accounts/login/").status_code == 200
    csrf = client.cookies["csrftoken"].value
    resp = client.post("/accounts/login/", {"username": username, "password": PASSWORD, "csrfmiddlewaretoken": csrf})
    assert resp.status_code == 302, resp.content[:500]
    client.credentials(HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value)
    return client


@pytest.fixture
def people(db):
    p = {
        "office": make_user("api_office", org_role=m.OrgRole.OFFICE),
        "leader": make_user("api_leader", org_role=m.OrgRole.LEADER),
        "auditor": make_user("api_auditor", org_role=m.OrgRole.AUDITOR),
        "gl": make_user("api_gl"),
        "deputy": make_user("api_deputy"),
        "liaison": make_user("api_liaison"),
        "e1": make_user("api_e1"),
        "e2": make_user("api_e2"),
        "staff": [make_user(f"api_staff{i}") for i in range(3)],
        "heads": [make_user(f"api_head{i}") for i in range(3)],
    }
    return p


def test_whole_round_through_the_api(people, api):
    office_api = token_client("api_office")  # real token auth
    rubric = make_rubric()
    items = {i.code: i for i in rubric.items.all()}

    # --- office: units, round, group, launch -------------------------------------------------
    unit_ids = []
    for i in range(3):
        body = ok(
            office_api.post(
                f"{API}/units/",
                {
                    "code": f"API{i}",
                    "name": f"接口单位{i}",
                    "category": "政府工作部门",
                    "sort_order": i,
                },
                format="json",
            ),
            201,
        )
        unit_ids.append(body["id"])
    for i, uid in enumerate(unit_ids):
        m.UnitMembership.objects.create(user=people["staff"][i], unit_id=uid, role=m.UnitRole.STAFF)
        m.UnitMembership.objects.create(user=people["heads"][i], unit_id=uid, role=m.UnitRole.HEAD)

    dates = {k: v.isoformat() for k, v in round_dates().items()}
    rnd = ok(
        office_api.post(
            f"{API}/rounds/",
            {
                "title": "2026年上半年跟踪考评",
                "kind": "half_year",
                "year": 2026,
                "rubric": rubric.pk,
                "config": {"report_char_limit": 500, "aggregation": "mean"},
                **dates,
            },
            format="json",
        ),
        201,
    )
    assert rnd["status"] == "draft"
    round_id = rnd["id"]
    group = ok(
        office_api.post(
            f"{API}/groups/",
            {
                "round": round_id,
                "number": 1,
                "name": "第一组",
                "phone": "0431-88900001",
                "members": [
                    {"user": people["gl"].pk, "role": "leader"},
                    {"user": people["deputy"].pk, "role": "deputy"},
                    {"user": people["liaison"].pk, "role": "liaison"},
                    {"user": people["e1"].pk, "role": "expert"},
                    {"user": people["e2"].pk, "role": "expert"},
                ],
                "units": unit_ids,
            },
            format="json",
        ),
        201,
    )
    assert sorted(u["id"] for u in group["unit_list"]) == sorted(unit_ids)

    launched = ok(office_api.post(f"{API}/rounds/{round_id}/launch/"))
    assert launched["status"] == "running" and launched["launched_at"]
    assert ok(office_api.get(f"{API}/rubrics/{rubric.pk}/"))["frozen"] is True
    # Launching twice is a conflict, not a second set of processes.
    assert office_api.post(f"{API}/rounds/{round_id}/launch/").status_code == 409

    cases = {c["unit"]["id"]: c for c in all_pages(office_api, f"{API}/cases/", {"round": round_id})}
    case_ids = [cases[uid]["id"] for uid in unit_ids]
    assert {c["status"] for c in cases.values()} == {"prepare"}

    # --- prepare and sign-off; unit 0's head returns the report once ---------------------------
    staff = [api(u) for u in people["staff"]]
    heads = [api(u) for u in people["heads"]]
    heads[0] = session_client("api_head0")  # real session login with CSRF
    for i, client in enumerate(staff):
        # Each unit has one staff member: the task is theirs from the launch on.
        task = find_task(client, "prepare", scope="inbox", case=case_ids[i])
        assert task["actions"] == ["submit"] and task["owner"] == people["staff"][i].pk
        act(
            client,
            task["id"],
            "submit",
            report=f"单位{i}上半年自评报告。",
            self_scores={"S1.1": "5.5"},
            statistics={"党委会": {"target": 6, "done": 3}},
        )

    sign_off = find_task(heads[0], "sign_off", scope="inbox", case=case_ids[0])
    act(heads[0], sign_off["id"], "return", comment="请补充佐证材料")
    subs = all_pages(staff[0], f"{API}/submissions/", {"case": case_ids[0]})
    assert [(s["attempt"], s["status"], s["return_comment"]) for s in subs] == [(1, "returned", "请补充佐证材料")]
    assert ok(staff[0].get(f"{API}/cases/{case_ids[0]}/"))["status"] == "prepare"
    # The next attempt starts from the returned text and self-scores.
    again = find_task(staff[0], "prepare", scope="inbox", case=case_ids[0])
    assert again["id"] != task["id"]
    draft = ok(
        staff[0].put(
            f"{API}/cases/{case_ids[0]}/submission/",
            {"statistics": {"党委会": {"target": 6, "done": 4}}},
            format="json",
        )
    )
    assert (draft["attempt"], draft["status"]) == (2, "draft")
    assert draft["report"] == "单位0上半年自评报告。"
    assert {k: Decimal(v) for k, v in draft["self_scores"].items()} == {"S1.1": Decimal("5.5")}
    act(staff[0], again["id"], "submit", report=draft["report"] + "补充了佐证材料。")
    subs = all_pages(staff[0], f"{API}/submissions/", {"case": case_ids[0]})
    assert [(s["attempt"], s["status"]) for s in subs] == [(1, "returned"), (2, "submitted")]
    assert subs[0]["report"] == "单位0上半年自评报告。"  # history kept
    assert subs[1]["report"] == "单位0上半年自评报告。补充了佐证材料。"

    for i, client in enumerate(heads):
        act(client, find_task(client, "sign_off", scope="inbox", case=case_ids[i])["id"], "approve")
    assert {c["status"] for c in all_pages(office_api, f"{API}/cases/", {"round": round_id})} == {"inspect"}
    assert m.Submission.objects.filter(case_id__in=case_ids, status="signed").count() == 3

    # --- inspect: the group records what it found, then hands over to the experts -------------
    gl, deputy = api(people["gl"]), api(people["deputy"])
    ok(
        gl.post(
            f"{API}/inspections/",
            {
                "case": case_ids[0],
                "method": "查资料",
                "date": "2026-07-10",
                "place": "会议室",
                "notes": "资料基本齐全",
            },
            format="json",
        ),
        201,
    )
    finding = ok(
        gl.post(
            f"{API}/findings/",
            {
                "case": case_ids[0],
                "source": "inspection",
                "description": "制度未更新",
                "item": items["S1.1"].pk,
                "deduction_amount": "0.50",
                "requires_rectification": True,
            },
            format="json",
        ),
        201,
    )
    assert ids(all_pages(api(people["staff"][0]), f"{API}/findings/", {"case": case_ids[0]})) == {finding["id"]}
    # The group's one leader has them all; he gives case 2's back for his deputy.
    inspect_tasks = tasks(gl, "inbox", step="inspect")
    assert sorted(t["case"]["id"] for t in inspect_tasks) == sorted(case_ids)
    act(gl, find_task(gl, "inspect", scope="inbox", case=case_ids[2])["id"], "unclaim")
    act(deputy, find_task(deputy, "inspect", case=case_ids[2])["id"], "submit")
    for cid in case_ids[:2]:
        act(gl, find_task(gl, "inspect", scope="inbox", case=cid)["id"], "submit")

    # --- score: one task per expert and case, already assigned -------------------------------
    e1, e2 = api(people["e1"]), api(people["e2"])
    for expert, client in ((people["e1"], e1), (people["e2"], e2)):
        inbox = tasks(client, "inbox", step="score")
        assert sorted(t["case"]["id"] for t in inbox) == sorted(case_ids)
        assert {t["owner"] for t in inbox} == {expert.pk}
    for cid in case_ids:
        # e1 saves the items on the sheet first, then submits the task.
        sheet = all_pages(e1, f"{API}/score-sheets/", {"case": cid})
        assert len(sheet) == 1 and sheet[0]["status"] == "draft"
        ok(
            e1.put(
                f"{API}/score-sheets/{sheet[0]['id']}/items/",
                {
                    "items": [
                        {"item": "S1.1", "deduction": "2", "reason": "制度未更新"},
                        {"item": "S1.2", "bonus": "1", "reason": "创新做法"},
                    ],
                },
                format="json",
            )
        )
        act(e1, find_task(e1, "score", scope="inbox", case=cid)["id"], "submit")
        # e2 sends the items with the submit.
        act(
            e2,
            find_task(e2, "score", scope="inbox", case=cid)["id"],
            "submit",
            items=[{"item": "S2.2", "deduction": "0.5", "reason": "迟报"}],
        )
    totals = {(s.case_id, s.expert_id): s.total for s in m.ScoreSheet.objects.filter(case_id__in=case_ids)}
    assert totals[(case_ids[0], people["e1"].pk)] == Decimal("14.00")  # 15 − 2 + 1 bonus
    assert totals[(case_ids[0], people["e2"].pk)] == Decimal("14.50")  # 15 − 0.5
    assert {c["status"] for c in all_pages(office_api, f"{API}/cases/", {"round": round_id})} == {"review"}

    # --- review: the group leader returns e2's sheet on case 0 -------------------------------
    review0 = find_task(gl, "review", scope="inbox", case=case_ids[0])
    assert set(review0["actions"]) == {"approve", "return"}
    sheets0 = {s["expert"]: s for s in all_pages(gl, f"{API}/score-sheets/", {"case": case_ids[0]})}
    assert set(sheets0) == {people["e1"].pk, people["e2"].pk}
    act(gl, review0["id"], "return", sheets=[sheets0[people["e2"].pk]["id"]], comment="S2.2 扣分依据不足，请复核")
    history = all_pages(gl, f"{API}/score-sheets/", {"case": case_ids[0], "expert": people["e2"].pk})
    assert [(s["attempt"], s["status"]) for s in history] == [(1, "returned"), (2, "draft")]
    assert history[0]["return_comment"] == "S2.2 扣分依据不足，请复核"
    assert history[0]["total"] == "14.50" and history[0]["returned_by"] == people["gl"].pk
    assert history[1]["item_scores"] == [{"item": "S2.2", "deduction": "0.50", "bonus": "0.00", "reason": "迟报"}]
    # The expert sees the returned sheet and its comment too.
    assert ids(all_pages(e2, f"{API}/score-sheets/", {"case": case_ids[0]})) == ids(history)
    assert ok(gl.get(f"{API}/cases/{case_ids[0]}/"))["status"] == "score"
    # Only e2 scores again; e1's sheet stays as it was.
    assert tasks(e1, "inbox", step="score") == []
    rescore = find_task(e2, "score", scope="inbox", case=case_ids[0])
    ok(
        e2.put(
            f"{API}/score-sheets/{history[1]['id']}/items/",
            {
                "items": [{"item": "S2.2", "deduction": "0", "reason": ""}],
                "reason": "复核后不扣分",
            },
            format="json",
        )
    )
    act(e2, rescore["id"], "submit")
    sheet = m.ScoreSheet.objects.get(pk=history[1]["id"])
    assert (sheet.status, sheet.total) == ("submitted", Decimal("15.00"))
    assert m.ScoreSheet.objects.get(pk=history[0]["id"]).total == Decimal("14.50")

    act(gl, find_task(gl, "review", scope="inbox", case=case_ids[0])["id"], "approve")
    act(gl, find_task(gl, "review", scope="inbox", case=case_ids[1])["id"], "approve")
    act(gl, find_task(gl, "review", scope="inbox", case=case_ids[2])["id"], "unclaim")
    act(deputy, find_task(deputy, "review", case=case_ids[2])["id"], "approve")
    assert {c["status"] for c in all_pages(office_api, f"{API}/cases/", {"round": round_id})} == {"done"}
    assert ok(office_api.get(f"{API}/rounds/{round_id}/"))["status"] == "compiling"

    # --- round: compile, leader returns once, approve, report --------------------------------
    leader = api(people["leader"])
    assert tasks(leader, "queue") == [] and tasks(leader, "inbox") == []
    # One office member, one leader: the round's tasks are theirs.
    act(office_api, find_task(office_api, "compile", scope="inbox")["id"], "submit")
    assert ok(office_api.get(f"{API}/rounds/{round_id}/"))["status"] == "approving"
    approve = find_task(leader, "approve", scope="inbox")
    act(leader, approve["id"], "return", comment="请复核第一组评分")
    assert ok(office_api.get(f"{API}/rounds/{round_id}/"))["status"] == "compiling"
    archived = [t for t in tasks(leader, "archive") if t["id"] == approve["id"]]
    assert archived and archived[0]["comment"] == "请复核第一组评分"
    act(office_api, find_task(office_api, "compile", scope="inbox")["id"], "submit")
    act(leader, find_task(leader, "approve", scope="inbox")["id"], "approve")
    assert ok(office_api.get(f"{API}/rounds/{round_id}/"))["status"] == "reporting"
    act(office_api, find_task(office_api, "report", scope="inbox")["id"], "submit")

    assert ok(office_api.get(f"{API}/rounds/{round_id}/"))["status"] == "closed"
    assert {c["status"] for c in all_pages(office_api, f"{API}/cases/", {"round": round_id})} == {"done"}
    # What is left is the rectification the approval opened for the finding that requires one.
    rectifications = all_pages(office_api, f"{API}/rectifications/", {"round": round_id})
    assert [r["status"] for r in rectifications] == ["planning"]
    for client in [office_api, leader, gl, deputy, e1, e2, *staff, *heads]:
        assert tasks(client, "queue") == []
        assert [t["step"] for t in tasks(client, "inbox") if t["flow"] == "rectification"] in ([], ["plan"])
        assert [t for t in tasks(client, "inbox") if t["flow"] != "rectification"] == []

    # --- audit: every decision is there, readable by the auditor -----------------------------
    audit = all_pages(api(people["auditor"]), f"{API}/audit/", {"round": round_id})
    counts: dict[str, int] = {}
    for entry in audit:
        counts[entry["action"]] = counts.get(entry["action"], 0) + 1
    assert counts["round.launch"] == 1
    assert counts["submission.submit"] == 4
    assert counts["submission.sign_off"] == 3
    assert counts["submission.return"] == 1
    assert counts["score_sheet.submit"] == 7
    assert counts["score_sheet.return"] == 1
    assert counts["round.return"] == 1 and counts["round.approve"] == 1
    returned = next(e for e in audit if e["action"] == "round.return")
    assert returned["comment"] == "请复核第一组评分" and returned["actor"] == people["leader"].pk
    sheet_return = next(e for e in audit if e["action"] == "score_sheet.return")
    assert sheet_return["before"] == {"total": "14.50"}


def test_flow_diagrams_schema_and_docs(api, launched_round):
    r = launched_round
    staff = api(r.staff[0])
    for flow in ("case", "round"):
        resp = staff.get(f"{API}/flows/{flow}/diagram.svg")
        assert resp.status_code == 200 and resp["Content-Type"].startswith("image/svg+xml")
        assert b"<svg" in resp.content
    assert staff.get(f"{API}/flows/nope/diagram.svg").status_code == 404

    resp = staff.get(f"{API}/cases/{r.cases[0].pk}/diagram.svg")
    assert resp.status_code == 200 and resp["Content-Type"].startswith("image/svg+xml")
    assert b"<svg" in resp.content
    # Another unit's case diagram is as invisible as the case itself.
    assert staff.get(f"{API}/cases/{r.cases[1].pk}/diagram.svg").status_code == 404
    assert api().get(f"{API}/flows/case/diagram.svg").status_code in (401, 403)

    schema = staff.get("/api/schema/")
    assert schema.status_code == 200
    text = schema.content.decode()
    assert "openapi: 3" in text and "/api/v1/tasks/{id}/approve/" in text and "/api/v1/rounds/{id}/launch/" in text
    docs = staff.get("/api/docs/")
    assert docs.status_code == 200 and b"swagger" in docs.content.lower()
