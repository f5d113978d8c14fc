from typing import Any

from django.http import HttpRequest

from kervan.accounts.permissions import allows, role_access
from kervan.workspace.nav import nav_items


def menu(request: HttpRequest) -> dict[str, Any]:
    """The menu entries the logged-in role may open, as (item, url, active), and the global search's words."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    scopes = role_access(getattr(user, "role", ""))
    match = getattr(request, "resolver_match", None)
    namespace = match.app_name if match else ""
    return {
        "menu": [
            (item, url, namespace in item.namespaces)
            for item, url in nav_items()
            if allows(scopes.get(item.area), item.access)
        ],
        "global_q": request.GET.get("q", "") if namespace == "workspace" else "",
    }
