"""Domain exceptions that are not Django's own."""


class Conflict(Exception):
    """The object's state no longer allows the action (someone else acted first, or a wrong step).

    The API maps it to HTTP 409.
    """
