"""What the web views share."""

from collections.abc import Callable
from typing import Any

from django.contrib import messages

from kervan.core.errors import KervanError


def form_action(request: Any, action: Callable[..., object], *, success: str | None = None, **kwargs: Any) -> bool:
    """Run `action(actor=request.actor, **kwargs)` for a form post. A refusal becomes an error message on the next
    page (the action wrote nothing); success optionally says so. Returns whether the action went through."""
    try:
        action(actor=request.actor, **kwargs)
    except KervanError as exc:
        messages.error(request, exc.detail)
        return False
    if success:
        messages.success(request, success)
    return True
