"""API tokens: obtaining one (behind the login lockout), a new key once the old one has expired.

Kept apart from `cases.api.auth`, which DRF imports while its own views module is still loading."""

from typing import Any

from django.contrib.auth.signals import user_logged_in
from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, serializers, status
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.request import Request
from rest_framework.response import Response

from cases.accounts import api_token_revoke
from cases.api.auth import token_expired
from cases.api.fields import StrictFieldsMixin, refuse_body


class TokenRequestSerializer(StrictFieldsMixin, AuthTokenSerializer):
    """Username and password; anything else is refused by name like every other body. Both are bounded
    before any sign-in is tried: django-axes records a failed attempt's username in a 255-character column,
    and a longer one made that write fail (a 500 found by the API fuzzer)."""

    username = serializers.CharField(write_only=True, max_length=150)  # User.username's own limit
    password = serializers.CharField(write_only=True, max_length=4096, trim_whitespace=False,
                                     style={"input_type": "password"})


# `POST /api/v1/auth/token/`: DRF's view, with the login lockout working on it. django-axes marks the
# request it is given as locked out, and its middleware answers 429 for such a request; DRF would hand
# `authenticate` its own Request wrapper, which the middleware never sees. Obtaining a token is a login:
# `user_logged_in` resets the person's failure count (and records the login). (A comment, not a docstring:
# drf-spectacular would publish a docstring as the endpoint's description.)
# `DELETE` ends the caller's own token (204), with an audit entry; it needs the caller signed in
# (token or session), while `POST` is open to anyone with a password.
class ObtainToken(ObtainAuthToken):
    serializer_class = TokenRequestSerializer

    def get_permissions(self) -> Any:
        if self.request.method == "DELETE":
            return [permissions.IsAuthenticated()]
        return super().get_permissions()

    @extend_schema(request=None, responses={204: None})
    @transaction.atomic
    def delete(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        refuse_body(request.data)
        api_token_revoke(user=request.user)  # type: ignore[arg-type]  # IsAuthenticated: a User
        return Response(status=status.HTTP_204_NO_CONTENT)

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "request": self.request._request}

    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = serializer.validated_data["user"]
        user_logged_in.send(sender=type(user), request=request._request, user=user)
        token, _ = Token.objects.get_or_create(user=user)
        if token_expired(token.created):  # a new key, not the old one revived
            token.delete()
            token = Token.objects.create(user=user)
        return Response({"token": token.key})
