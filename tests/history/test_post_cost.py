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
def test_a_first_send_costs_five_statements_written_out(room, member):
    with CaptureQueriesContext(connection) as queries:
        message, created = services.message_post(
            room=room, user=member, body="hello", client_id="c-1"
        )
    assert created
    sql = statements(queries)
    # The membership locked; the room's open state and posting rules read after the lock;
    # the throttle's window; the seq; the row. No separate client_id look-up. Each is
    # written out (huiliao_site.sql): the ORM's query building cost more than the
    # statement itself.
    assert [statement.split()[0] for statement in sql] == [
        "SELECT",
        "SELECT",
        "SELECT",
        "UPDATE",
        "INSERT",
    ]
    assert '"rooms_membership"' in sql[0]
    assert sql[0].endswith("FOR UPDATE") == (connection.vendor == "postgresql")
    assert '"closed_at"' in sql[1] and '"rooms_room"' in sql[1]
    assert '"history_message"' in sql[2] and "LIMIT" in sql[2]
    assert sql[4].endswith('RETURNING "id"')
    stored = Message.objects.get(pk=message.pk)
    assert (stored.body, stored.seq, stored.sender_id, stored.created_at) == (
        "hello",
        message.seq,
        member.pk,
        message.created_at,
    )


@pytest.mark.django_db
def test_a_resend_after_the_room_closed_still_returns_the_stored_message(room, member):
    first, _ = services.message_post(room=room, user=member, body="hello", client_id="c-1")
    room_services.room_close(room=room, actor=None)
    again, created = services.message_post(room=room, user=member, body="hello", client_id="c-1")
    assert (again.pk, created) == (first.pk, False)
