import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from history import services as history_services
from history.models import Message
from rooms.models import Membership, ModerationAction, Room
from tests.admin.helpers import change_url, client_for, local_parts, room_form_data
from tests.factories import RoomFactory, join, post

CHANGELIST = "/admin/rooms/room/"


def listed_codes(response) -> list[str]:
    return [room.code for room in response.context["cl"].result_list]


# --- who sees what -----------------------------------------------------------------------


def test_room_changelist_organiser_sees_only_own_rooms(
    organiser, other_organiser, organiser_client
):
    mine = RoomFactory(owner=organiser, name="Mine")
    RoomFactory(owner=other_organiser, name="Theirs")
    response = organiser_client.get(CHANGELIST)
    assert response.status_code == 200
    assert listed_codes(response) == [mine.code]
    assert b"Theirs" not in response.content


def test_room_changelist_superuser_sees_all_rooms(organiser, other_organiser, superuser_client):
    first = RoomFactory(owner=organiser)
    second = RoomFactory(owner=other_organiser)
    response = superuser_client.get(CHANGELIST)
    assert sorted(listed_codes(response)) == sorted([first.code, second.code])


def test_room_urls_of_another_organiser_refused(organiser, other_organiser, organiser_client):
    theirs = RoomFactory(owner=other_organiser, name="Secret summit")
    base = f"/admin/rooms/room/{theirs.pk}"
    for url in [f"{base}/change/", f"{base}/history/"]:
        response = organiser_client.get(url)
        assert (response.status_code, response["Location"]) == (302, "/admin/"), url
    assert organiser_client.get(f"{base}/delete/").status_code == 403
    response = organiser_client.post(f"{base}/change/", room_form_data(theirs, name="Hijacked"))
    assert (response.status_code, response["Location"]) == (302, "/admin/")
    response = organiser_client.post(f"{base}/delete/", {"post": "yes"})
    assert response.status_code == 403
    theirs.refresh_from_db()
    assert (theirs.name, theirs.closed_at) == ("Secret summit", None)


def test_room_action_on_another_organisers_room_does_nothing(
    organiser, other_organiser, organiser_client
):
    theirs = RoomFactory(owner=other_organiser)
    response = organiser_client.post(
        CHANGELIST, {"action": "close_rooms", "_selected_action": [str(theirs.pk)]}
    )
    assert response.status_code == 302
    theirs.refresh_from_db()
    assert theirs.closed_at is None


def test_membership_and_message_urls_of_another_organiser_refused(
    organiser, other_organiser, organiser_client
):
    theirs = RoomFactory(owner=other_organiser)
    membership = join(theirs, display_name="Victim")
    message = post(theirs, membership.user, "private")
    for base in [
        f"/admin/rooms/membership/{membership.pk}",
        f"/admin/history/message/{message.pk}",
    ]:
        for url in [f"{base}/change/", f"{base}/history/"]:
            response = organiser_client.get(url)
            assert (response.status_code, response["Location"]) == (302, "/admin/"), url
        assert organiser_client.get(f"{base}/delete/").status_code == 403
    response = organiser_client.post(
        f"/admin/rooms/membership/{membership.pk}/change/", {"role": "member", "banned": "on"}
    )
    assert (response.status_code, response["Location"]) == (302, "/admin/")
    response = organiser_client.post(
        f"/admin/history/message/{message.pk}/change/", {"hidden": "on"}
    )
    assert (response.status_code, response["Location"]) == (302, "/admin/")
    membership.refresh_from_db()
    message.refresh_from_db()
    assert (membership.banned, message.hidden) == (False, False)
    response = organiser_client.get("/admin/rooms/membership/")
    assert list(response.context["cl"].result_list) == []
    response = organiser_client.get("/admin/history/message/")
    assert list(response.context["cl"].result_list) == []


def test_admin_index_organiser_sees_rooms_members_messages_only(organiser_client):
    response = organiser_client.get("/admin/")
    models = sorted(
        model["object_name"] for app in response.context["app_list"] for model in app["models"]
    )
    assert models == ["ContentRule", "Membership", "Message", "ModerationAction", "Report", "Room"]


