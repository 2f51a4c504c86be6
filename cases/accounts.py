"""Account security: what happens around logins, passwords and API tokens, and the audit entries of it.

Login throttling is django-axes (a maintained package; settings `AXES_*` in config/settings.py): after
`LOGIN_FAILURE_LIMIT` wrong passwords for one username from one address, that pair is locked out for
`LOGIN_LOCKOUT_MINUTES`, on the login page, the admin and `POST /api/v1/auth/token/` alike. Locking the
pair (not the username alone) keeps an attacker from locking a colleague out from elsewhere.
"""

from typing import Any

from axes.signals import user_locked_out
from django.conf import settings
from django.contrib.auth.signals import user_logged_out
from django.db.models.signals import pre_save
from django.dispatch import receiver
from django.http import HttpRequest
from django.utils import timezone
from rest_framework.authtoken.models import Token

from cases.models import AuditEntry, User


def _audit_account(*, action: str, username: str, actor: User | None = None, after: dict[str, Any] | None = None) -> None:
    AuditEntry.objects.create(actor=actor, action=action, object_type="user", object_id=username[:64], after=after)


@receiver(user_locked_out, dispatch_uid="cases.accounts.locked_out")
def _locked_out(sender: object, request: HttpRequest | None, username: str | None, ip_address: str | None,
                **kwargs: Any) -> None:
    """One audit entry per lockout: the attempts refused while it lasts (each one signals again) would
    otherwise let an attacker fill the audit log."""
    after = {"ip_address": ip_address}
    since = timezone.now() - settings.AXES_COOLOFF_TIME
    if AuditEntry.objects.filter(action="account.locked_out", object_id=(username or "")[:64], after=after,
                                 at__gte=since).exists():
        return
    _audit_account(action="account.locked_out", username=username or "", after=after)


@receiver(pre_save, sender=User, dispatch_uid="cases.accounts.password_changed")
def _password_changed(sender: type[User], instance: User, update_fields: frozenset[str] | None = None,
                      **kwargs: Any) -> None:
    """A new password ends every API token of the person (whoever changed it: the person, the office
    in the admin, `changepassword`), and is written in the audit log (never the hash)."""
    if instance.pk is None or (update_fields is not None and "password" not in update_fields):
        return
    old = User.objects.filter(pk=instance.pk).values_list("password", flat=True).first()
    if old is None or old == instance.password:
        return
    revoked = Token.objects.filter(user_id=instance.pk).delete()[0]
    _audit_account(action="account.password_changed", username=instance.get_username(),
                   after={"api_tokens_revoked": revoked})


def api_token_revoke(*, user: User) -> int:
    """`DELETE /api/v1/auth/token/`: the person ends their own API token (a lost laptop, a script
    retired); audited. The number of tokens ended (0 when there was none: revoking is idempotent)."""
    revoked = Token.objects.filter(user_id=user.pk).delete()[0]
    _audit_account(action="account.token_revoked", username=user.get_username(), actor=user,
                   after={"api_tokens_revoked": revoked})
    return revoked


@receiver(user_logged_out, dispatch_uid="cases.accounts.logged_out")
def _logged_out(sender: object, request: HttpRequest | None, user: User | None, **kwargs: Any) -> None:
    """Logging out ends the person's API token too: a shared office computer keeps nothing usable."""
    if user is not None:
        Token.objects.filter(user_id=user.pk).delete()
