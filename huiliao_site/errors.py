"""Domain errors and the API's single error shape: {"detail": "...", "code": "..."}.

Selectors and services raise `DomainError`s; the API turns them into responses with the
status below, and the websocket consumer into close codes or `error` frames.
"""

import logging
import sys

from django import db
from django.core.exceptions import RequestDataTooBig
from django.http import JsonResponse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.response import Response

from huiliao_site.logs import FailureLog
from huiliao_site.lookups import failed_lookup_record, request_address

logger = logging.getLogger(__name__)


class DomainError(Exception):
    status_code = status.HTTP_400_BAD_REQUEST
    code = "invalid"
    detail = "Invalid request."

    def __init__(self, detail: str | None = None, *, code: str | None = None):
        if detail is not None:
            self.detail = detail
        if code is not None:
            self.code = code
        super().__init__(self.detail)


class InvalidInput(DomainError):
    pass


class NotAuthenticated(DomainError):
    status_code = status.HTTP_401_UNAUTHORIZED
    code = "not_authenticated"
    detail = "Authentication credentials were not provided."


class PermissionDenied(DomainError):
    status_code = status.HTTP_403_FORBIDDEN
    code = "permission_denied"
    detail = "You are not allowed to do this."


class NotFound(DomainError):
    status_code = status.HTTP_404_NOT_FOUND
    code = "not_found"
    detail = "Not found."


class Conflict(DomainError):
    status_code = status.HTTP_409_CONFLICT
    code = "conflict"
    detail = "This conflicts with the current state."


class Gone(DomainError):
    status_code = status.HTTP_410_GONE
    code = "room_closed"
    detail = "This room is closed."


class Throttled(DomainError):
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    code = "rate_limited"
    detail = "Too many requests."

    def __init__(self, detail: str | None = None, *, code: str | None = None, wait: int = 1):
        super().__init__(detail, code=code)
        self.wait = max(1, int(wait))


def too_many_guesses(wait: int) -> Throttled:
    return Throttled(
        f"Too many unknown room codes from your network. Check the code and try again in {wait} s.",
        code="too_many_guesses",
        wait=wait,
    )


# Not-found codes that name a guessable secret: each one counts against the caller's
# address (huiliao_site.lookups).
FAILED_LOOKUP_CODES = {"room_not_found"}


class UpstreamError(DomainError):
    status_code = status.HTTP_502_BAD_GATEWAY
    code = "upstream_error"
    detail = "An upstream service failed."


class ServiceUnavailable(DomainError):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    code = "unavailable"
    detail = "Service unavailable."


class DatabaseUnavailable(ServiceUnavailable):
    """The database dropped the connection or is restarting. Nothing was stored by the
    failed call (its transaction rolled back), so the client retries it as it was, with
    the same client_id."""

    code = "database_unavailable"
    detail = "The database is briefly unavailable. Try again in a few seconds."
    retry_after = 5


# One outage log for every way a lost database shows (requests, socket posts): the first
# failure with its traceback, then a count per minute, then its end.
database_failures = FailureLog(logger, "database requests")


def database_unavailable(exc: BaseException | None) -> DatabaseUnavailable | None:
    """The domain error for a lost or refused database connection, else None."""
    if isinstance(exc, (db.OperationalError, db.InterfaceError)):
        return DatabaseUnavailable()
    return None


def _first_message(detail) -> str:
    """The first human-readable message of a DRF error detail (dict, list or string)."""
    if isinstance(detail, dict):
        for field, value in detail.items():
            message = _first_message(value)
            return message if field == "non_field_errors" else f"{field}: {message}"
        return "Invalid input."
    if isinstance(detail, list):
        return _first_message(detail[0]) if detail else "Invalid input."
    return str(detail)


# Codes a serializer field answers with on behalf of the service that owns its value
# (huiliao_site.api.StrictCharField's `error_code` registers them).
FIELD_ERROR_CODES: set[str] = set()


def _field_code(codes) -> str:
    """`invalid`, or the one service code of a body whose only error is such a field's."""
    if isinstance(codes, dict) and len(codes) == 1:
        (field_codes,) = codes.values()
        if isinstance(field_codes, list) and len(set(map(str, field_codes))) == 1:
            code = str(field_codes[0])
            if code in FIELD_ERROR_CODES:
                return code
    return "invalid"


def api_exception_handler(exc, context):
    request = context.get("request")
    if request is not None and isinstance(exc, NotFound) and exc.code in FAILED_LOOKUP_CODES:
        failed_lookup_record(request_address(request))
    if isinstance(exc, DomainError):
        headers = {"Retry-After": str(exc.wait)} if isinstance(exc, Throttled) else None
        return Response(
            {"detail": exc.detail, "code": exc.code}, status=exc.status_code, headers=headers
        )
    # Imported here: rest_framework.views loads the DEFAULT_*_CLASSES as it is imported,
    # and those (huiliao_site.api's parser) import this module: a module-level import
    # would be a cycle.
    from rest_framework.views import exception_handler

    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        response.data = {
            "detail": _first_message(exc.detail),
            "code": _field_code(exc.get_codes()),
            "errors": exc.detail,
        }
    elif isinstance(exc, exceptions.APIException):
        codes = exc.get_codes()
        code = codes if isinstance(codes, str) else "error"
        if isinstance(exc, exceptions.Throttled):
            code = "throttled"
        response.data = {"detail": _first_message(exc.detail), "code": code}
    return response


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


def page_not_found(request, exception):
    """A URL no view matches (a user id that is no UUID, a seq that is no number): the
    API answers in its own shape; pages keep Django's."""
    if _is_api(request):
        return JsonResponse({"detail": "Not found.", "code": "not_found"}, status=404)
    return defaults.page_not_found(request, exception)


def database_unavailable_response(request, unavailable: DatabaseUnavailable):
    body = {"detail": unavailable.detail, "code": unavailable.code}
    headers = {"Retry-After": str(unavailable.retry_after)}
    if _is_api(request):
        return JsonResponse(body, status=unavailable.status_code, headers=headers)
    response = defaults.server_error(request, template_name="503.html")
    response.status_code = unavailable.status_code
    response.headers.update(headers)
    return response


def bad_request(request, exception):
    """Django's 400s (a body over DATA_UPLOAD_MAX_MEMORY_SIZE, a Host not allowed): the
    API answers in its own shape; pages keep Django's."""
    if not _is_api(request):
        return defaults.bad_request(request, exception)
    if isinstance(exception, RequestDataTooBig):
        body = {"detail": "The request body is too large.", "code": "request_too_large"}
        return JsonResponse(body, status=413)
    return JsonResponse({"detail": "Bad request.", "code": "bad_request"}, status=400)


def server_error(request):
    """Django calls this while the uncaught exception is being handled (outside a view: a
    middleware's query): a lost database connection is a 503 there too."""
    unavailable = database_unavailable(sys.exc_info()[1])
    if unavailable is not None:
        return database_unavailable_response(request, unavailable)
    if _is_api(request):
        return JsonResponse({"detail": "Server error.", "code": "server_error"}, status=500)
    return defaults.server_error(request)
