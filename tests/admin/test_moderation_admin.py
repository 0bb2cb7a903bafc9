"""The admin's moderation: close asks first and can be undone, Close / Reopen / Extend on a
room's page, the moderation log, reports, and content rules — each scoped to the rooms an
organiser owns."""

import datetime as dt

import pytest
from django.utils import timezone

from history.models import Message
from rooms.content import content_verdict
from rooms.models import ContentRule, ModerationAction, Report, Room
from rooms.services import content_rule_save
from tests.factories import RoomFactory, join, post
from tests.helpers import api_client_for

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/rooms/room/"


def close_action(client, room, **extra):
    return client.post(
        CHANGELIST, {"action": "close_rooms", "_selected_action": [str(room.pk)], **extra}
    )


# --- close, reopen, extend ----------------------------------------------------------------


def test_close_action_asks_on_a_page_naming_the_room_and_closes_only_when_confirmed(
    organiser, organiser_client
):
    room = RoomFactory(owner=organiser, name="Opening night")
    asked = close_action(organiser_client, room)
    assert asked.status_code == 200
    assert [r.code for r in asked.context["rooms"]] == [room.code]
    html = asked.content.decode()
    assert "<strong>Opening night</strong>" in html and 'id="confirm-close"' in html
    room.refresh_from_db()
    assert room.closed_at is None

    done = close_action(organiser_client, room, confirmed="yes")
    assert done.status_code == 302
    room.refresh_from_db()
    assert room.closed_at is not None
    entry = ModerationAction.objects.get(room=room)
    assert (entry.actor, entry.action) == (organiser, "room_closed")


def test_reopen_action_undoes_a_close_but_not_an_expiry(organiser, organiser_client):
    room = RoomFactory(owner=organiser)
    ended = RoomFactory(owner=organiser)
    close_action(organiser_client, room, confirmed="yes")
    close_action(organiser_client, ended, confirmed="yes")
    Room.objects.filter(pk=ended.pk).update(expires_at=timezone.now() - dt.timedelta(hours=1))
    response = organiser_client.post(
        CHANGELIST,
        {"action": "reopen_rooms", "_selected_action": [str(room.pk), str(ended.pk)]},
        follow=True,
    )
    assert [str(m) for m in response.context["messages"]][-2:] == [
        "Reopened 1 room.",
        "Rooms past their expiry stay closed: extend them first.",
    ]
    room.refresh_from_db()
    ended.refresh_from_db()
    assert (room.closed_at, ended.closed_at is not None) == (None, True)


def test_room_page_has_close_extend_and_reopen_buttons(organiser, organiser_client):
    room = RoomFactory(owner=organiser, name="Summit")
    page = organiser_client.get(f"/admin/rooms/room/{room.pk}/change/").content.decode()
    assert 'id="close-room"' in page and 'id="extend-room"' in page
    assert 'id="reopen-room"' not in page

    before = room.expires_at
    assert organiser_client.post(f"/admin/rooms/room/{room.pk}/extend/").status_code == 302
    room.refresh_from_db()
    assert room.expires_at == before + dt.timedelta(days=1)

    asked = organiser_client.get(f"/admin/rooms/room/{room.pk}/close/")
    assert "<strong>Summit</strong>" in asked.content.decode()
    organiser_client.post(f"/admin/rooms/room/{room.pk}/close/", {"confirmed": "yes"})
    room.refresh_from_db()
    assert room.closed_at is not None
    page = organiser_client.get(f"/admin/rooms/room/{room.pk}/change/").content.decode()
    assert 'id="reopen-room"' in page and 'id="close-room"' not in page

    organiser_client.post(f"/admin/rooms/room/{room.pk}/reopen/")
    room.refresh_from_db()
    assert room.closed_at is None
    assert list(
        ModerationAction.objects.filter(room=room).order_by("id").values_list("action", flat=True)
    ) == ["room_extended", "room_closed", "room_reopened"]


def test_room_buttons_of_another_organisers_room_are_refused(organiser_client, other_organiser):
    theirs = RoomFactory(owner=other_organiser)
    for action in ("close", "reopen", "extend"):
        response = organiser_client.post(
            f"/admin/rooms/room/{theirs.pk}/{action}/", {"confirmed": "yes"}
        )
        assert response.status_code in (302, 403)
    theirs.refresh_from_db()
    assert theirs.closed_at is None
    assert not ModerationAction.objects.filter(room=theirs).exists()


def test_room_form_sets_slow_mode_and_broadcast(organiser, organiser_client):
    from tests.admin.helpers import room_form_data

    room = RoomFactory(owner=organiser)
    data = room_form_data(room, slow_mode_seconds="30", posting="moderators")
    assert organiser_client.post(f"/admin/rooms/room/{room.pk}/change/", data).status_code == 302
    room.refresh_from_db()
    assert (room.slow_mode_seconds, room.posting) == (30, "moderators")
    assert ModerationAction.objects.get(room=room).detail == {
        "slow_mode_seconds": 30,
        "posting": "moderators",
    }


# --- the log and reports ------------------------------------------------------------------


