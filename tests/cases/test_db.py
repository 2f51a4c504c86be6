"""`cases.db`'s prepared writes: what `insert_row` stores is what the ORM would have stored."""

from datetime import UTC, datetime

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from cases import models as m
from cases.db import insert_row, update_row
from cases.services.audit import audit
from tests.factories import make_round

pytestmark = pytest.mark.django_db


def test_an_audit_entry_is_one_prepared_insert_with_its_values_as_the_orm_reads_them():
    setup = make_round(units=1, experts=1)
    case = setup.case(0)
    with CaptureQueriesContext(connection) as queries:
        audit(actor=setup.office, action="case.status", obj=case, before={"status": "prepare"},
              after={"status": "score", "分数": "1.50"}, comment="说明", round_id=case.round_id)
    assert [q["sql"].split()[0] for q in queries] in (["EXECUTE"], ["PREPARE", "EXECUTE"])
    entry = m.AuditEntry.objects.filter(action="case.status", object_id=str(case.pk)).get()
    assert (entry.actor, entry.object_type, entry.round_id, entry.comment) == (setup.office, "case", case.round_id, "说明")
    assert (entry.before, entry.after) == ({"status": "prepare"}, {"status": "score", "分数": "1.50"})
    assert entry.at.tzinfo is not None


def test_none_is_sql_null_and_nobody_is_recorded_for_the_system():
    setup = make_round(units=1, experts=1)
    audit(actor=None, action="case.finished", obj=setup.case(0))
    entry = m.AuditEntry.objects.get(action="case.finished")
    assert entry.actor_id is None and entry.round_id is None
    assert m.AuditEntry.objects.filter(pk=entry.pk, before__isnull=True, after__isnull=True).exists()


def test_skip_conflicts_writes_a_repeated_row_once_and_without_it_the_constraint_holds():
    setup = make_round(units=1, experts=1)
    rubric = setup.round.rubric
    values = {"rubric_id": rubric.pk, "code": "Z9", "title": "新增部分", "max_points": "3.00", "position": 99}
    insert_row(m.RubricSection, values, skip_conflicts=True)
    insert_row(m.RubricSection, values, skip_conflicts=True)
    assert m.RubricSection.objects.filter(rubric=rubric, code="Z9").count() == 1
    with pytest.raises(IntegrityError), transaction.atomic():
        insert_row(m.RubricSection, values)


def test_dates_keep_their_instant():
    setup = make_round(units=1, experts=1)
    at = datetime(2015, 11, 13, 9, 30, tzinfo=UTC)
    insert_row(m.AuditEntry, {"at": at, "actor_id": None, "action": "x.y", "object_type": "case",
                              "object_id": str(setup.case(0).pk), "round_id": None, "before": None,
                              "after": None, "comment": ""})
    assert m.AuditEntry.objects.get(action="x.y").at == at


def test_update_row_writes_only_the_named_columns():
    setup = make_round(units=2, experts=1)
    case, other = setup.case(0), setup.case(1)
    stale = m.Case.objects.get(pk=case.pk)
    case.status, case.late = m.CaseStatus.SCORE, True
    update_row(case, ["status"])
    assert m.Case.objects.values_list("status", "late").get(pk=case.pk) == (m.CaseStatus.SCORE, stale.late)
    assert m.Case.objects.get(pk=other.pk).status == other.status  # by its primary key only
