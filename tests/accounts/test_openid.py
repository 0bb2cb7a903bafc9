"""`openid` never leaves the server: no response body, header, log line or admin page."""

import logging

import pytest
from rest_framework.test import APIClient

from accounts.models import User
from tests.accounts.helpers import OPENID, SECRET
from tests.factories import StaffFactory, WechatUserFactory
from tests.helpers import api_client_for


@pytest.fixture
def logs(caplog):
    caplog.set_level(logging.DEBUG)
    return caplog


def assert_openid_absent(response, logs) -> None:
    assert OPENID not in response.content.decode()
    assert OPENID not in str(response.headers)
    assert OPENID not in logs.text
    for record in logs.records:
        # The formatted text above covers messages; args and exceptions might not be.
        assert OPENID not in record.getMessage()
        assert OPENID not in repr(record.args)
        assert OPENID not in (record.exc_text or "")


@pytest.fixture
def wechat_user(db):
    return WechatUserFactory(openid=OPENID, nickname="Lin")


def test_openid_absent_from_wechat_login_first_time(db, api, wechat, logs):
    wechat.login_ok()
    response = api.post("/api/v1/auth/wechat", {"code": "c"}, format="json")
    assert response.status_code == 200
    assert User.objects.get().openid == OPENID
    assert_openid_absent(response, logs)
    # Nor the app secret or the login code, which travel in jscode2session's URL.
    assert SECRET not in logs.text
    assert "081secretcode" not in logs.text


def test_openid_absent_from_wechat_login_again(wechat_user, api, wechat, logs):
    wechat.login_ok()
    response = api.post(
        "/api/v1/auth/wechat", {"code": "081secretcode", "nickname": "New"}, format="json"
    )
    assert response.status_code == 200
    assert_openid_absent(response, logs)
    assert SECRET not in logs.text
    assert "081secretcode" not in logs.text


@pytest.mark.parametrize(
    "answer",
    [
        {"errcode": 40029, "errmsg": f"invalid code for {OPENID}"},
        {"errcode": -1, "errmsg": "busy", "openid": OPENID},
        f"<html>openid={OPENID}</html>".encode(),
        [OPENID],
    ],
    ids=["invalid-code", "errcode", "garbage", "array"],
)
def test_openid_absent_from_wechat_login_failures(db, api, wechat, logs, answer):
    # Whatever WeChat echoes back in a failure is never passed on or logged.
    wechat.respond(answer)
    response = api.post("/api/v1/auth/wechat", {"code": "c"}, format="json")
    assert response.status_code in {400, 502}
    assert_openid_absent(response, logs)


def test_openid_absent_from_guest_login(wechat_user, logs):
    browser = APIClient()
    browser.force_login(wechat_user)
    response = browser.post("/api/v1/auth/guest", {"nickname": "Ann"}, format="json")
    assert response.status_code == 201
    assert_openid_absent(response, logs)


def test_openid_absent_from_me_get(wechat_user, logs):
    response = api_client_for(wechat_user).get("/api/v1/me")
    assert response.status_code == 200
    assert_openid_absent(response, logs)


@pytest.mark.parametrize(
    "change",
    [{"nickname": "Lin 2"}, {"nickname": ""}, {"openid": "oForged"}],
    ids=["valid", "invalid", "openid-field"],
)
def test_openid_absent_from_me_patch(wechat_user, logs, change):
    response = api_client_for(wechat_user).patch("/api/v1/me", change, format="json")
    assert response.status_code in {200, 400}
    assert_openid_absent(response, logs)
    wechat_user.refresh_from_db()
    assert wechat_user.openid == OPENID


def test_openid_absent_from_user_get(wechat_user, logs):
    response = api_client_for(StaffFactory()).get(f"/api/v1/users/{wechat_user.id}")
    assert response.status_code == 200
    assert_openid_absent(response, logs)


def test_openid_absent_from_user_get_of_self(wechat_user, logs):
    response = api_client_for(wechat_user).get(f"/api/v1/users/{wechat_user.id}")
    assert response.status_code == 200
    assert_openid_absent(response, logs)


def test_openid_absent_from_logout(wechat_user, logs):
    response = api_client_for(wechat_user).post("/api/v1/auth/logout")
    assert response.status_code == 204
    assert_openid_absent(response, logs)


def test_openid_absent_from_str_and_repr(wechat_user):
    assert OPENID not in str(wechat_user)
    assert OPENID not in repr(wechat_user)
    unnamed = WechatUserFactory(nickname="")
    assert unnamed.openid not in str(unnamed)


@pytest.mark.parametrize(
    "page",
    [
        "/admin/accounts/user/{id}/change/",
        "/admin/accounts/user/",
        "/admin/accounts/user/?q=Lin",
        "/admin/accounts/user/{id}/history/",
        "/admin/accounts/user/{id}/password/",
    ],
    ids=["change", "changelist", "search", "history", "password"],
)
def test_openid_absent_from_admin_pages(wechat_user, client, logs, page):
    client.force_login(StaffFactory(is_superuser=True))
    response = client.get(page.format(id=wechat_user.id))
    assert response.status_code == 200
    assert "Lin" in response.content.decode() or "password" in page
    assert_openid_absent(response, logs)
