"""The assessment domain: people, units, rounds, groups, rubrics, cases and what is recorded on them.

This app knows nothing of the workflow engine. Row-level access lives in `cases.access` and is
reached through `access.visible(Model, user)`: models do not import it (no cycle).
"""

from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

ZERO = Decimal("0")


class OrgRole(models.TextChoices):
    """Organisation-wide roles; unit and group roles are memberships below."""

    NONE = "", _("无")
    OFFICE = "office", _("考核办")
    LEADER = "leader", _("领导")
    AUDITOR = "auditor", _("纪检监督")


class User(AbstractUser):
    """A person who signs in. Contact details appear in notices (liaisons, group leaders)."""

    display_name = models.CharField(_("姓名"), max_length=64, blank=True)
    title = models.CharField(_("职务"), max_length=128, blank=True)
    office_phone = models.CharField(_("办公电话"), max_length=32, blank=True)
    mobile = models.CharField(_("手机"), max_length=32, blank=True)
    org_role = models.CharField(_("机关角色"), max_length=16, choices=OrgRole.choices, blank=True)

    def __str__(self):
        return self.display_name or self.username


class UnitCategory(models.TextChoices):
    PARTY = "党委工作部门", _("党委工作部门")
    GOVERNMENT = "政府工作部门", _("政府工作部门")
    CONGRESS = "人大政协机关", _("人大政协机关")
    MASS = "群团组织", _("群团组织")
    DEMOCRATIC = "民主党派机关", _("民主党派机关")
    JUDICIAL = "法院检察院", _("法院检察院")
    INSTITUTION = "参公事业单位", _("参公事业单位")
    OTHER = "其他", _("其他")