def test_staff_outside_organisers_group_gets_nothing(db):
    from tests.factories import StaffFactory

    staff = StaffFactory()
    RoomFactory(owner=staff)
    client = client_for(staff)
    assert client.get(CHANGELIST).status_code == 403


# --- the list ------------------------------------------------------------------------------


def test_room_changelist_columns(organiser, organiser_client):
    room = RoomFactory(owner=organiser, name="Keynote")
    join(room, display_name="Ann")
    gone = join(room, display_name="Bo")
    history_services.member_leave(room=room, user=gone.user)
    response = organiser_client.get(CHANGELIST)
    cl = response.context["cl"]
    model_admin = cl.model_admin
    rows = [
        (
            r.code,
            r.name,
            model_admin.owner_name(r),
            model_admin.members(r),
            model_admin.messages(r),
            r.expires_at,
            model_admin.status_label(r),
        )
        for r in cl.result_list
    ]
    room.refresh_from_db()
    assert rows == [(room.code, "Keynote", "Org A", 2, 3, room.expires_at, "open")]
    assert room.code.encode() in response.content


def test_room_changelist_status_filter(organiser, organiser_client):
    open_room = RoomFactory(owner=organiser, name="Open")
    expired = RoomFactory(owner=organiser, name="Expired")
    Room.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - dt.timedelta(minutes=1))
    closed = RoomFactory(owner=organiser, name="Closed")
    Room.objects.filter(pk=closed.pk).update(closed_at=timezone.now())
    assert listed_codes(organiser_client.get(CHANGELIST + "?status=open")) == [open_room.code]
    assert listed_codes(organiser_client.get(CHANGELIST + "?status=expired")) == [expired.code]
    assert listed_codes(organiser_client.get(CHANGELIST + "?status=closed")) == [closed.code]


def test_room_changelist_search(organiser, organiser_client):
    hall = RoomFactory(owner=organiser, name="量子计算大会")
    other = RoomFactory(owner=organiser, name="Workshop")
    assert listed_codes(organiser_client.get(CHANGELIST + "?q=量子")) == [hall.code]
    assert listed_codes(organiser_client.get(CHANGELIST + f"?q={other.code}")) == [other.code]


def test_room_changelist_queries_fixed_with_1_and_3_rooms(organiser, organiser_client):
    RoomFactory(owner=organiser)
    organiser_client.get(CHANGELIST)  # warm the session and content-type caches
    with CaptureQueriesContext(connection) as one:
        assert organiser_client.get(CHANGELIST).status_code == 200
    RoomFactory(owner=organiser)
    RoomFactory(owner=organiser)
    with CaptureQueriesContext(connection) as three:
        assert len(organiser_client.get(CHANGELIST).context["cl"].result_list) == 3
    assert len(one.captured_queries) == len(three.captured_queries)


# --- add and change ------------------------------------------------------------------------


def test_room_add_by_organiser_goes_through_room_create(organiser, organiser_client):
    expires = timezone.now() + dt.timedelta(days=2)
    date, time = local_parts(expires.replace(microsecond=0))
    response = organiser_client.post(
        "/admin/rooms/room/add/",
        {
            "name": "  Opening night ",
            "announcement": "Doors at 7",
            "expires_at_0": date,
            "expires_at_1": time,
            "latitude": "",
            "longitude": "",
            "radius_m": "",
        },
    )
    room = Room.objects.get()
    assert response.status_code == 302
    # Straight to the new room's QR code.
    assert response["Location"] == f"/admin/rooms/room/{room.pk}/change/#qr"
    assert (room.name, room.owner, room.announcement, room.expires_at) == (
        "Opening night",
        organiser,
        "Doors at 7",
        expires.replace(microsecond=0),
    )
    assert len(room.code) == 8
    assert list(room.memberships.values_list("user", "role")) == [(organiser.pk, "owner")]


