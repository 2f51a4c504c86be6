"""Seed 004's leader evaluation (领导评价, 附件9–11) and publication duties (公告/公示) of a social round.

Anonymity by the schema: `LeaderEvaluationAnswer` holds only the unit's case, the form and the score,
under a random UUID primary key; no user, no timestamp, no sequence. Who has evaluated which unit is
`LeaderEvaluationParticipation`, written in the same transaction; it carries no reference to the
answer. See docs/leader-evaluation.md.
"""

import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class LeaderEvaluator(models.Model):
    """A person the office assigns to evaluate the units of a social round (领导评价人)."""

    round = models.ForeignKey("cases.Round", verbose_name=_("考评轮次"), on_delete=models.CASCADE,
                              related_name="leader_evaluators")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("评价人"), on_delete=models.CASCADE,
                             related_name="+")
    assigned_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("指定人"), null=True,
                                    on_delete=models.SET_NULL, related_name="+")
    assigned_at = models.DateTimeField(_("指定时间"), default=timezone.now)

    class Meta:
        verbose_name = _("领导评价人")
        verbose_name_plural = _("领导评价人")
        ordering = ["round", "user__username"]
        constraints = [models.UniqueConstraint(fields=["round", "user"], name="uniq_leader_evaluator")]


class LeaderEvaluationParticipation(models.Model):
    """That an evaluator has submitted the form for a unit (one per evaluator per unit); never which answer."""

    round = models.ForeignKey("cases.Round", verbose_name=_("考评轮次"), on_delete=models.CASCADE,
                              related_name="+")
    case = models.ForeignKey("cases.Case", verbose_name=_("考评对象"), on_delete=models.CASCADE, related_name="+")
    evaluator = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("评价人"), on_delete=models.CASCADE,
                                  related_name="+")

    class Meta:
        verbose_name = _("领导评价参与记录")
        verbose_name_plural = _("领导评价参与记录")
        constraints = [models.UniqueConstraint(fields=["case", "evaluator"], name="uniq_leader_participation")]


class LeaderEvaluationAnswer(models.Model):
    """One anonymous form (无记名): the unit evaluated, the form (附件9/10/11) and the score 1–5."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    round = models.ForeignKey("cases.Round", verbose_name=_("考评轮次"), on_delete=models.CASCADE, related_name="+")
    case = models.ForeignKey("cases.Case", verbose_name=_("考评对象"), on_delete=models.CASCADE, related_name="+")
    form = models.CharField(_("评价表"), max_length=16)
    score = models.PositiveSmallIntegerField(_("评价分"), validators=[MinValueValidator(1), MaxValueValidator(5)])

    class Meta:
        verbose_name = _("领导评价表")
        verbose_name_plural = _("领导评价表")
        ordering = ["case", "score"]
        constraints = [models.CheckConstraint(condition=models.Q(score__gte=1, score__lte=5),
                                              name="leader_answer_score_1_5")]


class DutyKind(models.TextChoices):
    NOTICE = "notice", _("社会评价公告")
    PERFORMANCE = "performance", _("年度绩效情况展示")
    RECTIFICATION = "rectification", _("上年度整改情况公布")


class DutyPublication(models.Model):
    """Where and since when a unit published for a duty (a URL or a place, a start and an end date)."""

    round = models.ForeignKey("cases.Round", verbose_name=_("考评轮次"), on_delete=models.CASCADE,
                              related_name="duty_publications")
    case = models.ForeignKey("cases.Case", verbose_name=_("考评对象"), on_delete=models.CASCADE,
                             related_name="duty_publications")
    kind = models.CharField(_("公示事项"), max_length=16, choices=DutyKind.choices)
    place = models.CharField(_("发布位置（网址或地点）"), max_length=500)
    start_date = models.DateField(_("开始日期"))
    end_date = models.DateField(_("结束日期"), null=True, blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("登记人"), null=True,
                                    on_delete=models.SET_NULL, related_name="+")
    recorded_at = models.DateTimeField(_("登记时间"), default=timezone.now)

    class Meta:
        verbose_name = _("公示事项登记")
        verbose_name_plural = _("公示事项登记")
        ordering = ["round", "case", "kind"]
        constraints = [models.UniqueConstraint(fields=["case", "kind"], name="uniq_duty_publication")]
