"""Pieces every API module shares."""

from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from rest_framework import parsers, serializers
from rest_framework.exceptions import ParseError

from huiliao_site.text import is_valid_unicode


class StrictCharField(serializers.CharField):
    """A string field that takes only JSON strings. DRF's CharField turns a number or a
    boolean into text ({"nickname": 0} becomes "0"); the schema says string, so a client
    that sends anything else gets 400 instead of a silently converted value."""

    default_error_messages = {
        "invalid": "Not a valid string.",
        "unicode": "Not valid Unicode text.",
    }

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
