"""Admin for operators: read the outbox (what failed and why) and send failed items again. Rows
change only through the services; messages are never edited here."""

from django import forms
from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from cases.admin import ReadOnlyAdmin
from notifications import services
from notifications.models import Delivery, Digest, Document, Issuer, Notification, NotificationPreference


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    list_display = ["created", "recipient", "event", "subject", "read_at"]
    list_filter = ["event"]
    search_fields = ["subject", "recipient__username", "dedupe_key"]
    list_select_related = ["recipient"]
    date_hierarchy = "created"


class OutboxAdmin(ReadOnlyAdmin):
    list_filter = ["status"]
    actions = ["retry"]

    @admin.action(description=_("重新发送所选失败项"))
    def retry(self, request, queryset):
        count = services.outbox_retry(queryset=queryset)
        self.message_user(request, _("已重新排队 %(count)s 项。") % {"count": count}, messages.SUCCESS)

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser  # the retry action needs it; the change form shows read-only fields

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]


@admin.register(Delivery)
class DeliveryAdmin(OutboxAdmin):
    list_display = ["pk", "channel", "status", "attempts", "next_attempt_at", "sent_at", "notification", "last_error"]
    list_filter = ["status", "channel"]
    list_select_related = ["notification"]


@admin.register(Digest)
class DigestAdmin(OutboxAdmin):
    list_display = ["pk", "day", "recipient", "status", "attempts", "next_attempt_at", "sent_at", "last_error"]
    list_select_related = ["recipient"]


@admin.register(NotificationPreference)
class NotificationPreferenceAdmin(ReadOnlyAdmin):
    list_display = ["user", "email_enabled", "sms_enabled", "daily_digest", "updated"]
    list_select_related = ["user"]


class IssuerForm(forms.ModelForm):
    class Meta:
        model = Issuer
        fields = ["name", "mark", "code", "seal", "is_default"]

    def clean_seal(self):
        """A seal is a PNG (checked by its content, not its name) of reasonable size."""
        seal = self.cleaned_data.get("seal")
        if seal and hasattr(seal, "read"):
            head = seal.read(8)
            seal.seek(0)
            if head != b"\x89PNG\r\n\x1a\n":
                raise forms.ValidationError(_("印章图片必须是 PNG 文件。"))
            if seal.size > 2 * 1024 * 1024:
                raise forms.ValidationError(_("印章图片不能超过 2 MB。"))
        return seal


@admin.register(Issuer)
class IssuerAdmin(admin.ModelAdmin):
    """The issuing organs: mark, 机关代字 (one number series per year) and the seal image. The code of an
    organ that has issued documents cannot change: its numbers would no longer match its series."""

    form = IssuerForm
    list_display = ["name", "mark", "code", "is_default"]

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.counters.exists():
            return ["code"]
        return []


@admin.register(Document)
class DocumentAdmin(ReadOnlyAdmin):
    """Documents are drafted and issued on the documents pages; here they can only be read."""

    list_display = ["created", "kind", "title", "doc_number", "status", "round", "unit"]
    list_filter = ["kind", "status"]
    search_fields = ["title", "doc_number"]
    list_select_related = ["round", "unit"]
