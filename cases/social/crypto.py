"""Encryption at rest of sample-frame personal data (names, phone numbers).

The key is `settings.SAMPLE_DATA_KEY` (environment variable SAMPLE_DATA_KEY, a Fernet key:
`python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"`). When it is
unset (development, tests) a key is derived from SECRET_KEY; production must set its own, kept apart from
the database backups. Rotation: `manage.py rotate_sample_key --old OLD --new NEW` (docs/sample_frames.md).

The duplicate check needs equality on encrypted data: `person_hash` is HMAC-SHA256, keyed by a key derived
from the data key, of the normalised name and mobile.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings

__all__ = ["Cipher", "InvalidToken", "current_cipher", "derived_key", "normalise_mobile"]


def derived_key(secret: str) -> str:
    """A Fernet key derived from a secret (SECRET_KEY in development)."""
    return base64.urlsafe_b64encode(hashlib.sha256(f"sample-data-key:{secret}".encode()).digest()).decode()


def configured_key() -> str:
    return getattr(settings, "SAMPLE_DATA_KEY", "") or derived_key(settings.SECRET_KEY)


def normalise_mobile(mobile: str) -> str:
    """The 11-digit mobile: the leading 0 the seed asks for on a non-local mobile is dropped, as are spaces."""
    digits = re.sub(r"\D", "", mobile)
    return digits[1:] if len(digits) == 12 and digits.startswith("0") else digits


def normalise_name(name: str) -> str:
    return re.sub(r"\s+", "", name)


class Cipher:
    """Encrypts and decrypts field values and computes the person hash under one key."""

    def __init__(self, key: str) -> None:
        self.fernet = Fernet(key.encode())
        self._hash_key = hashlib.sha256(b"sample-person-hash:" + key.encode()).digest()

    def encrypt(self, value: str) -> str:
        return self.fernet.encrypt(value.encode()).decode() if value else ""

    def decrypt(self, token: str) -> str:
        return self.fernet.decrypt(token.encode()).decode() if token else ""

    def person_hash(self, name: str, mobile: str) -> str:
        mobile = normalise_mobile(mobile)
        if not mobile:
            return ""
        message = f"{normalise_name(name)}\x1f{mobile}".encode()
        return hmac.new(self._hash_key, message, hashlib.sha256).hexdigest()


def current_cipher() -> Cipher:
    return Cipher(configured_key())


def check_sample_data_key(app_configs: object = None, **kwargs: object) -> list:
    """System check: a SAMPLE_DATA_KEY that is not a Fernet key is an error; none at all, with DEBUG off,
    a deployment warning (the key derived from SECRET_KEY is for development)."""
    from django.core import checks

    key = getattr(settings, "SAMPLE_DATA_KEY", "")
    if key:
        try:
            Fernet(key.encode())
        except ValueError:
            return [checks.Error("SAMPLE_DATA_KEY is not a Fernet key (32 url-safe base64-encoded bytes).",
                                 id="cases.E101")]
        return []
    if not settings.DEBUG and kwargs.get("deploy"):
        return [checks.Warning("SAMPLE_DATA_KEY is not set: sample-frame personal data is encrypted with a key "
                               "derived from SECRET_KEY.", hint="Set SAMPLE_DATA_KEY (docs/sample_frames.md).",
                               id="cases.W101")]
    return []
