"""Secrets at rest: what Kervan must be able to read back to use (a store's API keys and webhook secrets, a
database password, an outgoing webhook's signing secret) is stored encrypted with Fernet (AES-128-CBC +
HMAC-SHA256), never in plain text, and shown again only masked.

Keys come from the environment: KERVAN_ENCRYPTION_KEYS, a comma-separated list of Fernet keys (make one with
`python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"`), the first of which
encrypts and every one of which decrypts (MultiFernet). Rotation: put a new key first, keep the old ones after it,
run `manage.py encryption_rotate` (re-encrypts every stored secret with the first key: each app registers its
encrypted fields with register_encrypted_field), then drop the old keys. Without the variable a key is derived from
SECRET_KEY, so a development install works out of the box; `manage.py check --deploy` warns about it in production
(a leaked SECRET_KEY would then also open the secrets).
"""

import base64
import hashlib
import json
from typing import Any

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


def encrypt_json(value: dict[str, Any]) -> str:
    return encrypt_text(json.dumps(value, sort_keys=True))


def decrypt_json(token: str) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(decrypt_text(token)) if token else {}
    return found


def encrypt_text(value: str) -> str:
    return _fernet().encrypt(value.encode()).decode() if value else ""


def decrypt_text(token: str) -> str:
    if not token:
        return ""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise KervanError(
            _("A stored secret cannot be decrypted with the configured keys (KERVAN_ENCRYPTION_KEYS)."),
            "secret_unreadable",
        ) from None


_encrypted_fields: list[tuple[Any, str]] = []


def register_encrypted_field(model: Any, field: str) -> None:
    """A model's text field that holds encrypt_json/encrypt_text tokens: re-encrypted by reencrypt_all()."""
    if (model, field) not in _encrypted_fields:
        _encrypted_fields.append((model, field))


def reencrypt_all() -> int:
    """Every registered secret encrypted again with the first key (MultiFernet.rotate); returns how many."""
    fernet = _fernet()
    count = 0
    for model, field in _encrypted_fields:
        for pk, token in model.objects.exclude(**{field: ""}).values_list("pk", field).iterator():
            model.objects.filter(pk=pk).update(**{field: fernet.rotate(token.encode()).decode()})
            count += 1
    return count


def mask(value: str) -> str:
    """What the UI shows of a stored secret: its last four characters, never more than a quarter of it."""
    value = str(value or "")
    if not value:
        return ""
    shown = min(4, len(value) // 4)
    return "•" * 8 + (value[-shown:] if shown else "")
