"""The posting throttle holds under concurrent posts from one member (PostgreSQL)."""

import pytest

from history.models import Message
from tests.conftest import api_client_for
from tests.factories import RoomFactory
from tests.history.test_concurrency import THREADS, quiet_members, run_at_once


@pytest.mark.django_db(transaction=True)
def test_throttle_holds_for_one_members_concurrent_posts(postgres, settings):
    settings.HUILIAO_POST_RATE_COUNT = 3
    settings.HUILIAO_POST_RATE_SECONDS = 60
    room = RoomFactory()
    (user,) = quiet_members(room, 1)

    def send(i: int) -> int:
        response = api_client_for(user).post(
            f"/api/v1/rooms/{room.code}/messages",
            {"body": f"burst {i}", "client_id": f"b-{i}"},
            format="json",
        )
        return response.status_code

    statuses = run_at_once(send, THREADS * 2)
    assert sorted(statuses) == [201] * 3 + [429] * (THREADS * 2 - 3)
    assert Message.objects.filter(room=room, sender=user).count() == 3