def test_room_add_superuser_chooses_owner(superuser_client, organiser):
    response = superuser_client.post(
        "/admin/rooms/room/add/",
        {
            "name": "For Org A",
            "owner": str(organiser.pk),
            "announcement": "",
            "expires_at_0": "",
            "expires_at_1": "",
            "latitude": "31.2",
            "longitude": "121.5",
            "radius_m": "300",
        },
    )
    assert response.status_code == 302
    room = Room.objects.get()
    assert (room.owner, room.expires_at, room.latitude, room.longitude, room.radius_m) == (
        organiser,
        None,
        31.2,
        121.5,
        300,
    )


def test_room_add_organiser_cannot_choose_owner(organiser, other_organiser, organiser_client):
    organiser_client.post(
        "/admin/rooms/room/add/",
        {"name": "Mine", "owner": str(other_organiser.pk), "expires_at_0": "", "expires_at_1": ""},
    )
    assert Room.objects.get().owner == organiser


def test_room_change_announcement_pushes_event(
    organiser, organiser_client, listen, django_capture_on_commit_callbacks
):
    room = RoomFactory(owner=organiser)
    live = listen(room)
    with django_capture_on_commit_callbacks(execute=True):
        response = organiser_client.post(
            change_url(room), room_form_data(room, announcement="Lunch at 12")
        )
    assert response.status_code == 302
    room.refresh_from_db()
    assert room.announcement == "Lunch at 12"
    assert live.frames(1) == [
        {
            "type": "announcement",
            "announcement": {
                "text": "Lunch at 12",
                "updated_at": room.announcement_updated_at.isoformat().replace("+00:00", "Z"),
            },
        }
    ]


def test_room_rename_pushes_room_updated_only(
    organiser, organiser_client, listen, django_capture_on_commit_callbacks
):
    room = RoomFactory(owner=organiser)
    live = listen(room)
    with django_capture_on_commit_callbacks(execute=True):
        response = organiser_client.post(change_url(room), room_form_data(room, name="Renamed"))
    assert response.status_code == 302
    room.refresh_from_db()
    assert room.name == "Renamed"
    assert live.frames(1) == [
        {
            "type": "room_updated",
            "room": {
                "name": "Renamed",
                "expires_at": room.expires_at.isoformat().replace("+00:00", "Z"),
                "slow_mode_seconds": 0,
                "posting": "everyone",
            },
        }
    ]
    assert ModerationAction.objects.get(room=room).detail == {"name": "Renamed"}


def test_room_change_expiry_and_geofence(organiser, organiser_client):
    room = RoomFactory(owner=organiser)
    expires = (timezone.now() + dt.timedelta(days=3)).replace(microsecond=0)
    date, time = local_parts(expires)
    data = room_form_data(
        room,
        expires_at_0=date,
        expires_at_1=time,
        latitude="39.9",
        longitude="116.4",
        radius_m="500",
    )
    assert organiser_client.post(change_url(room), data).status_code == 302
    room.refresh_from_db()
    assert (room.expires_at, room.latitude, room.longitude, room.radius_m) == (
        expires,
        39.9,
        116.4,
        500,
    )
    data = room_form_data(
        room, expires_at_0="", expires_at_1="", latitude="", longitude="", radius_m=""
    )
    assert organiser_client.post(change_url(room), data).status_code == 302
    room.refresh_from_db()
    assert (room.expires_at, room.latitude, room.longitude, room.radius_m) == (
        None,
        None,
        None,
        None,
    )


def test_room_change_half_a_geofence_is_a_form_error(organiser, organiser_client):
    room = RoomFactory(owner=organiser)
    response = organiser_client.post(change_url(room), room_form_data(room, latitude="39.9"))
    assert response.status_code == 200
    assert response.context["adminform"].form.non_field_errors() == [
        "A geofence needs a latitude, a longitude and a radius; leave all three empty for none."
    ]
    response = organiser_client.post(
        change_url(room), room_form_data(room, latitude="39.9", longitude="116.4", radius_m="5")
    )
    assert response.context["adminform"].form.non_field_errors() == [
        "Latitude must be between -90 and 90, longitude between -180 and 180, "
        "and the radius between 50 and 50000 m."
    ]


