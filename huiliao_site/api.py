"""Pieces every API module shares."""

from rest_framework import serializers


class StrictCharField(serializers.CharField):
    """A string field that takes only JSON strings. DRF's CharField turns a number or a
    boolean into text ({"nickname": 0} becomes "0"); the schema says string, so a client
    that sends anything else gets 400 instead of a silently converted value."""

    default_error_messages = {"invalid": "Not a valid string."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)
