from decimal import Decimal

from rest_framework import serializers

from cases import access
from cases import models as m


class UserBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = m.User
        fields = ["id", "username", "display_name", "title", "office_phone", "mobile"]


class UnitSerializer(serializers.ModelSerializer):
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


class GroupMemberSerializer(serializers.ModelSerializer):
    user = serializers.PrimaryKeyRelatedField(queryset=m.User.objects.all())
    user_detail = UserBriefSerializer(source="user", read_only=True)

    class Meta:
        model = m.GroupMember
        fields = ["user", "role", "user_detail"]


class GroupSerializer(serializers.ModelSerializer):
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


class RoundSerializer(serializers.ModelSerializer):
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


class SubmissionWriteSerializer(serializers.Serializer):
    report = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    self_scores = serializers.DictField(child=serializers.CharField(), required=False)
    statistics = serializers.DictField(required=False)


class InspectionRecordSerializer(serializers.ModelSerializer):
    class Meta:
        model = m.InspectionRecord
        fields = ["id", "case", "method", "date", "place", "participants", "notes", "created_by", "created"]
        read_only_fields = ["created_by", "created"]


class FindingSerializer(serializers.ModelSerializer):
    class Meta:
        model = m.Finding
        fields = [
            "id", "case", "source", "description", "item", "severity", "deduction_kind",
            "deduction_amount", "occurrences", "requires_rectification", "veto", "created_by", "created",
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
        ]
        read_only_fields = fields


class ItemScoreWriteSerializer(serializers.Serializer):
    item = serializers.CharField()
    deduction = serializers.DecimalField(max_digits=8, decimal_places=2, min_value=0, default=Decimal(0))
    bonus = serializers.DecimalField(max_digits=8, decimal_places=2, min_value=0, default=Decimal(0))
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class ScoreSheetWriteSerializer(serializers.Serializer):
    items = ItemScoreWriteSerializer(many=True)
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


class AttachmentUploadSerializer(serializers.Serializer):
    # The case comes in the query string (?case=), checked before the body is read; if the form
    # repeats it, it must be the same.
    case = serializers.IntegerField(required=False)
    purpose = serializers.ChoiceField(choices=m.Attachment.Purpose.choices)
    file = serializers.FileField()
    items = serializers.ListField(child=serializers.CharField(), required=False, default=list)
    inspection = serializers.IntegerField(required=False, allow_null=True)


class ResultSerializer(serializers.ModelSerializer):
    unit = serializers.CharField(source="case.unit.name", read_only=True)
    unit_code = serializers.CharField(source="case.unit.code", read_only=True)
    group = serializers.CharField(source="case.group.name", read_only=True)

    class Meta:
        model = m.Result
        fields = ["id", "round", "case", "unit", "unit_code", "group", "category", "panel", "deductions", "bonus",
                  "total", "rank", "grade", "movement", "veto", "sheet_scores", "components", "computed_at"]
        read_only_fields = fields


class PanelOverrideSerializer(serializers.Serializer):
    panel = serializers.CharField(allow_null=True, allow_blank=True)
    reason = serializers.CharField(allow_blank=True, default="")


class RubricImportSerializer(serializers.Serializer):
    file = serializers.FileField()


class SpecialBonusSerializer(serializers.ModelSerializer):
    class Meta:
        model = m.SpecialBonus
        fields = ["id", "case", "level", "title", "amount", "granted_by", "created"]
        read_only_fields = ["granted_by", "created"]
