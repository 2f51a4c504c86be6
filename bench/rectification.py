"""Benchmark: the rectification ledger (整改台账) with 20,000 rectifications across 100 rounds.

    python bench/rectification.py    # prints ledger_p95_ms=<n> … and ledger_xlsx_20000_s=<n> …

Creates and migrates its own database (bench_rectification) and bulk-creates: 200 units (a staff member and a
head each), 100 rounds of the same kind with 4 groups each, 20,000 cases, one finding requiring rectification
per case and its rectification (20,000), spread over the statuses (55 % closed, some overdue, every tenth
recurring an earlier round's), a verification review for every closed one and some returned ones, measures.

Then, against `gunicorn config.wsgi -w 4` on 127.0.0.1, 8 client threads, the office's ledger page across every
round (`GET /api/v1/rectification-ledger/`: 50 rows, the figures across rounds and per round) beside a bare DRF
list endpoint of the same server (`GET /api/v1/units/`, a page of 50 units: token auth, a queryset, a
ModelSerializer) in the same run, with CPU ms per request; a group leader's and a unit's ledger pages; and the
whole ledger as Excel (`GET /api/v1/rectification-ledger.xlsx`, 20,000 rows) beside a raw openpyxl write-only
workbook of the same rows read with one plain query.
"""

import http.client
import io
import os
import random
import sys
import threading
import time
from datetime import UTC, date, datetime, timedelta

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

DB = _common.db_name("bench_rectification")
ROUNDS = 100
UNITS = 200
GROUPS = 4
CLIENTS = 8
WARMUP = 80
PER_CLIENT = 100
TODAY = date.today()  # the seeded due dates are around the server's today


