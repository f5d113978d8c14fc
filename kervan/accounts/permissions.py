"""Roles and what each may do, per domain. The UI and the API both ask `Actor.can` — one source of truth."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    ADMIN = "admin", _("Admin")
    MARKETING = "marketing", _("Marketing")
    SALES = "sales", _("Sales")
    SUPPORT = "support", _("Support")
    ANALYST = "analyst", _("Analyst")
    READ_ONLY = "readonly", _("Read-only")


class Domain(models.TextChoices):
    CUSTOMERS = "customers", _("Customers")
    CATALOG = "catalog", _("Catalog")
    ORDERS = "orders", _("Orders")
    EVENTS = "events", _("Events")
    IMPORTS = "imports", _("Imports")
    EXPORTS = "exports", _("Exports")
    SETTINGS = "settings", _("Settings")
    AUDIT = "audit", _("Audit log")


READ = "read"
WRITE = "write"
_LEVEL = {None: 0, READ: 1, WRITE: 2}

R, W = READ, WRITE
# Rows: role; columns: domain → the highest access the role has (write implies read).
ROLE_ACCESS: dict[str, dict[str, str | None]] = {
    Role.ADMIN: {d: W for d in Domain.values},
    Role.MARKETING: {
        "customers": W,
        "catalog": R,
        "orders": R,
        "events": W,
        "imports": W,
        "exports": R,
        "settings": R,
        "audit": None,
    },
    Role.SALES: {
        "customers": W,
        "catalog": W,
        "orders": W,
        "events": R,
        "imports": W,
        "exports": R,
        "settings": None,
        "audit": None,
    },
    Role.SUPPORT: {
        "customers": W,
        "catalog": R,
        "orders": W,
        "events": R,
        "imports": None,
        "exports": None,
        "settings": None,
        "audit": None,
    },
    Role.ANALYST: {
        "customers": R,
        "catalog": R,
        "orders": R,
        "events": R,
        "imports": None,
        "exports": R,
        "settings": None,
        "audit": R,
    },
    Role.READ_ONLY: {
        "customers": R,
        "catalog": R,
        "orders": R,
        "events": R,
        "imports": None,
        "exports": None,
        "settings": None,
        "audit": None,
    },
}


def allows(granted: str | None, wanted: str) -> bool:
    return _LEVEL[granted] >= _LEVEL[wanted]
