"""Due dates and traffic lights (红黄绿灯) of tasks."""

from datetime import datetime, timedelta

from django.utils import timezone

WARN_WINDOW = timedelta(days=3)


def traffic_light(due: datetime | None, finished: datetime | None = None, now: datetime | None = None) -> str:
    """green: on time; yellow: due within the warning window, or done late; red: overdue and open."""
    if due is None:
        return "green"
    if finished is not None:
        return "yellow" if finished > due else "green"
    now = now or timezone.now()
    if now > due:
        return "red"
    if due - now <= WARN_WINDOW:
        return "yellow"
    return "green"
