"""The forms the pages post (field names as in templates/ui/task.html).

They turn a POST into what the services take; the rules themselves stay in the services, so that a
page and the API refuse the same input with the same message. Text is passed on as typed (no
stripping): the services decide what blank means.
"""

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from cases import models as m
from cases.services.common import parse_int, parse_points
from workflow.flows import CaseFlow, RectificationFlow, RoundFlow, SocialCaseFlow
from workflow.steps import ActionData


def _text() -> forms.CharField:
    return forms.CharField(required=False, strip=False)


class IdListField(forms.Field):
    """The values of a repeated field (checkboxes): ids, by the domain's integer parser (an id past
    the database's range is a form error, not a database error)."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value: Any) -> list[int]:
        try:
            return [parse_int(pk, str(self.label or "id"), min_value=1) for pk in value or ()]
        except ValidationError as exc:
            raise forms.ValidationError(exc.messages) from None


class CodeListField(forms.Field):
    """The values of a repeated field (a multiple select of rubric item codes), as typed; the service
    says which codes it does not know."""

    widget = forms.SelectMultiple

    def to_python(self, value: Any) -> list[str]:
        return [str(code) for code in value or () if str(code).strip()]


class EvidenceForm(forms.Form):
    """An evidence file on the self-assessment page (the same service as POST /api/v1/attachments/)."""

    file = forms.FileField(allow_empty_file=True)  # the service says why an empty file is refused
    items = CodeListField(required=False)


# --- task actions (submit / approve / return) and drafts -------------------------------------------


class ActionForm(forms.Form):
    """A task action: every step's page may send a comment."""

    comment = _text()

    def payload(self) -> ActionData:
        return {"comment": self.cleaned_data["comment"]}


class PrepareForm(ActionForm):
    """The self-assessment: its report."""

    report = _text()

    def payload(self) -> ActionData:
        return {**super().payload(), "report": self.cleaned_data["report"]}


class ScoreForm(ActionForm):
    """A score sheet: per rubric item `deduction__<code>`, `bonus__<code>` and `reason__<code>`
    (an item posted in any of the three is scored; a blank amount is 0), and the sheet's `reason`."""

    reason = _text()
    proposed_grade = _text()
    proposed_rank = _text()
    proposed_deduction = _text()
    ITEM_FIELDS = ("deduction", "bonus", "reason")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.codes = sorted({key.split("__", 1)[1] for key in self.data
                             if "__" in key and key.split("__", 1)[0] in self.ITEM_FIELDS})
        for code in self.codes:
            for name in self.ITEM_FIELDS:
                self.fields[f"{name}__{code}"] = _text()

    def items(self) -> list[dict[str, Any]]:
        data = self.cleaned_data
        return [
            {
                "item": code,
                "deduction": data[f"deduction__{code}"] or "0",
                "bonus": data[f"bonus__{code}"] or "0",
                "reason": data[f"reason__{code}"],
            }
            for code in self.codes
        ]

    def payload(self) -> ActionData:
        data: ActionData = {**super().payload(), "items": self.items(), "reason": self.cleaned_data["reason"]}
        proposal = {key: self.cleaned_data[f"proposed_{key}"] for key in ("grade", "rank", "deduction")}
        if any(proposal.values()):  # grade first (seed 000): the expert's proposal before the grade is decided
            data["proposal"] = proposal
        return data


class ReviewForm(ActionForm):
    """The group leader's review: the sheets to return to their experts, the proposed grade."""

    sheets = IdListField(required=False)
    grade = _text()

    def payload(self) -> ActionData:
        return {**super().payload(), "sheets": self.cleaned_data["sheets"], "grade": self.cleaned_data["grade"]}


MEASURE_ROWS = 8  # blank rows a plan's page offers beyond the saved measures


class PlanForm(ActionForm):
    """A rectification's plan: its target and the measures as rows `text__<n>`, `responsible__<n>`,
    `due_date__<n>`; a row left wholly blank is not a measure. The service checks each one."""

    target = _text()
    MEASURE_FIELDS = ("text", "responsible", "due_date")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.rows = sorted({int(key.split("__", 1)[1]) for key in self.data
                            if "__" in key and key.split("__", 1)[0] in self.MEASURE_FIELDS
                            and key.split("__", 1)[1].isdigit()})
        for n in self.rows:
            for name in self.MEASURE_FIELDS:
                self.fields[f"{name}__{n}"] = _text()

    def measures(self) -> list[dict[str, Any]]:
        data = self.cleaned_data
        rows = [{name: data[f"{name}__{n}"] for name in self.MEASURE_FIELDS} for n in self.rows]
        return [row for row in rows if any(str(v).strip() for v in row.values())]

    def has_plan(self) -> bool:
        return "target" in self.data or bool(self.rows)

    def payload(self) -> ActionData:
        if not self.has_plan():
            return super().payload()
        return {**super().payload(), "target": self.cleaned_data["target"], "measures": self.measures()}


class ReportForm(ActionForm):
    """A rectification's progress or completion report: its text and the cited files (checkboxes)."""

    report = _text()
    evidence_ids = IdListField(required=False)

    def payload(self) -> ActionData:
        return {**super().payload(), "report": self.cleaned_data["report"],
                "evidence_ids": self.cleaned_data["evidence_ids"]}


class ApproveForm(ActionForm):
    """The leader's approval: a return goes to the office, or to one group (`group`) to recheck first."""

    group = forms.IntegerField(required=False, min_value=1)

    def payload(self) -> ActionData:
        data = super().payload()
        if self.cleaned_data["group"]:
            data["group"] = self.cleaned_data["group"]
        return data


