"""Token authentication for the API. A token lives API_TOKEN_TTL_HOURS from when it was issued; a password
change or a logout ends it at once (cases/accounts.py)."""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions
from rest_framework.authtoken.models import Token

from cases.db import execute_prepared
from cases.models import User

_USER_FIELDS = [f.attname for f in User._meta.concrete_fields]
_TOKEN_USER_SQL = (
    f"SELECT {', '.join(f'u.{f.column}' for f in User._meta.concrete_fields)}, t.created "
    f"FROM {Token._meta.db_table} t JOIN {User._meta.db_table} u ON u.id = t.user_id WHERE t.key = $1"
)


def token_expired(created: datetime) -> bool:
    return created < timezone.now() - timedelta(hours=settings.API_TOKEN_TTL_HOURS)


class TokenAuthentication(authentication.TokenAuthentication):
    """DRF's token authentication (same header, same errors), reading the token's user with one
    prepared statement: every API request pays this, and building `select_related("user").get()`
    costs ~1 ms of Python, as much as the rest of an inbox request (bench/inbox.py)."""

    def authenticate_credentials(self, key):
        if connection.vendor != "postgresql":
            user, token = super().authenticate_credentials(key)
            if token_expired(token.created):
                raise exceptions.AuthenticationFailed(_("令牌已过期，请重新获取。"))
            return user, token
        if "\x00" in key:  # no token has one, and PostgreSQL cannot take it in a text (a 500 otherwise)
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        rows = execute_prepared("token_user", _TOKEN_USER_SQL, [key])
        if not rows:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        *values, created = rows[0]
        if token_expired(created):
            raise exceptions.AuthenticationFailed(_("令牌已过期，请重新获取。"))
        user = User.from_db(connection.alias, _USER_FIELDS, values)
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        token = Token(key=key, user=user, created=created)
        token._state.adding, token._state.db = False, connection.alias
        return user, token

