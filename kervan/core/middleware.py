from django.shortcuts import render

from kervan.core.errors import KervanError


class KervanErrorMiddleware:
    """A KervanError escaping a web view becomes a friendly page with its status (404, 403, 400…), not a 500."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, KervanError):
            return render(request, "error.html", {"error": exception}, status=exception.status)
        return None