QUESTION_ROWS = 10  # question rows the questionnaire's page shows (at least 5 are required; blank rows are ignored)
SITUATION_FIELDS = ("liaison", "liaison_phone", "leaders", "rectification_report", "performance_report")
ANALYSIS_FIELDS = ("completion", "innovation", "weaknesses")


class QuestionnaireForm(ActionForm):
    """A social round's questionnaire (seed 004 四): its topic and the questions as rows `question__<n>`;
    a blank row is not a question. The service checks the topic, the count and each question."""

    topic = _text()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.rows = sorted({int(key.split("__", 1)[1]) for key in self.data
                            if key.startswith("question__") and key.split("__", 1)[1].isdigit()})
        for n in self.rows:
            self.fields[f"question__{n}"] = _text()

    def questions(self) -> list[str]:
        return [q for q in (self.cleaned_data[f"question__{n}"] for n in self.rows) if q.strip()]

    def has_draft(self) -> bool:
        return "topic" in self.data or bool(self.rows)

    def payload(self) -> ActionData:
        if not self.has_draft():
            return super().payload()
        return {**super().payload(), "topic": self.cleaned_data["topic"], "questions": self.questions()}


class SituationForm(ActionForm):
    """附件8 (liaison, phone, leaders) and the two reports, delivered together."""

    liaison = _text()
    liaison_phone = _text()
    leaders = _text()
    rectification_report = _text()
    performance_report = _text()

    def situation(self) -> dict[str, str]:
        return {name: self.cleaned_data[name] for name in SITUATION_FIELDS}

    def payload(self) -> ActionData:
        return {**super().payload(), "situation": self.situation()}


class AnalysisForm(ActionForm):
    """The performance analysis's three parts (附件9–11: 完成情况, 创新和亮点, 难点和薄弱环节)."""

    completion = _text()
    innovation = _text()
    weaknesses = _text()

    def analysis(self) -> dict[str, str]:
        return {name: self.cleaned_data[name] for name in ANALYSIS_FIELDS}

    def has_draft(self) -> bool:
        return any(name in self.data for name in ANALYSIS_FIELDS)

    def payload(self) -> ActionData:
        if not self.has_draft():
            return super().payload()
        return {**super().payload(), "analysis": self.analysis()}


# The steps whose page posts more than a comment (a node's page: see templates/ui/task.html).
ACTION_FORMS: dict[Any, type[ActionForm]] = {
    RoundFlow.approve: ApproveForm,
    CaseFlow.prepare: PrepareForm,
    CaseFlow.score: ScoreForm,
    CaseFlow.review: ReviewForm,
    RectificationFlow.plan: PlanForm,
    RectificationFlow.carry_out: ReportForm,
    SocialCaseFlow.questionnaire: QuestionnaireForm,
    SocialCaseFlow.situation: SituationForm,
    SocialCaseFlow.analysis: AnalysisForm,
}


def action_form(node: object, data: Any) -> ActionForm:
    return ACTION_FORMS.get(node, ActionForm)(data)


# --- inspection records and findings -------------------------------------------------------------


class InspectionForm(forms.Form):
    method = _text()
    date = _text()
    place = _text()
    participants = _text()
    notes = _text()

    def fields_for_service(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {"method": data["method"], "date": data["date"] or None, "place": data["place"],
                "participants": data["participants"], "notes": data["notes"]}


class FindingForm(forms.Form):
    source = _text()
    description = _text()
    item = _text()  # a rubric item's code, or blank
    severity = _text()
    deduction_amount = _text()
    # Checkboxes: any value but blank is ticked (so "0" and "false" are too, as before).
    requires_rectification = _text()
    veto = _text()
    bars_commendation = _text()

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if "deduction_amount" in data:
            # The domain's parser and its messages (a ValidationError naming the field).
            data["deduction_amount"] = parse_points(data["deduction_amount"] or "0", "deduction_amount")
        return data

    def fields_for_service(self, case: m.Case) -> dict[str, Any]:
        data = self.cleaned_data
        code = data["item"]
        item = case.round.rubric.items.filter(code=code).first() if code else None
        if code and item is None:  # named, as the API does, not saved without its item
            raise ValidationError({"item": ["评分项不属于本轮考评的细则。"]})
        return {
            "source": data["source"],
            "description": data["description"],
            "item": item,
            "severity": data["severity"] or m.Severity.LOW,
            "deduction_amount": data["deduction_amount"],
            "requires_rectification": bool(data["requires_rectification"]),
            "veto": bool(data["veto"]),
            "bars_commendation": bool(data["bars_commendation"]),
        }


class RoundFromTemplateForm(forms.Form):
    """A draft round from a ready template: the year, the first day of preparation, an optional title."""

    template = forms.CharField(max_length=64)
    year = forms.IntegerField(min_value=2000, max_value=2100)
    start = forms.DateField()
    title = forms.CharField(max_length=255, required=False)


class DuesForm(forms.Form):
    """The office moves a rectification's dates, with a reason (the service checks the dates)."""

    plan_due = forms.DateField()
    due_date = forms.DateField()
    reason = _text()


class PublicationForm(forms.Form):
    """Where and from when to when a closed rectification is published (the service checks the 30 days)."""

    published_from = forms.DateField()
    published_until = forms.DateField()
    where = _text()
