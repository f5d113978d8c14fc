"""Credentials at rest: each connection's secrets (API keys, webhook secrets, database passwords) are stored
encrypted with Fernet (AES-128-CBC + HMAC-SHA256), never in plain text, and shown again only masked.

Keys come from the environment: KERVAN_ENCRYPTION_KEYS, a comma-separated list of Fernet keys, the first of which
encrypts and every one of which decrypts (MultiFernet). Rotation: put a new key first, keep the old ones after it,
run `manage.py integrations_rotate_key` (re-encrypts every stored secret with the first key), then drop the old keys.
Without the variable a key is derived from SECRET_KEY, so a development install works out of the box; production.py
requires the variable (a leaked SECRET_KEY would otherwise also open the credentials).
"""

import base64
import hashlib
import json

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.utils.translation import gettext as _

from kervan.core.errors import KervanError


def _keys() -> list[bytes]:
    configured = [k.strip() for k in (settings.KERVAN_ENCRYPTION_KEYS or "").split(",") if k.strip()]
    if configured:
        return [k.encode() for k in configured]
    derived = hashlib.sha256(b"kervan-credentials:" + settings.SECRET_KEY.encode()).digest()
    return [base64.urlsafe_b64encode(derived)]


def _fernet() -> MultiFernet:
    return MultiFernet([Fernet(key) for key in _keys()])


def encrypt_json(value: dict) -> str:
    return _fernet().encrypt(json.dumps(value, sort_keys=True).encode()).decode()


def decrypt_json(token: str) -> dict:
    if not token:
        return {}
    try:
        return json.loads(_fernet().decrypt(token.encode()))
    except InvalidToken:
        raise KervanError(
            _("The stored credentials cannot be decrypted with the configured keys (KERVAN_ENCRYPTION_KEYS)."),
            "credentials_unreadable",
        ) from None


def rotate(token: str) -> str:
    """The same secret encrypted with the first key (MultiFernet.rotate)."""
    return _fernet().rotate(token.encode()).decode() if token else token


def mask(value: str) -> str:
    """What the UI shows of a stored secret: its last four characters, never more than a quarter of it."""
    value = str(value or "")
    if not value:
        return ""
    shown = min(4, len(value) // 4)
    return "•" * 8 + (value[-shown:] if shown else "")
