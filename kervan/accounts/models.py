import hashlib
import secrets

from django.contrib.auth.models import AbstractUser
from django.contrib.auth.models import UserManager as DjangoUserManager
from django.db import models
from django.utils.translation import gettext_lazy as _

from kervan.accounts.permissions import Role
from kervan.core import clock
from kervan.core.cache import VersionedCache, customer_360


class UserManager(DjangoUserManager):
    def create_superuser(self, username, email=None, password=None, **extra_fields):
        """`manage.py createsuperuser` makes an Admin: a superuser is the one who sets Kervan up (imports, users,
        API keys), and what a user may do in Kervan is its role, not is_superuser."""
        extra_fields.setdefault("role", Role.ADMIN)
        return super().create_superuser(username, email, password, **extra_fields)


class User(AbstractUser):
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.READ_ONLY)
    language = models.CharField(max_length=8, choices=[("tr", "Türkçe"), ("en", "English")], default="tr")
    totp_secret = models.CharField(max_length=64, blank=True)
    totp_confirmed_at = models.DateTimeField(null=True, blank=True)

    # The logged-in user is loaded on every page (kervan.accounts.backends); every change goes through save() or
    # delete(), which announce it.
    cached = VersionedCache("user", entry_seconds=5 * 60)

    objects = UserManager()

    def save(self, *args, **kwargs):
        renamed = self._renamed(kwargs.get("update_fields"))
        super().save(*args, **kwargs)
        User.cached.changed([self.pk])
        if renamed:  # staff names are on Customer 360 pages (notes, consent changes): rare, so forget them all
            customer_360.everything_changed()

    _NAME_FIELDS = ("username", "first_name", "last_name")

    def _renamed(self, update_fields) -> bool:
        """Whether this save changes the name shown for the user (a login, saving last_login alone, does not)."""
        if self.pk is None or (update_fields is not None and not set(update_fields) & set(self._NAME_FIELDS)):
            return False
        stored = User.objects.filter(pk=self.pk).values_list(*self._NAME_FIELDS).first()
        return stored is not None and stored != tuple(getattr(self, f) for f in self._NAME_FIELDS)

    def delete(self, *args, **kwargs):
        User.cached.changed([self.pk])
        return super().delete(*args, **kwargs)

    @property
    def has_two_factor(self) -> bool:
        return self.totp_confirmed_at is not None


class RolePolicy(models.Model):
    """Per-role security policy an Admin sets: for now, whether two-factor authentication is mandatory."""

    role = models.CharField(max_length=20, choices=Role.choices, unique=True)
    require_two_factor = models.BooleanField(default=False)

    def __str__(self) -> str:
        return self.get_role_display()


class ApiKey(models.Model):
    """A secret for machine access. Only its SHA-256 is stored; the key is shown once at creation.

    The secret has 256 bits of entropy, so a fast hash is safe and keeps authentication cheap per request.
    """

    PREFIX_LENGTH = 8
    cached = VersionedCache("apikey", entry_seconds=5 * 60)  # by prefix; see kervan.accounts.api_auth

    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=PREFIX_LENGTH, unique=True)
    key_hash = models.CharField(max_length=64)
    scopes = models.JSONField(default=dict)  # {"customers": "write", "orders": "read", ...}
    created_by = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="api_keys")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("API key")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @staticmethod
    def hash_secret(secret: str) -> str:
        return hashlib.sha256(secret.encode()).hexdigest()

    @classmethod
    def generate_secret(cls) -> tuple[str, str]:
        """Return (prefix, full key). The key is `kv_<prefix>_<secret>`."""
        prefix = secrets.token_hex(cls.PREFIX_LENGTH // 2)
        return prefix, f"kv_{prefix}_{secrets.token_urlsafe(32)}"

    def touch(self) -> None:
        """Record use, at most once a minute, so a busy key does not write on every request."""
        now = clock.now()
        if self.last_used_at is None or (now - self.last_used_at).total_seconds() > 60:
            ApiKey.objects.filter(pk=self.pk).update(last_used_at=now)
            self.last_used_at = now
            ApiKey.cached.changed([self.prefix])  # else the cached copy's old time would make every call write
