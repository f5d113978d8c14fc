"""`manage.py check --deploy`: store credentials need their own encryption keys in production."""

from django.conf import settings
from django.core import checks


@checks.register(checks.Tags.security, deploy=True)
def encryption_keys_set(app_configs, **kwargs):
    if settings.KERVAN_ENCRYPTION_KEYS:
        return []
    return [
        checks.Warning(
            "KERVAN_ENCRYPTION_KEYS is not set: store credentials are encrypted with a key derived from SECRET_KEY, "
            "so a leaked SECRET_KEY would also open them.",
            hint="Set KERVAN_ENCRYPTION_KEYS to a Fernet key (kervan/core/crypto.py says how to make one).",
            id="kervan.integrations.W001",
        )
    ]
