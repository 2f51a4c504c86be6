"""The pages' POSTed actions (publication, leader evaluation): one handler per `action`, the services'
refusals shown on the page with the HTTP status the API would give."""

from collections.abc import Callable, Mapping

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest
from django.utils.translation import gettext as _

from cases import models as m
from cases.errors import Conflict

Handler = Callable[[HttpRequest, m.Round], None]


def messages_of(exc: Exception) -> list[str]:
    if isinstance(exc, ValidationError):
        return [f"{field}：{msg}" if field != "__all__" else msg
                for field, msgs in exc.message_dict.items() for msg in msgs]
    return [str(exc.args[0]) if exc.args else str(exc)]


def run_action(request: HttpRequest, round: m.Round, actions: Mapping[str, Handler]) -> tuple[list[str], int] | None:
    """Run the POSTed `action` on `round`: None when it succeeded (the caller redirects), else the messages
    and the status (an unknown action 400, a refusal 403, a wrong state 409, bad input 400)."""
    handler = actions.get(request.POST.get("action", ""))
    try:
        if handler is None:
            raise ValidationError({"action": [_("未知的操作。")]})
        handler(request, round)
        return None
    except PermissionDenied as exc:
        return messages_of(exc), 403
    except Conflict as exc:
        return messages_of(exc), 409
    except ValidationError as exc:
        return messages_of(exc), 400
