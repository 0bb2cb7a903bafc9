from tests.factories import RoomFactory, UserFactory, join, post


def test_room_post_and_enter_allocate_gapless_seqs(db):
    owner = UserFactory(nickname="Host")
    room = RoomFactory(owner=owner, name="Keynote")
    guest = join(room, display_name="Ann").user
    message = post(room, guest, "  hi  ", client_id="c1")
    assert [(m.seq, m.kind, m.body) for m in room.messages.order_by("seq")] == [
        (1, "system", "Ann joined"),
        (2, "text", "hi"),
    ]
    assert message.seq == 2
    room.refresh_from_db()
    assert room.last_seq == 2
    assert len(room.code) == 8
