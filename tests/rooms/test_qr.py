import io
import os

import pytest
import zxingcpp
from django.core.files.storage import default_storage
from django.test import Client
from PIL import Image

from rooms import qr, services
from tests.factories import RoomFactory, UserFactory, join
from tests.helpers import api_client_for, missing_service


def decode(png: bytes) -> list[str]:
    return [barcode.text for barcode in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))]


@pytest.mark.parametrize("size", [200, 400, 1200])
def test_qrcode_png_holds_join_url(room, member, size):
    response = api_client_for(member).get(f"/api/v1/rooms/{room.code}/qrcode.png?size={size}")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    image = Image.open(io.BytesIO(response.content))
    assert image.width == size
    assert decode(response.content) == [f"http://testserver/r/{room.code}/"]


def test_qrcode_png_default_size_is_400(room, member):
    response = api_client_for(member).get(f"/api/v1/rooms/{room.code}/qrcode.png")
    assert Image.open(io.BytesIO(response.content)).width == 400


def test_qrcode_url_points_at_stored_png(room, member):
    response = api_client_for(member).get(f"/api/v1/rooms/{room.code}/qrcode")
    assert response.status_code == 200
    assert response.json() == {
        "url": f"http://testserver/media/qrcodes/{room.code}.png",
        "join_url": f"http://testserver/r/{room.code}/",
    }
    with default_storage.open(f"qrcodes/{room.code}.png", "rb") as handle:
        png = handle.read()
    assert decode(png) == [f"http://testserver/r/{room.code}/"]


def test_qrcode_uses_public_url_setting(settings, room, member):
    settings.HUILIAO_PUBLIC_URL = "https://chat.example.org"
    client = api_client_for(member)
    assert client.get(f"/api/v1/rooms/{room.code}/qrcode").json() == {
        "url": f"https://chat.example.org/media/qrcodes/{room.code}.png",
        "join_url": f"https://chat.example.org/r/{room.code}/",
    }
    png = client.get(f"/api/v1/rooms/{room.code}/qrcode.png").content
    assert decode(png) == [f"https://chat.example.org/r/{room.code}/"]


def test_qrcode_stored_once_and_redrawn_only_when_url_or_name_changes(settings, room, member):
    client = api_client_for(member)
    name = f"qrcodes/{room.code}.png"
    client.get(f"/api/v1/rooms/{room.code}/qrcode")
    first = default_storage.get_modified_time(name)
    client.get(f"/api/v1/rooms/{room.code}/qrcode")
    client.get(f"/api/v1/rooms/{room.code}/qrcode.png?size=300")
    assert default_storage.get_modified_time(name) == first
    assert default_storage.listdir("qrcodes") == ([], [f"{room.code}.png"])

    settings.HUILIAO_PUBLIC_URL = "https://chat.example.org"
    client.get(f"/api/v1/rooms/{room.code}/qrcode")
    with default_storage.open(name, "rb") as handle:
        image = Image.open(handle)
        assert image.info == {
            **image.info,
            qr.META_URL: f"https://chat.example.org/r/{room.code}/",
            qr.META_NAME: room.name,
        }
    services.room_update(room=room, name="新的名字", actor=None)
    client.get(f"/api/v1/rooms/{room.code}/qrcode")
    with default_storage.open(name, "rb") as handle:
        assert Image.open(handle).info[qr.META_NAME] == "新的名字"
    assert default_storage.listdir("qrcodes") == ([], [f"{room.code}.png"])


def test_qrcode_png_etag_answers_304(room, member):
    client = api_client_for(member)
    first = client.get(f"/api/v1/rooms/{room.code}/qrcode.png?size=300")
    again = client.get(
        f"/api/v1/rooms/{room.code}/qrcode.png?size=300", HTTP_IF_NONE_MATCH=first["ETag"]
    )
    assert (again.status_code, again.content) == (304, b"")


@pytest.mark.parametrize("size", ["199", "1201", "0", "-5", "abc", "4e2"])
def test_qrcode_png_size_out_of_bounds_is_400(room, member, size):
    response = api_client_for(member).get(f"/api/v1/rooms/{room.code}/qrcode.png?size={size}")
    assert response.status_code == 400
    assert response.json() == {
        "detail": "size must be an integer between 200 and 1200.",
        "code": "invalid_size",
    }


def test_qrcode_non_member_is_403(room):
    stranger = UserFactory()
    for path in ["qrcode", "qrcode.png"]:
        response = api_client_for(stranger).get(f"/api/v1/rooms/{room.code}/{path}")
        assert response.status_code == 403
        assert response.json() == {"detail": "Enter the room first.", "code": "not_member"}


def test_qrcode_anonymous_is_401(room):
    response = api_client_for(None).get(f"/api/v1/rooms/{room.code}/qrcode.png")
    assert response.status_code == 401
    assert response.json() == {
        "detail": "Authentication credentials were not provided.",
        "code": "not_authenticated",
    }


