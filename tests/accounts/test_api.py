"""Guest login, sessions and CSRF, logout, /me, public profiles, errors and login throttles."""

import uuid

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts.models import User
from tests.accounts.helpers import OPENID, me_payload, public_payload
from tests.factories import StaffFactory, UserFactory, WechatUserFactory
from tests.helpers import api_client_for

NOT_AUTHENTICATED = {
    "detail": "Authentication credentials were not provided.",
    "code": "not_authenticated",
}


def invalid(field: str, message: str) -> dict:
    return {"detail": f"{field}: {message}", "code": "invalid", "errors": {field: [message]}}


# --- guest login and the browser session ------------------------------------------------


def test_guest_login_returns_token_and_user(db, api):
    response = api.post("/api/v1/auth/guest", {"nickname": "  Ann  "}, format="json")
    assert response.status_code == 201
    user = User.objects.get()
    assert (user.nickname, user.kind, user.openid) == ("Ann", "guest", None)
    assert not user.has_usable_password()
    assert response.json() == {"token": Token.objects.get(user=user).key, "user": me_payload(user)}


def test_guest_login_token_authenticates(db, api):
    token = api.post("/api/v1/auth/guest", {"nickname": "Ann"}, format="json").json()["token"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    response = client.get("/api/v1/me")
    assert response.status_code == 200
    assert response.json() == me_payload(User.objects.get())


@pytest.mark.parametrize(
    ("nickname", "message"),
    [
        ("", "This field may not be blank."),
        ("   ", "This field may not be blank."),
        ("x" * 33, "Ensure this field has no more than 32 characters."),
        ("Ann\x1b[31m", "Must not contain control characters."),
    ],
    ids=["empty", "spaces", "33-chars", "escape"],
)
def test_guest_login_bad_nickname_is_400(db, api, nickname, message):
    response = api.post("/api/v1/auth/guest", {"nickname": nickname}, format="json")
    assert response.status_code == 400
    assert response.json() == invalid("nickname", message)
    assert User.objects.count() == 0


def test_guest_login_logs_session_in_with_csrf(db):
    browser = APIClient(enforce_csrf_checks=True)
    login = browser.post("/api/v1/auth/guest", {"nickname": "Ann"}, format="json")
    assert login.status_code == 201
    assert "csrftoken" in login.cookies and "sessionid" in login.cookies
    user = User.objects.get()

    response = browser.get("/api/v1/me")
    assert response.status_code == 200
    assert response.json() == me_payload(user)

    # Unsafe methods on the session need the CSRF token, like any Django form.
    refused = browser.patch("/api/v1/me", {"nickname": "Bob"}, format="json")
    assert refused.status_code == 403
    assert refused.json() == {
        "detail": "CSRF Failed: CSRF token missing.",
        "code": "permission_denied",
    }
    user.refresh_from_db()
    assert user.nickname == "Ann"

    accepted = browser.patch(
        "/api/v1/me",
        {"nickname": "Bob"},
        format="json",
        HTTP_X_CSRFTOKEN=browser.cookies["csrftoken"].value,
    )
    assert accepted.status_code == 200
    user.refresh_from_db()
    assert accepted.json() == me_payload(user)
    assert user.nickname == "Bob"


def test_guest_login_with_stale_session_still_works(db):
    # Login endpoints ignore the session: an old, CSRF-less session must not block them.
    browser = APIClient(enforce_csrf_checks=True)
    browser.force_login(UserFactory())
    response = browser.post("/api/v1/auth/guest", {"nickname": "Ann"}, format="json")
    assert response.status_code == 201
    assert browser.get("/api/v1/me").json() == me_payload(User.objects.get(nickname="Ann"))


# --- logout -----------------------------------------------------------------------------


def test_logout_revokes_token(db, user):
    client = api_client_for(user)
    response = client.post("/api/v1/auth/logout")
    assert response.status_code == 204
    assert response.content == b""
    assert Token.objects.filter(user=user).count() == 0
    after = client.get("/api/v1/me")
    assert after.status_code == 401
    assert after.json() == {"detail": "Invalid token.", "code": "authentication_failed"}


def test_logout_ends_session(db):
    browser = APIClient(enforce_csrf_checks=True)
    browser.post("/api/v1/auth/guest", {"nickname": "Ann"}, format="json")
    response = browser.post(
        "/api/v1/auth/logout", HTTP_X_CSRFTOKEN=browser.cookies["csrftoken"].value
    )
    assert response.status_code == 204
    assert Token.objects.count() == 0
    after = browser.get("/api/v1/me")
    assert after.status_code == 401
    assert after.json() == NOT_AUTHENTICATED


def test_logout_session_without_csrf_is_403(db):
    browser = APIClient(enforce_csrf_checks=True)
    token = browser.post("/api/v1/auth/guest", {"nickname": "Ann"}, format="json").json()["token"]
    response = browser.post("/api/v1/auth/logout")
    assert response.status_code == 403
    assert response.json() == {
        "detail": "CSRF Failed: CSRF token missing.",
        "code": "permission_denied",
    }
    assert Token.objects.filter(key=token).exists()


# --- /me --------------------------------------------------------------------------------


def test_me_get_returns_own_profile(db):
    user = WechatUserFactory(openid=OPENID, nickname="Lin", avatar_url="https://a.example/1.png")
    response = api_client_for(user).get("/api/v1/me")
    assert response.status_code == 200
    assert response.json() == {
        "id": str(user.id),
        "nickname": "Lin",
        "avatar_url": "https://a.example/1.png",
        "kind": "wechat",
        "is_staff": False,
        "date_joined": me_payload(user)["date_joined"],
    }


@pytest.mark.parametrize(
    ("change", "nickname", "avatar_url"),
    [
        ({"nickname": "  Bob  "}, "Bob", "https://a.example/1.png"),
        ({"nickname": "b"}, "b", "https://a.example/1.png"),
        ({"nickname": " " + "界" * 32 + " "}, "界" * 32, "https://a.example/1.png"),
        ({"avatar_url": "http://b.example/2.png"}, "Ann", "http://b.example/2.png"),
        ({"avatar_url": "HTTPS://B.example/3.png"}, "Ann", "HTTPS://B.example/3.png"),
        ({"avatar_url": ""}, "Ann", ""),
        (
            {"nickname": "Cy", "avatar_url": "https://c.example/c.png"},
            "Cy",
            "https://c.example/c.png",
        ),
        ({}, "Ann", "https://a.example/1.png"),
    ],
    ids=[
        "trimmed",
        "one-char",
        "32-chars",
        "http",
        "upper-case-scheme",
        "clear-avatar",
        "both",
        "nothing",
    ],
)
def test_me_patch_valid_changes_profile(db, change, nickname, avatar_url):
    user = UserFactory(nickname="Ann", avatar_url="https://a.example/1.png")
    response = api_client_for(user).patch("/api/v1/me", change, format="json")
    assert response.status_code == 200
    user.refresh_from_db()
    assert (user.nickname, user.avatar_url) == (nickname, avatar_url)
    assert response.json() == me_payload(user)


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"nickname": ""}, "nickname", "This field may not be blank."),
        ({"nickname": "   "}, "nickname", "This field may not be blank."),
        ({"nickname": "x" * 33}, "nickname", "Ensure this field has no more than 32 characters."),
        ({"nickname": None}, "nickname", "This field may not be null."),
        ({"nickname": "a\nb"}, "nickname", "Must not contain control characters."),
        ({"avatar_url": "javascript:alert(1)"}, "avatar_url", "Only http(s) URLs are allowed."),
        (
            {"avatar_url": "ftp://files.example.com/a.png"},
            "avatar_url",
            "Only http(s) URLs are allowed.",
        ),
        (
            {"avatar_url": "data:image/png;base64,AAAA"},
            "avatar_url",
            "Only http(s) URLs are allowed.",
        ),
        ({"avatar_url": "https://"}, "avatar_url", "Enter a valid URL."),
        (
            {"avatar_url": "https://a.example/" + "x" * 500},
            "avatar_url",
            "Ensure this field has no more than 500 characters.",
        ),
    ],
    ids=[
        "empty",
        "spaces",
        "33-chars",
        "null",
        "newline",
        "javascript",
        "ftp",
        "data",
        "no-host",
        "too-long",
    ],
)
def test_me_patch_invalid_is_400(db, change, field, message):
    user = UserFactory(nickname="Ann", avatar_url="https://a.example/1.png")
    response = api_client_for(user).patch("/api/v1/me", change, format="json")
    assert response.status_code == 400
    assert response.json() == invalid(field, message)
    user.refresh_from_db()
    assert (user.nickname, user.avatar_url) == ("Ann", "https://a.example/1.png")


