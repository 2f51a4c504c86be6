"""Sample-frame benchmark (seed 004 抽样框): a 5,000-row list through the upload service, against a baseline of
a raw openpyxl read and a `bulk_create` of the same rows unencrypted; then the cross-list duplicate check over
100 units × 800 rows.

    python bench/samples.py    # prints sample_import_5000_s=… baseline_s=… ratio=… and sample_dedupe_s=…

Targets on the 2-core machine: sample_import_5000_s ≤ 5, sample_dedupe_s ≤ 5. The import is timed as a unit's
staff run it: the bounded read of the .xlsx, every row's checks, the keyed hash of each person, the check
against the unit's other current lists, Fernet encryption of names and phones, one transaction of writes
and the audit entry. The dedupe is `cases.social.selectors.cross_list_duplicates` (one GROUP BY on the
indexed hash over every current row of the round).
"""

import io
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import db_name, setup  # noqa: E402

DB = db_name("bench_samples")
ROWS = 5000
UNITS, PER_UNIT = 100, 800
HEADER = ["序号", "姓名", "性别", "单位", "职务", "区号", "办公电话", "手机号码", "备注"]


def rows(count: int) -> list[list]:
    return [[n, f"评议人{n:05d}", "男" if n % 2 else "女", f"南宁市民族大道{n}号 某单位", "科员",
             "0772" if n % 3 == 0 else "", str(2800000 + n), f"0138{n:08d}" if n % 3 == 0 else f"138{n:08d}", ""]
            for n in range(1, count + 1)]


def workbook(count: int) -> bytes:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["2015年度自治区XX部门XX工作评价抽样框(政府部门)"])
    ws.append(["报送单位：", None, None, "报送时间：2015年 11 月 10 日"])
    ws.append(HEADER)
    for row in rows(count):
        ws.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def baseline(content: bytes, round, unit) -> float:
    """openpyxl read-only read of the same file and a bulk_create of the rows in clear, nothing checked,
    no hash, no audit: the floor of reading and writing these rows. Rolled back."""
    from django.db import transaction
    from openpyxl import load_workbook

    from cases.social.models import SampleFrame, SampleRow

    with transaction.atomic():
        started = time.perf_counter()
        book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        data = list(book.active.iter_rows(min_row=4, values_only=True))
        book.close()
        frame = SampleFrame.objects.create(round=round, unit=unit, kind="gov_hot", version=99, is_current=False,
                                           row_count=len(data), sha256="baseline")
        SampleRow.objects.bulk_create(
            (SampleRow(frame=frame, seq=r[0], name=r[1], gender=r[2], organisation=r[3], title=r[4],
                       area_code=r[5] or "", office_phone=str(r[6]), mobile=str(r[7]), remark="")
             for r in data), batch_size=1000)
        elapsed = time.perf_counter() - started
        transaction.set_rollback(True)
    return elapsed


def dedupe_world(round, units) -> None:
    """100 units × 800 current rows (two lists of 400 each), hashed as the upload hashes them; 1 in 100
    people also on the unit's other list."""
    from cases.social.crypto import current_cipher
    from cases.social.models import SampleFrame, SampleRow

    cipher = current_cipher()
    token = cipher.encrypt("x")
    frames = SampleFrame.objects.bulk_create(
        SampleFrame(round=round, unit=u, kind=kind, version=1, row_count=PER_UNIT // 2, sha256="bench")
        for u in units for kind in ("gov_system", "gov_hot"))
    batch = []
    for i, frame in enumerate(frames):
        for n in range(PER_UNIT // 2):
            person = n if (i % 2 == 0 or n % 100 == 0) else n + 10_000
            batch.append(SampleRow(frame=frame, seq=n + 1, name=token, gender="男", organisation="南宁市",
                                   mobile=token,
                                   person_hash=cipher.person_hash(f"人{person}", f"139{frame.unit_id:04d}{person:04d}")))
        if len(batch) >= 20_000:
            SampleRow.objects.bulk_create(batch, batch_size=5000)
            batch = []
    SampleRow.objects.bulk_create(batch, batch_size=5000)


def main() -> None:
    setup(DB)
    from decimal import Decimal

    from django.db import connection
    from django.utils import timezone

    from cases import models as m
    from cases.social import selectors, services

    rubric = m.Rubric.objects.create(code="bench", title="基准", total_max=Decimal(100))
    now = timezone.now()
    round = m.Round.objects.create(title="基准社会评价", kind=m.RoundKind.SOCIAL, year=2015, rubric=rubric,
                                   status=m.RoundStatus.RUNNING, prepare_due=now, inspect_due=now, review_due=now,
                                   approve_due=now, report_due=now)
    group = m.Group.objects.create(round=round, number=1, name="一组")
    units = m.Unit.objects.bulk_create(m.Unit(code=f"S{u:03d}", name=f"基准单位{u:03d}", category="政府工作部门",
                                              sort_order=u) for u in range(UNITS + 1))
    m.Case.objects.bulk_create(m.Case(round=round, unit=u, group=group) for u in units)
    staff = m.User.objects.create(username="staff", display_name="填报员")
    m.UnitMembership.objects.create(user=staff, unit=units[0], role=m.UnitRole.STAFF)

    content = workbook(ROWS)
    print(f"# workbook: {len(content)} bytes, {ROWS} people (附件3 layout)")
    base = baseline(content, round, units[0])
    started = time.perf_counter()
    frame = services.upload_frame(user=staff, round=round, unit=units[0], kind="gov_hot",
                                  fileobj=io.BytesIO(content), filename="bench.xlsx")
    elapsed = time.perf_counter() - started
    assert frame.row_count == ROWS and frame.rows.count() == ROWS
    print(f"sample_import_5000_s={elapsed:.2f} baseline_s={base:.2f} ratio={elapsed / base:.1f}")

    dedupe_world(round, units[1:])
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE cases_samplerow")
    started = time.perf_counter()
    found = selectors.cross_list_duplicates(round)
    dedupe = time.perf_counter() - started
    assert len(found) == UNITS * (PER_UNIT // 2 // 100), len(found)
    print(f"# dedupe: {UNITS} units × {PER_UNIT} rows (+ the {ROWS}-row list), {len(found)} duplicates found")
    print(f"sample_dedupe_s={dedupe:.2f}")


if __name__ == "__main__":
    main()
