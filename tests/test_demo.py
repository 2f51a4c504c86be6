"""The README's first command on the embedded default: migrate and load the demo on a new SQLite file."""

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

LOGINS_WITH_WORK = ["leader", "g1_leader", "g1_expert1", "u01_head", "u06_staff", "u14_staff",
                    "s02_head", "s03_staff", "s04_staff", "s06_staff"]
# Separation of duties in the demo: nobody is a superuser; the office reaches the admin as staff with
# model permissions, and cannot take the leader's 领导审定 task.
INBOXES = """
import json, os
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient
from cases.models import Round, User
counts = {}
for name in os.environ["DEMO_LOGINS"].split(","):
    client = APIClient(HTTP_HOST="127.0.0.1")
    client.credentials(HTTP_AUTHORIZATION="Token " + Token.objects.get_or_create(user=User.objects.get(username=name))[0].key)
    counts[name] = {scope: client.get("/api/v1/tasks/", {"scope": scope}).json()["count"] for scope in ("inbox", "queue")}
from django.test import Client
from viewflow.workflow.models import Task
office = User.objects.get(username="office")
approve = Task.objects.get(flow_task__endswith="RoundFlow.approve", status__in=["NEW", "ASSIGNED"])
api = APIClient(HTTP_HOST="127.0.0.1")
api.force_authenticate(office)
page = Client(HTTP_HOST="127.0.0.1")
page.force_login(office)
counts["_office"] = {
    "superusers": User.objects.filter(is_superuser=True).count(),
    "claim_approve": api.post(f"/api/v1/tasks/{approve.pk}/claim/").status_code,
    "approve": api.post(f"/api/v1/tasks/{approve.pk}/approve/", {}, format="json").status_code,
    "approve_owner": Task.objects.get(pk=approve.pk).owner.username,
    "admin_units": page.get("/admin/cases/unit/").status_code,
    "admin_rounds": page.get("/admin/cases/round/").status_code,
    "admin_issuers": page.get("/admin/notifications/issuer/").status_code,
}
social = Round.objects.get(kind="social")
counts["_office"]["social_overview"] = page.get(f"/rounds/{social.pk}/social-materials/").status_code
# The office's one questionnaire to review (S02's) is in its inbox, and its page opens.
counts["_office"]["review_pages"] = [page.get(f"/tasks/{t.pk}/").status_code for t in Task.objects.filter(
    flow_task__endswith="SocialCaseFlow.questionnaire_review", status__in=["NEW", "ASSIGNED"], owner=office)]
print(json.dumps(counts))
"""