def test_me_patch_read_only_fields_are_ignored(db, user):
    before = me_payload(user)
    response = api_client_for(user).patch(
        "/api/v1/me",
        {"id": str(uuid.uuid4()), "kind": "staff", "is_staff": True, "openid": "oForged"},
        format="json",
    )
    assert response.status_code == 200
    user.refresh_from_db()
    assert response.json() == before == me_payload(user)
    assert (user.is_staff, user.kind, user.openid) == (False, "guest", None)


# --- public profiles --------------------------------------------------------------------


def test_user_get_returns_public_fields_only(db, user):
    other = WechatUserFactory(
        openid=OPENID,
        nickname="Lin",
        avatar_url="https://a.example/1.png",
        email="lin@example.com",
        is_staff=True,
    )
    response = api_client_for(user).get(f"/api/v1/users/{other.id}")
    assert response.status_code == 200
    assert response.json() == {
        "id": str(other.id),
        "nickname": "Lin",
        "avatar_url": "https://a.example/1.png",
        "kind": "wechat",
    }
    assert response.json() == public_payload(other)


def test_user_get_of_another_attendee_is_404_so_display_names_stay_unlinkable(db, user):
    attendee = WechatUserFactory(nickname="Lin", avatar_url="https://a.example/1.png")
    response = api_client_for(user).get(f"/api/v1/users/{attendee.id}")
    assert response.status_code == 404
    assert response.json() == {"detail": "No such user.", "code": "user_not_found"}
    # Staff (operators, organisers) and the attendee themselves still see it.
    for viewer in (StaffFactory(), attendee):
        response = api_client_for(viewer).get(f"/api/v1/users/{attendee.id}")
        assert response.status_code == 200
        assert response.json()["nickname"] == "Lin"


