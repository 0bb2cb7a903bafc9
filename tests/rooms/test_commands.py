import datetime as dt

import pytest

from tests.factories import RoomFactory, join
from tests.helpers import expire, run_command
from tests.room_listener import listening


@pytest.fixture
def listen():
    yield from listening()


# --- expire_rooms --------------------------------------------------------------------------


def test_expire_rooms_closes_expired_room_and_pushes_room_closed(
    db,
    listen,
    django_capture_on_commit_callbacks,
):
    room = expire(RoomFactory(name="Yesterday"))
    still_open = RoomFactory(name="Tomorrow")
    live = listen(room)
    live_open = listen(still_open)
    with django_capture_on_commit_callbacks(execute=True):
        out = run_command("expire_rooms")
    room.refresh_from_db()
    still_open.refresh_from_db()
    assert room.closed_at is not None
    assert still_open.closed_at is None
    assert out == (
        f"closed {room.code} 'Yesterday' (expired {room.expires_at.isoformat()})\n"
        "closed 1 room(s)\n"
    )
    assert live.frames(1) == [{"type": "room_closed"}]
    assert live_open.frames() == []


def test_expire_rooms_second_run_changes_nothing(
    db,
    listen,
    django_capture_on_commit_callbacks,
):
    room = expire(RoomFactory())
    run_command("expire_rooms")
    room.refresh_from_db()
    closed_at = room.closed_at
    live = listen(room)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        out = run_command("expire_rooms")
    assert out == "closed 0 room(s)\n"
    assert callbacks == []
    assert live.frames() == []
    room.refresh_from_db()
    assert room.closed_at == closed_at


def test_expire_rooms_dry_run_changes_nothing(db):
    room = expire(RoomFactory(name="Gone"), dt.timedelta(hours=2))
    out = run_command("expire_rooms", "--dry-run")
    assert out == (
        f"would close {room.code} 'Gone' (expired {room.expires_at.isoformat()})\n"
        "would close 1 room(s)\n"
    )
    room.refresh_from_db()
    assert room.closed_at is None


def test_expire_rooms_leaves_rooms_without_expiry(db):
    room = RoomFactory(expires_at=None)
    assert run_command("expire_rooms") == "closed 0 room(s)\n"
    room.refresh_from_db()
    assert room.closed_at is None


def test_expire_rooms_members_sockets_get_room_closed_frame(
    db,
    listen,
    django_capture_on_commit_callbacks,
):
    room = RoomFactory()
    join(room, display_name="Ann")
    join(room, display_name="Bo")
    expire(room)
    live = listen(room)
    with django_capture_on_commit_callbacks(execute=True):
        run_command("expire_rooms")
    # One event for the room's group: every process's hub closes its members' sockets.
    assert live.frames(1) == [{"type": "room_closed"}]
