"""WeChat login through the real httpx client against a local server speaking jscode2session."""

import socket

import pytest
from rest_framework.authtoken.models import Token

from accounts.models import User
from tests.accounts.helpers import APPID, OPENID, SECRET, me_payload
from tests.factories import WechatUserFactory

URL = "/api/v1/auth/wechat"


def assert_nobody_logged_in() -> None:
    assert User.objects.count() == 0
    assert Token.objects.count() == 0


def test_wechat_login_first_time_creates_user(db, api, wechat):
    wechat.login_ok()
    response = api.post(URL, {"code": "081aBcDe"}, format="json")
    assert response.status_code == 200
    user = User.objects.get()
    assert (user.openid, user.kind, user.nickname, user.avatar_url) == (
        OPENID,
        "wechat",
        "微信用户",
        "",
    )
    assert not user.has_usable_password()
    assert response.json() == {"token": Token.objects.get(user=user).key, "user": me_payload(user)}


def test_wechat_login_sends_jscode2session_query(db, api, wechat):
    wechat.login_ok()
    api.post(URL, {"code": "081aBcDe"}, format="json")
    assert wechat.requests == [
        {
            "method": "GET",
            "path": "/sns/jscode2session",
            "query": {
                "appid": [APPID],
                "secret": [SECRET],
                "js_code": ["081aBcDe"],
                "grant_type": ["authorization_code"],
            },
        }
    ]


def test_wechat_login_second_time_returns_same_user(db, api, wechat):
    wechat.login_ok()
    first = api.post(URL, {"code": "first-code"}, format="json").json()
    second = api.post(URL, {"code": "second-code"}, format="json")
    assert second.status_code == 200
    user = User.objects.get()
    assert (
        second.json()
        == first
        == {"token": Token.objects.get(user=user).key, "user": me_payload(user)}
    )


def test_wechat_login_with_profile_stores_it(db, api, wechat):
    wechat.login_ok()
    response = api.post(
        URL,
        {"code": "c", "nickname": "  Lin  ", "avatar_url": "https://thirdwx.qlogo.cn/a/132"},
        format="json",
    )
    user = User.objects.get()
    assert (user.nickname, user.avatar_url) == ("Lin", "https://thirdwx.qlogo.cn/a/132")
    assert response.json()["user"] == me_payload(user)


def test_wechat_login_again_with_profile_updates_it(db, api, wechat):
    existing = WechatUserFactory(openid=OPENID, nickname="Old")
    wechat.login_ok()
    response = api.post(URL, {"code": "c", "nickname": "New"}, format="json")
    existing.refresh_from_db()
    assert existing.nickname == "New"
    assert response.json() == {
        "token": Token.objects.get(user=existing).key,
        "user": me_payload(existing),
    }


def test_wechat_login_again_without_profile_keeps_it(db, api, wechat):
    existing = WechatUserFactory(
        openid=OPENID, nickname="Kept", avatar_url="https://a.example/1.png"
    )
    wechat.login_ok()
    response = api.post(URL, {"code": "c", "nickname": "  "}, format="json")
    existing.refresh_from_db()
    assert (existing.nickname, existing.avatar_url) == ("Kept", "https://a.example/1.png")
    assert response.json()["user"] == me_payload(existing)


def test_wechat_login_disabled_account_is_refused(db, api, wechat):
    WechatUserFactory(openid=OPENID, is_active=False)
    wechat.login_ok()
    response = api.post(URL, {"code": "c"}, format="json")
    assert response.status_code == 403
    assert response.json() == {"detail": "This account is disabled.", "code": "account_disabled"}
    assert Token.objects.count() == 0


def test_wechat_login_invalid_code_is_400(db, api, wechat):
    wechat.respond({"errcode": 40029, "errmsg": "invalid code, rid: 6543a1b2-1c2d3e4f"})
    response = api.post(URL, {"code": "used-twice"}, format="json")
    assert response.status_code == 400
    assert response.json() == {
        "detail": "The login code is invalid or was already used.",
        "code": "wechat_invalid_code",
    }
    assert_nobody_logged_in()


