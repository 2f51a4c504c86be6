"""People import benchmark: a 1,000-person workbook (50 units, 1,000 people, each a unit's staff or head)
through the import service, against a baseline of a raw `bulk_create` of the same rows.

    python bench/import_people.py    # prints import_1000_people_s=… baseline_bulk_create_s=… ratio=…

Target: import_1000_people_s ≤ 10 on the 2-core machine. The import is timed as the office runs it:
reading the .xlsx (read-only, bounded), validating every cell, and writing everything (1,000 accounts
with hashed one-time passwords, 1,000 unit memberships, 1,050 audit entries) in one transaction. Then
the same file again (idempotent: nothing to write), and the hashing cost on its own.
"""

import io
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import db_name, setup  # noqa: E402

DB = db_name("bench_import_people")
UNITS, PEOPLE = 50, 1000
CATEGORIES = ["党委工作部门", "政府工作部门", "群团组织", "民主党派机关"]


def workbook() -> bytes:
    from cases.imports.sheets import PEOPLE as PEOPLE_SHEET
    from cases.imports.sheets import UNITS as UNITS_SHEET
    from cases.imports.sheets import build_xlsx

    units = [[f"基准单位{u:03d}", f"单位{u:03d}", CATEGORIES[u % len(CATEGORIES)], "", u, ""] for u in range(UNITS)]
    people = [[f"人员{n:04d}", "", f"基准单位{n % UNITS:03d}", "单位负责人" if n % 20 == 0 else "填报员", "科员",
               f"0391-{3500000 + n}", f"138{n:08d}", f"p{n}@example.cn"] for n in range(PEOPLE)]
    return build_xlsx({UNITS_SHEET: units, PEOPLE_SHEET: people})


def baseline(content_rows: int) -> float:
    """The same 1,000 users and memberships written with bulk_create, nothing read or checked, no
    password (unusable), no audit: the floor of what writing these rows costs. Rolled back."""
    from django.db import transaction

    from cases import models as m

    with transaction.atomic():
        units = m.Unit.objects.bulk_create(
            m.Unit(code=f"B{u:04d}", name=f"基线单位{u:03d}", category=CATEGORIES[u % 4], sort_order=u)
            for u in range(UNITS))
        started = time.perf_counter()
        users = m.User.objects.bulk_create(
            (m.User(username=f"138{n:08d}", display_name=f"人员{n:04d}", title="科员", office_phone=f"0391-{3500000 + n}",
                    mobile=f"138{n:08d}", email=f"p{n}@example.cn", password="!") for n in range(content_rows)),
            batch_size=500)
        m.UnitMembership.objects.bulk_create(
            (m.UnitMembership(user=u, unit=units[n % UNITS], role="staff") for n, u in enumerate(users)), batch_size=1000)
        elapsed = time.perf_counter() - started
        transaction.set_rollback(True)
    return elapsed


def main() -> None:
    setup(DB)
    from django.contrib.auth.hashers import get_hasher, make_password

    from cases import models as m
    from cases.imports import services

    office = m.User.objects.create(username="office", org_role=m.OrgRole.OFFICE, display_name="考核办")
    content = workbook()
    print(f"# workbook: {len(content)} bytes, {UNITS} units, {PEOPLE} people")
    base = baseline(PEOPLE)

    started = time.perf_counter()
    result = services.import_workbook(user=office, fileobj=io.BytesIO(content))
    elapsed = time.perf_counter() - started
    assert result.people.created == PEOPLE and result.units.created == UNITS, result
    assert m.User.objects.count() == PEOPLE + 1 and m.UnitMembership.objects.count() == PEOPLE

    started = time.perf_counter()
    again = services.import_workbook(user=office, fileobj=io.BytesIO(content))
    reimport = time.perf_counter() - started
    assert again.people.unchanged == PEOPLE and not again.changed, again

    started = time.perf_counter()
    for _ in range(PEOPLE):
        services.hash_one_time_password("AbCdEfGh2345")
    hashing = time.perf_counter() - started
    started = time.perf_counter()
    make_password("AbCdEfGh2345")
    full_one = time.perf_counter() - started

    print(f"# one-time password hashes: {PEOPLE} at {services.ONE_TIME_PASSWORD_ITERATIONS} PBKDF2 iterations took "
          f"{hashing:.2f} s; one at the default {get_hasher().iterations} took {full_one:.3f} s "
          f"(×{PEOPLE} = {full_one * PEOPLE:.0f} s)")
    print(f"# re-import of the same file (validated, nothing written): {reimport:.2f} s")
    print(f"import_1000_people_s={elapsed:.2f} baseline_bulk_create_s={base:.2f} ratio={elapsed / base:.1f}")


if __name__ == "__main__":
    main()