def seed(rng: random.Random):
    from django.contrib.auth.hashers import make_password
    from django.db import connection

    from cases import models as m
    from cases.rubrics.services import rubric_create

    t = time.perf_counter()
    rubric = rubric_create(spec={
        "code": "bench", "title": "Bench rubric",
        "sections": [{"code": "S1", "title": "A", "max": "10",
                      "items": [{"code": "S1.1", "content": "x", "max": "6"}, {"code": "S1.2", "content": "y", "max": "4"}]}],
    })
    password = make_password("bench")
    office = m.User.objects.create(username="office", org_role="office", password=password, display_name="考核办")
    people = m.User.objects.bulk_create(
        m.User(username=f"{role}{n:03d}", password=password, display_name=f"{'填报员' if role == 'staff' else '负责人'}{n:03d}")
        for n in range(UNITS) for role in ("staff", "head"))
    leaders = m.User.objects.bulk_create(m.User(username=f"lead{n:02d}", password=password) for n in range(20))
    units = m.Unit.objects.bulk_create(
        m.Unit(code=f"U{n:03d}", name=f"单位{n:03d}", category="其他", sort_order=n) for n in range(UNITS))
    m.UnitMembership.objects.bulk_create(
        m.UnitMembership(user=people[2 * n + k], unit=units[n], role=role)
        for n in range(UNITS) for k, role in enumerate(("staff", "head")))
    start = datetime(2022, 1, 3, 1, 0, tzinfo=UTC)
    grades = {"scheme": "thresholds", "bands": [["优秀", "90"], ["良好", "80"], ["一般", "0"]]}
    rounds = m.Round.objects.bulk_create(
        m.Round(title=f"第{r + 1:03d}轮考评", kind="half_year", year=2022 + r // 25, rubric=rubric, status="closed",
                config={**m.default_round_config(), "grades": grades},
                **{f: start + timedelta(days=15 * r + 2 * (i + 1)) for i, f in enumerate(m.Round.DUE_FIELDS)},
                created=start + timedelta(days=15 * r), created_by=office)
        for r in range(ROUNDS))
    groups = m.Group.objects.bulk_create(
        m.Group(round=rounds[r], number=g + 1, name=f"第{g + 1}组") for r in range(ROUNDS) for g in range(GROUPS))
    m.GroupMember.objects.bulk_create(
        m.GroupMember(group=groups[i], user=leaders[i % len(leaders)], role="leader") for i in range(len(groups)))
    per_group = UNITS // GROUPS
    cases = m.Case.objects.bulk_create(
        (m.Case(round=rounds[r], unit=units[n], group=groups[r * GROUPS + n // per_group], status="done")
         for r in range(ROUNDS) for n in range(UNITS)), batch_size=5000)
    findings = m.Finding.objects.bulk_create(
        (m.Finding(case=c, source="inspection", description=f"{c.unit.name}第{k % 7 + 1}类问题：制度执行不到位，台账记录不完整",
                   requires_rectification=True) for k, c in enumerate(cases)), batch_size=5000)
    statuses = ["planning", "signing", "plan_review", "in_progress", "verifying"]
    rects = []
    for c, f in zip(cases, findings, strict=True):
        due = TODAY + timedelta(days=rng.randint(-60, 60))
        closed = rng.random() < 0.55
        closed_at = (datetime.combine(due + timedelta(days=rng.randint(-20, 5)), datetime.min.time(), tzinfo=UTC)
                     + timedelta(hours=rng.randint(0, 23))) if closed else None
        published = closed and rng.random() < 0.5
        rects.append(m.Rectification(
            round=c.round, case=c, unit=c.unit, group=c.group, source="finding", finding=f,
            status="closed" if closed else rng.choice(statuses), problem=f.description, target="建立长效机制",
            plan_due=due - timedelta(days=30), due_date=due, closed_at=closed_at, verified_by=office if closed else None,
            published_from=closed_at.date() if published else None,
            published_until=closed_at.date() + timedelta(days=rng.choice([20, 30, 45])) if published else None))
    rects = m.Rectification.objects.bulk_create(rects, batch_size=5000)
    # Every tenth of the later rounds' repeats the same unit's rectification of the round before.
    recurring = []
    for k in range(UNITS, len(rects), 10):
        rects[k].recurring_of_id = rects[k - UNITS].pk
        recurring.append(rects[k])
    m.Rectification.objects.bulk_update(recurring, ["recurring_of"], batch_size=5000)
    reviews = []
    for r in rects:
        if r.status == "closed":
            reviews.append(m.RectificationReview(rectification=r, stage="verification", decision="accept",
                                                 reviewer=office, at=r.closed_at))
            if rng.random() < 0.2:
                reviews.append(m.RectificationReview(rectification=r, stage="verification", decision="return",
                                                     reviewer=office, at=r.closed_at - timedelta(days=3)))
        elif r.status == "verifying" and rng.random() < 0.3:
            reviews.append(m.RectificationReview(rectification=r, stage="verification", decision="return",
                                                 reviewer=office, at=datetime(2026, 11, 1, tzinfo=UTC)))
    m.RectificationReview.objects.bulk_create(reviews, batch_size=5000)
    m.RectificationMeasure.objects.bulk_create(
        (m.RectificationMeasure(rectification=r, position=1, text="完善制度", responsible="责任人", due_date=r.due_date)
         for r in rects), batch_size=5000)
    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE")
    print(f"# seeded rounds={ROUNDS} units={UNITS} rectifications={len(rects)} reviews={len(reviews)} "
          f"closed={sum(r.status == 'closed' for r in rects)} in {time.perf_counter() - t:.1f} s")
    return office, leaders[0], people[0]


def check_queries(user) -> None:
    """Statements of one ledger page: constant whatever the page's rows, with the figures counted (cold: the
    first request after a change) and with the figures cached (warm: every other request)."""
    from django.core.cache import cache
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from rest_framework.test import APIClient

    client = APIClient(HTTP_HOST="localhost")
    client.force_authenticate(user)
    client.get("/api/v1/rectification-ledger/")
    counts: dict[str, list[int]] = {"cold": [], "warm": []}
    bodies = []
    for params in ({}, {"page_size": 200}, {"overdue": "true"}):
        cache.clear()
        for kind in ("cold", "warm"):
            with CaptureQueriesContext(connection) as queries:
                response = client.get("/api/v1/rectification-ledger/", params)
            assert response.status_code == 200, response.content[:300]
            # A shape's first request also prepares its statement (once per connection): not counted.
            counts[kind].append(sum(1 for q in queries if not q["sql"].startswith("PREPARE")))
        bodies.append(response.json())
    body = bodies[0]
    print(f"# queries_per_ledger_request cold={counts['cold']} warm={counts['warm']} (first page, a page of 200, "
          f"overdue only); figures across rounds {body['figures']}")
    assert len(set(counts["cold"])) == 1 and len(set(counts["warm"])) == 1, counts


def timed_get(base: str, token: str, path: str) -> tuple[float, bytes]:
    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=120)
    t = time.perf_counter()
    conn.request("GET", path, headers={"Authorization": f"Token {token}"})
    response = conn.getresponse()
    body = response.read()
    elapsed = time.perf_counter() - t
    conn.close()
    if response.status != 200:
        raise RuntimeError(f"{path}: HTTP {response.status}: {body[:300]!r}")
    return elapsed, body


def under_load(base: str, cpu, token: str, path: str) -> tuple[list[float], float, str]:
    def run(n, out):
        for _ in range(n):
            out.append(timed_get(base, token, path)[0] * 1000)

    def in_threads(per_client):
        results = [[] for _ in range(CLIENTS)]
        threads = [threading.Thread(target=run, args=(per_client, results[k])) for k in range(CLIENTS)]
        t = time.perf_counter()
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        flat = [x for chunk in results for x in chunk]
        if len(flat) != CLIENTS * per_client:
            raise RuntimeError("a client thread failed")
        return flat, time.perf_counter() - t

    in_threads(WARMUP // CLIENTS)
    before = cpu.sample()
    ms, wall = in_threads(PER_CLIENT)
    return ms, wall, cpu.report(before, cpu.sample(), len(ms))


def raw_xlsx_seconds() -> tuple[float, int]:
    """The same columns, read with one plain query (no subqueries, no per-row Python beyond the append) and
    written with a bare write-only openpyxl workbook: the floor of an export of these rows."""
    from django.db import connection
    from openpyxl import Workbook

    t = time.perf_counter()
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("raw")
    n = 0
    with connection.cursor() as cur:
        cur.execute("""
            SELECT r.id, ro.title, u.name, g.name, f.description, r.plan_due, r.due_date, r.status, r.closed_at,
                   r.published_from, r.published_until
            FROM cases_rectification r JOIN cases_round ro ON ro.id = r.round_id JOIN cases_unit u ON u.id = r.unit_id
            JOIN cases_group g ON g.id = r.group_id LEFT JOIN cases_finding f ON f.id = r.finding_id
            ORDER BY r.round_id, u.sort_order, r.id""")
        for row in cur:
            ws.append([*row[:8], row[8].replace(tzinfo=None) if row[8] else None, *row[9:]])
            n += 1
    wb.save(io.BytesIO())
    return time.perf_counter() - t, n


def main() -> None:
    _common.setup(DB)
    from rest_framework.authtoken.models import Token

    office, lead, staff = seed(random.Random(2026))
    check_queries(office)
    raw_s, raw_rows = raw_xlsx_seconds()
    tokens = {name: Token.objects.get_or_create(user=u)[0].key for name, u in
              (("office", office), ("lead", lead), ("staff", staff))}
    from django.db import connection

    connection.close()
    with _common.gunicorn(DB, workers=4) as (base, cpu):
        ledger, wall, ledger_cpu = under_load(base, cpu, tokens["office"], "/api/v1/rectification-ledger/")
        bare, bare_wall, bare_cpu = under_load(base, cpu, tokens["office"], "/api/v1/units/")
        others = {}
        for name in ("lead", "staff"):
            ms = [timed_get(base, tokens[name], "/api/v1/rectification-ledger/")[0] * 1000 for _ in range(41)]
            others[name] = sorted(ms)[20]
        # The office's page just after a rectification changed (what every first read after a write pays: the
        # figures counted again, the page read again), alone.
        cold = []
        for _ in range(41):
            with connection.cursor() as cur:
                cur.execute("UPDATE cases_rectification SET updated = now() WHERE id = (SELECT min(id) FROM cases_rectification)")
            cold.append(timed_get(base, tokens["office"], "/api/v1/rectification-ledger/")[0] * 1000)
        connection.close()
        one_round, _, _ = under_load(base, cpu, tokens["office"], "/api/v1/rectification-ledger/?round=50")
        xlsx_runs = []
        for _ in range(3):
            seconds, body = timed_get(base, tokens["office"], "/api/v1/rectification-ledger.xlsx")
            xlsx_runs.append(seconds)
    from openpyxl import load_workbook

    rows = sum(1 for _ in load_workbook(io.BytesIO(body), read_only=True)["整改台账"].iter_rows()) - 1
    p95 = _common.percentile(ledger, 95)
    bare_p95 = _common.percentile(bare, 95)
    print(f"# ledger: requests={len(ledger)} clients={CLIENTS} wall={wall:.1f} s p50={_common.percentile(ledger, 50):.1f} "
          f"max={max(ledger):.1f} rps={len(ledger) / wall:.0f}; {ledger_cpu}")
    print(f"# bare /api/v1/units/: p50={_common.percentile(bare, 50):.1f} p95={bare_p95:.1f} rps={len(bare) / bare_wall:.0f}; "
          f"{bare_cpu}")
    print(f"# ledger ?round=50 (one round, no per-round figures): p95={_common.percentile(one_round, 95):.1f}; "
          f"alone, median of 41: group leader {others['lead']:.1f} ms, unit staff {others['staff']:.1f} ms; "
          f"loadavg={' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"# ledger just after a change (cache missed), alone, median of 41: {sorted(cold)[20]:.1f} ms, "
          f"max {max(cold):.1f} ms")
    print(f"ledger_p95_ms={p95:.1f} bare_list_p95_ms={bare_p95:.1f} ratio={p95 / bare_p95:.2f}")
    print(f"# xlsx runs: {' '.join(f'{x:.2f}' for x in xlsx_runs)} s; {len(body) / 1e6:.1f} MB; rows={rows}")
    print(f"ledger_xlsx_20000_s={min(xlsx_runs):.2f} raw_openpyxl_{raw_rows}_s={raw_s:.2f} ratio={min(xlsx_runs) / raw_s:.2f}")


if __name__ == "__main__":
    main()
