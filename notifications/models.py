"""Messages to people. A Notification is the in-app message; each Delivery is one channel's copy in
the outbox (email, SMS), written in the same transaction as the event and sent by a worker. A Digest
is one person's daily summary email: the email deliveries of people who chose the digest wait in the
outbox (status `digest`) until the morning run gathers them into one Digest, which is then sent
through the same claim/send/commit path as a single delivery (see `notifications.outbox`)."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Channel(models.TextChoices):
    EMAIL = "email", _("邮件")
    SMS = "sms", _("短信")


class OutboxStatus(models.TextChoices):
    PENDING = "pending", _("待发送")
    SENT = "sent", _("已发送")
    FAILED = "failed", _("发送失败")
    DIGEST = "digest", _("待汇总")  # an email held for the recipient's next daily digest


class Notification(models.Model):
    """An in-app message (with read state). `dedupe_key` makes an event notify a person once only,
    however often the code that raises it runs (a sweep run twice, two sweeps at once)."""

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("接收人"), on_delete=models.CASCADE, related_name="notifications"
    )
    event = models.CharField(_("事件"), max_length=48)
    subject = models.CharField(_("标题"), max_length=255)
    body = models.TextField(_("正文"), blank=True)
    link = models.CharField(_("链接"), max_length=255, blank=True)
    dedupe_key = models.CharField(_("去重键"), max_length=191, unique=True, null=True, blank=True)
    created = models.DateTimeField(_("创建时间"), default=timezone.now, db_index=True)
    read_at = models.DateTimeField(_("阅读时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("通知")
        verbose_name_plural = _("通知")
        ordering = ["-created", "-pk"]
        indexes = [models.Index(fields=["recipient", "read_at", "-created"], name="notif_recipient_unread")]

    def __str__(self):
        return self.subject


class Digest(models.Model):
    """One person's daily digest email: at most one per recipient and (Asia/Shanghai) day, listing the
    email deliveries gathered into it. Sent like a Delivery: `next_attempt_at` doubles as the lease
    while a worker holds it, `attempts` as the fencing token (see `notifications.outbox`)."""

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("接收人"), on_delete=models.CASCADE, related_name="digests"
    )
    day = models.DateField(_("日期"))
    status = models.CharField(_("状态"),
        max_length=8, choices=[c for c in OutboxStatus.choices if c[0] != "digest"], default=OutboxStatus.PENDING
    )
    attempts = models.PositiveIntegerField(_("尝试次数"), default=0)
    next_attempt_at = models.DateTimeField(_("下次尝试"), default=timezone.now)
    sent_at = models.DateTimeField(_("发送时间"), null=True, blank=True)
    last_error = models.TextField(_("最近错误"), blank=True)
    created = models.DateTimeField(_("创建时间"), default=timezone.now)

    class Meta:
        verbose_name = _("每日汇总")
        verbose_name_plural = _("每日汇总")
        constraints = [models.UniqueConstraint(fields=["recipient", "day"], name="uniq_digest_recipient_day")]
        indexes = [
            models.Index(fields=["next_attempt_at"], name="digest_due", condition=models.Q(status="pending")),
        ]

    def __str__(self):
        return f"{self.recipient} {self.day}"


class Delivery(models.Model):
    """One channel's copy of a notification in the outbox: claimed and sent by a worker, with retries.
    While a worker holds it, `next_attempt_at` is the end of its lease; `attempts` counts claims."""

    Status = OutboxStatus

    notification = models.ForeignKey(
        Notification, verbose_name=_("通知"), on_delete=models.CASCADE, related_name="deliveries"
    )
    channel = models.CharField(_("渠道"), max_length=8, choices=Channel.choices)
    status = models.CharField(_("状态"), max_length=8, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(_("尝试次数"), default=0)
    next_attempt_at = models.DateTimeField(_("下次尝试"), default=timezone.now)
    sent_at = models.DateTimeField(_("发送时间"), null=True, blank=True)
    last_error = models.TextField(_("最近错误"), blank=True)
    # Set when a held (digest) email is gathered into the recipient's digest of the day.
    digest = models.ForeignKey(
        Digest, verbose_name=_("每日汇总"), on_delete=models.SET_NULL, null=True, blank=True, related_name="deliveries"
    )

    class Meta:
        verbose_name = _("发送记录")
        verbose_name_plural = _("发送记录")
        indexes = [
            models.Index(fields=["next_attempt_at"], name="delivery_due", condition=models.Q(status="pending")),
            models.Index(fields=["notification"], name="delivery_held", condition=models.Q(status="digest")),
        ]
        constraints = [models.UniqueConstraint(fields=["notification", "channel"], name="uniq_delivery_channel")]

    def __str__(self):
        return f"{self.channel} #{self.notification_id} {self.status}"


class NotificationPreference(models.Model):
    """How a person wants to be told. No row means the defaults (email and SMS on, no digest). The event
    decides which channels it deserves; the person may switch a channel off or take the email as one
    daily digest. In-app messages are always written."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, verbose_name=_("用户"), on_delete=models.CASCADE, related_name="notification_preference"
    )
    email_enabled = models.BooleanField(_("邮件通知"), default=True)
    sms_enabled = models.BooleanField(_("短信通知"), default=True)
    daily_digest = models.BooleanField(_("每日汇总邮件（代替逐条邮件）"), default=False)
    updated = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("通知偏好")
        verbose_name_plural = _("通知偏好")

    def __str__(self):
        return f"{self.user}"


# Official documents live in their own module; Django finds their models through this one.
from notifications.documents.models import (  # noqa: E402,F401
    Document,
    DocumentBatch,
    DocumentCounter,
    Issuer,
)
