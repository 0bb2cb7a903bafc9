"""Pieces every API module shares: the error shape, fields, keyset cursors, query
validation, and rules across fields in the schema (as Styleguide-Example keeps its
`api/pagination.py`)."""

import base64
import datetime as dt
import json

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Q, QuerySet
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.utils import OpenApiResponse
from rest_framework import parsers, serializers
from rest_framework.exceptions import ErrorDetail, ParseError

from huiliao_site.errors import FIELD_ERROR_CODES, InvalidInput
from huiliao_site.text import is_valid_unicode

LIST_DEFAULT = 50
LIST_MAX = 100


class StrictCharField(serializers.CharField):
    """A string field that takes only JSON strings. DRF's CharField turns a number or a
    boolean into text ({"nickname": 0} becomes "0"); the schema says string, so a client
    that sends anything else gets 400 instead of a silently converted value."""

    default_error_messages = {
        "invalid": "Not a valid string.",
        "unicode": "Not valid Unicode text.",
    }

    def __init__(self, *, error_code: str | None = None, **kwargs):
        # The code the service that owns this value answers with (`invalid_body`…), so a
        # rule has one error code over REST and over the socket.
        self.error_code = error_code
        if error_code is not None:
            FIELD_ERROR_CODES.add(error_code)
        super().__init__(**kwargs)

    def run_validation(self, data=serializers.empty):
        try:
            return super().run_validation(data)
        except serializers.ValidationError as exc:
            if self.error_code is None:
                raise
            details = exc.detail if isinstance(exc.detail, list) else [exc.detail]
            raise serializers.ValidationError(
                [ErrorDetail(str(detail), self.error_code) for detail in details]
            ) from None

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        if not is_valid_unicode(data):
            self.fail("unicode")
        return super().to_internal_value(data)


# Control characters (Unicode category Cc) as a JSON Schema pattern.
NO_CONTROL_CHARACTERS = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"


class OneLineTextField(StrictCharField):
    """A name shown inside other text (a display name in "X joined", a room name on a
    poster): no control characters. The service that owns the name refuses them with its
    own error code; this field states the rule in the schema, so clients and the schema
    agree on what is accepted."""


class OneLineTextFieldExtension(OpenApiSerializerFieldExtension):
    target_class = OneLineTextField
    match_subclasses = True

    def map_serializer_field(self, auto_schema, direction):
        schema = auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)
        return {**schema, "pattern": NO_CONTROL_CHARACTERS}


# --- Errors ------------------------------------------------------------------------------


class ErrorSerializer(serializers.Serializer):
    detail = StrictCharField()
    code = StrictCharField()
    errors = serializers.DictField(
        required=False, help_text="Only for `invalid`: the messages per field, for forms."
    )


ERROR_DESCRIPTIONS = {
    400: "Invalid input (`invalid`, with `errors` per field).",
    401: "No or bad credentials (`not_authenticated`, `authentication_failed`).",
    403: "Not allowed (`permission_denied`, e.g. a session request without its CSRF token).",
    404: "Not found.",
    409: "Conflicts with the current state (e.g. `display_name_taken`).",
    429: "Too many attempts (`throttled`, `rate_limited`; `too_many_guesses` wherever a "
    "room code is taken); the Retry-After header says when to try again.",
}


def error_responses(*statuses: int, **descriptions: str) -> dict[int, OpenApiResponse]:
    """Error responses for the schema; `descriptions` (keyed "e400"...) override the defaults."""
    return {
        code: OpenApiResponse(
            ErrorSerializer,
            description=descriptions.get(f"e{code}", ERROR_DESCRIPTIONS.get(code, "")),
        )
        for code in statuses
    }


# --- Fields -------------------------------------------------------------------------------


class UtcDateTimeField(serializers.DateTimeField):
    """Every time in the API is UTC with a `Z`, the same as the message frames."""

    def __init__(self, **kwargs):
        kwargs.setdefault("default_timezone", dt.UTC)
        super().__init__(**kwargs)


def latitude_field(**kwargs) -> serializers.FloatField:
    # DRF's FloatField refuses nan and inf, which would slip through min/max checks.
    return serializers.FloatField(min_value=-90, max_value=90, **kwargs)


