"""What one chat message costs the database: every live socket's post comes through here,
so a hall chatting at 20 messages/s pays it twenty times a second."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from history import services
from history.models import Message
from rooms import services as room_services


def statements(queries) -> list[str]:
    """The statements a post ran, without the test's own savepoint bookkeeping."""
    return [
        query["sql"]
        for query in queries.captured_queries
        if not query["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))
    ]


@pytest.mark.django_db
def test_a_first_send_costs_four_statements(room, member):
    with CaptureQueriesContext(connection) as queries:
        message, created = services.message_post(
            room=room, user=member, body="hello", client_id="c-1"
        )
    assert created
    sql = statements(queries)
    # The membership locked and the room's open state read in one statement; the
    # throttle's window; the seq; the row. No separate client_id look-up.
    assert [statement.split()[0] for statement in sql] == ["SELECT", "SELECT", "UPDATE", "INSERT"]
    assert '"rooms_room"."closed_at"' in sql[0]
    if connection.vendor == "postgresql":
        assert 'FOR UPDATE OF "rooms_membership"' in sql[0]
    assert Message.objects.get(pk=message.pk).body == "hello"


@pytest.mark.django_db
def test_a_resend_after_the_room_closed_still_returns_the_stored_message(room, member):
    first, _ = services.message_post(room=room, user=member, body="hello", client_id="c-1")
    room_services.room_close(room=room, actor=None)
    again, created = services.message_post(room=room, user=member, body="hello", client_id="c-1")
    assert (again.pk, created) == (first.pk, False)
