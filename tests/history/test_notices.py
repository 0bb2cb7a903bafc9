"""System notices in the reader's language: stored as an event, worded per REST request
(Accept-Language), per socket (?lang=), and in the CSV per organiser; old rows migrated."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from history.models import Message
from tests.factories import RoomFactory, UserFactory, join
from tests.helpers import api_client_for

pytestmark = pytest.mark.django_db


def test_a_notice_is_stored_as_its_event_and_worded_per_request(db):
    room = RoomFactory()
    ann = join(room, display_name="王伟")
    notice = Message.objects.get(room=room, kind="system")
    assert (notice.event, notice.params, notice.body) == ("joined", {"name": "王伟"}, "王伟 joined")
    client = api_client_for(ann.user)
    url = f"/api/v1/rooms/{room.code}/messages/{notice.seq}"
    chinese = client.get(url, headers={"accept-language": "zh-hans"}).json()
    english = client.get(url, headers={"accept-language": "en"}).json()
    assert (chinese["event"], chinese["body"]) == ("joined", "王伟 进入房间")
    assert (english["event"], english["body"]) == ("joined", "王伟 joined")


@pytest.mark.django_db(transaction=True)
def test_stored_notices_become_events_in_the_migration():
    executor = MigrationExecutor(connection)
    before = [("history", "0003_questions")]
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    User = old.get_model("accounts", "User")
    owner = User.objects.create(username="owner-n", nickname="Owner")
    room = old.get_model("rooms", "Room").objects.create(code="NOTICES2", name="Old", owner=owner)
    OldMessage = old.get_model("history", "Message")
    bodies = ["Alice joined", "王伟 进入房间", "Alice left", "王伟 离开房间", "Room renamed"]
    for seq, body in enumerate(bodies, start=1):
        OldMessage.objects.create(room=room, seq=seq, kind="system", body=body)
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
    rows = list(
        Message.objects.filter(room__code="NOTICES2").order_by("seq").values_list("event", "params")
    )
    assert rows == [
        ("joined", {"name": "Alice"}),
        ("joined", {"name": "王伟"}),
        ("left", {"name": "Alice"}),
        ("left", {"name": "王伟"}),
        ("", None),  # matches neither form: kept as it was
    ]


def test_the_csv_words_notices_in_the_organisers_language(db):
    from django.test import Client

    owner = UserFactory(is_staff=True, is_superuser=True, kind="staff")
    room = RoomFactory(owner=owner)
    join(room, display_name="Ann")
    admin = Client()
    admin.force_login(owner)
    response = admin.post(
        "/admin/rooms/room/",
        {"action": "export_history", "_selected_action": [str(room.pk)]},
        headers={"accept-language": "zh-hans"},
    )
    text = b"".join(response.streaming_content).decode("utf-8")
    assert "Ann 进入房间" in text and "Ann joined" not in text