def test_moderation_log_lists_own_rooms_read_only(organiser, other_organiser, organiser_client):
    mine = RoomFactory(owner=organiser)
    theirs = RoomFactory(owner=other_organiser)
    for room in (mine, theirs):
        api_client_for(room.owner).patch(
            f"/api/v1/rooms/{room.code}", {"slow_mode_seconds": 10}, format="json"
        )
    response = organiser_client.get("/admin/rooms/moderationaction/")
    assert [entry.room for entry in response.context["cl"].result_list] == [mine]
    entry = ModerationAction.objects.get(room=mine)
    assert (
        organiser_client.get(f"/admin/rooms/moderationaction/{entry.pk}/change/").status_code == 200
    )
    refused = organiser_client.post(
        f"/admin/rooms/moderationaction/{entry.pk}/delete/", {"post": "yes"}
    )
    assert refused.status_code == 403
    other = ModerationAction.objects.get(room=theirs)
    response = organiser_client.get(f"/admin/rooms/moderationaction/{other.pk}/change/")
    assert (response.status_code, response["Location"]) == (302, "/admin/")


def test_reports_list_and_hide_action_settle_them(organiser, other_organiser, organiser_client):
    room = RoomFactory(owner=organiser)
    author, reader = join(room, display_name="Ann"), join(room, display_name="Rob")
    message = post(room, author.user, "Buy now")
    api_client_for(reader.user).post(
        f"/api/v1/rooms/{room.code}/messages/{message.seq}/report",
        {"reason": "spam", "text": "ad"},
        format="json",
    )
    theirs = RoomFactory(owner=other_organiser)
    their_message = post(theirs, join(theirs).user, "elsewhere")
    Report.objects.create(room=theirs, seq=their_message.seq, reporter=join(theirs), reason="spam")

    response = organiser_client.get("/admin/rooms/report/?open=yes")
    listed = list(response.context["cl"].result_list)
    assert [(r.room, r.seq, r.message_body) for r in listed] == [(room, message.seq, "Buy now")]
    assert "ad" in response.content.decode()
    organiser_client.post(
        "/admin/rooms/report/",
        {"action": "hide_reported_messages", "_selected_action": [str(listed[0].pk)]},
    )
    message.refresh_from_db()
    assert message.hidden is True
    assert Report.objects.get(room=room).outcome == "hidden"
    entry = ModerationAction.objects.get(room=room, action="message_hidden")
    assert (entry.actor, entry.detail) == (organiser, {"reports": 1})


def test_message_admin_shows_a_recalled_messages_text(organiser, organiser_client):
    room = RoomFactory(owner=organiser)
    author = join(room)
    message = post(room, author.user, "oops, wrong room")
    api_client_for(author.user).delete(f"/api/v1/rooms/{room.code}/messages/{message.seq}")
    page = organiser_client.get(f"/admin/history/message/{message.pk}/change/").content.decode()
    assert "oops, wrong room" in page
    assert Message.objects.get(pk=message.pk).recalled_at is not None


# --- content rules ------------------------------------------------------------------------


def test_organiser_adds_a_rule_to_own_room_only(organiser, other_organiser, organiser_client):
    mine = RoomFactory(owner=organiser)
    theirs = RoomFactory(owner=other_organiser)
    form = organiser_client.get("/admin/rooms/contentrule/add/")
    assert list(form.context["adminform"].form.fields["room"].queryset) == [mine]
    # Not for every room, and not for someone else's.
    for room in ("", str(theirs.pk)):
        refused = organiser_client.post(
            "/admin/rooms/contentrule/add/", {"term": "spoiler", "action": "reject", "room": room}
        )
        assert refused.status_code == 200 and refused.context["adminform"].form.errors
    created = organiser_client.post(
        "/admin/rooms/contentrule/add/", {"term": "spoiler", "action": "reject", "room": mine.pk}
    )
    assert created.status_code == 302
    assert content_verdict(text="no s-p-o-i-l-e-r please", room=mine) == "reject"
    assert content_verdict(text="no spoiler please", room=theirs) is None


def test_superuser_adds_a_global_rule_and_organisers_do_not_see_it(
    superuser_client, organiser, organiser_client
):
    response = superuser_client.post(
        "/admin/rooms/contentrule/add/", {"term": "赌博", "action": "review", "room": ""}
    )
    assert response.status_code == 302
    room = RoomFactory(owner=organiser)
    assert content_verdict(text="网上赌 博", room=room) == "review"
    listed = organiser_client.get("/admin/rooms/contentrule/").context["cl"].result_list
    assert list(listed) == []


def test_deleting_a_rule_in_the_admin_stops_it(organiser, organiser_client):
    room = RoomFactory(owner=organiser)
    rule = content_rule_save(rule=ContentRule(term="spoiler", room=room))
    organiser_client.post(f"/admin/rooms/contentrule/{rule.pk}/delete/", {"post": "yes"})
    assert not ContentRule.objects.exists()
    assert content_verdict(text="spoiler", room=room) is None


def test_a_blank_term_is_a_form_error(superuser_client):
    response = superuser_client.post(
        "/admin/rooms/contentrule/add/", {"term": " ... ", "action": "reject", "room": ""}
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["term"] == [
        "A term needs at least one letter or digit (spaces and punctuation are ignored)."
    ]
