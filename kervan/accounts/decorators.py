from functools import wraps

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from kervan.accounts.actors import Actor
from kervan.accounts.api_auth import client_ip


def require_access(domain: str, access: str = "read"):
    """Login required, then the role must allow `access` to `domain`; sets request.actor for the view."""

    def decorator(view):
        @login_required
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            actor = Actor.for_user(request.user, client_ip(request))
            if not actor.can(domain, access):
                return render(request, "403.html", {"domain": domain, "access": access}, status=403)
            request.actor = actor
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
