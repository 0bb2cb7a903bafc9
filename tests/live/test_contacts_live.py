"""Contact frames reach one member's sockets and nobody else's."""

import pytest
from channels.db import database_sync_to_async

from rooms import services
from tests.factories import UserFactory, join
from tests.live.helpers import open_member_socket, receive

pytestmark = pytest.mark.django_db(transaction=True)


def three_members(room):
    people = []
    for name, card in (("Ann", "WeChat: ann"), ("Bob", "bob@example.com"), ("Carl", "")):
        membership = join(room, UserFactory(), display_name=name)
        people.append(services.contact_card_set(membership=membership, card=card))
    return people


async def test_request_and_cards_go_only_to_their_two_members(room):
    ann, bob, carl = await database_sync_to_async(three_members)(room)
    sockets = {}
    for member in (ann, bob, carl):
        sockets[member.display_name], _ = await open_member_socket(room.code, member.user)
    request = await database_sync_to_async(services.contact_ask)(
        room=room, asker=bob, recipient=ann
    )
    assert await receive(sockets["Ann"]) == {
        "type": "contact_request",
        "request": {
            "id": request.public_id,
            "member": {"member_id": bob.member_id, "display_name": "Bob"},
        },
    }
    assert await sockets["Bob"].receive_nothing(timeout=0.3)
    assert await sockets["Carl"].receive_nothing(timeout=0.1)
    await database_sync_to_async(services.contact_accept)(request=request)
    shared_with_ann = await receive(sockets["Ann"])
    shared_with_bob = await receive(sockets["Bob"])
    assert shared_with_ann["request"]["card"] == "bob@example.com"
    assert shared_with_bob["request"]["card"] == "WeChat: ann"
    assert shared_with_bob["type"] == shared_with_ann["type"] == "contact_shared"
    assert await sockets["Carl"].receive_nothing(timeout=0.3)
    for socket in sockets.values():
        await socket.disconnect()
