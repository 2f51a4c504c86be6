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
