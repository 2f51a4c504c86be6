"""Messages about the publication (公示) of results and objections (异议), sent from the domain's
announcements (`cases.objections.services` signals, inside the write's transaction: the outbox rows
commit with it). Connected in `NotificationsConfig.ready`.

- publication opened → every staff member and head of the round's units (the period, where to look);
- objection filed → the office;
- objection resolved → the objecting unit's staff and heads (the decision and its reason).
"""

from django.urls import reverse
from django.utils import timezone

from cases import models as m
from cases.objections import services as objections
from notifications.services import notifications_create_many


def _link(round_id: int) -> str:
    return reverse("ui:publication", args=[round_id])


def _unit_people(unit_ids) -> list[int]:
    return sorted(set(m.UnitMembership.objects.filter(unit_id__in=unit_ids, user__is_active=True)
                      .values_list("user_id", flat=True)))


def publication_opened(sender, round: m.Round, **kwargs) -> None:
    end = timezone.localtime(round.publication_ends_at) if round.publication_ends_at else None
    subject = f"考评结果公示：{round.title}"
    body = (f"{round.title}的考评结果已经公示，公示期至 {end:%Y-%m-%d %H:%M}。对本单位结果有异议的，请在公示期内"
            f"写明理由、附佐证材料提出。") if end else subject
    units = round.cases.values_list("unit_id", flat=True)
    notifications_create_many(
        {"recipient_id": user_id, "event": "results_published", "subject": subject, "body": body,
         "link": _link(round.pk), "dedupe_key": f"publication:{round.pk}:{user_id}"}
        for user_id in _unit_people(units))


def objection_filed(sender, objection: m.Objection, **kwargs) -> None:
    unit = objection.case.unit.name
    office = m.User.objects.filter(org_role=m.OrgRole.OFFICE, is_active=True).values_list("pk", flat=True)
    notifications_create_many(
        {"recipient_id": user_id, "event": "objection_filed", "subject": f"异议：{unit}",
         "body": f"{unit}对{objection.round.title}的考评结果提出异议：{objection.reasons[:200]}",
         "link": _link(objection.round_id), "dedupe_key": f"objection:{objection.pk}:filed:{user_id}"}
        for user_id in office)


def objection_resolved(sender, objection: m.Objection, **kwargs) -> None:
    decision = objection.get_status_display()
    correction = f"，更正 {objection.adjustment} 分" if objection.adjustment is not None else ""
    notifications_create_many(
        {"recipient_id": user_id, "event": "objection_resolved", "subject": f"异议处理结果：{decision}",
         "body": f"本单位对{objection.round.title}考评结果提出的异议已处理：{decision}{correction}。处理意见：{objection.resolution}",
         "link": _link(objection.round_id), "dedupe_key": f"objection:{objection.pk}:resolved:{user_id}"}
        for user_id in _unit_people([objection.case.unit_id]))


def connect() -> None:
    objections.publication_opened.connect(publication_opened, sender=m.Round, dispatch_uid="notifications.publication")
    objections.objection_filed.connect(objection_filed, sender=m.Objection, dispatch_uid="notifications.objection_filed")
    objections.objection_resolved.connect(objection_resolved, sender=m.Objection,
                                          dispatch_uid="notifications.objection_resolved")
