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
