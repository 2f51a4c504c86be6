"""The audit log as people read it: a Chinese label per action, the object named ("某单位的评分表")
rather than `scoresheet #53`, before/after as "字段：值" lines rather than Python dicts.

The stored entries keep their codes (the API and exports give them as they are); only the page
translates. New action codes read sensibly without an entry here: the object's name plus a verb.
"""

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from django.apps import apps
from django.db import models
from django.utils.translation import gettext_lazy as _
from viewflow.workflow.models import Task

from cases import models as m

ACTIONS = {
    "account.locked_out": _("登录失败次数过多，账号锁定"),
    "account.password_changed": _("修改密码"),
    "attachment.create": _("上传附件"),
    "calendar.workdayoverride.save": _("保存工作日调整"),
    "calendar.workdayoverride.delete": _("删除工作日调整"),
    "calendar.calendaryear.save": _("保存年度节假日安排"),
    "calendar.calendaryear.delete": _("删除年度节假日安排"),
    "case.inspected": _("完成检查"),
    "case.panel_override": _("组长调整得分"),
    "case.propose_grade": _("建议等次"),
    "case.review_approved": _("组长评审通过"),
    "case.status": _("变更考评状态"),
    "deadline.extend_case": _("单位任务延期"),
    "deadline.extend_phase": _("阶段延期"),
    "deadline.extend_task": _("任务延期"),
    "document.batch": _("批量印发反馈意见"),
    "document.batch_retry": _("重试批量印发失败项"),
    "document.correct": _("起草公文更正版本"),
    "document.draft": _("起草公文"),
    "document.edit": _("修改公文草稿"),
    "document.issue": _("印发公文"),
    "document.issue_request": _("提交印发公文"),
    "finding.create": _("记录问题"),
    "objection.file": _("提出异议"),
    "objection.resolve": _("处理异议"),
    "group.create": _("新建考评组"),
    "group.set_units": _("调整考评组单位"),
    "group.update": _("修改考评组"),
    "import.people": _("Excel 导入单位、人员和考评组"),
    "inspection.create": _("记录检查"),
    "round.approve": _("领导审定通过"),
    "round.cases_done": _("各单位考评完成"),
    "round.compiled": _("汇总结果"),
    "round.publication_open": _("公示考评结果"),
    "round.results_corrected": _("异议成立，更正考评结果"),
    "round.results_final": _("考评结果最终确定"),
    "round.create": _("新建考评轮次"),
    "round.launch": _("启动考评"),
    "round.reported": _("通报结果"),
    "round.results_computed": _("计算考评结果"),
    "round.return": _("领导退回"),
    "round.update": _("修改考评轮次"),
    "round.urge": _("一键催办"),
    "rubric.import": _("导入考评细则"),
    "score_sheet.open": _("生成评分表"),
    "score_sheet.return": _("退回评分表"),
    "score_sheet.submit": _("提交评分表"),
    "special_bonus.create": _("特别加分"),
    "submission.return": _("单位负责人退回自评材料"),
    "submission.sign_off": _("单位负责人审定自评材料"),
    "submission.submit": _("提交自评材料"),
    "unit.create": _("新建单位"),
    "unit.update": _("修改单位"),
    "user.import_create": _("导入新建人员账号"),
    "user.import_update": _("导入修改人员信息"),
    "user.import_units": _("导入调整人员所在单位"),
}
# The last part of a code this page has no label for: "finding.update" reads 修改 + the object's kind.
VERBS = {
    "create": _("新建"), "update": _("修改"), "delete": _("删除"), "submit": _("提交"), "return": _("退回"),
    "approve": _("通过"), "revoke": _("撤销"), "save": _("保存"),
}
# Keys of before/after that are no model field's name.
KEYS = {
    "cases": _("单位数"), "units": _("单位"), "tasks": _("任务"), "people": _("人数"), "phases": _("阶段"),
    "level": _("级别"), "rubric": _("考评细则"), "username": _("用户名"), "ip_address": _("IP 地址"),
    "failures": _("失败次数"), "items": _("条目"), "total": _("总分"), "due": _("截止时间"),
    "late": _("逾期提交"), "name": _("文件名"), "notifications": _("通知数"), "title": _("标题"),
    "documents": _("公文数"), "doc_number": _("发文字号"), "sha256": _("SHA-256 摘要"), "pages": _("页数"),
    "replaces": _("更正的文件"), "version": _("版本"), "body": _("正文"), "addressees": _("主送机关"), "cc": _("抄送"),
    "kind": _("类型"), "unit": _("单位"),
}
YES_NO = {True: _("是"), False: _("否")}
# Keys whose values are primary keys of these models: shown by name.
REFS: dict[str, type[models.Model]] = {"units": m.Unit}


def action_label(code: str) -> str:
    if code in ACTIONS:
        return str(ACTIONS[code])
    kind, _dot, verb = code.rpartition(".")
    model = _model(kind.replace("_", ""))
    if model is not None and verb in VERBS:
        return f"{VERBS[verb]}{model._meta.verbose_name}"
    return code


def _model(object_type: str) -> type[models.Model] | None:
    if object_type == "task":
        return Task
    for app in ("cases", "workflow", "notifications"):
        try:
            return apps.get_model(app, object_type)
        except LookupError:
            continue
    return None


