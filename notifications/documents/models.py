"""Official documents (公文): issuers with their own number series, the documents, and bulk batches.

A Document is drafted from a round's data, previewed (a watermarked 样稿 PDF), then issued: the worker
allocates the issuer's next number for the year, renders the PDF with it and stores it with its SHA-256,
all in one transaction, so a failed render leaves no gap. An issued document never changes; a correction
is a new version that `replaces` it (the old one becomes `superseded`).
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Issuer(models.Model):
    """An issuing organ (发文机关): its mark on the first page, its 机关代字 (one number series per year)
    and an optional seal image placed over the date."""

    name = models.CharField(_("发文机关全称"), max_length=128, help_text=_("落款与版记中的印发机关"))
    mark = models.CharField(_("发文机关标志"), max_length=64, help_text=_("版头红色大字，如“××考核办公室文件”"))
    code = models.CharField(_("机关代字"), max_length=32, unique=True, help_text=_("发文字号中的代字，如“考评办”"))
    seal = models.FileField(_("印章图片（PNG）"), upload_to="seals/", blank=True)
    is_default = models.BooleanField(_("默认发文机关"), default=False)

    class Meta:
        verbose_name = _("发文机关")
        verbose_name_plural = _("发文机关")
        constraints = [models.UniqueConstraint(fields=["is_default"], condition=Q(is_default=True), name="one_default_issuer")]

    def __str__(self):
        return self.name


class DocumentCounter(models.Model):
    """The last number issued by one issuer in one year. Locked (SELECT … FOR UPDATE) for the length of
    an issue, so numbers are consecutive and unique; rolled back with a failed render, so none is lost."""

    issuer = models.ForeignKey(Issuer, verbose_name=_("发文机关"), on_delete=models.CASCADE, related_name="counters")
    year = models.PositiveIntegerField(_("年度"))
    last = models.PositiveIntegerField(_("已用至"), default=0)

    class Meta:
        verbose_name = _("发文编号")
        verbose_name_plural = _("发文编号")
        constraints = [models.UniqueConstraint(fields=["issuer", "year"], name="uniq_counter_issuer_year")]


class DocumentKind(models.TextChoices):
    LAUNCH_NOTICE = "launch_notice", _("启动通知")
    RESULTS_NOTICE = "results_notice", _("结果通报")
    COMMITTEE_VERSION = "committee_version", _("党委会材料")
    FEEDBACK_LETTER = "feedback_letter", _("反馈意见")
    REMINDER_LETTER = "reminder_letter", _("催办通知")
    RECTIFICATION_NOTICE = "rectification_notice", _("整改通知")
    RECTIFICATION_LEDGER = "rectification_ledger", _("整改台账")
    CLOSURE_SHEET = "closure_sheet", _("整改销号单")
    ANALYSIS_BOOKLET = "analysis_booklet", _("年度绩效分析汇编")


class DocumentStatus(models.TextChoices):
    DRAFT = "draft", _("草稿")
    ISSUING = "issuing", _("印发中")
    ISSUED = "issued", _("已印发")
    SUPERSEDED = "superseded", _("已更正")


class RenderStatus(models.TextChoices):
    NONE = "", _("未生成")
    QUEUED = "queued", _("排队中")
    DONE = "done", _("已生成")
    FAILED = "failed", _("生成失败")


class Audience(models.TextChoices):
    """Who reads an issued document (the rule is `cases.access.document_q`)."""

    ROUND = "round", _("本轮次全部单位")
    UNIT = "unit", _("受文单位")
    INTERNAL = "internal", _("内部（考核办、领导、纪检监督）")


class DocumentBatch(models.Model):
    """One bulk action (a round's feedback letters): its documents carry the batch; progress is counted
    from them (issued / failed / waiting)."""

    round = models.ForeignKey("cases.Round", verbose_name=_("考评轮次"), on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(_("类型"), max_length=32, choices=DocumentKind.choices)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("操作人"), null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created = models.DateTimeField(_("创建时间"), default=timezone.now)

    class Meta:
        verbose_name = _("批量印发")
        verbose_name_plural = _("批量印发")
        ordering = ["-created", "-pk"]

    def __str__(self):
        return f"{self.round}·{self.get_kind_display()}"


class Document(models.Model):
    round = models.ForeignKey("cases.Round", verbose_name=_("考评轮次"), on_delete=models.PROTECT, related_name="documents")
    # The addressed unit, for documents to one unit (a feedback letter); empty for round-wide ones.
    unit = models.ForeignKey(
        "cases.Unit", verbose_name=_("单位"), null=True, blank=True, on_delete=models.PROTECT, related_name="documents"
    )
    kind = models.CharField(_("类型"), max_length=32, choices=DocumentKind.choices)
    issuer = models.ForeignKey(Issuer, verbose_name=_("发文机关"), on_delete=models.PROTECT, related_name="documents")
    audience = models.CharField(_("阅知范围"), max_length=8, choices=Audience.choices)
    status = models.CharField(_("状态"), max_length=16, choices=DocumentStatus.choices, default=DocumentStatus.DRAFT)
    version = models.PositiveIntegerField(_("版本"), default=1)
    replaces = models.OneToOneField(
        "self", verbose_name=_("更正的文件"), null=True, blank=True, on_delete=models.PROTECT, related_name="replaced_by"
    )
    batch = models.ForeignKey(
        DocumentBatch, verbose_name=_("批量印发"), null=True, blank=True, on_delete=models.SET_NULL, related_name="documents"
    )
    # The text parts the office may edit before issue; the data tables come from the round.
    title = models.CharField(_("标题"), max_length=255)
    addressees = models.CharField(_("主送机关"), max_length=500, blank=True)
    body = models.JSONField(_("正文段落"), default=list, blank=True)
    cc = models.CharField(_("抄送"), max_length=500, blank=True)
    # What the domain cannot give at render time (a reminder's overdue list as it stood when drafted).
    data = models.JSONField(_("数据快照"), default=dict, blank=True)
    # Set on issue.
    year = models.PositiveIntegerField(_("年度"), null=True, blank=True)
    number = models.PositiveIntegerField(_("序号"), null=True, blank=True)
    doc_number = models.CharField(_("发文字号"), max_length=64, blank=True)
    issue_date = models.DateField(_("成文日期"), null=True, blank=True)
    issued_at = models.DateTimeField(_("印发时间"), null=True, blank=True)
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("印发人"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    pdf = models.FileField(_("正式文件"), upload_to="documents/%Y/", blank=True)
    sha256 = models.CharField(_("SHA-256 摘要"), max_length=64, blank=True)
    pages = models.PositiveIntegerField(_("页数"), null=True, blank=True)
    # The latest watermarked preview (样稿) of a draft.
    preview = models.FileField(_("样稿"), upload_to="documents/previews/", blank=True)
    render_status = models.CharField(_("生成状态"), max_length=8, choices=RenderStatus.choices, blank=True)
    render_error = models.TextField(_("生成错误"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("起草人"), null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created = models.DateTimeField(_("创建时间"), default=timezone.now)
    updated = models.DateTimeField(_("修改时间"), default=timezone.now)

    class Meta:
        verbose_name = _("公文")
        verbose_name_plural = _("公文")
        ordering = ["-created", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["issuer", "year", "number"], name="uniq_document_number"),
        ]
        indexes = [models.Index(fields=["round", "kind", "status"])]

    def __str__(self):
        return self.doc_number or self.title
