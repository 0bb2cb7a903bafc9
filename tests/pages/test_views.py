"""The browser pages through Django's test client: what each visitor is shown, the data
handed to the page script, CSP and CSRF, and creating a room at /new/."""

import datetime as dt
import json
import re

import pytest
from django.test import Client
from django.utils import timezone

from rooms.models import Room
from rooms.services import Geofence
from tests.factories import RoomFactory, StaffFactory, UserFactory, join

pytestmark = pytest.mark.django_db


def page_data(response) -> dict:
    match = re.search(
        r'<script id="page-data" type="application/json">(.*?)</script>',
        response.content.decode(),
        re.S,
    )
    assert match, "no page-data element"
    return json.loads(match.group(1))


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_home_csp_forbids_inline_scripts():
    response = Client().get("/")
    policy = response["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["script-src"] == "'self'"
    assert directives["default-src"] == "'self'"
    assert directives["object-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe" not in directives["script-src"] + directives["default-src"]
    html = response.content.decode()
    # Every <script> is either an external file or JSON data, never inline code.
    for tag in re.findall(r"<script[^>]*>", html):
        assert 'src="/static/' in tag or 'type="application/json"' in tag, tag


def test_home_join_by_code_redirects_to_room():
    room = RoomFactory()
    client = Client(enforce_csrf_checks=True)
    client.get("/")
    token = client.cookies["csrftoken"].value
    response = client.post("/", {"code": f" {room.code.lower()} ", "csrfmiddlewaretoken": token})
    assert (response.status_code, response["Location"]) == (302, f"/r/{room.code}/")


def test_home_join_without_csrf_token_is_refused():
    room = RoomFactory()
    response = Client(enforce_csrf_checks=True).post("/", {"code": room.code})
    assert response.status_code == 403


def test_home_join_by_unknown_code_shows_error():
    response = Client().post("/", {"code": "ZZZZZZZZ"})
    assert response.status_code == 200
    assert "There is no room with this code." in response.content.decode()


def test_home_join_by_malformed_code_shows_error():
    response = Client().post("/", {"code": "abc"})
    assert "A room code has 8 letters and digits" in response.content.decode()


def test_home_in_chinese_from_accept_language():
    response = Client().get("/", HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9")
    html = response.content.decode()
    assert '<html lang="zh-hans">' in html
    assert "输入房间号" in html
    assert page_data(response)["strings"]["members_many"] == "%(count)s 人"


def test_room_page_unknown_code_is_404():
    response = Client().get("/r/ZZZZZZZZ/")
    assert response.status_code == 404
    assert "No such room" in response.content.decode()


def test_room_page_lowercase_code_redirects():
    room = RoomFactory()
    response = Client().get(f"/r/{room.code.lower()}/")
    assert (response.status_code, response["Location"]) == (302, f"/r/{room.code}/")


def test_room_page_anonymous_gets_nickname_prompt_and_no_history():
    room = RoomFactory(name="Main hall")
    response = Client().get(f"/r/{room.code}/")
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="join-form"' in html and "Choose a nickname" in html
    assert 'id="messages"' not in html
    assert "csrftoken" in response.cookies
    data = page_data(response)
    assert data == {
        "code": room.code,
        "name": "Main hall",
        "status": "open",
        "geofence": None,
        "needs_location": False,
        "member_count": 1,
        "slow_mode_seconds": 0,
        "posting": "everyone",
        "announcement": None,
        "me": None,
        "can_read": False,
        "banned": False,
        "urls": {
            "room": f"/api/v1/rooms/{room.code}",
            "enter": f"/api/v1/rooms/{room.code}/enter",
            "leave": f"/api/v1/rooms/{room.code}/leave",
            "messages": f"/api/v1/rooms/{room.code}/messages",
            "qrcode": f"/api/v1/rooms/{room.code}/qrcode",
            "members": f"/api/v1/rooms/{room.code}/members",
            "announcement": f"/api/v1/rooms/{room.code}/announcement",
            "close": f"/api/v1/rooms/{room.code}/close",
            "reopen": f"/api/v1/rooms/{room.code}/reopen",
            "reports": f"/api/v1/rooms/{room.code}/reports",
            "questions": f"/api/v1/rooms/{room.code}/questions",
            "search": f"/api/v1/rooms/{room.code}/messages/search",
            "me_in_room": f"/api/v1/rooms/{room.code}/me-in-room",
            "contacts": f"/api/v1/rooms/{room.code}/contacts",
            "screen": None,
            "join": f"http://testserver/r/{room.code}/",
            "guest": "/api/v1/auth/guest",
            "socket": f"/ws/rooms/{room.code}/",
            "poster": f"/r/{room.code}/poster/",
        },
        "strings": data["strings"],
    }


def test_room_page_geofenced_room_explains_location():
    room = RoomFactory(geofence=Geofence(latitude=31.23, longitude=121.47, radius_m=300))
    response = Client().get(f"/r/{room.code}/")
    html = response.content.decode()
    assert "This room is only for people at the venue." in html
    assert "within 300 m of the venue" in html
    assert "Share my location and join" in html
    data = page_data(response)
    assert (data["geofence"], data["needs_location"]) == ({"radius_m": 300}, True)


def test_room_page_owner_is_not_asked_for_location():
    owner = UserFactory()
    room = RoomFactory(
        owner=owner, geofence=Geofence(latitude=31.23, longitude=121.47, radius_m=300)
    )
    data = page_data(logged_in(owner).get(f"/r/{room.code}/"))
    assert data["needs_location"] is False


def test_room_page_member_gets_chat_with_their_data():
    room = RoomFactory(name="Main hall")
    membership = join(room, display_name="Ann")
    response = logged_in(membership.user).get(f"/r/{room.code}/")
    html = response.content.decode()
    assert 'id="messages"' in html and 'id="composer"' in html
    assert 'id="join-form"' not in html
    assert 'id="share-button"' not in html
    data = page_data(response)
    assert data["me"] == {
        "member_id": membership.member_id,
        "nickname": membership.user.public_name,
        "display_name": "Ann",
        "avatar": membership.avatar,
        "is_member": True,
        "can_manage": False,
        "can_moderate": False,
        "role": "member",
        "muted_until": None,
    }
    assert (data["can_read"], data["member_count"]) == (True, 2)
    assert data["announcement"] == {"text": "", "updated_at": None}


def test_room_page_member_gets_avatar_picker_never_account_photo():
    room = RoomFactory(name="Main hall")
    photo = "https://thirdwx.qlogo.cn/mmopen/vi_32/SecretFace/132"
    membership = join(room, UserFactory(avatar_url=photo), display_name="Ann")
    html = logged_in(membership.user).get(f"/r/{room.code}/").content.decode()
    keys = re.findall(r'<input type="radio" name="avatar" value="([a-z]+)">', html)
    assert keys == ["sun", "moon", "star", "leaf", "wave", "cloud", "flower", "mountain"]
    assert all(f'src="/static/huiliao/avatars/{key}.svg"' in html for key in keys)
    assert photo not in html


def test_room_page_owner_gets_qr_and_poster_link():
    owner = StaffFactory()
    room = RoomFactory(owner=owner)
    html = logged_in(owner).get(f"/r/{room.code}/").content.decode()
    assert 'id="share-button"' in html
    assert f'href="/r/{room.code}/poster/"' in html


def test_room_page_superuser_joins_open_room_and_reads_closed_one():
    superuser = UserFactory(is_superuser=True, is_staff=True)
    room = RoomFactory()
    client = logged_in(superuser)
    data = page_data(client.get(f"/r/{room.code}/"))
    assert (data["can_read"], data["needs_location"], data["me"]["can_manage"]) == (
        False,
        False,
        True,
    )
    Room.objects.filter(pk=room.pk).update(closed_at=timezone.now())
    data = page_data(client.get(f"/r/{room.code}/"))
    assert (data["status"], data["can_read"]) == ("closed", True)


def test_room_page_left_member_is_asked_to_join_again():
    from history.services import member_leave

    room = RoomFactory()
    membership = join(room, display_name="Ann")
    member_leave(room=room, user=membership.user)
    response = logged_in(membership.user).get(f"/r/{room.code}/")
    html = response.content.decode()
    assert 'id="join-form"' in html and "Your name in this room" in html
    assert 'value="' + membership.user.public_name + '"' in html
    assert page_data(response)["can_read"] is False


def test_room_page_expired_room_is_read_only_for_members():
    room = RoomFactory()
    membership = join(room)
    Room.objects.filter(pk=room.pk).update(expires_at=timezone.now() - dt.timedelta(minutes=1))
    response = logged_in(membership.user).get(f"/r/{room.code}/")
    html = response.content.decode()
    assert page_data(response)["status"] == "expired"
    assert "This room has expired. You can still read its history" in html


def test_room_page_closed_room_tells_outsiders_it_ended():
    room = RoomFactory(closed_at=timezone.now())
    html = Client().get(f"/r/{room.code}/").content.decode()
    assert "This room has ended, so no one can join it any more." in html
    assert 'id="join-form"' not in html


def test_room_page_banned_member_is_told():
    room = RoomFactory()
    membership = join(room)
    membership.banned = True
    membership.save(update_fields=["banned"])
    html = logged_in(membership.user).get(f"/r/{room.code}/").content.decode()
    assert "You have been removed from this room." in html
    assert 'id="join-form"' not in html


def test_room_page_escapes_room_name():
    room = RoomFactory(name="<script>alert(1)</script>")
    html = Client().get(f"/r/{room.code}/").content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    # In the JSON data too: json_script escapes <, > and &.
    assert "\\u003Cscript\\u003Ealert(1)\\u003C/script\\u003E" in html


def test_room_page_never_shows_openid():
    from tests.factories import WechatUserFactory

    owner = WechatUserFactory()
    room = RoomFactory(owner=owner)
    html = logged_in(owner).get(f"/r/{room.code}/").content.decode()
    assert owner.openid not in html


def test_new_room_requires_staff_login():
    response = Client().get("/new/")
    assert (response.status_code, response["Location"]) == (302, "/admin/login/?next=/new/")
    response = logged_in(UserFactory()).get("/new/")
    assert response.status_code == 302


def test_new_room_creates_room_and_redirects():
    staff = StaffFactory()
    before = timezone.now()
    response = logged_in(staff).post("/new/", {"name": "  Hall A  ", "expiry": "3d"})
    room = Room.objects.get()
    assert (response.status_code, response["Location"]) == (302, f"/r/{room.code}/")
    assert (room.name, room.owner, room.radius_m) == ("Hall A", staff, None)
    assert dt.timedelta(days=3) <= room.expires_at - before < dt.timedelta(days=3, minutes=1)


def test_new_room_with_geofence():
    staff = StaffFactory()
    logged_in(staff).post(
        "/new/",
        {
            "name": "Hall B",
            "expiry": "never",
            "use_geofence": "on",
            "latitude": "31.2304",
            "longitude": "121.4737",
            "radius_m": "250",
        },
    )
    room = Room.objects.get()
    assert (room.expires_at, room.latitude, room.longitude, room.radius_m) == (
        None,
        31.2304,
        121.4737,
        250,
    )


def test_new_room_geofence_without_location_is_refused():
    staff = StaffFactory()
    response = logged_in(staff).post(
        "/new/", {"name": "Hall C", "expiry": "1d", "use_geofence": "on", "radius_m": "250"}
    )
    assert response.status_code == 200
    assert "Use your current location to set the venue" in response.content.decode()
    assert not Room.objects.exists()


def test_new_room_needs_csrf_token():
    staff = StaffFactory()
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff)
    response = client.post("/new/", {"name": "Hall D", "expiry": "1d"})
    assert response.status_code == 403
    assert not Room.objects.exists()


@pytest.mark.parametrize("typed", ["k7m2-qx9p", "K7M2 QX9P", " k7m2qx9p "])
def test_the_code_box_takes_dashes_and_spaces(typed):
    room = RoomFactory()
    code = room.code.lower()
    variant = (
        typed.replace("k7m2", code[:4])
        .replace("qx9p", code[4:])
        .replace("K7M2", code[:4].upper())
        .replace("QX9P", code[4:].upper())
    )
    response = Client().post("/", {"code": variant})
    assert (response.status_code, response["Location"]) == (302, f"/r/{room.code}/")


def test_the_home_page_has_a_way_in_for_organisers():
    html = Client().get("/").content.decode()
    assert 'href="/new/"' in html and 'href="/admin/"' in html