def _names(object_type: str, ids: set[str]) -> dict[str, str]:
    """The objects of one type named for a reader, in one query."""
    pks = [int(i) for i in ids if i.isdigit()]
    if object_type == "case":
        return {str(c.pk): c.unit.name for c in m.Case.objects.filter(pk__in=pks).select_related("unit")}
    if object_type == "scoresheet":
        sheets = m.ScoreSheet.objects.filter(pk__in=pks).select_related("case__unit", "expert")
        return {str(s.pk): str(_("%(unit)s的评分表（%(expert)s）") % {"unit": s.case.unit.name, "expert": s.expert})
                for s in sheets}
    by_case = {
        "submission": (m.Submission, _("%(unit)s的自评材料")),
        "finding": (m.Finding, _("%(unit)s的问题记录")),
        "inspectionrecord": (m.InspectionRecord, _("%(unit)s的检查记录")),
        "attachment": (m.Attachment, _("%(unit)s的附件")),
        "specialbonus": (m.SpecialBonus, _("%(unit)s的特别加分")),
    }
    if object_type in by_case:
        case_model, text = by_case[object_type]
        rows = case_model._default_manager.filter(pk__in=pks).values_list("pk", "case__unit__name")
        return {str(pk): str(text % {"unit": unit}) for pk, unit in rows}
    if object_type == "task":
        tasks = Task.objects.filter(pk__in=pks).select_related("process")
        return {str(t.pk): str(t.flow_task.task_title or t.flow_task.name) for t in tasks}
    if object_type == "user":
        # Account entries (cases/accounts.py) name the account by its username, which may not exist.
        users = {u.username: str(u) for u in m.User.objects.filter(username__in=ids)}
        return {i: users.get(i, i) for i in ids}
    other = _model(object_type)
    if other is None:
        return {}
    return {str(obj.pk): str(obj) for obj in other._default_manager.filter(pk__in=pks)}


def _value(field: models.Field | None, value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return str(YES_NO[value])
    if isinstance(value, list):
        return "、".join(_value(None, v) for v in value) or "—"
    if isinstance(value, dict):
        return "；".join(f"{k}：{_value(None, v)}" for k, v in value.items())
    if field is not None and field.choices:
        return str(dict(field.flatchoices).get(value, value))
    return str(value)


def changes(model: type[models.Model] | None, data: Any) -> list[tuple[str, str]]:
    """A before/after value as (label, value) lines."""
    if data in (None, {}, ""):
        return []
    if not isinstance(data, dict):
        return [("", _value(None, data))]
    fields = {f.name: f for f in model._meta.get_fields() if isinstance(f, models.Field)} if model else {}
    lines = []
    for key, value in data.items():
        field = fields.get(key)
        label = field.verbose_name if field is not None else KEYS.get(key, key)
        target = field.related_model if field is not None and field.is_relation else REFS.get(key)
        if isinstance(target, type) and issubclass(target, models.Model) and value:
            value = _referenced(target, value)
        lines.append((str(label), _value(field if target is None else None, value)))
    return lines


def _referenced(model: type[models.Model], value: Any) -> Any:
    """Primary keys (one or a list) as the objects' names; ones that are gone stay numbers."""
    pks = value if isinstance(value, list) else [value]
    names = {obj.pk: str(obj) for obj in model._default_manager.filter(pk__in=[p for p in pks if isinstance(p, int)])}
    found = [names.get(p, p) for p in pks]
    return found if isinstance(value, list) else found[0]


def _result_lines(data: Any) -> list[tuple[str, str]]:
    """The results a compile stored or replaced ({case id: [total, rank, grade]}) as one line per unit."""
    if not isinstance(data, dict) or not data:
        return []
    ids = [int(k) for k in data if str(k).isdigit()]
    units = dict(m.Case.objects.filter(pk__in=ids).values_list("pk", "unit__name"))
    lines = []
    for key, value in data.items():
        unit = units.get(int(key), key) if str(key).isdigit() else key
        if isinstance(value, list) and len(value) == 3:
            total, rank, grade = value
            value = _("总分 %(total)s，第 %(rank)s 名，等次 %(grade)s") % {
                "total": total, "rank": rank if rank is not None else "—", "grade": grade or "—"}
        lines.append((str(unit), "—" if value is None else str(value)))
    return lines


# Actions whose before/after are not fields of their object.
SPECIAL_CHANGES = {"round.results_computed": _result_lines}


def describe(entries: Iterable[m.AuditEntry]) -> list[dict[str, Any]]:
    """The page's rows for a page of entries: a few queries per object type, not one per entry."""
    entries = list(entries)
    wanted: dict[str, set[str]] = defaultdict(set)
    for e in entries:
        wanted[e.object_type].add(e.object_id)
    names = {kind: _names(kind, ids) for kind, ids in wanted.items()}
    rows = []
    for e in entries:
        model = _model(e.object_type)
        kind = str(model._meta.verbose_name) if model is not None else e.object_type
        rows.append({
            "entry": e,
            "action": action_label(e.action),
            "kind": kind,
            "object": names[e.object_type].get(e.object_id) or f"{kind} {e.object_id}",
            "before": SPECIAL_CHANGES[e.action](e.before) if e.action in SPECIAL_CHANGES else changes(model, e.before),
            "after": SPECIAL_CHANGES[e.action](e.after) if e.action in SPECIAL_CHANGES else changes(model, e.after),
        })
    return rows