@pytest.mark.parametrize("errcode", [-1, 45011, 40013])
def test_wechat_login_other_errcode_is_502(db, api, wechat, errcode):
    wechat.respond({"errcode": errcode, "errmsg": "system error"})
    response = api.post(URL, {"code": "c"}, format="json")
    assert response.status_code == 502
    assert response.json() == {
        "detail": f"WeChat refused the login (errcode {errcode}).",
        "code": "wechat_error",
    }
    assert_nobody_logged_in()


def test_wechat_login_timeout_is_502(db, api, wechat, settings):
    settings.WECHAT_TIMEOUT = 0.2
    wechat.respond({"openid": OPENID}, delay=1.0)
    response = api.post(URL, {"code": "c"}, format="json")
    assert response.status_code == 502
    assert response.json() == {"detail": "WeChat did not answer in time.", "code": "wechat_timeout"}
    assert_nobody_logged_in()


@pytest.mark.parametrize(
    ("answer", "status"),
    [
        (b"<html><body>502 Bad Gateway</body></html>", 502),
        (b"", 200),
        (b'{"openid": "truncated', 200),
        (b'["not", "an", "object"]', 200),
        (b'{"errcode": "40029"}', 200),
    ],
    ids=["html", "empty", "truncated", "array", "string-errcode"],
)
def test_wechat_login_garbage_body_is_502(db, api, wechat, answer, status):
    wechat.respond(answer, status=status)
    response = api.post(URL, {"code": "c"}, format="json")
    assert response.status_code == 502
    assert response.json() == {
        "detail": "WeChat answered with garbage.",
        "code": "wechat_bad_response",
    }
    assert_nobody_logged_in()


@pytest.mark.parametrize(
    "answer",
    [{"session_key": "sk=="}, {"openid": ""}, {"openid": 12345}, {"openid": "o" * 65}],
    ids=["missing", "blank", "number", "too-long"],
)
def test_wechat_login_without_openid_is_502(db, api, wechat, answer):
    wechat.respond(answer)
    response = api.post(URL, {"code": "c"}, format="json")
    assert response.status_code == 502
    assert response.json() == {
        "detail": "WeChat answered without an openid.",
        "code": "wechat_bad_response",
    }
    assert_nobody_logged_in()


def test_wechat_login_unreachable_is_502(db, api, settings):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings.WECHAT_API_BASE = f"http://127.0.0.1:{port}"
    settings.WECHAT_APPID, settings.WECHAT_SECRET = APPID, SECRET
    response = api.post(URL, {"code": "c"}, format="json")
    assert response.status_code == 502
    assert response.json() == {
        "detail": "WeChat could not be reached.",
        "code": "wechat_unreachable",
    }
    assert_nobody_logged_in()


@pytest.mark.parametrize("missing", ["WECHAT_APPID", "WECHAT_SECRET"])
def test_wechat_login_not_configured_is_503(db, api, wechat, settings, missing):
    setattr(settings, missing, "")
    response = api.post(URL, {"code": "c"}, format="json")
    assert response.status_code == 503
    assert response.json() == {
        "detail": "WeChat login is not configured.",
        "code": "wechat_not_configured",
    }
    assert wechat.requests == []
    assert_nobody_logged_in()


def test_wechat_login_without_code_is_400(db, api, wechat):
    response = api.post(URL, {}, format="json")
    assert response.status_code == 400
    assert response.json() == {
        "detail": "code: This field is required.",
        "code": "invalid",
        "errors": {"code": ["This field is required."]},
    }
    assert wechat.requests == []


def test_wechat_login_with_ftp_avatar_is_400(db, api, wechat):
    wechat.login_ok()
    response = api.post(
        URL, {"code": "c", "avatar_url": "ftp://files.example.com/a.png"}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {
        "detail": "avatar_url: Only http(s) URLs are allowed.",
        "code": "invalid",
        "errors": {"avatar_url": ["Only http(s) URLs are allowed."]},
    }
    assert wechat.requests == []
    assert_nobody_logged_in()
