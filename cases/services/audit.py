"""The audit log's one writer: who did what to which object, with before/after values."""

from collections.abc import Iterable, Mapping
from typing import Any

from django.db import models
from django.utils import timezone

from cases import models as m
from cases.db import insert_row


def audit(
    *,
    actor: m.User | None,
    action: str,
    obj: models.Model,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    comment: str = "",
    round_id: int | None = None,
) -> None:
    """Record `action` on `obj`. `actor=None` is the system (a step the flow takes by itself); a
    user without a primary key (anonymous) is recorded as nobody too."""
    insert_row(m.AuditEntry, {  # prepared: one is written by nearly every action
        "at": timezone.now(),
        "actor_id": getattr(actor, "pk", None),
        "action": action,
        "object_type": obj._meta.model_name or "",  # always set on a concrete model
        "object_id": str(obj.pk),
        "round_id": round_id,
        "before": before,
        "after": after,
        "comment": comment,
    })


def audit_many(
    *,
    actor: m.User | None,
    action: str,
    entries: Iterable[tuple[models.Model, Mapping[str, Any] | None, Mapping[str, Any] | None]],
    round_id: int | None = None,
) -> int:
    """`audit` for many objects in one INSERT (an import of a thousand people): one entry per
    (object, before, after). Returns the number written."""
    rows = [
        m.AuditEntry(actor=actor if getattr(actor, "pk", None) else None, action=action,
                     object_type=obj._meta.model_name or "", object_id=str(obj.pk), round_id=round_id,
                     before=before, after=after)
        for obj, before, after in entries
    ]
    m.AuditEntry.objects.bulk_create(rows, batch_size=1000)
    return len(rows)
