"""The room hub's periodic work driven by its clock, the per-user socket cap, and the
per-room memberships re-check: through the real ASGI application."""

import pytest
from channels.db import database_sync_to_async
from django.test import Client

from history import selectors
from history.live.registry import get_hub
from rooms.models import Membership
from tests.factories import RoomFactory, UserFactory, join
from tests.live.helpers import open_member_socket, open_socket, receive, receive_close

pytestmark = pytest.mark.django_db(transaction=True)

db = database_sync_to_async


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def clock():
    """The running loop's hub, on a clock the test moves."""
    fake = FakeClock()
    get_hub().clock = fake
    return fake


def session_headers(user) -> list[tuple[bytes, bytes]]:
    client = Client()
    user.refresh_from_db()
    client.force_login(user)
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
    return [
        (b"origin", b"http://127.0.0.1:8000"),
        (b"host", b"127.0.0.1:8000"),
        (b"cookie", cookie),
    ]


async def open_by_kind(kind: str, code: str, user):
    if kind == "token":
        return await open_socket(code, user)
    return await open_socket(code, headers=await db(session_headers)(user))


async def test_sweep_closes_a_socket_silent_past_the_idle_timeout(room, user, settings, clock):
    settings.HUILIAO_WS_IDLE_TIMEOUT = 75
    silent, _ = await open_member_socket(room.code, user)
    chatty, _ = await open_member_socket(room.code, user)
    clock.now += 60
    await chatty.send_json_to({"type": "ping"})
    assert await receive(chatty) == {"type": "pong"}
    get_hub().sweep()
    assert await silent.receive_nothing(timeout=0.1)
    clock.now += 20  # silent: 80 s; chatty: 20 s since its ping
    get_hub().sweep()
    assert await receive_close(silent) == 4408
    assert await chatty.receive_nothing(timeout=0.1)
    await chatty.disconnect()


@pytest.mark.parametrize("kind", ["token", "session"])
async def test_user_over_the_socket_cap_is_refused_4429(room, user, settings, kind):
    settings.HUILIAO_WS_MAX_PER_USER = 2
    first = await open_by_kind(kind, room.code, user)
    second = await open_by_kind(kind, room.code, user)
    for communicator in (first, second):
        assert (await receive(communicator))["type"] == "hello"
    third = await open_by_kind(kind, room.code, user)
    assert await receive_close(third) == 4429
    # A closed socket frees its place.
    await first.disconnect()
    fourth = await open_by_kind(kind, room.code, user)
    assert (await receive(fourth))["type"] == "hello"
    for communicator in (second, fourth):
        await communicator.disconnect()


async def test_socket_cap_counts_a_user_across_rooms(room, user, settings):
    settings.HUILIAO_WS_MAX_PER_USER = 1
    second_room = await db(RoomFactory)()
    await db(join)(second_room, user)
    first, _ = await open_member_socket(room.code, user)
    refused = await open_socket(second_room.code, user)
    assert await receive_close(refused) == 4429
    await first.disconnect()


# 0: the re-check reads the room's whole member list (as for a hall) instead of sending ids.
@pytest.mark.parametrize("in_list_max", [200, 0])
async def test_periodic_check_closes_sockets_of_a_member_whose_removal_event_was_lost(
    room, user, settings, monkeypatch, in_list_max
):
    monkeypatch.setattr(selectors, "MEMBER_IDS_IN_LIST_MAX", in_list_max)
    await db(join)(room, await db(UserFactory)(nickname="Bob"))  # a member with no socket here
    ann = await db(UserFactory)(nickname="Ann")
    await db(join)(room, ann, display_name="Ann")
    ann_socket, _ = await open_member_socket(room.code, ann)
    owner_socket, _ = await open_member_socket(room.code, user)
    # Banned behind the hub's back: no event published at all.
    await db(Membership.objects.filter(room=room, user=ann).update)(banned=True)
    await get_hub().feeds[room.code].check_memberships()
    assert await receive_close(ann_socket) == 4403
    assert await owner_socket.receive_nothing(timeout=0.1)
    await owner_socket.disconnect()


async def test_check_refreshes_the_member_count_hello_reports(room, user):
    first, hello = await open_member_socket(room.code, user)
    assert hello["members"] == 1
    ann = await db(UserFactory)(nickname="Ann")
    # Joined behind the hub's back: no `members` event.
    await db(Membership.objects.create)(room=room, user=ann, display_name="Ann", avatar="sun")
    await get_hub().feeds[room.code].check()
    second, hello = await open_member_socket(room.code, ann)
    assert hello["members"] == 2
    await first.disconnect()
    await second.disconnect()


@pytest.mark.parametrize("in_list_max", [200, 0])
def test_current_member_ids_answers_for_the_asked_ids_only(room, monkeypatch, in_list_max):
    monkeypatch.setattr(selectors, "MEMBER_IDS_IN_LIST_MAX", in_list_max)
    stays, leaves, other = (join(room, UserFactory()).user for _ in range(3))
    Membership.objects.filter(room=room, user=leaves).update(banned=True)
    asked = {str(stays.pk), str(leaves.pk)}
    current = selectors.current_member_ids(room_id=room.pk, user_ids=asked, members=4)
    assert current == {str(stays.pk)}  # `other` is current but was not asked about
