from django import template
from django.utils.translation import gettext_lazy as _

register = template.Library()

# viewflow ships no Chinese catalog; these are the statuses a user meets.
TASK_STATUS = {
    "NEW": _("待认领"),
    "ASSIGNED": _("办理中"),
    "STARTED": _("办理中"),
    "DONE": _("已完成"),
    "CANCELED": _("已取消"),
    "ERROR": _("出错"),
}


@register.filter
def task_status(task) -> str:
    return TASK_STATUS.get(task.status, task.status)
