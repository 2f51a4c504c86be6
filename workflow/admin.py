"""Admin for the working-day calendar: the office's overrides of the official schedule, and the years
whose official schedule it has entered. Every change is audited (it moves deadlines)."""

from django.contrib import admin, messages
from django.forms.models import model_to_dict
from django.utils.translation import gettext_lazy as _
from viewflow.workflow import admin as viewflow_admin
from viewflow.workflow.models import Process, Task

from cases.services.audit import audit
from workflow.deadlines import calendar
from workflow.models import CalendarYear, WorkdayOverride

WEEKDAYS = "一二三四五六日"


class CalendarAdmin(admin.ModelAdmin):
    def changelist_view(self, request, extra_context=None):
        for warning in calendar.schedule_warnings():
            messages.warning(request, warning)
        return super().changelist_view(request, extra_context)

    def _snapshot(self, obj) -> dict:
        return {key: str(value) for key, value in model_to_dict(obj, exclude=["id"]).items()}

    def save_model(self, request, obj, form, change):
        before = self._snapshot(type(obj).objects.get(pk=obj.pk)) if change else None
        super().save_model(request, obj, form, change)
        audit(actor=request.user, action=f"calendar.{obj._meta.model_name}.save", obj=obj,
                            before=before, after=self._snapshot(obj))

    def delete_model(self, request, obj):
        audit(actor=request.user, action=f"calendar.{obj._meta.model_name}.delete", obj=obj,
                            before=self._snapshot(obj))
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)


@admin.register(WorkdayOverride)
class WorkdayOverrideAdmin(CalendarAdmin):
    list_display = ["date", "weekday", "is_workday", "note"]
    list_filter = ["is_workday"]
    date_hierarchy = "date"
    search_fields = ["note"]

    @admin.display(description="星期")
    def weekday(self, obj) -> str:
        return f"星期{WEEKDAYS[obj.date.weekday()]}"


@admin.register(CalendarYear)
class CalendarYearAdmin(CalendarAdmin):
    list_display = ["year", "complete", "official_in_package", "note"]

    @admin.display(description="系统内置官方安排", boolean=True)
    def official_in_package(self, obj) -> bool:
        return calendar.package_knows(obj.year)


# viewflow's own process and task lists, with Chinese column headers: its "pk", "participants" and
# "brief" columns have no translatable label (the admin derived "Pk", "Participants", "Brief").
admin.site.unregister(Process)
admin.site.unregister(Task)


@admin.register(Process)
class ProcessAdmin(viewflow_admin.ProcessAdmin):
    list_display = ["id", "created", "flow_class", "status", "participants", "brief"]
    list_display_links = ["id", "created", "flow_class"]

    @admin.display(description=_("参与人"))
    def participants(self, obj):
        return super().participants(obj)

    @admin.display(description=_("摘要"))
    def brief(self, obj):
        return obj.brief


@admin.register(Task)
class TaskAdmin(viewflow_admin.TaskAdmin):
    list_display = ["id", "created", "process", "status", "owner", "owner_permission", "token", "started", "finished"]
    list_display_links = ["id", "created", "process"]
