from kervan.accounts.permissions import ROLE_ACCESS, allows


def access(request):
    """`can.customers.write` and friends for templates, so the UI hides what the role may not do."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"can": {}}
    scopes = ROLE_ACCESS.get(user.role, {})
    return {
        "can": {
            domain: {"read": allows(level, "read"), "write": allows(level, "write")} for domain, level in scopes.items()
        }
    }
