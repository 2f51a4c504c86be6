from decimal import Decimal

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from cases import access
from cases import models as m
from cases.api.fields import BoundedIntegerField, PointsField, StrictModelSerializer, StrictSerializer
from cases.scoring import round_config


class UserBriefSerializer(serializers.ModelSerializer):
    # A group's members as the units it assesses see them carry no username (GroupSerializer).
    schema_optional_fields = ("username",)

    class Meta:
        model = m.User
        fields = ["id", "username", "display_name", "title", "office_phone", "mobile"]


class UnitSerializer(StrictModelSerializer):
    class Meta:
        model = m.Unit
        fields = ["id", "code", "name", "short_name", "category", "parent", "sort_order", "active"]


class RubricItemSerializer(serializers.ModelSerializer):
    class Meta:
        model = m.RubricItem
        fields = ["id", "code", "content", "max_points", "bonus_cap", "evidence_required", "veto", "rules"]


class RubricSectionSerializer(serializers.ModelSerializer):
    items = RubricItemSerializer(many=True, read_only=True)

    class Meta:
        model = m.RubricSection
        fields = ["id", "code", "title", "max_points", "items"]


class RubricSerializer(serializers.ModelSerializer):
    sections = RubricSectionSerializer(many=True, read_only=True)

    class Meta:
        model = m.Rubric
        fields = ["id", "code", "version", "title", "total_max", "frozen", "sections"]


class GroupMemberSerializer(StrictModelSerializer):
    user = serializers.PrimaryKeyRelatedField(queryset=m.User.objects.all())
    user_detail = UserBriefSerializer(source="user", read_only=True)

    class Meta:
        model = m.GroupMember
        fields = ["user", "role", "user_detail"]


class GroupSerializer(StrictModelSerializer):
    members = GroupMemberSerializer(many=True)
    units = serializers.PrimaryKeyRelatedField(
        many=True, queryset=m.Unit.objects.filter(active=True), write_only=True
    )
    unit_list = serializers.SerializerMethodField()

    class Meta:
        model = m.Group
        fields = ["id", "round", "number", "name", "phone", "members", "units", "unit_list"]
        validators: list[object] = []  # cases.services.rounds.group_create names the taken number as a field error

    def get_unit_list(self, group) -> list[dict]:
        return [{"id": c.unit_id, "name": c.unit.name} for c in group.cases.all()]  # prefetched by the view

    CONTACT_FIELDS = ("mobile", "office_phone")

    def to_representation(self, group):
        """A group's members with everyone's contacts for its own members and the organisation-wide
        roles (`access.full_contact_groups`); for everyone else (the units it assesses, other groups)
        the contacts of its leader and liaison only, and no username."""
        data = super().to_representation(group)
        if "full_contact_groups" not in self.context:
            user = getattr(self.context.get("request"), "user", None)
            self.context["full_contact_groups"] = access.full_contact_groups(user) if user else set()  # type: ignore[index]
        full = self.context["full_contact_groups"]
        if full is not None and group.pk not in full:
            for member in data["members"]:
                detail = member.get("user_detail") or {}
                detail.pop("username", None)
                if member["role"] not in access.PUBLIC_CONTACT_ROLES:
                    for name in self.CONTACT_FIELDS:
                        detail[name] = ""
        return data


class RoundSerializer(StrictModelSerializer):
    class Meta:
        model = m.Round
        fields = [
            "id", "title", "kind", "year", "rubric", "previous_round", "status",
            *m.Round.DUE_FIELDS, "config", "launched_at", "created",
        ]
        read_only_fields = ["status", "launched_at", "created"]


class SubmissionSerializer(serializers.ModelSerializer):
    class Meta:
        model = m.Submission
        fields = [
            "id", "case", "attempt", "status", "report", "self_scores", "statistics",
            "submitted_by", "submitted_at", "reviewed_by", "reviewed_at", "return_comment",
        ]
        read_only_fields = fields


class SubmissionWriteSerializer(StrictSerializer):
    report = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    # Values are checked against the rubric (and parsed) by the service, which names each bad item.
    self_scores = serializers.DictField(child=serializers.JSONField(), required=False)
    statistics = serializers.DictField(required=False)


class InspectionRecordSerializer(StrictModelSerializer):
    class Meta:
        model = m.InspectionRecord
        fields = ["id", "case", "method", "date", "place", "participants", "notes", "created_by", "created"]
        read_only_fields = ["created_by", "created"]


class FindingSerializer(StrictModelSerializer):
    class Meta:
        model = m.Finding
        fields = [
            "id", "case", "source", "description", "item", "severity", "deduction_kind",
            "deduction_amount", "occurrences", "requires_rectification", "veto", "bars_commendation", "created_by",
            "created",
        ]
        read_only_fields = ["created_by", "created"]


class ItemScoreSerializer(serializers.ModelSerializer):
    item: "serializers.SlugRelatedField[m.RubricItem]" = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = m.ItemScore
        fields = ["item", "deduction", "bonus", "reason"]


class ScoreSheetSerializer(serializers.ModelSerializer):
    item_scores = ItemScoreSerializer(many=True, read_only=True)
    expert_name = serializers.CharField(source="expert.display_name", read_only=True)

    class Meta:
        model = m.ScoreSheet
        fields = [
            "id", "case", "expert", "expert_name", "attempt", "status", "total", "reason",
            "submitted_at", "return_comment", "returned_by", "item_scores",
            "proposed_grade", "proposed_rank", "proposed_deduction",
        ]
        read_only_fields = fields