def longitude_field(**kwargs) -> serializers.FloatField:
    return serializers.FloatField(min_value=-180, max_value=180, **kwargs)


# --- Keyset cursors -----------------------------------------------------------------------
# Lists of rooms and members page by keyset on (a time, a public unique key). The cursor is
# opaque to clients (base64 of both values), so no database id ever reaches a URL.


def encode_cursor(moment: dt.datetime, key: str) -> str:
    raw = json.dumps([moment.isoformat(), str(key)], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[dt.datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        moment, key = json.loads(raw)
        parsed = dt.datetime.fromisoformat(moment)
        # PostgreSQL refuses a NUL in text and a UTC offset past ±15:59; a time that leaves
        # datetime's range in UTC raises OverflowError.
        if parsed.tzinfo is None or not isinstance(key, str) or "\x00" in key:
            raise ValueError(cursor)
        parsed = parsed.astimezone(dt.UTC)
    except (ValueError, TypeError, OverflowError, json.JSONDecodeError) as exc:
        raise InvalidInput("cursor is not one this API gave out.", code="invalid_cursor") from exc
    return parsed, key


class CursorQuerySerializer(serializers.Serializer):
    cursor = StrictCharField(required=False, max_length=200)
    limit = serializers.IntegerField(
        required=False, min_value=1, max_value=LIST_MAX, default=LIST_DEFAULT
    )


def keyset_page(
    rows: QuerySet, *, time_field: str, key_field: str, descending: bool, cursor, limit
):
    """One page of `rows` ordered by (time_field, key_field), and the next cursor or None."""
    sign = "-" if descending else ""
    rows = rows.order_by(f"{sign}{time_field}", f"{sign}{key_field}")
    if cursor:
        moment, key = decode_cursor(cursor)
        op = "lt" if descending else "gt"
        try:
            rows = rows.filter(
                Q(**{f"{time_field}__{op}": moment})
                | Q(**{time_field: moment, f"{key_field}__{op}": key})
            )
        except DjangoValidationError as exc:  # a forged key, such as a UUID that is none
            raise InvalidInput(
                "cursor is not one this API gave out.", code="invalid_cursor"
            ) from exc
    page = list(rows[: limit + 1])
    more = len(page) > limit
    page = page[:limit]
    if not more:
        return page, None
    last = page[-1]
    return page, encode_cursor(_get_path(last, time_field), _get_path(last, key_field))


def _get_path(obj, path: str):
    for part in path.split("__"):
        obj = getattr(obj, part)
    return obj


def validated_query(serializer_class, request) -> dict:
    # A plain dict, not the QueryDict: DRF reads a blank form value as "absent", so
    # `?role=` would list every room instead of saying that "" is no role.
    data = serializer_class(data=request.query_params.dict())
    data.is_valid(raise_exception=True)
    return data.validated_data


class JSONParser(parsers.JSONParser):
    """DRF's parser, with JSON nested thousands deep ("[[[[…") a 400 like any other
    unparseable body rather than a RecursionError and a 500."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply.") from None


# --- Rules across fields, in the schema -------------------------------------------------
# A serializer's validate() can tie fields together ("latitude with longitude, or
# neither"); OpenAPI 3.0 says so with anyOf/oneOf on the component. Each rule is written
# beside its serializer (`schema_rule`) and added to the published schema by this hook.
SCHEMA_RULES: dict[str, dict] = {}


def schema_rule(component: str, rule: dict) -> None:
    SCHEMA_RULES[component] = rule


def add_schema_rules(result, generator, request, public):
    """drf-spectacular postprocessing hook (SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"])."""
    schemas = result.get("components", {}).get("schemas", {})
    for component, rule in SCHEMA_RULES.items():
        if component in schemas:
            schemas[component].update(rule)
    return result


def both_or_neither(first: str, second: str) -> dict:
    """Two nullable fields that come together: both numbers, or both absent/null."""
    absent = {"enum": [None], "nullable": True}
    return {
        "anyOf": [
            {
                "required": [first, second],
                "properties": {first: {"type": "number"}, second: {"type": "number"}},
            },
            {"properties": {first: absent, second: absent}},
        ]
    }
