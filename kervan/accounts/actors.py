"""Actor: who is acting — a staff user (web or API session) or an API key. Passed to every action."""

from dataclasses import dataclass, field
from typing import TypeVar

from django.db.models import Model, QuerySet

from kervan.accounts.permissions import allows, area_keys, refusal_message, role_access
from kervan.core.errors import PermissionDenied

M = TypeVar("M", bound=Model)


@dataclass
class Actor:
    user: object | None = None
    api_key: object | None = None
    ip_address: str | None = None
    scopes: dict = field(default_factory=dict)

    @classmethod
    def for_user(cls, user, ip_address: str | None = None) -> "Actor":
        return cls(user=user, ip_address=ip_address, scopes=role_access(user.role))

    @classmethod
    def for_api_key(cls, api_key, ip_address: str | None = None) -> "Actor":
        return cls(api_key=api_key, ip_address=ip_address, scopes=dict(api_key.scopes))

    @classmethod
    def system(cls) -> "Actor":
        """Kervan itself (demo loader, scheduled jobs): may do everything, audited without a person."""
        return cls(scopes={d: "write" for d in area_keys()})

    @property
    def user_id(self):
        return getattr(self.user, "pk", None)

    @property
    def api_key_id(self):
        return getattr(self.api_key, "pk", None)

    def can(self, domain: str, access: str = "read") -> bool:
        return allows(self.scopes.get(domain), access)

    def require(self, domain: str, access: str = "read") -> None:
        if not self.can(domain, access):
            raise PermissionDenied(refusal_message(domain, access))

    def scope(self, area: str, rows: QuerySet[M]) -> QuerySet[M]:
        """`rows` narrowed to what this actor may read in permission `area`: every selector that returns customer data
        passes its queryset through here, so a refusal is one 403 before any row is read, and a later narrowing (staff
        limited to some stores) is added in this one place."""
        self.require(area, "read")
        return rows

    def __str__(self) -> str:
        if self.user is not None:
            return str(self.user)
        if self.api_key is not None:
            return f"API key {self.api_key}"
        return "Kervan"
