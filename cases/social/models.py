"""Sample frames (抽样框, seed 004 附件2–7): the evaluator lists each unit of a social-evaluation round
(社会评价) uploads, one list per kind, each upload a new version (the previous one kept as history).

Names and phone numbers are stored encrypted (`cases.social.crypto`, Fernet); `person_hash` is a keyed
HMAC of the normalised name and mobile, indexed, for the duplicate check across a unit's lists.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class SampleListKind(models.TextChoices):
    # 附件2/4/6: the cadres of the unit's own system (系统市县两级干部), surveyed by posted questionnaire.
    GOV_SYSTEM = "gov_system", _("政府直属行政机构系统市、县两级干部评价抽样框（附件2）")
    GOV_HOT = "gov_hot", _("政府部门热点、难点工作评价抽样框（附件3）")
    PARTY_SYSTEM = "party_system", _("党委群团类单位系统市、县两级干部评价抽样框（附件4）")
    PARTY_HOT = "party_hot", _("党群单位热点、难点工作评价抽样框（附件5）")
    INSTITUTION_SYSTEM = "institution_system", _("参公事业单位系统市、县两级干部评价抽样框（附件6）")
    INSTITUTION_HOT = "institution_hot", _("参公单位热点、难点工作评价抽样框（附件7）")


class SampleFrame(models.Model):
    """One accepted upload of one list of one unit in one round. The newest is `is_current`."""

    round = models.ForeignKey("cases.Round", verbose_name=_("考评轮次"), on_delete=models.CASCADE,
                              related_name="sample_frames")
    unit = models.ForeignKey("cases.Unit", verbose_name=_("单位"), on_delete=models.PROTECT, related_name="sample_frames")
    kind = models.CharField(_("抽样框类型"), max_length=24, choices=SampleListKind.choices)
    version = models.PositiveIntegerField(_("版本"))
    is_current = models.BooleanField(_("当前版本"), default=True)
    row_count = models.PositiveIntegerField(_("人数"))
    filename = models.CharField(_("文件名"), max_length=255, blank=True)
    sha256 = models.CharField(_("文件摘要"), max_length=64)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("上传人"), null=True,
                                    on_delete=models.SET_NULL, related_name="+")
    uploaded_at = models.DateTimeField(_("上传时间"), default=timezone.now)

    class Meta:
        verbose_name = _("抽样框")
        verbose_name_plural = _("抽样框")
        ordering = ["round", "unit", "kind", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["round", "unit", "kind", "version"], name="uniq_sample_frame_version"),
            models.UniqueConstraint(fields=["round", "unit", "kind"], condition=Q(is_current=True),
                                    name="uniq_sample_frame_current"),
        ]

    def __str__(self):
        return f"{self.unit} {self.get_kind_display()} v{self.version}"


class SampleRow(models.Model):
    """One person of a frame. `name`, `office_phone` and `mobile` hold Fernet tokens, never clear text."""

    frame = models.ForeignKey(SampleFrame, verbose_name=_("抽样框"), on_delete=models.CASCADE, related_name="rows")
    seq = models.PositiveIntegerField(_("序号"))
    name = models.TextField(_("姓名（加密）"))
    gender = models.CharField(_("性别"), max_length=2)
    organisation = models.CharField(_("单位（地址）"), max_length=255)
    title = models.CharField(_("职务"), max_length=128, blank=True)
    area_code = models.CharField(_("区号"), max_length=8, blank=True)
    office_phone = models.TextField(_("办公电话（加密）"), blank=True)
    mobile = models.TextField(_("手机号码（加密）"), blank=True)
    postcode = models.CharField(_("邮政编码"), max_length=6, blank=True)
    remark = models.CharField(_("备注"), max_length=255, blank=True)
    # HMAC-SHA256 of the normalised name and mobile under the data key; blank when there is no mobile.
    person_hash = models.CharField(_("人员指纹"), max_length=64, blank=True, db_index=True)

    class Meta:
        verbose_name = _("抽样框人员")
        verbose_name_plural = _("抽样框人员")
        ordering = ["frame", "seq"]


# --- the materials each unit owes the office (seed 004 六(一), 三, 四) --------------------------------


class Material(models.TextChoices):
    """What a unit of a social round delivers, each by its date (seed 004 六(一)1–3)."""

    SAMPLES = "samples", _("抽样框（附件2–7）")
    QUESTIONNAIRE = "questionnaire", _("热点、难点工作评议问卷")
    SITUATION = "situation", _("社会评价工作有关情况表（附件8）及整改、年度绩效情况报告")
    ANALYSIS = "analysis", _("年度绩效分析（附件9–11）")


class MaterialDelivery(models.Model):
    """When a unit first delivered a material, against its due: late deliveries are deducted where the
    round says so (config `late_material_deduction`). The first delivery counts: a draft the office or the
    unit's head returns for changes was on time if it first came on time."""

    round = models.ForeignKey("cases.Round", verbose_name=_("考评轮次"), on_delete=models.CASCADE,
                              related_name="material_deliveries")
    case = models.ForeignKey("cases.Case", verbose_name=_("考评对象"), on_delete=models.CASCADE,
                             related_name="material_deliveries")
    material = models.CharField(_("材料"), max_length=16, choices=Material.choices)
    due = models.DateTimeField(_("截止时间"), null=True, blank=True)
    first_delivered_at = models.DateTimeField(_("首次报送时间"))
    last_delivered_at = models.DateTimeField(_("最近报送时间"))
    late = models.BooleanField(_("逾期报送"), default=False)

    class Meta:
        verbose_name = _("材料报送")
        verbose_name_plural = _("材料报送")
        ordering = ["round", "case", "material"]
        constraints = [models.UniqueConstraint(fields=["case", "material"], name="uniq_material_delivery")]

    def __str__(self):
        return f"{self.case} {self.get_material_display()}"


