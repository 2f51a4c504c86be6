"""Rectification (整改): a problem found in a round followed to its verified closure (销号).

One Rectification per finding that requires rectification, and one per unit graded in the round's lowest
band (seed 002: 不达标 units submit a written rectification). The unit drafts a plan (problem, target,
measures with a responsible person and a due date each), its head signs, the group leader or the office
accepts or returns it; the unit reports progress and completion with evidence; the group leader or the
office verifies (accepts, or returns with comments) and the rectification is closed. Reviews and reports
are kept as rows: a return never overwrites history.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

# Seed 004: a closed rectification is published (公示) for at least this many days.
PUBLICATION_MIN_DAYS = 30


class RectificationSource(models.TextChoices):
    FINDING = "finding", _("发现问题")
    LOWEST_GRADE = "lowest_grade", _("末档单位")


class RectificationStatus(models.TextChoices):
    PLANNING = "planning", _("制定方案")
    SIGNING = "signing", _("单位负责人审签")
    PLAN_REVIEW = "plan_review", _("方案审核")
    IN_PROGRESS = "in_progress", _("整改中")
    VERIFYING = "verifying", _("验收")
    CLOSED = "closed", _("已销号")


class Rectification(models.Model):
    round = models.ForeignKey("cases.Round", verbose_name=_("考评轮次"), on_delete=models.CASCADE,
                              related_name="rectifications")
    case = models.ForeignKey("cases.Case", verbose_name=_("考评对象"), on_delete=models.CASCADE,
                             related_name="rectifications")
    unit = models.ForeignKey("cases.Unit", verbose_name=_("单位"), on_delete=models.PROTECT, related_name="rectifications")
    group = models.ForeignKey("cases.Group", verbose_name=_("考评组"), on_delete=models.PROTECT,
                              related_name="rectifications")
    source = models.CharField(_("来源"), max_length=16, choices=RectificationSource.choices)
    # The finding rectified (empty for a lowest-band unit's rectification).
    finding = models.ForeignKey("cases.Finding", verbose_name=_("发现问题"), null=True, blank=True,
                                on_delete=models.PROTECT, related_name="rectifications")
    status = models.CharField(_("状态"), max_length=16, choices=RectificationStatus.choices,
                              default=RectificationStatus.PLANNING)
    problem = models.TextField(_("问题"))
    target = models.TextField(_("整改目标"), blank=True)
    plan_due = models.DateField(_("方案报送截止"))
    due_date = models.DateField(_("整改完成截止"))
    # The earlier rectification of the same unit and rubric item in the previous round of the same kind
    # (shown as 反复出现).
    recurring_of = models.ForeignKey("self", verbose_name=_("此前整改"), null=True, blank=True,
                                     on_delete=models.SET_NULL, related_name="recurrences")
    verified_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("验收人"), null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+")
    closed_at = models.DateTimeField(_("销号时间"), null=True, blank=True)
    # Publication duty (seed 004: at least 30 days).
    published_from = models.DateField(_("公示开始"), null=True, blank=True)
    published_until = models.DateField(_("公示结束"), null=True, blank=True)
    published_where = models.CharField(_("公示位置"), max_length=255, blank=True)
    created = models.DateTimeField(_("创建时间"), default=timezone.now)
    updated = models.DateTimeField(_("修改时间"), default=timezone.now)

    class Meta:
        verbose_name = _("整改")
        verbose_name_plural = _("整改")
        ordering = ["round", "unit__sort_order", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["finding"], condition=Q(finding__isnull=False), name="uniq_rectification_finding"),
            models.UniqueConstraint(fields=["round", "unit"], condition=Q(source="lowest_grade"),
                                    name="uniq_rectification_lowest_grade"),
        ]
        # `updated`: the ledger's figures are cached under the latest change (selectors.ledger_figures).
        indexes = [models.Index(fields=["round", "status"]), models.Index(fields=["unit", "status"]),
                   models.Index(fields=["updated"], name="cases_rectification_updated")]

    def __str__(self):
        return f"{self.unit}：{self.problem[:30]}"


class RectificationMeasure(models.Model):
    """One measure of the plan: what is done, who answers for it, by when."""

    rectification = models.ForeignKey(Rectification, verbose_name=_("整改"), on_delete=models.CASCADE,
                                      related_name="measures")
    position = models.PositiveIntegerField(_("顺序"), default=0)
    text = models.TextField(_("整改措施"))
    responsible = models.CharField(_("责任人"), max_length=64)
    due_date = models.DateField(_("完成时限"))

    class Meta:
        verbose_name = _("整改措施")
        verbose_name_plural = _("整改措施")
        ordering = ["rectification", "position", "pk"]
        # The deadline sweep reads the measures due on a day (workflow.deadlines.reminders.progress_reminders).
        indexes = [models.Index(fields=["due_date"], name="cases_rectmeasure_due")]


class RectificationReport(models.Model):
    """A progress report or the completion report, with its evidence (files of the case, uploaded once)."""

    class Kind(models.TextChoices):
        PROGRESS = "progress", _("进展报告")
        COMPLETION = "completion", _("完成报告")

    rectification = models.ForeignKey(Rectification, verbose_name=_("整改"), on_delete=models.CASCADE,
                                      related_name="reports")
    kind = models.CharField(_("类型"), max_length=16, choices=Kind.choices)
    text = models.TextField(_("内容"))
    evidence = models.ManyToManyField("cases.Attachment", verbose_name=_("佐证材料"), blank=True, related_name="+")
    reported_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("报告人"), null=True,
                                    on_delete=models.SET_NULL, related_name="+")
    reported_at = models.DateTimeField(_("报告时间"), default=timezone.now)

    class Meta:
        verbose_name = _("整改报告")
        verbose_name_plural = _("整改报告")
        ordering = ["rectification", "reported_at", "pk"]


class RectificationReview(models.Model):
    """A decision on the plan or on the completion: accepted, or returned with a comment."""

    class Stage(models.TextChoices):
        SIGN = "sign", _("单位负责人审签")
        PLAN = "plan", _("方案审核")
        VERIFICATION = "verification", _("验收")

    class Decision(models.TextChoices):
        ACCEPT = "accept", _("通过")
        RETURN = "return", _("退回")

    rectification = models.ForeignKey(Rectification, verbose_name=_("整改"), on_delete=models.CASCADE,
                                      related_name="reviews")
    stage = models.CharField(_("环节"), max_length=16, choices=Stage.choices)
    decision = models.CharField(_("结论"), max_length=8, choices=Decision.choices)
    comment = models.TextField(_("意见"), blank=True)
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("审核人"), null=True,
                                 on_delete=models.SET_NULL, related_name="+")
    at = models.DateTimeField(_("时间"), default=timezone.now)

    class Meta:
        verbose_name = _("整改审核")
        verbose_name_plural = _("整改审核")
        ordering = ["rectification", "at", "pk"]