class Unit(models.Model):
    """An assessed organisation (被考评单位)."""

    code = models.CharField(_("编码"), max_length=32, unique=True)
    name = models.CharField(_("名称"), max_length=128, unique=True)
    short_name = models.CharField(_("简称"), max_length=64, blank=True)
    category = models.CharField(_("类别"), max_length=32, choices=UnitCategory.choices)
    parent = models.ForeignKey(
        "self", verbose_name=_("上级单位"), null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    sort_order = models.PositiveIntegerField(_("排序"), default=0)
    active = models.BooleanField(_("启用"), default=True)

    class Meta:
        verbose_name = _("单位")
        verbose_name_plural = _("单位")
        ordering = ["sort_order", "code"]

    def __str__(self):
        return self.name


class UnitRole(models.TextChoices):
    STAFF = "staff", _("填报员")
    HEAD = "head", _("单位负责人")


class UnitMembership(models.Model):
    """A person working in a unit: fills its submissions (staff) or signs them off (head)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("用户"), on_delete=models.CASCADE, related_name="unit_memberships"
    )
    unit = models.ForeignKey(Unit, verbose_name=_("单位"), on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(_("角色"), max_length=8, choices=UnitRole.choices)

    class Meta:
        verbose_name = _("单位成员")
        verbose_name_plural = _("单位成员")
        constraints = [models.UniqueConstraint(fields=["user", "unit", "role"], name="uniq_unit_membership")]


class Rubric(models.Model):
    """A versioned points rubric. Frozen (immutable) once a round has launched on it."""

    code = models.CharField(_("编码"), max_length=64)
    version = models.PositiveIntegerField(_("版本"), default=1)
    title = models.CharField(_("名称"), max_length=255)
    total_max = models.DecimalField(_("总分"), max_digits=8, decimal_places=2)
    # The full parsed rubric file (rules, deduction catalogue, bonus levels, components), as loaded.
    spec = models.JSONField(_("细则内容"), default=dict, blank=True)
    frozen = models.BooleanField(_("已冻结"), default=False)
    created = models.DateTimeField(_("创建时间"), default=timezone.now)

    class Meta:
        verbose_name = _("考评细则")
        verbose_name_plural = _("考评细则")
        constraints = [models.UniqueConstraint(fields=["code", "version"], name="uniq_rubric_version")]
        ordering = ["code", "-version"]

    def __str__(self):
        return f"{self.title} (v{self.version})"


class RubricSection(models.Model):
    rubric = models.ForeignKey(Rubric, verbose_name=_("考评细则"), on_delete=models.CASCADE, related_name="sections")
    code = models.CharField(_("编号"), max_length=32)
    title = models.CharField(_("标题"), max_length=255)
    max_points = models.DecimalField(_("满分"), max_digits=8, decimal_places=2)
    position = models.PositiveIntegerField(_("顺序"), default=0)

    class Meta:
        verbose_name = _("细则章节")
        verbose_name_plural = _("细则章节")
        ordering = ["position"]
        constraints = [models.UniqueConstraint(fields=["rubric", "code"], name="uniq_section_code")]


class RubricItem(models.Model):
    """One scorable line of a rubric; `rules` holds its deduction/bonus rules as loaded."""

    rubric = models.ForeignKey(Rubric, verbose_name=_("考评细则"), on_delete=models.CASCADE, related_name="items")
    section = models.ForeignKey(RubricSection, verbose_name=_("章节"), on_delete=models.CASCADE, related_name="items")
    code = models.CharField(_("编号"), max_length=32)
    content = models.TextField(_("内容"))
    max_points = models.DecimalField(_("满分"), max_digits=8, decimal_places=2)
    bonus_cap = models.DecimalField(_("加分上限"), max_digits=8, decimal_places=2, default=ZERO)
    evidence_required = models.BooleanField(_("须提供佐证"), default=False)
    veto = models.BooleanField(_("一票否决"), default=False)
    rules = models.JSONField(_("扣分规则"), default=list, blank=True)
    position = models.PositiveIntegerField(_("顺序"), default=0)

    class Meta:
        verbose_name = _("细则条目")
        verbose_name_plural = _("细则条目")
        ordering = ["section__position", "position"]
        constraints = [models.UniqueConstraint(fields=["rubric", "code"], name="uniq_item_code")]

    def __str__(self):
        return self.code


class RoundKind(models.TextChoices):
    HALF_YEAR = "half_year", _("半年跟踪考评")
    ANNUAL = "annual", _("年度考核")
    SPECIAL = "special", _("专项督查")
    CREATION = "creation", _("创建评比")
    SOCIAL = "social", _("社会评价")


class RoundStatus(models.TextChoices):
    DRAFT = "draft", _("草稿")
    RUNNING = "running", _("进行中")
    COMPILING = "compiling", _("汇总")
    APPROVING = "approving", _("审定")
    REPORTING = "reporting", _("通报")
    CLOSED = "closed", _("已结束")


def default_round_config():
    return {"report_char_limit": 2000, "aggregation": "mean", "trim_min_sheets": 5}


class Round(models.Model):
    """An assessment round (考评轮次) over a set of units, with phase dates and configuration."""

    title = models.CharField(_("标题"), max_length=255)
    kind = models.CharField(_("类型"), max_length=16, choices=RoundKind.choices)
    year = models.PositiveIntegerField(_("年度"))
    rubric = models.ForeignKey(Rubric, verbose_name=_("考评细则"), on_delete=models.PROTECT, related_name="rounds")
    previous_round = models.ForeignKey(
        "self", verbose_name=_("上一轮次"), null=True, blank=True, on_delete=models.SET_NULL, related_name="next_rounds"
    )
    status = models.CharField(_("状态"), max_length=16, choices=RoundStatus.choices, default=RoundStatus.DRAFT)
    prepare_due = models.DateTimeField(_("准备阶段截止"))
    inspect_due = models.DateTimeField(_("检查阶段截止"))
    review_due = models.DateTimeField(_("评审阶段截止"))
    approve_due = models.DateTimeField(_("审定阶段截止"))
    report_due = models.DateTimeField(_("通报阶段截止"))
    DUE_FIELDS = ("prepare_due", "inspect_due", "review_due", "approve_due", "report_due")  # in phase order
    config = models.JSONField(_("配置"), default=default_round_config, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("创建人"), null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created = models.DateTimeField(_("创建时间"), default=timezone.now)
    launched_at = models.DateTimeField(_("启动时间"), null=True, blank=True)
    # Set when the leader approves: results can no longer be recomputed.
    results_frozen_at = models.DateTimeField(_("结果锁定时间"), null=True, blank=True)
    # The leader returned the results to this group alone (seed 000): until its leaders have rechecked, only
    # its cases' group decisions may change.
    reopened_group = models.ForeignKey("cases.Group", verbose_name=_("退回复核的考评组"), null=True, blank=True,
                                       on_delete=models.SET_NULL, related_name="+")
    # Publication (公示) of the approved results: the period units may object in (cases.objections),
    # and when the results became final (the period over with no objection open).
    publication_starts_at = models.DateTimeField(_("公示开始"), null=True, blank=True)
    publication_ends_at = models.DateTimeField(_("公示结束"), null=True, blank=True)
    results_final_at = models.DateTimeField(_("结果确定时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("考评轮次")
        verbose_name_plural = _("考评轮次")
        ordering = ["-year", "-created"]

    def __str__(self):
        return self.title

    @property
    def report_char_limit(self) -> int:
        return int(self.config.get("report_char_limit", 2000))


class Group(models.Model):
    """An assessment group (考评组) of one round: its people and, through cases, its units."""

    round = models.ForeignKey(Round, verbose_name=_("考评轮次"), on_delete=models.CASCADE, related_name="groups")
    number = models.PositiveIntegerField(_("序号"))
    name = models.CharField(_("名称"), max_length=64)
    phone = models.CharField(_("联系电话"), max_length=32, blank=True)

    class Meta:
        verbose_name = _("考评组")
        verbose_name_plural = _("考评组")
        ordering = ["round", "number"]
        constraints = [models.UniqueConstraint(fields=["round", "number"], name="uniq_group_number")]

    def __str__(self):
        return self.name


class GroupRole(models.TextChoices):
    LEADER = "leader", _("组长")
    DEPUTY = "deputy", _("副组长")
    EXPERT = "expert", _("成员")
    LIAISON = "liaison", _("联络员")


class GroupMember(models.Model):
    """A person's role in one group of one round (roles are per round)."""

    group = models.ForeignKey(Group, verbose_name=_("考评组"), on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("用户"), on_delete=models.CASCADE, related_name="group_memberships"
    )
    role = models.CharField(_("角色"), max_length=8, choices=GroupRole.choices)

    class Meta:
        verbose_name = _("考评组成员")
        verbose_name_plural = _("考评组成员")
        constraints = [models.UniqueConstraint(fields=["group", "user", "role"], name="uniq_group_member")]


class CaseStatus(models.TextChoices):
    DRAFT = "draft", _("未启动")
    PREPARE = "prepare", _("准备")
    SIGN_OFF = "sign_off", _("单位审定")
    INSPECT = "inspect", _("检查")
    SCORE = "score", _("评分")
    REVIEW = "review", _("评审")
    DONE = "done", _("已完成")


class Case(models.Model):
    """One unit's process in one round: everything the unit submits and the group records."""

    round = models.ForeignKey(Round, verbose_name=_("考评轮次"), on_delete=models.CASCADE, related_name="cases")
    unit = models.ForeignKey(Unit, verbose_name=_("单位"), on_delete=models.PROTECT, related_name="cases")
    # A unit is in exactly one group per round: the (round, unit) constraint guarantees it.
    group = models.ForeignKey(Group, verbose_name=_("考评组"), on_delete=models.PROTECT, related_name="cases")
    status = models.CharField(_("状态"), max_length=16, choices=CaseStatus.choices, default=CaseStatus.DRAFT)
    submitted_at = models.DateTimeField(_("提交时间"), null=True, blank=True)
    late = models.BooleanField(_("逾期提交"), default=False)
    finished_at = models.DateTimeField(_("完成时间"), null=True, blank=True)
    # The group leader may set the panel score instead of the aggregate, with a reason (audited).
    panel_override = models.DecimalField(_("组长调整分"), max_digits=8, decimal_places=2, null=True, blank=True)
    panel_override_reason = models.TextField(_("调整理由"), blank=True)
    # The group's grade proposal made at review; per-group quotas are enforced when it is made.
    proposed_grade = models.CharField(_("建议等次"), max_length=16, blank=True)

    class Meta:
        verbose_name = _("考评对象")
        verbose_name_plural = _("考评对象")
        ordering = ["round", "group__number", "unit__sort_order", "unit__code"]
        constraints = [models.UniqueConstraint(fields=["round", "unit"], name="uniq_case_per_unit")]
        indexes = [models.Index(fields=["round", "status"])]

    def __str__(self):
        return f"{self.round} / {self.unit}"


class SubmissionStatus(models.TextChoices):
    DRAFT = "draft", _("草稿")
    SUBMITTED = "submitted", _("已提交")
    RETURNED = "returned", _("已退回")
    SIGNED = "signed", _("已审定")


class Submission(models.Model):
    """A self-assessment attempt. A returned attempt stays, with its comment; the next is a new row."""

    case = models.ForeignKey(Case, verbose_name=_("考评对象"), on_delete=models.CASCADE, related_name="submissions")
    attempt = models.PositiveIntegerField(_("次数"), default=1)
    status = models.CharField(_("状态"), max_length=16, choices=SubmissionStatus.choices, default=SubmissionStatus.DRAFT)
    report = models.TextField(_("自评报告"), blank=True)
    self_scores = models.JSONField(_("自评分"), default=dict, blank=True)
    statistics = models.JSONField(_("统计表"), default=dict, blank=True)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("提交人"), null=True, on_delete=models.SET_NULL, related_name="+"
    )
    submitted_at = models.DateTimeField(_("提交时间"), null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("审定人"), null=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_at = models.DateTimeField(_("审定时间"), null=True, blank=True)
    return_comment = models.TextField(_("退回意见"), blank=True)

    class Meta:
        verbose_name = _("自评材料")
        verbose_name_plural = _("自评材料")
        ordering = ["case", "attempt"]
        constraints = [models.UniqueConstraint(fields=["case", "attempt"], name="uniq_submission_attempt")]


class Attachment(models.Model):
    """An uploaded file. Evidence attaches to several rubric items at once (enter once)."""

    class Purpose(models.TextChoices):
        EVIDENCE = "evidence", _("佐证材料")
        INSPECTION = "inspection", _("检查记录附件")
        FINDING = "finding", _("问题附件")
        RECTIFICATION = "rectification", _("整改佐证")
        OBJECTION = "objection", _("异议佐证")

    case = models.ForeignKey(Case, verbose_name=_("考评对象"), on_delete=models.CASCADE, related_name="attachments")
    purpose = models.CharField(_("用途"), max_length=16, choices=Purpose.choices)
    inspection = models.ForeignKey(
        "InspectionRecord", verbose_name=_("检查记录"), null=True, blank=True, on_delete=models.CASCADE, related_name="attachments"
    )
    items = models.ManyToManyField(RubricItem, verbose_name=_("关联条目"), blank=True, related_name="attachments")
    file = models.FileField(_("文件"), upload_to="attachments/%Y/%m/")
    original_name = models.CharField(_("原文件名"), max_length=255)
    size = models.PositiveIntegerField(_("大小（字节）"))
    sha256 = models.CharField(_("SHA-256 摘要"), max_length=64)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("上传人"), null=True, on_delete=models.SET_NULL, related_name="+"
    )
    uploaded_at = models.DateTimeField(_("上传时间"), default=timezone.now)

    class Meta:
        verbose_name = _("附件")
        verbose_name_plural = _("附件")
        ordering = ["case", "pk"]