def test_qrcode_unknown_room_is_404(member):
    response = api_client_for(member).get("/api/v1/rooms/ZZZZZZZZ/qrcode")
    assert response.status_code == 404
    assert response.json() == {"detail": "No such room.", "code": "room_not_found"}


def test_qrcode_owner_and_superuser_read_it(room, user):
    root = UserFactory(is_staff=True, is_superuser=True)
    for reader in [user, root]:
        response = api_client_for(reader).get(f"/api/v1/rooms/{room.code}/qrcode")
        assert response.status_code == 200


def test_qrcode_banned_member_is_403(room):
    membership = join(room)
    services.membership_set_banned(membership=membership, banned=True, actor=None)
    response = api_client_for(membership.user).get(f"/api/v1/rooms/{room.code}/qrcode")
    assert response.json() == {"detail": "You have been removed from this room.", "code": "banned"}


def test_render_png_font_from_setting(settings):
    settings.HUILIAO_QR_FONT = "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc"
    if not os.path.exists(settings.HUILIAO_QR_FONT):
        missing_service("needs Debian's fonts-noto-cjk")
    qr._font_file.cache_clear()
    try:
        assert qr._font_file() == (settings.HUILIAO_QR_FONT, 0)
    finally:
        qr._font_file.cache_clear()


def test_render_png_chinese_caption_with_cjk_font():
    if qr._font_file() is None:
        missing_service("needs a font with Chinese glyphs (Debian's fonts-noto-cjk)")
    png = qr.render_png(
        url="https://chat.example.org/r/ABCDEFGH/", caption="第一届量子计算大会" * 8
    )
    assert decode(png) == ["https://chat.example.org/r/ABCDEFGH/"]


def test_render_png_without_cjk_font_falls_back(monkeypatch, settings):
    monkeypatch.setattr(qr, "FONT_CANDIDATES", [])
    monkeypatch.setattr(qr, "FONT_GLOBS", [])
    settings.HUILIAO_QR_FONT = ""
    qr._font_file.cache_clear()
    try:
        assert qr._font_file() is None
        png = qr.render_png(url="https://chat.example.org/r/ABCDEFGH/", caption="会聊 😀 Demo")
        assert decode(png) == ["https://chat.example.org/r/ABCDEFGH/"]
    finally:
        qr._font_file.cache_clear()


# --- the poster ----------------------------------------------------------------------------


def session_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def poster_qr_text(content: str) -> str:
    """What the poster's QR image (inline PNG, no caption) says when scanned."""
    import base64
    import re

    encoded = re.search(r'class="qr" src="data:image/png;base64,([^"]+)"', content).group(1)
    image = Image.open(io.BytesIO(base64.b64decode(encoded)))
    assert image.info.get(qr.META_NAME) == ""  # no caption drawn
    (code,) = zxingcpp.read_barcodes(image)
    return code.text


def test_poster_for_owner(user):
    room = RoomFactory(owner=user, name="量子计算大会")
    services.announcement_set(room=room, text="茶歇 15:30 <b>二楼</b>", actor=None)
    response = session_client(user).get(f"/r/{room.code}/poster/")
    assert response.status_code == 200
    content = response.content.decode()
    assert "<h1>量子计算大会</h1>" in content
    assert f'<p class="code" aria-label="Room code">{room.code}</p>' in content
    assert f'<p class="url">http://testserver/r/{room.code}/</p>' in content
    assert '<section class="announcement">茶歇 15:30 &lt;b&gt;二楼&lt;/b&gt;</section>' in content
    assert poster_qr_text(content) == f"http://testserver/r/{room.code}/"
    # The name once, in the heading: the inline QR image carries no caption.
    assert content.count("量子计算大会") == 2  # the <title> and the <h1>
    # Bilingual whatever the reader's language.
    assert "Scan to join, or open the link and enter the code" in content
    assert "扫码加入" in content
    assert "@page { size: A4 portrait" in content
    assert '<button type="button" data-print>Print</button>' in content
    assert '<script src="/static/huiliao/poster.js" defer></script>' in content
    assert "onclick" not in content  # the CSP forbids inline handlers


def test_poster_in_chinese(user):
    room = RoomFactory(owner=user)
    response = session_client(user).get(
        f"/r/{room.code}/poster/", headers={"accept-language": "zh-hans"}
    )
    assert "扫码加入，或打开链接并输入房间码" in response.content.decode()


def test_poster_superuser_may_print(room):
    root = UserFactory(is_staff=True, is_superuser=True)
    assert session_client(root).get(f"/r/{room.code}/poster/").status_code == 200


def test_poster_member_is_403(room, member):
    assert session_client(member).get(f"/r/{room.code}/poster/").status_code == 403


def test_poster_anonymous_goes_to_login(room):
    response = Client().get(f"/r/{room.code}/poster/")
    assert (response.status_code, response["Location"]) == (
        302,
        f"/admin/login/?next=/r/{room.code}/poster/",
    )


def test_poster_unknown_room_is_404(user):
    assert session_client(user).get("/r/ZZZZZZZZ/poster/").status_code == 404


