"""Pieces every API module shares."""

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


class JSONParser(parsers.JSONParser):
    """DRF's parser, with JSON nested thousands deep ("[[[[…") a 400 like any other
    unparseable body rather than a RecursionError and a 500."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply.") from None