def test_demo_loads_on_a_fresh_sqlite_database(tmp_path):
    env = {**os.environ, "DEBUG": "1", "VAR_DIR": str(tmp_path), "DATABASE_URL": f"sqlite:///{tmp_path}/demo.sqlite3"}
    env.pop("SECRET_KEY", None)
    for command in (["migrate", "--noinput", "-v0"], ["setup_demo"]):
        result = subprocess.run([sys.executable, "manage.py", *command], cwd=ROOT, env=env,
                                capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stdout + result.stderr
    assert "u06_staff" in result.stdout and "demo12345" in result.stdout

    db = sqlite3.connect(tmp_path / "demo.sqlite3")
    statuses = dict(db.execute("SELECT status, count(*) FROM cases_case GROUP BY status").fetchall())
    # Seed 000: 50 units in the half-year round, 3 + 2 in the two pilot rounds, 6 in the social round (seed
    # 004); cases at every step.
    assert sum(statuses.values()) == 61
    assert {"prepare", "sign_off", "inspect", "score", "review", "done"} <= set(statuses)
    # Issued documents of every kind, stored as PDFs with their checksum, and a draft.
    issued = db.execute("SELECT kind, pdf, sha256 FROM notifications_document WHERE status = 'issued'").fetchall()
    assert {kind for kind, _, _ in issued} == {"launch_notice", "results_notice", "committee_version",
                                               "feedback_letter", "reminder_letter", "rectification_notice",
                                               "rectification_ledger", "closure_sheet"}
    for _, pdf, sha256 in issued:
        assert hashlib.sha256((tmp_path / "uploads" / pdf).read_bytes()).hexdigest() == sha256
    assert db.execute("SELECT count(*) FROM notifications_document WHERE status = 'draft'").fetchone() == (1,)
    # Rectifications of the approved pilot round: one at each step, one closed, one plan overdue.
    rectifications = dict(db.execute("SELECT status, count(*) FROM cases_rectification GROUP BY status").fetchall())
    assert rectifications == {"planning": 1, "signing": 1, "plan_review": 1, "in_progress": 1, "verifying": 1,
                              "closed": 1}
    overdue = db.execute("SELECT count(*) FROM workflow_taskdeadline d JOIN viewflow_task t ON t.id = d.task_id"
                         " WHERE d.phase = 'rectify' AND t.status IN ('NEW', 'ASSIGNED')"
                         " AND d.due < strftime('%Y-%m-%d %H:%M:%S', 'now')").fetchone()
    assert overdue == (1,)
    waiting_for_leader = db.execute(
        "SELECT u.username FROM viewflow_task t JOIN cases_user u ON u.id = t.owner_id"
        " WHERE t.flow_task LIKE '%RoundFlow.approve' AND t.status = 'ASSIGNED'").fetchall()
    assert waiting_for_leader == [("leader",)]  # the demo's only leader has it in 我的待办

    # Seed 004's social round: from its template, its dues ahead; the units' materials at every step.
    social = db.execute("SELECT id, status, prepare_due > datetime('now'), review_due > datetime('now'), config"
                        " FROM cases_round WHERE kind = 'social'").fetchall()
    assert [row[:4] for row in social] == [(social[0][0], "running", 1, 1)]
    assert json.loads(social[0][4])["template"] == "social_evaluation"
    for table in ("cases_questionnaire", "cases_performanceanalysis"):
        assert dict(db.execute(f"SELECT status, count(*) FROM {table} GROUP BY status").fetchall()) == {
            "draft": 1, "submitted": 1, "returned": 1, "approved": 2}, table
    deliveries = db.execute("SELECT material, late, count(*) FROM cases_materialdelivery GROUP BY material, late"
                            " ORDER BY material, late").fetchall()
    assert deliveries == [("analysis", 0, 4), ("questionnaire", 0, 4), ("samples", 0, 4), ("samples", 1, 1),
                          ("situation", 0, 3)]
    assert db.execute("SELECT count(*) FROM cases_sampleframe WHERE is_current").fetchone() == (11,)
    assert db.execute("SELECT count(*) FROM cases_leaderevaluator").fetchone() == (3,)
    assert db.execute("SELECT count(*) FROM cases_leaderevaluationparticipation").fetchone() == (2,)

    # Every login the demo prints for a role that acts finds a task in its inbox or queue, read through
    # the API on SQLite (the paths that stand in for PostgreSQL's prepared statements).
    result = subprocess.run([sys.executable, "manage.py", "shell", "-c", INBOXES], cwd=ROOT,
                            env={**env, "DEMO_LOGINS": ",".join(LOGINS_WITH_WORK)},
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    counts = json.loads(result.stdout.strip().splitlines()[-1])
    for name in LOGINS_WITH_WORK:
        # Work with an evident owner lands in 我的待办, not under 可认领.
        assert counts[name]["inbox"] > 0, (name, counts)
    assert counts["_office"] == {"superusers": 0, "claim_approve": 403, "approve": 403, "approve_owner": "leader",
                                 "admin_units": 200, "admin_rounds": 200, "admin_issuers": 200,
                                 "social_overview": 200, "review_pages": [200]}
    assert counts["g1_expert1"]["inbox"] == 1  # the sheet left open for the demo's expert