def test_room_change_past_expiry_is_a_form_error(organiser, organiser_client):
    room = RoomFactory(owner=organiser)
    date, time = local_parts(timezone.now() - dt.timedelta(hours=1))
    response = organiser_client.post(
        change_url(room), room_form_data(room, expires_at_0=date, expires_at_1=time)
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["expires_at"] == [
        "The expiry must be in the future and at most 30 days away."
    ]


def test_room_change_page_shows_qr_join_link_and_poster(organiser, organiser_client):
    room = RoomFactory(owner=organiser)
    content = organiser_client.get(change_url(room)).content.decode()
    assert f'<a href="http://testserver/r/{room.code}/" target="_blank"' in content
    assert f'<img src="/api/v1/rooms/{room.code}/qrcode.png?size=240"' in content
    assert f'href="/r/{room.code}/poster/"' in content
    assert f'href="/admin/history/message/?room__id__exact={room.pk}"' in content


def test_closed_room_change_page_is_read_only(organiser, organiser_client):
    room = RoomFactory(owner=organiser, name="Done")
    Room.objects.filter(pk=room.pk).update(closed_at=timezone.now())
    response = organiser_client.get(change_url(room))
    form = response.context["adminform"].form
    assert sorted(form.fields) == []


# --- members inline ------------------------------------------------------------------------


def test_member_inline_ban_pushes_events(
    organiser, organiser_client, listen, django_capture_on_commit_callbacks
):
    room = RoomFactory(owner=organiser)
    target = join(room, display_name="Troll")
    live = listen(room)
    data = room_form_data(room, members={target: {"banned": "on"}})
    with django_capture_on_commit_callbacks(execute=True):
        response = organiser_client.post(change_url(room), data)
    assert response.status_code == 302
    target.refresh_from_db()
    assert target.banned is True
    assert live.frames(3) == [
        {
            "type": "member_updated",
            "member_id": target.member_id,
            "role": "member",
            "muted_until": None,
            "banned": True,
        },
        {
            "type": "room.control",
            "action": "close_member",
            "user_id": str(target.user_id),
            "code": 4403,
        },
        {"type": "members", "count": 1},
    ]


def test_member_inline_role_and_mute(organiser, organiser_client):
    room = RoomFactory(owner=organiser)
    target = join(room, display_name="Helper")
    before = timezone.now()
    data = room_form_data(room, members={target: {"role": "moderator", "mute_minutes": "15"}})
    assert organiser_client.post(change_url(room), data).status_code == 302
    target.refresh_from_db()
    assert target.role == "moderator"
    assert (
        before + dt.timedelta(minutes=15)
        <= target.muted_until
        <= timezone.now() + dt.timedelta(minutes=15)
    )
    data = room_form_data(room, members={target: {"mute_minutes": "0"}})
    assert organiser_client.post(change_url(room), data).status_code == 302
    target.refresh_from_db()
    assert target.muted_until is None


def test_member_inline_renames_through_the_service(organiser, organiser_client):
    room = RoomFactory(owner=organiser)
    target = join(room, display_name="Rude name")
    data = room_form_data(room, members={target: {"display_name": "  Guest 7  "}})
    assert organiser_client.post(change_url(room), data).status_code == 302
    target.refresh_from_db()
    assert target.display_name == "Guest 7"
    data = room_form_data(room, members={target: {"display_name": "Bob\njoined"}})
    response = organiser_client.post(change_url(room), data)
    assert response.status_code == 200  # the form again, with the service's error
    target.refresh_from_db()
    assert target.display_name == "Guest 7"


def test_member_inline_owner_row_cannot_be_banned_or_demoted(organiser, organiser_client):
    room = RoomFactory(owner=organiser)
    owner_row = Membership.objects.get(room=room, user=organiser)
    data = room_form_data(room, members={owner_row: {"banned": "on", "role": "member"}})
    assert organiser_client.post(change_url(room), data).status_code == 302
    owner_row.refresh_from_db()
    assert (owner_row.role, owner_row.banned) == ("owner", False)


def test_member_inline_owner_role_choice_not_offered_to_members(organiser, organiser_client):
    room = RoomFactory(owner=organiser)
    target = join(room)
    data = room_form_data(room, members={target: {"role": "owner"}})
    response = organiser_client.post(change_url(room), data)
    assert response.status_code == 200
    target.refresh_from_db()
    assert target.role == "member"


def test_membership_change_page_bans_through_service(
    organiser, organiser_client, listen, django_capture_on_commit_callbacks
):
    room = RoomFactory(owner=organiser)
    target = join(room, display_name="Spammer")
    live = listen(room)
    with django_capture_on_commit_callbacks(execute=True):
        response = organiser_client.post(
            f"/admin/rooms/membership/{target.pk}/change/", {"role": "member", "banned": "on"}
        )
    assert response.status_code == 302
    assert live.frames(3) == [
        {
            "type": "member_updated",
            "member_id": target.member_id,
            "role": "member",
            "muted_until": None,
            "banned": True,
        },
        {
            "type": "room.control",
            "action": "close_member",
            "user_id": str(target.user_id),
            "code": 4403,
        },
        {"type": "members", "count": 1},
    ]


def test_membership_changelist_per_room(organiser, organiser_client):
    room = RoomFactory(owner=organiser)
    other = RoomFactory(owner=organiser)
    ann = join(room, display_name="Ann")
    join(other, display_name="Bo")
    response = organiser_client.get(f"/admin/rooms/membership/?room__id__exact={room.pk}")
    assert sorted(m.display_name for m in response.context["cl"].result_list) == sorted(
        ["Org A", ann.display_name]
    )


# --- actions -------------------------------------------------------------------------------


def test_room_action_close_now_pushes_room_closed(
    organiser, organiser_client, listen, django_capture_on_commit_callbacks
):
    room = RoomFactory(owner=organiser)
    live = listen(room)
    with django_capture_on_commit_callbacks(execute=True):
        response = organiser_client.post(
            CHANGELIST,
            {"action": "close_rooms", "_selected_action": [str(room.pk)], "confirmed": "yes"},
            follow=True,
        )
    room.refresh_from_db()
    assert room.closed_at is not None
    assert [str(m) for m in response.context["messages"]] == [
        "Closed 1 room. “Reopen” undoes it until a room's expiry."
    ]
    assert live.frames(1) == [{"type": "room_closed"}]


def test_room_action_extend_by_a_day(organiser, organiser_client):
    room = RoomFactory(owner=organiser)
    closed = RoomFactory(owner=organiser)
    Room.objects.filter(pk=closed.pk).update(closed_at=timezone.now())
    closed.refresh_from_db()
    before = room.expires_at
    response = organiser_client.post(
        CHANGELIST,
        {"action": "extend_rooms", "_selected_action": [str(room.pk), str(closed.pk)]},
        follow=True,
    )
    room.refresh_from_db()
    assert room.expires_at == before + dt.timedelta(days=1)
    assert Room.objects.get(pk=closed.pk).expires_at == closed.expires_at
    assert [str(m) for m in response.context["messages"]] == [
        "Extended 1 room by a day.",
        "Closed rooms stay closed.",
    ]


def test_room_action_export_csv_exact_bytes(organiser, organiser_client):
    room = RoomFactory(owner=organiser, name="Export")
    ann = join(room, display_name="Ann").user
    post(room, ann, '你好, "世界"')
    hidden = post(room, ann, "oops")
    history_services.message_set_hidden(message=hidden, hidden=True, actor=None)
    stamp = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)  # 11:04:05 in Asia/Shanghai
    Message.objects.filter(room=room).update(created_at=stamp)
    other = RoomFactory(owner=organiser)
    post(other, other.owner, "not exported")

    response = organiser_client.post(
        CHANGELIST, {"action": "export_history", "_selected_action": [str(room.pk)]}
    )
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="huiliao-{room.code}.csv"'
    code = room.code
    assert (
        b"".join(response.streaming_content)
        == (
            "\ufeffroom,seq,time,kind,sender,message,hidden\r\n"
            f"{code},1,2026-01-02 11:04:05,system,,Ann joined,\r\n"
            f'{code},2,2026-01-02 11:04:05,text,Ann,"你好, ""世界""",\r\n'
            f"{code},3,2026-01-02 11:04:05,text,Ann,oops,yes\r\n"
        ).encode()
    )


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_room_changelist_translated(organiser, organiser_client, language):
    RoomFactory(owner=organiser)
    content = organiser_client.get(
        CHANGELIST, headers={"accept-language": language}
    ).content.decode()
    if language == "zh-hans":
        for text in [
            "房间",
            "关闭…",
            "重新开放",
            "延长一天",
            "导出聊天记录（CSV）",
            "状态",
            "成员数",
            "已过期",
        ]:
            assert text in content, text
    else:
        for text in [
            "Rooms",
            "Close…",
            "Reopen (before expiry)",
            "Extend by a day",
            "Export history as CSV",
            "expired",
        ]:
            assert text in content, text


