"""Deadlines of work and the working-day calendar they are counted in.

`TaskDeadline` is one row per human task, written when the task is created (by the engine, or in
bulk at launch). It holds the task's effective due date — materialised, so that the inbox reads it
by primary key and the reminder sweep finds what is due through one small partial index — and the
task's place in its notice schedule (reminders, overdue notice, escalations; see
`workflow.reminders`). `CaseDeadline` keeps an extension granted to one unit for a phase, so that
the tasks the case opens later in that phase (a sign-off, a loop-back) get it too.
"""

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cases import models as m


class WorkdayOverride(models.Model):
    """A day the office declares a working day or a day off. Wins over the official schedule of the
    `chinesecalendar` package; for years the package does not know it is the only holiday source."""

    date = models.DateField(_("日期"), unique=True)
    is_workday = models.BooleanField(_("上班"), help_text=_("勾选：上班（如调休补班）；不勾选：放假。"))
    note = models.CharField(_("说明"), max_length=128, blank=True)

    class Meta:
        ordering = ["date"]
        verbose_name = _("工作日调整")
        verbose_name_plural = _("工作日调整")

    def __str__(self):
        return f"{self.date} {'上班' if self.is_workday else '放假'}"


class CalendarYear(models.Model):
    """The office's statement that a year's official holiday schedule (国务院办公厅 notice, published each
    November) has been entered as overrides. Only matters for years the package does not know: until
    then the calendar counts weekends only and warns."""

    year = models.PositiveIntegerField(_("年度"), unique=True)
    complete = models.BooleanField(_("全年安排已录入"), default=True)
    note = models.CharField(_("说明"), max_length=255, blank=True)

    class Meta:
        ordering = ["-year"]
        verbose_name = _("年度节假日安排")
        verbose_name_plural = _("年度节假日安排")

    def __str__(self):
        return str(self.year)


class Phase(models.TextChoices):
    PREPARE = "prepare", _("准备")
    INSPECT = "inspect", _("检查")
    REVIEW = "review", _("评审")
    APPROVE = "approve", _("审定")
    REPORT = "report", _("通报")
    # A rectification's steps: their dues come from the rectification's own dates (`Step.due_from`).
    RECTIFY = "rectify", _("整改")


class TaskDeadline(models.Model):
    """The due date of one human task and where the task stands in its notice schedule.

    due = the latest of the round's phase due, the case's extension for that phase (CaseDeadline)
    and this task's own extension (`extended_due`): an extension never shortens anything.
    The sweep handles the moments in (`checked_at`, now] and then sleeps until `next_check_at`
    (NULL: nothing left to do)."""

    task = models.OneToOneField(
        "viewflow.Task", verbose_name=_("任务"), primary_key=True, on_delete=models.CASCADE, related_name="deadline"
    )
    # Indexed by (round, phase) below, for a phase's extension.
    round = models.ForeignKey(
        m.Round, verbose_name=_("考评轮次"), on_delete=models.CASCADE, related_name="+", db_index=False
    )
    case = models.ForeignKey(
        m.Case, verbose_name=_("考评对象"), null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    phase = models.CharField(_("阶段"), max_length=16, choices=Phase.choices)
    due = models.DateTimeField(_("截止时间"))
    extended_due = models.DateTimeField(_("延期后截止"), null=True, blank=True)
    checked_at = models.DateTimeField(_("检查时间"), default=timezone.now)
    next_check_at = models.DateTimeField(_("下次检查"), null=True, blank=True)
    # False while the "new task" notice is still to be sent by the sweep (tasks written in bulk).
    announced = models.BooleanField(_("已发通知"), default=True)

    class Meta:
        verbose_name = _("任务期限")
        verbose_name_plural = _("任务期限")
        indexes = [
            models.Index(fields=["next_check_at"], name="wf_deadline_next_check",
                         condition=Q(next_check_at__isnull=False)),
            models.Index(fields=["round", "phase"], name="wf_deadline_round_phase"),
        ]

    def __str__(self):
        return f"task {self.task_id} due {self.due}"


class CaseDeadline(models.Model):
    """An extension of one phase for one unit's case, granted by the office."""

    case = models.ForeignKey(m.Case, verbose_name=_("考评对象"), on_delete=models.CASCADE, related_name="+")
    phase = models.CharField(_("阶段"), max_length=16, choices=Phase.choices)
    due = models.DateTimeField(_("截止时间"))

    class Meta:
        verbose_name = _("考评对象期限")
        verbose_name_plural = _("考评对象期限")
        constraints = [models.UniqueConstraint(fields=["case", "phase"], name="uniq_case_deadline_phase")]

    def __str__(self):
        return f"case {self.case_id} {self.phase} due {self.due}"
