"""Reads. Notifications are private: every query starts from the requesting user's own rows."""

from django.contrib.auth.models import AnonymousUser
from django.db.models import QuerySet

from cases.models import User
from notifications.models import Notification, NotificationPreference


def notifications_for(user: User | AnonymousUser | None) -> QuerySet[Notification]:
    if user is None or not user.is_authenticated:
        return Notification.objects.none()
    return Notification.objects.filter(recipient=user)


def unread_count(user: User | AnonymousUser | None) -> int:
    return notifications_for(user).filter(read_at__isnull=True).count()


def preference_for(user: User) -> NotificationPreference:
    """The user's preferences; an unsaved instance with the defaults when they never chose."""
    pref = NotificationPreference.objects.filter(user_id=user.pk).first()
    return pref or NotificationPreference(user_id=user.pk)
