"""The install's VAPID key pair (RFC 8292): push services accept a message only when it is signed with the key the
browser subscribed with, so the key must stay the same for as long as the subscriptions live.

The private key comes from settings.KERVAN_PUSH["vapid_private_key"] (PEM, or the base64url raw 32-byte scalar
that `web-push generate-vapid-keys` and py_vapid print) when it is set. Otherwise it is generated on first use and
kept in BASE_DIR/var/vapid_private_key.pem (mode 0600), so a self-hosted install sends push with no set-up; that
file must then be backed up with the database: a new key orphans every subscription.
"""

import base64
import binascii
import contextlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from py_vapid import Vapid

KEY_FILE_NAME = "vapid_private_key.pem"


@dataclass(frozen=True)
class VapidKeys:
    vapid: Vapid  # signs the Authorization header (pywebpush takes it as is)
    public_key: str  # base64url uncompressed P-256 point: the browser's applicationServerKey

    @property
    def private_key(self) -> ec.EllipticCurvePrivateKey:
        return self.vapid.private_key


_cache: dict[tuple[str, str], VapidKeys] = {}
_lock = threading.Lock()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Decode base64url with or without padding (browsers send it without); standard base64 is accepted too."""
    text = text.strip().replace("+", "-").replace("/", "_")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def vapid_keys(private_key: str | None = None) -> VapidKeys:
    """The key pair: from `private_key` if given, else from the setting, else the generated one in var/."""
    configured = private_key if private_key is not None else _setting()
    key_file = "" if configured else str(Path(settings.BASE_DIR) / "var" / KEY_FILE_NAME)
    cache_key = (configured, key_file)
    keys = _cache.get(cache_key)
    if keys is None:
        with _lock:
            keys = _cache.get(cache_key)
            if keys is None:
                key = parse_private_key(configured) if configured else _stored_key(Path(key_file))
                keys = _cache[cache_key] = _pair(key)
    return keys


def parse_private_key(text: str) -> ec.EllipticCurvePrivateKey:
    """A P-256 private key from PEM, base64url raw (32 bytes) or base64url DER; ImproperlyConfigured otherwise."""
    text = text.strip()
    try:
        if text.startswith("-----BEGIN"):
            key = serialization.load_pem_private_key(text.encode(), password=None)
        else:
            raw = b64url_decode(text)
            if len(raw) == 32:
                key = ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256R1())
            else:
                key = serialization.load_der_private_key(raw, password=None)
    except (ValueError, TypeError, binascii.Error) as exc:
        raise ImproperlyConfigured(f"KERVAN_PUSH['vapid_private_key'] is not a usable key: {exc}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ImproperlyConfigured("KERVAN_PUSH['vapid_private_key'] must be a P-256 (prime256v1) EC key.")
    return key


def _setting() -> str:
    return str((getattr(settings, "KERVAN_PUSH", None) or {}).get("vapid_private_key") or "")


def _pair(key: ec.EllipticCurvePrivateKey) -> VapidKeys:
    point = key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return VapidKeys(vapid=Vapid(private_key=key), public_key=b64url(point))


def _stored_key(path: Path) -> ec.EllipticCurvePrivateKey:
    """Read the generated key, making it first if there is none. Several workers may start at once: each writes
    its own candidate to a private temporary file and links it into place, which fails if another got there first;
    then everyone reads the one that won, so no process ever signs with a key the others do not have."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        key = ec.generate_private_key(ec.SECP256R1())
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # never readable by others, not even once
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(pem)
                handle.flush()
                os.fsync(handle.fileno())
            with contextlib.suppress(FileExistsError):  # another process's key won: use that one
                os.link(temporary, path)
        finally:
            temporary.unlink(missing_ok=True)
    return parse_private_key(path.read_text())