def test_user_get_unknown_is_404(db, user):
    response = api_client_for(user).get(f"/api/v1/users/{uuid.uuid4()}")
    assert response.status_code == 404
    assert response.json() == {"detail": "No such user.", "code": "user_not_found"}


def test_user_get_inactive_is_404(db, user):
    gone = UserFactory(is_active=False)
    response = api_client_for(user).get(f"/api/v1/users/{gone.id}")
    assert response.status_code == 404
    assert response.json() == {"detail": "No such user.", "code": "user_not_found"}


# --- unauthenticated --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/v1/me"),
        ("patch", "/api/v1/me"),
        ("get", "/api/v1/users/{id}"),
        ("post", "/api/v1/auth/logout"),
    ],
)
def test_accounts_endpoint_unauthenticated_is_401(db, api, user, method, path):
    response = getattr(api, method)(path.format(id=user.id), {}, format="json")
    assert response.status_code == 401
    assert response.json() == NOT_AUTHENTICATED
    assert response["WWW-Authenticate"] == "Token"


def test_accounts_endpoint_bad_token_is_401(db, api):
    api.credentials(HTTP_AUTHORIZATION="Token 0123456789abcdef0123456789abcdef01234567")
    response = api.get("/api/v1/me")
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid token.", "code": "authentication_failed"}


def test_accounts_endpoint_inactive_user_token_is_401(db):
    user = UserFactory()
    client = api_client_for(user)
    User.objects.filter(pk=user.pk).update(is_active=False)
    response = client.get("/api/v1/me")
    assert response.status_code == 401
    assert response.json() == {
        "detail": "User inactive or deleted.",
        "code": "authentication_failed",
    }


# --- login throttles --------------------------------------------------------------------


@pytest.fixture
def login_rate_2_per_minute(settings):
    # Through the setting, as an operator would (HUILIAO_LOGIN_RATE): the login throttle
    # reads it per request, so the override reaches it.
    rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "login": "2/min"}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}


