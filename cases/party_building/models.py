"""Rows of seed 001's features: a group's democratic recommendation (one ballot per unit, its
nominations) and the bonus items units declare. The self-check counts live on the submission
(`Submission.statistics`), the table itself in the round's configuration (`selfcheck.py`)."""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

ZERO_POINTS = Decimal("0")


class NominationKind(models.TextChoices):
    ORGANISATION = "organisation", _("先进基层党组织")
    WORKER = "worker", _("优秀党务工作者")


class RecommendationBallot(models.Model):
    """One unit's democratic recommendation (民主推荐) in its group: replaced as a whole while the
    group step is open; the nominations are its rows."""

    group = models.ForeignKey("cases.Group", verbose_name=_("考评组"), on_delete=models.CASCADE,
                              related_name="recommendation_ballots")
    unit = models.ForeignKey("cases.Unit", verbose_name=_("推荐单位"), on_delete=models.PROTECT, related_name="+")
    case = models.ForeignKey("cases.Case", verbose_name=_("考评对象"), on_delete=models.CASCADE,
                             related_name="recommendation_ballots")
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("提交人"), null=True,
                                     on_delete=models.SET_NULL, related_name="+")
    submitted_at = models.DateTimeField(_("提交时间"), default=timezone.now)

    class Meta:
        verbose_name = _("民主推荐票")
        verbose_name_plural = _("民主推荐票")
        ordering = ["group", "unit__sort_order", "unit__code"]
        constraints = [models.UniqueConstraint(fields=["group", "unit"], name="uniq_recommendation_ballot")]


class Nomination(models.Model):
    """A nominee on a ballot: a unit's party organisation, or a party worker (name, post) of a unit."""

    ballot = models.ForeignKey(RecommendationBallot, verbose_name=_("推荐票"), on_delete=models.CASCADE,
                               related_name="nominations")
    kind = models.CharField(_("推荐类别"), max_length=16, choices=NominationKind.choices)
    unit = models.ForeignKey("cases.Unit", verbose_name=_("被推荐单位"), on_delete=models.PROTECT, related_name="+")
    name = models.CharField(_("姓名"), max_length=64, blank=True)
    post = models.CharField(_("职务"), max_length=128, blank=True)
    position = models.PositiveIntegerField(_("顺序"), default=0)

    class Meta:
        verbose_name = _("推荐对象")
        verbose_name_plural = _("推荐对象")
        ordering = ["ballot", "kind", "position"]
        constraints = [models.UniqueConstraint(fields=["ballot", "kind", "unit", "name"], name="uniq_nomination")]


class DeclarationStatus(models.TextChoices):
    DECLARED = "declared", _("待审核")
    APPROVED = "approved", _("已批准")
    REFUSED = "refused", _("未批准")


class BonusDeclaration(models.Model):
    """A bonus item a unit declares itself (单位自行申报的加分项目) with its evidence; the office
    approves it with the points it grants (a special bonus of the case, capped by the engine) or
    refuses it with a reason."""

    round = models.ForeignKey("cases.Round", verbose_name=_("考评轮次"), on_delete=models.CASCADE,
                              related_name="bonus_declarations")
    case = models.ForeignKey("cases.Case", verbose_name=_("考评对象"), on_delete=models.CASCADE,
                             related_name="bonus_declarations")
    title = models.CharField(_("加分事项"), max_length=255)
    reason = models.TextField(_("申报理由"))
    points_requested = models.DecimalField(_("申请分值"), max_digits=6, decimal_places=2,
                                           validators=[MinValueValidator(ZERO_POINTS)])
    evidence = models.ManyToManyField("cases.Attachment", verbose_name=_("佐证材料"), blank=True, related_name="+")
    status = models.CharField(_("状态"), max_length=16, choices=DeclarationStatus.choices,
                              default=DeclarationStatus.DECLARED)
    points_granted = models.DecimalField(_("核定分值"), max_digits=6, decimal_places=2, null=True, blank=True)
    decision_reason = models.TextField(_("审核意见"), blank=True)
    declared_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("申报人"), null=True,
                                    on_delete=models.SET_NULL, related_name="+")
    declared_at = models.DateTimeField(_("申报时间"), default=timezone.now)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("审核人"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    decided_at = models.DateTimeField(_("审核时间"), null=True, blank=True)
    # The special bonus an approval created (what the engine adds, under the cap).
    special_bonus = models.OneToOneField("cases.SpecialBonus", verbose_name=_("特别加分"), null=True, blank=True,
                                         on_delete=models.SET_NULL, related_name="declaration")

    class Meta:
        verbose_name = _("单位申报加分项目")
        verbose_name_plural = _("单位申报加分项目")
        ordering = ["round", "case", "pk"]
