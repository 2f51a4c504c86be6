"""API tokens: obtaining one (behind the login lockout), a new key once the old one has expired.

Kept apart from `cases.api.auth`, which DRF imports while its own views module is still loading."""

from typing import Any

from django.contrib.auth.signals import user_logged_in
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.request import Request
from rest_framework.response import Response

from cases.api.auth import token_expired


# `POST /api/v1/auth/token/`: DRF's view, with the login lockout working on it. django-axes marks the
# request it is given as locked out, and its middleware answers 429 for such a request; DRF would hand
# `authenticate` its own Request wrapper, which the middleware never sees. Obtaining a token is a login:
# `user_logged_in` resets the person's failure count (and records the login). (A comment, not a docstring:
# drf-spectacular would publish a docstring as the endpoint's description.)
class ObtainToken(ObtainAuthToken):

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
