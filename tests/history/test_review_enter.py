"""Entering with a display name that would forge a notice line."""

import pytest

from rooms.models import Membership
from tests.conftest import api_client_for

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("name", ["Ann\nBob joined", "Ann\rx", "\x1b[31mAnn", "Ann\tB"])
def test_enter_display_name_with_control_characters_is_400(room, other_user, name):
    response = api_client_for(other_user).post(
        f"/api/v1/rooms/{room.code}/enter", {"display_name": name}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {
        "detail": "display_name must not contain control characters.",
        "code": "invalid_display_name",
    }
    assert not Membership.objects.filter(room=room, user=other_user).exists()
    assert room.messages.count() == 0


def test_rename_to_display_name_with_newline_is_400_and_keeps_the_name(room, other_user):
    client = api_client_for(other_user)
    client.post(f"/api/v1/rooms/{room.code}/enter", {"display_name": "Ann"}, format="json")
    response = client.post(
        f"/api/v1/rooms/{room.code}/enter", {"display_name": "Ann\nBob"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_display_name"
    assert Membership.objects.get(room=room, user=other_user).display_name == "Ann"
