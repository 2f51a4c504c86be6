"""The notification endpoints under /api/v1/notifications/. Only ever the requesting user's rows:
another person's notification is a 404, exactly like one that does not exist."""

import django_filters
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from cases.api.fields import StrictModelSerializer, refuse_body
from notifications import selectors, services
from notifications.models import Notification, NotificationPreference


class NotificationSerializer(serializers.ModelSerializer):
    is_read = serializers.SerializerMethodField()

    class Meta:
        model = Notification
        fields = ["id", "event", "subject", "body", "link", "created", "read_at", "is_read"]
        read_only_fields = fields

    def get_is_read(self, obj) -> bool:
        return obj.read_at is not None


class PreferenceSerializer(StrictModelSerializer):
    # Null until the person first saves a choice: no row yet, the defaults apply (selectors.preference_for).
    updated = serializers.DateTimeField(read_only=True, allow_null=True)

    class Meta:
        model = NotificationPreference
        fields = ["email_enabled", "sms_enabled", "daily_digest", "updated"]
        read_only_fields = ["updated"]


class NotificationFilter(django_filters.FilterSet):
    unread = django_filters.BooleanFilter(method="filter_unread", label="unread")

    class Meta:
        model = Notification
        fields = ["event"]

    def filter_unread(self, queryset, name, value):
        return queryset.filter(read_at__isnull=value)


class NotificationViewSet(viewsets.ReadOnlyModelViewSet):
    """My notifications, newest first; `?unread=true` for the unread ones only."""

    serializer_class = NotificationSerializer
    filterset_class = NotificationFilter

    def get_queryset(self):
        return selectors.notifications_for(self.request.user)

    @extend_schema(responses=inline_serializer("UnreadCount", {"unread": serializers.IntegerField()}))
    @action(detail=False, methods=["get"], url_path="unread-count")
    def unread_count(self, request):
        return Response({"unread": selectors.unread_count(request.user)})

    @extend_schema(request=None, responses=NotificationSerializer)
    @action(detail=True, methods=["post"])
    def read(self, request, pk=None):
        notification = self.get_object()
        refuse_body(request.data)
        notification = services.notification_mark_read(user=request.user, notification=notification)
        return Response(NotificationSerializer(notification).data)

    @extend_schema(request=None, responses=inline_serializer("MarkedRead", {"marked": serializers.IntegerField()}))
    @action(detail=False, methods=["post"], url_path="read-all")
    def read_all(self, request):
        refuse_body(request.data)
        return Response({"marked": services.notifications_mark_all_read(user=request.user)})

    @extend_schema(request=PreferenceSerializer, responses=PreferenceSerializer)
    @action(detail=False, methods=["get", "put", "patch"], serializer_class=PreferenceSerializer, filterset_class=None)
    def preferences(self, request):
        """My channels: email, SMS, and the daily digest instead of single emails."""
        current = selectors.preference_for(request.user)
        if request.method == "GET":
            return Response(PreferenceSerializer(current).data)
        body = PreferenceSerializer(current, data=request.data, partial=request.method == "PATCH")
        body.is_valid(raise_exception=True)
        values = {f: body.validated_data.get(f, getattr(current, f)) for f in ("email_enabled", "sms_enabled", "daily_digest")}
        return Response(PreferenceSerializer(services.preference_update(user=request.user, **values)).data)