class InspectionMethod(models.TextChoices):
    REPORT = "听汇报", _("听汇报")
    DOCUMENTS = "查资料", _("查资料")
    SITE_VISIT = "现场察访", _("现场察访")
    DISCUSSION = "座谈交流", _("座谈交流")


class InspectionRecord(models.Model):
    """What the group did on an inspection visit."""

    case = models.ForeignKey(Case, verbose_name=_("考评对象"), on_delete=models.CASCADE, related_name="inspections")
    method = models.CharField(_("检查方式"), max_length=8, choices=InspectionMethod.choices)
    date = models.DateField(_("日期"))
    place = models.CharField(_("地点"), max_length=255, blank=True)
    participants = models.TextField(_("参加人员"), blank=True)
    notes = models.TextField(_("记录"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("记录人"), null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created = models.DateTimeField(_("创建时间"), default=timezone.now)

    class Meta:
        verbose_name = _("检查记录")
        verbose_name_plural = _("检查记录")
        ordering = ["case", "date", "pk"]


class FindingSource(models.TextChoices):
    INSPECTION = "inspection", _("检查发现")
    COMPLAINT = "complaint", _("投诉查处")
    SPOT_CHECK = "spot_check", _("察访核验")
    CRITICISM = "criticism", _("通报批评")
    OTHER = "other", _("其他")


class Severity(models.TextChoices):
    LOW = "low", _("一般")
    MEDIUM = "medium", _("较重")
    HIGH = "high", _("严重")


class Finding(models.Model):
    """A problem found on a case (问题); may carry a catalogue deduction and require rectification."""

    case = models.ForeignKey(Case, verbose_name=_("考评对象"), on_delete=models.CASCADE, related_name="findings")
    source = models.CharField(_("来源"), max_length=16, choices=FindingSource.choices)
    description = models.TextField(_("问题描述"))
    item = models.ForeignKey(
        RubricItem, verbose_name=_("细则条目"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    severity = models.CharField(_("严重程度"), max_length=8, choices=Severity.choices, default=Severity.LOW)
    deduction_kind = models.CharField(_("扣分方式"), max_length=64, blank=True)
    deduction_amount = models.DecimalField(_("扣分"),
        max_digits=6, decimal_places=2, default=ZERO, validators=[MinValueValidator(ZERO)]
    )
    occurrences = models.PositiveIntegerField(_("次数"), default=1)
    requires_rectification = models.BooleanField(_("须整改"), default=False)
    # 一票否决: the unit gets the lowest grade and ranks after every unit without a veto.
    veto = models.BooleanField(_("一票否决"), default=False)
    # Seed 003 (廉洁型 6.1): 出现违法案件的取消当年评先资格 — the unit loses its eligibility for commendation
    # this year; its score, rank and grade do not change.
    bars_commendation = models.BooleanField(_("违法案件（取消当年评先资格）"), default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("记录人"), null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created = models.DateTimeField(_("创建时间"), default=timezone.now)

    class Meta:
        verbose_name = _("发现问题")
        verbose_name_plural = _("发现问题")
        ordering = ["case", "pk"]


class SheetStatus(models.TextChoices):
    DRAFT = "draft", _("草稿")
    SUBMITTED = "submitted", _("已提交")
    RETURNED = "returned", _("已退回")


class ScoreSheet(models.Model):
    """One expert's scores for one case. Locked once submitted; a returned sheet is kept and the
    expert continues on a new attempt (a copy), so the earlier sheet and the comment stay visible."""

    case = models.ForeignKey(Case, verbose_name=_("考评对象"), on_delete=models.CASCADE, related_name="score_sheets")
    expert = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("评分专家"), on_delete=models.PROTECT, related_name="score_sheets"
    )
    attempt = models.PositiveIntegerField(_("次数"), default=1)
    status = models.CharField(_("状态"), max_length=16, choices=SheetStatus.choices, default=SheetStatus.DRAFT)
    total = models.DecimalField(_("总分"), max_digits=8, decimal_places=2, null=True, blank=True)
    reason = models.TextField(_("说明"), blank=True)
    submitted_at = models.DateTimeField(_("提交时间"), null=True, blank=True)
    return_comment = models.TextField(_("退回意见"), blank=True)
    returned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("退回人"), null=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Grade first (seed 000, round config `grade_first`): before the group leader decides a unit's grade each
    # expert proposes one, a rank within the group and the deduction for the ordinary assessment.
    proposed_grade = models.CharField(_("建议档次"), max_length=16, blank=True)
    proposed_rank = models.PositiveIntegerField(_("建议排名"), null=True, blank=True)
    proposed_deduction = models.DecimalField(_("建议扣分"), max_digits=8, decimal_places=2, null=True, blank=True)

    class Meta:
        verbose_name = _("评分表")
        verbose_name_plural = _("评分表")
        ordering = ["case", "expert", "attempt"]
        constraints = [
            models.UniqueConstraint(fields=["case", "expert", "attempt"], name="uniq_sheet_attempt"),
            # At most one open (not returned) sheet per expert and case.
            models.UniqueConstraint(
                fields=["case", "expert"], condition=~Q(status="returned"), name="uniq_open_sheet"
            ),
        ]

    @property
    def locked(self) -> bool:
        return self.status != SheetStatus.DRAFT


class ItemScore(models.Model):
    """An expert's deduction and bonus on one rubric item, with the reason for them."""

    sheet = models.ForeignKey(ScoreSheet, verbose_name=_("评分表"), on_delete=models.CASCADE, related_name="item_scores")
    item = models.ForeignKey(RubricItem, verbose_name=_("细则条目"), on_delete=models.PROTECT, related_name="+")
    deduction = models.DecimalField(_("扣分"), max_digits=8, decimal_places=2, default=ZERO)
    bonus = models.DecimalField(_("加分"), max_digits=8, decimal_places=2, default=ZERO)
    reason = models.TextField(_("理由"), blank=True)

    class Meta:
        verbose_name = _("条目评分")
        verbose_name_plural = _("条目评分")
        constraints = [models.UniqueConstraint(fields=["sheet", "item"], name="uniq_item_score")]


class AuditEntry(models.Model):
    """Who did what to which object when, with before/after values. Written by the services."""

    at = models.DateTimeField(_("时间"), default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("操作人"), null=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(_("操作"), max_length=64)
    object_type = models.CharField(_("对象类型"), max_length=64)
    object_id = models.CharField(_("对象编号"), max_length=64)
    round = models.ForeignKey(
        Round, verbose_name=_("考评轮次"), null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    before = models.JSONField(_("修改前"), null=True, blank=True)
    after = models.JSONField(_("修改后"), null=True, blank=True)
    comment = models.TextField(_("说明"), blank=True)

    class Meta:
        verbose_name = _("审计日志")
        verbose_name_plural = _("审计日志")
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["object_type", "object_id"])]


class SpecialBonus(models.Model):
    """A special bonus (特别加分) granted to a unit for an honour, e.g. 国家级表彰 +3; capped in total."""

    case = models.ForeignKey(Case, verbose_name=_("考评对象"), on_delete=models.CASCADE, related_name="special_bonuses")
    level = models.CharField(_("级别"), max_length=32)
    title = models.CharField(_("事项"), max_length=255)
    amount = models.DecimalField(_("分值"), max_digits=6, decimal_places=2, validators=[MinValueValidator(ZERO)])
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("批准人"), null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created = models.DateTimeField(_("创建时间"), default=timezone.now)

    class Meta:
        verbose_name = _("特别加分")
        verbose_name_plural = _("特别加分")
        ordering = ["case", "pk"]


class Result(models.Model):
    """A unit's computed result in a round. Recomputed from the raw inputs until the leader
    approves the round (`Round.results_frozen_at`), immutable afterwards."""

    case = models.OneToOneField(Case, verbose_name=_("考评对象"), on_delete=models.CASCADE, related_name="result")
    round = models.ForeignKey(Round, verbose_name=_("考评轮次"), on_delete=models.CASCADE, related_name="results")
    category = models.CharField(_("类别"), max_length=32, blank=True)
    panel = models.DecimalField(_("专家评分"), max_digits=8, decimal_places=2)
    deductions = models.DecimalField(_("扣分"), max_digits=8, decimal_places=2)
    bonus = models.DecimalField(_("加分"), max_digits=8, decimal_places=2)
    total = models.DecimalField(_("总分"), max_digits=8, decimal_places=2)
    rank = models.PositiveIntegerField(_("名次"))
    grade = models.CharField(_("等次"), max_length=16, blank=True)
    movement = models.IntegerField(_("名次变化"), null=True, blank=True)
    veto = models.BooleanField(_("一票否决"), default=False)
    sheet_scores = models.JSONField(_("各评分表得分"), default=list)
    # With a composite across rounds: [["self", own total], [component name, score], …].
    components = models.JSONField(_("计分明细"), default=list, blank=True)
    # The sum of the upheld objections' corrections included in the total (cases.objections).
    correction = models.DecimalField(_("异议更正"), max_digits=8, decimal_places=2, default=ZERO)
    # Why the unit is not eligible for commendation this year (取消当年评先资格); empty: eligible.
    commendation_barred = models.CharField(_("取消评先资格原因"), max_length=255, blank=True)
    # The deductions item by item, as the engine took them: [[kind, points], …] (findings' catalogue
    # deductions, a late submission, seed 001's self-check shortfalls).
    deduction_items = models.JSONField(_("扣分明细"), default=list, blank=True)
    computed_at = models.DateTimeField(_("计算时间"), default=timezone.now)

    class Meta:
        verbose_name = _("考评结果")
        verbose_name_plural = _("考评结果")
        ordering = ["round", "category", "rank", "case__unit__code"]


# Rectification (整改), objections (异议) and seed 001's self-check, democratic recommendation and declared bonus
# items (cases/party_building/) live in their own modules; Django finds their models through this one.
from cases.evaluation.models import (  # noqa: E402,F401
    DutyKind,
    DutyPublication,
    LeaderEvaluationAnswer,
    LeaderEvaluationParticipation,
    LeaderEvaluator,
)
from cases.objections.models import Objection, ObjectionStatus  # noqa: E402,F401
from cases.party_building.models import (  # noqa: E402,F401
    BonusDeclaration,
    DeclarationStatus,
    Nomination,
    NominationKind,
    RecommendationBallot,
)
from cases.rectification.models import (  # noqa: E402,F401
    Rectification,
    RectificationMeasure,
    RectificationReport,
    RectificationReview,
    RectificationSource,
    RectificationStatus,
)
from cases.social.models import (  # noqa: E402,F401
    DraftStatus,
    Material,
    MaterialDelivery,
    PerformanceAnalysis,
    Questionnaire,
    SampleFrame,
    SampleListKind,
    SampleRow,
    SituationReport,
)