# --- the mini-program code (accounts.wechat: stable_token, getwxacodeunlimit) ----------------


def wxacode(user, room):
    return api_client_for(user).get(f"/api/v1/rooms/{room.code}/wxacode")


def test_wxacode_is_asked_of_wechat_once_and_kept(room, member, wechat, settings):
    from django.core.files.storage import default_storage

    first = wxacode(member, room)
    assert first.status_code == 200
    name = f"wxacodes/{room.code}.png"
    assert first.json() == {"url": f"http://testserver{default_storage.url(name)}"}
    assert default_storage.open(name).read().startswith(b"\x89PNG")
    assert wechat.posts("/cgi-bin/stable_token")[0]["json"] == {
        "grant_type": "client_credential",
        "appid": settings.WECHAT_APPID,
        "secret": settings.WECHAT_SECRET,
        "force_refresh": False,
    }
    (call,) = wechat.posts("/wxa/getwxacodeunlimit")
    assert call["query"] == {"access_token": ["TOKEN-1"]}
    assert call["json"] == {
        "scene": room.code,
        "page": "pages/room/room",
        "env_version": "release",
        "check_path": True,
    }
    assert wxacode(member, room).json() == first.json()
    assert len(wechat.posts("/wxa/getwxacodeunlimit")) == 1


def test_one_access_token_serves_every_room_until_it_expires(member, wechat, settings):
    settings.WECHAT_MP_ENV = "trial"
    rooms = [RoomFactory(), RoomFactory()]
    for room in rooms:
        join(room, member)
        assert wxacode(member, room).status_code == 200
    assert len(wechat.posts("/cgi-bin/stable_token")) == 1
    calls = wechat.posts("/wxa/getwxacodeunlimit")
    assert [c["json"]["check_path"] for c in calls] == [False, False]  # not released yet
    assert [c["json"]["env_version"] for c in calls] == ["trial", "trial"]


def test_a_stale_token_is_replaced_once_and_never_in_a_loop(member, wechat):
    room = RoomFactory()
    join(room, member)
    wechat.queue("/wxa/getwxacodeunlimit", {"errcode": 40001, "errmsg": "invalid credential"})
    assert wxacode(member, room).status_code == 200
    tokens = wechat.posts("/cgi-bin/stable_token")
    assert [t["json"]["force_refresh"] for t in tokens] == [False, True]
    calls = wechat.posts("/wxa/getwxacodeunlimit")
    assert [c["query"]["access_token"] for c in calls] == [["TOKEN-1"], ["TOKEN-2"]]

    other = RoomFactory()
    join(other, member)
    for _ in range(2):
        wechat.queue("/wxa/getwxacodeunlimit", {"errcode": 42001, "errmsg": "expired"})
    refused = wxacode(member, other)
    assert refused.status_code == 502
    assert refused.json() == {
        "detail": "WeChat could not make the mini-program code (errcode 42001).",
        "code": "wechat_error",
    }
    assert len(wechat.posts("/cgi-bin/stable_token")) == 3  # one refresh per call, no loop


def test_wechat_refusals_are_502_and_nothing_is_kept(room, member, wechat):
    from django.core.files.storage import default_storage

    wechat.queue("/wxa/getwxacodeunlimit", {"errcode": 41030, "errmsg": "invalid page"})
    refused = wxacode(member, room)
    assert (refused.status_code, refused.json()["code"]) == (502, "wechat_error")
    assert "41030" in refused.json()["detail"]
    assert not default_storage.exists(f"wxacodes/{room.code}.png")


def test_wxacode_without_wechat_configured_is_503(room, member, settings):
    settings.WECHAT_APPID = ""
    response = wxacode(member, room)
    assert response.status_code == 503
    assert response.json() == {
        "detail": "WeChat is not configured.",
        "code": "wechat_not_configured",
    }


def test_wxacode_is_for_members_only(room, wechat):
    response = wxacode(UserFactory(), room)
    assert (response.status_code, response.json()["code"]) == (403, "not_member")
    assert wechat.requests == []


def test_poster_shows_the_mini_program_code_when_wechat_is_configured(user, wechat):
    room = RoomFactory(owner=user)
    content = session_client(user).get(f"/r/{room.code}/poster/").content.decode()
    assert f'<img src="/media/wxacodes/{room.code}.png" alt="Mini-program code">' in content
    assert poster_qr_text(content) == f"http://testserver/r/{room.code}/"


def test_poster_without_wechat_or_with_wechat_down_still_prints(user, wechat, settings, caplog):
    room = RoomFactory(owner=user)
    wechat.queue("/wxa/getwxacodeunlimit", {"errcode": 45009, "errmsg": "quota"})
    response = session_client(user).get(f"/r/{room.code}/poster/")
    assert response.status_code == 200
    assert "wxacodes/" not in response.content.decode()
    assert f"poster of {room.code} without its mini-program code: wechat_error" in caplog.text
    settings.WECHAT_APPID = ""
    assert "wxacodes/" not in session_client(user).get(f"/r/{room.code}/poster/").content.decode()