def test_member_inline_shows_the_50_who_joined_last(organiser, organiser_client):
    room = RoomFactory(owner=organiser)
    members = [join(room, display_name=f"m{index}") for index in range(51)]
    response = organiser_client.get(change_url(room))
    (formset,) = [f.formset for f in response.context["inline_admin_formsets"]]
    shown = [form.instance.display_name for form in formset.forms]
    assert shown == [m.display_name for m in reversed(members)][:50]
    data = room_form_data(room)
    # Post only what the page showed, as a browser would.
    rows = list(formset.get_queryset())
    data = {k: v for k, v in data.items() if not k.startswith("memberships-")}
    data.update(
        {
            "memberships-TOTAL_FORMS": "50",
            "memberships-INITIAL_FORMS": "50",
            "memberships-MIN_NUM_FORMS": "0",
            "memberships-MAX_NUM_FORMS": "0",
        }
    )
    for index, membership in enumerate(rows):
        data[f"memberships-{index}-id"] = str(membership.pk)
        data[f"memberships-{index}-room"] = str(room.pk)
        data[f"memberships-{index}-display_name"] = membership.display_name
        data[f"memberships-{index}-role"] = membership.role
    data["memberships-0-banned"] = "on"
    assert organiser_client.post(change_url(room), data).status_code == 302
    assert list(Membership.objects.filter(banned=True).values_list("display_name", flat=True)) == [
        "m50"
    ]


