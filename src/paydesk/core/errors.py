"""The one error base class of Paydesk.

Every failure a client can see is a :class:`PaydeskError` (or a subclass owned by a module):
a stable machine ``code``, a human ``message``, an HTTP ``status`` and, where one input is to
blame, the ``param`` that names it. The API turns them into
``{"error": {"code", "message", "param"?}}`` in one place (``paydesk.api.errors``).

Hierarchy::

    PaydeskError
    ├── InvalidRequest        400  the input is malformed or breaks a rule
    ├── AuthenticationFailed  401  no key, unknown key, revoked key
    ├── PermissionDenied      403  the key is valid but may not do this
    ├── NotFound              404  unknown, or belongs to another merchant
    ├── Conflict              409  the state forbids it (duplicates, idempotency mismatch)
    ├── PayloadTooLarge       413
    └── ServiceUnavailable    503  transient: try again later

``transient`` tells a caller (or the job runner) whether retrying the same request can succeed.
"""

from __future__ import annotations


class PaydeskError(Exception):
    """Base of every error a Paydesk client can see."""

    status: int = 400
    code: str = "paydesk_error"
    transient: bool = False

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.param = param

    def to_dict(self) -> dict[str, str]:
        """The body's ``error`` object."""
        body = {"code": self.code, "message": self.message}
        if self.param is not None:
            body["param"] = self.param
        return body


class InvalidRequest(PaydeskError):
    status = 400
    code = "invalid_request"


class AuthenticationFailed(PaydeskError):
    status = 401
    code = "authentication_failed"


class PermissionDenied(PaydeskError):
    status = 403
    code = "permission_denied"


class NotFound(PaydeskError):
    status = 404
    code = "not_found"


class Conflict(PaydeskError):
    status = 409
    code = "conflict"


class PayloadTooLarge(PaydeskError):
    status = 413
    code = "request_too_large"


class ServiceUnavailable(PaydeskError):
    status = 503
    code = "service_unavailable"
    transient = True
