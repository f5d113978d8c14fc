import functools

from django.urls import reverse

from kervan.accounts.permissions import allows, role_access


@functools.cache
def _nav_urls() -> dict[str, str]:
    # The top bar's links are on every page and never change while the process runs: reversed once, not per page.
    return {
        name.replace(":", "_"): reverse(name)
        for name in (
            "workspace:search",
            "accounts:profile",
            "accounts:logout",
            "set_language",
        )
    }


def access(request):
    """`can.customers.write` and friends for templates, so the UI hides what the role may not do; the top bar's fixed
    links (`nav`), the user's label (`who`) and the page's own address (`here`)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"can": {}}
    scopes = role_access(user.role)
    return {
        "nav": _nav_urls(),
        "who": who_label(user),
        "here": request.get_full_path(),
        "can": {
            domain: {"read": allows(level, "read"), "write": allows(level, "write")} for domain, level in scopes.items()
        },
    }


def who_label(user) -> str:
    return f"{user.get_full_name() or user.username} · {user.get_role_display()}"