def test_membership_changelist_queries_fixed_with_1_and_3_members(organiser, organiser_client):
    room = RoomFactory(owner=organiser)  # the owner is the first member
    url = "/admin/rooms/membership/"
    organiser_client.get(url)
    with CaptureQueriesContext(connection) as one:
        assert len(organiser_client.get(url).context["cl"].result_list) == 1
    join(room)
    join(room)
    with CaptureQueriesContext(connection) as three:
        assert len(organiser_client.get(url).context["cl"].result_list) == 3
    assert len(one.captured_queries) == len(three.captured_queries)


def test_room_changelist_superuser_filters_by_owner(organiser, other_organiser, superuser_client):
    RoomFactory(owner=organiser)
    theirs = RoomFactory(owner=other_organiser)
    response = superuser_client.get(f"{CHANGELIST}?owner__id__exact={other_organiser.pk}")
    assert listed_codes(response) == [theirs.code]


def test_room_changelist_organiser_has_no_owner_filter(organiser, organiser_client):
    RoomFactory(owner=organiser)
    response = organiser_client.get(CHANGELIST)
    assert [spec.title for spec in response.context["cl"].filter_specs] == ["status"]


def test_room_add_form_defaults_to_the_same_expiry_as_new(organiser_client, settings):
    settings.HUILIAO_DEFAULT_ROOM_HOURS = 24
    form = organiser_client.get("/admin/rooms/room/add/").context["adminform"].form
    expires = form.initial["expires_at"]
    assert dt.timedelta(hours=23, minutes=58) < expires - timezone.now() <= dt.timedelta(hours=24)
