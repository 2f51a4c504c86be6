"""Rectification reads shared by the API and the pages."""

from django.db.models import QuerySet

from cases import models as m


def consecutive_lowest(round: m.Round) -> QuerySet[m.Rectification]:
    """The round's lowest-band rectifications of units that were in the lowest band of the previous round
    of the same kind too (seed 002: flagged to the office for 组织处理建议): `rectifications_start` links
    such a rectification to the earlier one."""
    return m.Rectification.objects.filter(round=round, source=m.RectificationSource.LOWEST_GRADE,
                                          recurring_of__isnull=False)


def is_consecutive_lowest(rect: m.Rectification) -> bool:
    return rect.source == m.RectificationSource.LOWEST_GRADE and rect.recurring_of_id is not None
