"""Django admin: configuration by the office (units, people, rubrics). Running rounds, scores and
the audit log are read-only here: they change only through the services, which audit them."""

from django import forms
from django.contrib import admin
from django.contrib.admin.widgets import FilteredSelectMultiple
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.core.exceptions import ValidationError

from cases import models as m
from cases import selectors
from cases.services import rounds


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class UnitMembershipInline(admin.TabularInline):
    model = m.UnitMembership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(m.User)
class UserAdmin(BaseUserAdmin):
    fieldsets = (
        *(BaseUserAdmin.fieldsets or ()),
        ("考评", {"fields": ("display_name", "title", "office_phone", "mobile", "org_role")}),
    )
    list_display = ["username", "display_name", "title", "org_role", "mobile", "is_active"]
    list_filter = ["org_role", "is_active", "is_staff"]
    search_fields = ["username", "display_name", "mobile"]

    # The office manages people and their unit memberships, but not privileges: who is staff, a
    # superuser, in which permission group, or holds an organisation role (office, leader, auditor) is
    # the administrator's (a superuser's) call, and a privileged account — including its password —
    # cannot be changed by the office at all, or separation of duties would be one password reset away.
    PRIVILEGE_FIELDS = ("is_superuser", "is_staff", "groups", "user_permissions", "org_role")

    def get_readonly_fields(self, request, obj=None):
        fields = tuple(super().get_readonly_fields(request, obj))
        return fields if request.user.is_superuser else fields + self.PRIVILEGE_FIELDS

    def has_change_permission(self, request, obj=None):
        if obj is not None and not request.user.is_superuser and (obj.is_superuser or obj.is_staff or obj.org_role):
            return False
        return super().has_change_permission(request, obj)


@admin.register(m.Unit)
class UnitAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "short_name", "category", "sort_order", "active"]
    list_filter = ["category", "active"]
    search_fields = ["code", "name", "short_name"]
    inlines = [UnitMembershipInline]


class RubricItemInline(admin.TabularInline):
    model = m.RubricItem
    fields = ["code", "content", "max_points", "bonus_cap", "evidence_required", "veto", "position"]
    extra = 0


@admin.register(m.Rubric)
class RubricAdmin(ReadOnlyAdmin):
    """Shown, not edited: a rubric is imported from its file (API or `load_rubrics`), and the imported
    document is what exports and the special-bonus cap read; a change is a new version."""

    list_display = ["code", "version", "title", "total_max", "frozen"]
    inlines = [RubricItemInline]


class GroupMemberInline(admin.TabularInline):
    model = m.GroupMember
    extra = 0
    autocomplete_fields = ["user"]


class GroupForm(forms.ModelForm):
    units = forms.ModelMultipleChoiceField(m.Unit.objects.filter(active=True), required=False,
                                           widget=FilteredSelectMultiple("单位", False))

    class Meta:
        model = m.Group
        fields = ["round", "number", "name", "phone"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Groups belong to rounds still being set up (launched rounds' groups are read-only).
        self.fields["round"].queryset = m.Round.objects.filter(status=m.RoundStatus.DRAFT)
        if self.instance.pk:
            self.fields["units"].initial = list(self.instance.cases.values_list("unit_id", flat=True))

    def clean(self):
        """The checks `group_set_units` makes, here, so that nothing is saved half-way."""
        data = super().clean()
        round, units = data.get("round"), data.get("units") or []
        if round is not None:
            taken = m.Case.objects.filter(round=round, unit__in=units).select_related("unit", "group")
            if self.instance.pk:
                taken = taken.exclude(group=self.instance)
            for case in taken:
                self.add_error("units", f"{case.unit.name}已在{case.group.name}。")
        return data


@admin.register(m.Group)
class GroupAdmin(admin.ModelAdmin):
    """Groups of draft rounds: people (inline) and units (each unit gets its case in the round)."""

    form = GroupForm
    list_display = ["round", "number", "name", "phone"]
    list_filter = ["round"]
    inlines = [GroupMemberInline]

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and not (obj and obj.round.status != m.RoundStatus.DRAFT)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        rounds.group_set_units(user=request.user, group=form.instance, units=list(form.cleaned_data["units"]))


class RoundForm(forms.ModelForm):
    class Meta:
        model = m.Round
        fields = ["title", "kind", "year", "rubric", "previous_round", *m.Round.DUE_FIELDS, "config"]

    def clean(self):
        """The checks `round_update` makes, as form errors instead of a failed save."""
        data = super().clean()
        if self.instance.pk and self.instance.status != m.RoundStatus.DRAFT:
            if set(self.changed_data) - set(m.Round.DUE_FIELDS):
                raise ValidationError("考评已启动，只能调整期限。")
        dues = {k: data.get(k) for k in m.Round.DUE_FIELDS}
        for field, problems in selectors.round_problems(dues, data.get("config") or {}).items():
            for problem in problems:
                self.add_error(field, problem)
        return data


@admin.register(m.Round)
class RoundAdmin(admin.ModelAdmin):
    """Created and edited through the services, so that deadline changes are audited; launched from
    the API (POST /api/v1/rounds/{id}/launch/)."""

    form = RoundForm
    list_display = ["title", "kind", "year", "status", "prepare_due", "launched_at"]
    list_filter = ["kind", "year", "status"]

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        data = {name: form.cleaned_data[name] for name in form.changed_data}
        if change:
            # The form has already written its values onto `obj`; the service needs the stored row for "before".
            rounds.round_update(user=request.user, round=m.Round.objects.get(pk=obj.pk), **data)
        else:
            form.instance = rounds.round_create(user=request.user, **form.cleaned_data)
            obj.pk = form.instance.pk


@admin.register(m.Case)
class CaseAdmin(ReadOnlyAdmin):
    list_display = ["round", "unit", "group", "status", "late", "submitted_at"]
    list_filter = ["round", "status", "late"]
    search_fields = ["unit__name"]


@admin.register(m.AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ["at", "actor", "action", "object_type", "object_id", "round"]
    list_filter = ["action", "object_type"]
    search_fields = ["object_id", "comment"]


@admin.register(m.Objection)
class ObjectionAdmin(ReadOnlyAdmin):
    """Shown, not edited: objections are filed and resolved through their services (audited)."""

    list_display = ["round", "case", "status", "filed_at", "adjustment", "resolved_at"]
    list_filter = ["round", "status"]
