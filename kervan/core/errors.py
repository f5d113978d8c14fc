"""One error type for bad input: every layer raises it, the API and the views render it the same way."""

from django.utils.translation import gettext as _


class KervanError(Exception):
    """A refusal the caller can fix. Rendered as {"detail": ..., "code": ...} with `status`."""

    status = 400

    def __init__(self, detail: str, code: str = "invalid", *, status: int | None = None, field: str | None = None):
        super().__init__(detail)
        self.detail = detail
        self.code = code
        self.field = field
        if status is not None:
            self.status = status


class NotFound(KervanError):
    status = 404

    def __init__(self, detail: str | None = None, code: str = "not_found"):
        super().__init__(_("Not found.") if detail is None else detail, code)


class PermissionDenied(KervanError):
    status = 403

    def __init__(self, detail: str | None = None, code: str = "permission_denied"):
        super().__init__(_("You do not have permission to do this.") if detail is None else detail, code)


class Conflict(KervanError):
    status = 409
