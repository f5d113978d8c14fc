from django.shortcuts import redirect
from django.urls import reverse
from django.utils.functional import cached_property

from kervan.accounts.two_factor import session_needs_two_factor


class TwoFactorMiddleware:
    """Sends a logged-in user who still owes a second factor to the 2FA page before anything else.

    The API is not redirected: its session authentication refuses such a session with 401 itself.
    """

    # The public help centre, the storefront chat widget and webhook intake have no staff session to check (and
    # public pages stay cacheable).
    EXEMPT_PREFIXES = ("/static/", "/api/", "/i18n/", "/help/", "/chat/", "/integrations/hooks/")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        # The path test comes first: an API request with a key must not load a session and a user it never uses.
        if (
            not request.path.startswith(self.EXEMPT_PREFIXES)
            and request.user.is_authenticated
            and session_needs_two_factor(request)
            and request.path not in self._exempt_paths
        ):
            return redirect("accounts:two_factor")
        return self.get_response(request)

    @cached_property
    def _exempt_paths(self) -> set[str]:
        return {reverse("accounts:two_factor"), reverse("accounts:logout")}