class DraftStatus(models.TextChoices):
    DRAFT = "draft", _("草稿")
    SUBMITTED = "submitted", _("已报送")
    APPROVED = "approved", _("已通过")
    RETURNED = "returned", _("已退回")


class Questionnaire(models.Model):
    """A unit's questionnaire on its hot/difficult work (热点、难点工作评议问卷, seed 004 四): at least five
    questions, approved or returned with comments by the office."""

    case = models.OneToOneField("cases.Case", verbose_name=_("考评对象"), on_delete=models.CASCADE,
                                related_name="questionnaire")
    topic = models.CharField(_("评议的热点、难点工作"), max_length=200, blank=True)
    questions = models.JSONField(_("问题"), default=list, blank=True)
    status = models.CharField(_("状态"), max_length=16, choices=DraftStatus.choices, default=DraftStatus.DRAFT)
    review_comment = models.TextField(_("审核意见"), blank=True)
    reviewed_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("审核人"), null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+")
    reviewed_at = models.DateTimeField(_("审核时间"), null=True, blank=True)
    updated = models.DateTimeField(_("更新时间"), default=timezone.now)

    class Meta:
        verbose_name = _("评议问卷")
        verbose_name_plural = _("评议问卷")

    def __str__(self):
        return f"{self.case} {self.topic}"


class PerformanceAnalysis(models.Model):
    """A unit's annual performance analysis (年度绩效分析表, seed 004 三 and 附件9–11): three parts, together at
    most 1,400 characters, signed off by the unit's party group (the unit head's task)."""

    case = models.OneToOneField("cases.Case", verbose_name=_("考评对象"), on_delete=models.CASCADE,
                                related_name="performance_analysis")
    completion = models.TextField(_("重点工作任务完成情况"), blank=True)
    innovation = models.TextField(_("工作创新和亮点"), blank=True)
    weaknesses = models.TextField(_("工作难点和薄弱环节"), blank=True)
    status = models.CharField(_("状态"), max_length=16, choices=DraftStatus.choices, default=DraftStatus.DRAFT)
    sign_comment = models.TextField(_("审定意见"), blank=True)
    signed_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("审定人"), null=True, blank=True,
                                  on_delete=models.SET_NULL, related_name="+")
    signed_at = models.DateTimeField(_("审定时间"), null=True, blank=True)
    updated = models.DateTimeField(_("更新时间"), default=timezone.now)

    class Meta:
        verbose_name = _("年度绩效分析")
        verbose_name_plural = _("年度绩效分析")

    def __str__(self):
        return str(self.case)


class SituationReport(models.Model):
    """附件8 (社会评价工作有关情况表) with the two reports due the same day (seed 004 六(一)2): the unit's
    liaison and main leaders, its rectification report and its annual performance report."""

    case = models.OneToOneField("cases.Case", verbose_name=_("考评对象"), on_delete=models.CASCADE,
                                related_name="situation_report")
    liaison = models.CharField(_("联络员姓名及职务"), max_length=200)
    liaison_phone = models.CharField(_("联络员联系电话"), max_length=64)
    leaders = models.TextField(_("主要领导姓名及职务"))
    rectification_report = models.TextField(_("整改情况报告"))
    performance_report = models.TextField(_("年度绩效情况报告"))
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("报送人"), null=True,
                                     on_delete=models.SET_NULL, related_name="+")
    submitted_at = models.DateTimeField(_("报送时间"), default=timezone.now)

    class Meta:
        verbose_name = _("社会评价工作有关情况表")
        verbose_name_plural = _("社会评价工作有关情况表")

    def __str__(self):
        return str(self.case)
