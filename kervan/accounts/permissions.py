"""Roles and what each may do, per permission area. Each app registers its areas; the UI and the API both ask
`Actor.can` — one source of truth."""

from dataclasses import dataclass
from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    ADMIN = "admin", _("Admin")
    MARKETING = "marketing", _("Marketing")
    SALES = "sales", _("Sales")
    SUPPORT = "support", _("Support")
    ANALYST = "analyst", _("Analyst")
    READ_ONLY = "readonly", _("Read-only")


READ = "read"
WRITE = "write"
_LEVEL = {None: 0, READ: 1, WRITE: 2}


@dataclass(frozen=True)
class Area:
    """A permission area (customers, orders, settings…): what each role may do in it. Admin may do everything."""

    key: str
    label: Any  # a lazy translation
    access: dict[str, str | None]  # role → READ, WRITE or None


_areas: dict[str, Area] = {}


def register_area(key: str, label: Any, **access: str | None) -> None:
    """Add a permission area, from the owning app's AppConfig.ready(): `access` gives each role's highest access by
    role value (marketing=WRITE, support=READ…); roles not named get none; Admin always gets write. A new app adds
    its own area here instead of editing a central list."""
    unknown = set(access) - set(Role.values)
    if unknown:
        raise ValueError(f"unknown roles: {sorted(unknown)}")
    area = Area(key, label, {**{r: None for r in Role.values}, **access, Role.ADMIN: WRITE})
    if _areas.get(key, area) != area:
        raise ValueError(f"permission area '{key}' is already registered")
    _areas[key] = area


def areas() -> list[Area]:
    return list(_areas.values())


def area_keys() -> list[str]:
    return list(_areas)


def role_access(role: str) -> dict[str, str | None]:
    """{area: the highest access `role` has} over every registered area (write implies read)."""
    return {key: area.access.get(role) for key, area in _areas.items()}


def register_accounts_areas() -> None:
    """The areas the accounts app owns: settings, the audit log, and exports (which cut across the domains)."""
    register_area("exports", _("Exports"), marketing=READ, sales=READ, analyst=READ)
    register_area("settings", _("Settings"), marketing=READ)
    register_area("audit", _("Audit log"), analyst=READ)


def allows(granted: str | None, wanted: str) -> bool:
    return _LEVEL[granted] >= _LEVEL[wanted]


def area_label(key: str) -> str:
    """The area's name in the UI language ("Müşteriler" for `customers`); an unknown key as it is."""
    area = _areas.get(key)
    return str(area.label) if area else key


ACCESS_LABELS = {READ: _("Read"), WRITE: _("Write")}


def access_label(access: str | None) -> str:
    """ "Read"/"Write" (or "None") in the UI language."""
    return str(ACCESS_LABELS.get(access or "", _("None")))


def refusal_message(area: str, access: str) -> str:
    """What a refused request is told: the area's label and what it wanted to do, never the raw keys."""
    if access == WRITE:
        return _("You need permission to change %(area)s.") % {"area": area_label(area)}
    return _("You need permission to view %(area)s.") % {"area": area_label(area)}
