from django.apps import AppConfig
from django.core import checks


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "通知与公文"

    def ready(self):
        from notifications import objections

        checks.register(check_lease_covers_send, checks.Tags.compatibility)
        objections.connect()  # publication and objection messages (the domain announces, we tell people)


def check_lease_covers_send(app_configs=None, **kwargs):
    """A worker starts a send only in the first half of its lease; a send of a few SMTP round trips,
    each bounded by EMAIL_TIMEOUT, must end before the lease does or another worker could send again."""
    from django.conf import settings

    timeout = getattr(settings, "EMAIL_TIMEOUT", None)
    lease = settings.NOTIFICATIONS_LEASE_SECONDS
    if timeout is None or 5 * timeout > lease / 2:
        return [checks.Warning(
            f"EMAIL_TIMEOUT ({timeout}) is too long for NOTIFICATIONS_LEASE_SECONDS ({lease}): "
            "a slow send could outlive its lease and be sent twice.",
            hint="Keep 5 × EMAIL_TIMEOUT under half the lease.", id="notifications.W001",
        )]
    return []
