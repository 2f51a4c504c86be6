"""Reads. Notifications are private: every query starts from the requesting user's own rows."""

from django.db.models import QuerySet

from notifications.models import Notification, NotificationPreference


def notifications_for(user) -> QuerySet:
    if user is None or not user.is_authenticated:
        return Notification.objects.none()
    return Notification.objects.filter(recipient=user)


def unread_count(user) -> int:
    return notifications_for(user).filter(read_at__isnull=True).count()


def preference_for(user) -> NotificationPreference:
    """The user's preferences; an unsaved instance with the defaults when they never chose."""
    pref = NotificationPreference.objects.filter(user_id=user.pk).first()
    return pref or NotificationPreference(user_id=user.pk)
