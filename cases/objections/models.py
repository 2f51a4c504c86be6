"""Publication (公示) of a round's approved results and the units' objections (异议).

After the leader approves, the office may publish the results for a number of days (the round's
`publication_days`); within the period a unit may object to its own result with reasons and evidence.
The office resolves each objection: upheld, with a correction of the unit's total (the results of the
whole round are recomputed, ranks and grades of every unit with them), or rejected, with a written
reason. The results become final (`Round.results_final_at`) only once the period has ended with no
objection open. See docs/objections.md.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ObjectionStatus(models.TextChoices):
    OPEN = "open", _("待处理")
    UPHELD = "upheld", _("异议成立")
    REJECTED = "rejected", _("异议不成立")


class Objection(models.Model):
    """A unit's objection to its published result, and the office's resolution of it."""

    round = models.ForeignKey("cases.Round", verbose_name=_("考评轮次"), on_delete=models.CASCADE,
                              related_name="objections")
    case = models.ForeignKey("cases.Case", verbose_name=_("考评对象"), on_delete=models.CASCADE,
                             related_name="objections")
    status = models.CharField(_("状态"), max_length=16, choices=ObjectionStatus.choices,
                              default=ObjectionStatus.OPEN)
    reasons = models.TextField(_("异议理由"))
    # Files of the case (uploaded once, purpose "objection" or any earlier evidence of the case).
    evidence = models.ManyToManyField("cases.Attachment", verbose_name=_("佐证材料"), blank=True, related_name="+")
    filed_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("提出人"), null=True,
                                 on_delete=models.SET_NULL, related_name="+")
    filed_at = models.DateTimeField(_("提出时间"), default=timezone.now)
    # The resolution: the written reason (required either way) and, when upheld, the correction of the
    # unit's total (signed points, added after the catalogue deductions and the special bonus).
    resolution = models.TextField(_("处理意见"), blank=True)
    adjustment = models.DecimalField(_("更正分值"), max_digits=8, decimal_places=2, null=True, blank=True)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("处理人"), null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+")
    resolved_at = models.DateTimeField(_("处理时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("异议")
        verbose_name_plural = _("异议")
        ordering = ["round", "filed_at", "pk"]
        indexes = [models.Index(fields=["round", "status"])]

    def __str__(self):
        return f"{self.case} / {self.get_status_display()}"