class ItemScoreWriteSerializer(StrictSerializer):
    item = serializers.CharField()
    deduction = PointsField(default=Decimal(0))
    bonus = PointsField(default=Decimal(0))
    reason = serializers.CharField(required=False, allow_blank=True, default="")


@extend_schema_field(ItemScoreWriteSerializer(many=True))
class ItemScoreRowsField(serializers.ListField):
    """Score rows as `ItemScoreWriteSerializer` documents them, handed to the sheet service as sent:
    it checks every row against the rubric (unknown keys, amounts by the one parser, caps, repeats)
    in one pass, so a sheet with several problems is answered with all of them."""

    child = serializers.JSONField()


class ScoreSheetWriteSerializer(StrictSerializer):
    items = ItemScoreRowsField()
    reason = serializers.CharField(required=False, allow_blank=True)


class CaseSerializer(serializers.ModelSerializer):
    unit = UnitSerializer(read_only=True)
    group_name = serializers.CharField(source="group.name", read_only=True)
    round_title = serializers.CharField(source="round.title", read_only=True)

    class Meta:
        model = m.Case
        fields = [
            "id", "round", "round_title", "unit", "group", "group_name", "status",
            "submitted_at", "late", "finished_at", "proposed_grade", "panel_override", "panel_override_reason",
        ]
        read_only_fields = fields

    GROUP_ONLY = ("proposed_grade", "panel_override", "panel_override_reason")
    # Left out for callers outside the case's group leads (below): not required in the schema (cases/api/schema.py).
    schema_optional_fields = GROUP_ONLY

    def to_representation(self, case):
        """The group's grade proposal and panel decision are its working material: units and liaisons
        see results only once the leader has approved them."""
        data = super().to_representation(case)
        groups = self._decision_groups()
        if groups is not None and case.group_id not in groups:
            for name in self.GROUP_ONLY:
                data.pop(name, None)
        return data

    def _decision_groups(self) -> set | None:
        """The groups whose decisions the user sees, None for all; read once per response, not once
        per listed case."""
        if "decision_groups" not in self.context:
            user = getattr(self.context.get("request"), "user", None)
            if user is not None and access.sees_everything(user):
                groups = None
            else:
                groups = {row["group_id"] for row in access.group_ids(user, access.GROUP_LEAD_ROLES)} if user else set()
            self.context["decision_groups"] = groups  # type: ignore[index]  # a dict at runtime; the stub says Mapping
        return self.context["decision_groups"]


class AuditEntrySerializer(serializers.ModelSerializer):
    class Meta:
        model = m.AuditEntry
        fields = ["id", "at", "actor", "action", "object_type", "object_id", "round", "before", "after", "comment"]
        read_only_fields = fields


class AttachmentSerializer(serializers.ModelSerializer):
    items: "serializers.SlugRelatedField[m.RubricItem]" = serializers.SlugRelatedField(slug_field="code", many=True, read_only=True)

    class Meta:
        model = m.Attachment
        fields = ["id", "case", "purpose", "inspection", "items", "original_name", "size", "sha256",
                  "uploaded_by", "uploaded_at"]
        read_only_fields = fields


class AttachmentUploadSerializer(StrictSerializer):
    # The case comes in the query string (?case=), checked before the body is read; if the form
    # repeats it, it must be the same.
    case = BoundedIntegerField(min_value=1, required=False)
    purpose = serializers.ChoiceField(choices=m.Attachment.Purpose.choices)
    file = serializers.FileField()
    items = serializers.ListField(child=serializers.CharField(), required=False, default=list)
    inspection = BoundedIntegerField(min_value=1, required=False, allow_null=True)


class ResultSerializer(serializers.ModelSerializer):
    unit = serializers.CharField(source="case.unit.name", read_only=True)
    unit_code = serializers.CharField(source="case.unit.code", read_only=True)
    group = serializers.CharField(source="case.group.name", read_only=True)
    # 奖励系数 of the grade, when the round configures them (seed 002); else null.
    reward_coefficient = serializers.SerializerMethodField()
    # 评先资格: false with the reason when barred (违法案件, seed 003; a grade the round names).
    commendation_eligible = serializers.SerializerMethodField()

    def get_reward_coefficient(self, obj) -> str | None:
        value = round_config.reward_coefficients(obj.round.config or {}).get(obj.grade)
        return None if value is None else str(value)

    def get_commendation_eligible(self, obj) -> bool:
        return not obj.commendation_barred

    class Meta:
        model = m.Result
        fields = ["id", "round", "case", "unit", "unit_code", "group", "category", "panel", "deductions", "bonus",
                  "correction", "total", "rank", "grade", "reward_coefficient", "movement", "veto",
                  "commendation_eligible", "commendation_barred", "sheet_scores", "components", "deduction_items",
                  "computed_at"]
        read_only_fields = fields


class PanelOverrideSerializer(StrictSerializer):
    panel = PointsField(allow_null=True)
    reason = serializers.CharField(allow_blank=True, default="")


class RubricImportSerializer(StrictSerializer):
    file = serializers.FileField()


class SpecialBonusSerializer(StrictModelSerializer):
    class Meta:
        model = m.SpecialBonus
        fields = ["id", "case", "level", "title", "amount", "granted_by", "created"]
        read_only_fields = ["granted_by", "created"]