def assert_throttled(response) -> None:
    assert response.status_code == 429
    retry_after = int(response["Retry-After"])
    assert 1 <= retry_after <= 60
    assert response.json() == {
        "detail": f"Request was throttled. Expected available in {retry_after} seconds.",
        "code": "throttled",
    }


def test_login_throttle_guest_over_rate_is_429(db, api, login_rate_2_per_minute):
    for name in ("a", "b"):
        assert api.post("/api/v1/auth/guest", {"nickname": name}, format="json").status_code == 201
    assert_throttled(api.post("/api/v1/auth/guest", {"nickname": "c"}, format="json"))
    assert User.objects.count() == 2


def test_login_throttle_shared_by_wechat_and_guest(db, api, wechat, login_rate_2_per_minute):
    wechat.login_ok()
    assert api.post("/api/v1/auth/wechat", {"code": "c1"}, format="json").status_code == 200
    assert api.post("/api/v1/auth/guest", {"nickname": "a"}, format="json").status_code == 201
    assert_throttled(api.post("/api/v1/auth/wechat", {"code": "c2"}, format="json"))
    assert len(wechat.requests) == 1


def test_login_throttle_ignores_forged_forwarded_for(db, api, login_rate_2_per_minute):
    # Without declared proxies the client's own X-Forwarded-For must not pick the bucket.
    for n in range(2):
        api.post(
            "/api/v1/auth/guest",
            {"nickname": "a"},
            format="json",
            HTTP_X_FORWARDED_FOR=f"10.0.0.{n}",
        )
    response = api.post(
        "/api/v1/auth/guest", {"nickname": "a"}, format="json", HTTP_X_FORWARDED_FOR="10.9.9.9"
    )
    assert_throttled(response)


def test_login_throttle_per_address(db, api, login_rate_2_per_minute):
    for _ in range(2):
        api.post("/api/v1/auth/guest", {"nickname": "a"}, format="json")
    assert_throttled(api.post("/api/v1/auth/guest", {"nickname": "a"}, format="json"))
    other = APIClient(REMOTE_ADDR="192.0.2.7")
    assert other.post("/api/v1/auth/guest", {"nickname": "b"}, format="json").status_code == 201


def test_login_throttle_does_not_limit_me(db, user, login_rate_2_per_minute):
    client = api_client_for(user)
    assert [client.get("/api/v1/me").status_code for _ in range(4)] == [200] * 4


# --- malformed requests -----------------------------------------------------------------


def test_login_malformed_json_is_400(db, api):
    response = api.post("/api/v1/auth/guest", data="{nickname", content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {
        "detail": "JSON parse error - "
        "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)",
        "code": "parse_error",
    }
    assert User.objects.count() == 0


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "text/plain"])
def test_login_form_post_is_415(db, api, content_type):
    # Only JSON is parsed, and a cross-site page can send JSON only after a CORS preflight
    # we never answer, so no other site can log a browser in as a guest.
    response = api.post("/api/v1/auth/guest", data="nickname=Ann", content_type=content_type)
    assert response.status_code == 415
    assert response.json() == {
        "detail": f'Unsupported media type "{content_type}" in request.',
        "code": "unsupported_media_type",
    }
    assert User.objects.count() == 0


# --- query counts -----------------------------------------------------------------------


def test_me_get_queries(db, user, django_assert_num_queries):
    client = api_client_for(user)
    with django_assert_num_queries(1):  # the token with its user
        assert client.get("/api/v1/me").status_code == 200


def test_user_get_queries(db, user, django_assert_num_queries):
    client = api_client_for(user)
    other = StaffFactory()
    with django_assert_num_queries(2):  # the token with its user, then the profile
        assert client.get(f"/api/v1/users/{other.id}").status_code == 200


def test_guest_login_queries(db, api, django_assert_num_queries):
    # Savepoint, user insert; session key check, savepoint, session insert, release;
    # last_login; token insert; release; then the session save after login: savepoint,
    # update, release.
    with django_assert_num_queries(12):
        assert api.post("/api/v1/auth/guest", {"nickname": "Ann"}, format="json").status_code == 201
