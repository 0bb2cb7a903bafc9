"""Every call to WeChat's server API, through one client with timeouts:
`jscode2session` (a `wx.login` code for an openid), the shared access token
(`cgi-bin/stable_token`), the mini-program code (`wxa/getwxacodeunlimit`) and the
content check (`wxa/msg_sec_check`, version 2)."""

import logging
import time

import httpx
from django.conf import settings
from django.core.cache import cache

from huiliao_site.errors import InvalidInput, ServiceUnavailable, UpstreamError

logger = logging.getLogger(__name__)

# errcodes that mean the code itself is bad (the client should call wx.login again).
INVALID_CODE_ERRCODES = {40029, 40163, 40226}
# User.openid's column width; a longer one would fail the insert with a database error.
OPENID_MAX_LENGTH = 64


# errcodes that mean the access token is stale: fetch a fresh one, once.
STALE_TOKEN_ERRCODES = {40001, 42001}
TOKEN_CACHE_KEY = "wechat:access_token"  # noqa: S105 (a cache key, not a secret)
TOKEN_LOCK_KEY = "wechat:access_token:lock"  # noqa: S105 (a cache key, not a secret)
# Refresh this long before WeChat's expiry, so no call goes out with a token about to lapse.
TOKEN_MARGIN_SECONDS = 300


def _require_configured(detail: str = "WeChat is not configured.") -> None:
    if not settings.WECHAT_APPID or not settings.WECHAT_SECRET:
        raise ServiceUnavailable(detail, code="wechat_not_configured")


def _send(
    method: str, path: str, *, what: str, timeout: float | None = None, **kwargs
) -> httpx.Response:
    """One call to WeChat, with its timeout; network failures as 502s that say which."""
    url = f"{settings.WECHAT_API_BASE}{path}"
    try:
        return httpx.request(method, url, timeout=timeout or settings.WECHAT_TIMEOUT, **kwargs)
    except httpx.TimeoutException as exc:
        logger.warning("%s timed out", what)
        raise UpstreamError("WeChat did not answer in time.", code="wechat_timeout") from exc
    except httpx.HTTPError as exc:
        logger.warning("%s failed: %s", what, type(exc).__name__)
        raise UpstreamError("WeChat could not be reached.", code="wechat_unreachable") from exc


def _json_answer(response: httpx.Response, *, what: str) -> tuple[dict, int]:
    """WeChat's JSON answer and its errcode (0 for success); garbage is a 502."""
    try:
        data = response.json()
    except ValueError as exc:
        logger.warning("%s answered %s with a body that is not JSON", what, response.status_code)
        raise UpstreamError("WeChat answered with garbage.", code="wechat_bad_response") from exc
    if not isinstance(data, dict):
        logger.warning("%s answered %s with JSON that is not an object", what, response.status_code)
        raise UpstreamError("WeChat answered with garbage.", code="wechat_bad_response")
    errcode = data.get("errcode") or 0
    if not isinstance(errcode, int) or isinstance(errcode, bool):
        # WeChat documents an integer; anything else is not an answer we understand.
        logger.warning("%s answered with a malformed errcode", what)
        raise UpstreamError("WeChat answered with garbage.", code="wechat_bad_response")
    return data, errcode


def code_to_openid(*, code: str) -> str:
    _require_configured("WeChat login is not configured.")
    params = {
        "appid": settings.WECHAT_APPID,
        "secret": settings.WECHAT_SECRET,
        "js_code": code,
        "grant_type": "authorization_code",
    }
    what = "jscode2session"
    response = _send("GET", "/sns/jscode2session", what=what, params=params)
    data, errcode = _json_answer(response, what=what)
    if errcode:
        # Log the errcode only: the response may carry identifiers we must not log.
        logger.info("jscode2session errcode %s", errcode)
        if errcode in INVALID_CODE_ERRCODES:
            raise InvalidInput(
                "The login code is invalid or was already used.", code="wechat_invalid_code"
            )
        raise UpstreamError(f"WeChat refused the login (errcode {errcode}).", code="wechat_error")
    openid = data.get("openid")
    if not isinstance(openid, str) or not openid or len(openid) > OPENID_MAX_LENGTH:
        logger.warning("jscode2session answered without a usable openid")
        raise UpstreamError("WeChat answered without an openid.", code="wechat_bad_response")
    return openid


# --- the access token, shared by every process ---------------------------------------------


def access_token(*, force_refresh: bool = False) -> str:
    """WeChat's access token from `cgi-bin/stable_token`, kept in the cache (Redis when
    configured, so every process shares one) until shortly before it expires. One process
    refreshes it under a lock; the others wait for its result rather than asking WeChat
    too (each ask counts against the app's daily quota)."""
    _require_configured()
    if not force_refresh:
        cached = cache.get(TOKEN_CACHE_KEY)
        if cached:
            return cached
    deadline = time.monotonic() + settings.WECHAT_TIMEOUT + 1
    while not cache.add(TOKEN_LOCK_KEY, 1, timeout=int(settings.WECHAT_TIMEOUT) + 5):
        if time.monotonic() > deadline:
            raise UpstreamError("WeChat did not answer in time.", code="wechat_timeout")
        time.sleep(0.05)
        cached = cache.get(TOKEN_CACHE_KEY)
        if cached and not force_refresh:
            return cached
    try:
        return _fetch_access_token(force_refresh=force_refresh)
    finally:
        cache.delete(TOKEN_LOCK_KEY)


def _fetch_access_token(*, force_refresh: bool) -> str:
    what = "stable_token"
    body = {
        "grant_type": "client_credential",
        "appid": settings.WECHAT_APPID,
        "secret": settings.WECHAT_SECRET,
        "force_refresh": force_refresh,
    }
    data, errcode = _json_answer(
        _send("POST", "/cgi-bin/stable_token", what=what, json=body), what=what
    )
    token, expires_in = data.get("access_token"), data.get("expires_in")
    if errcode or not isinstance(token, str) or not token or not isinstance(expires_in, int):
        logger.info("stable_token errcode %s", errcode)
        raise UpstreamError(
            f"WeChat refused an access token (errcode {errcode}).", code="wechat_error"
        )
    cache.set(TOKEN_CACHE_KEY, token, timeout=max(60, expires_in - TOKEN_MARGIN_SECONDS))
    return token


def _post_with_token(
    path: str, body: dict, *, what: str, timeout: float | None = None
) -> httpx.Response:
    """POST with the shared access token; a stale token is replaced once, never in a loop."""
    token = access_token()
    response = _send(
        "POST", path, what=what, timeout=timeout, params={"access_token": token}, json=body
    )
    if _is_json(response):
        _data, errcode = _json_answer(response, what=what)
        if errcode in STALE_TOKEN_ERRCODES:
            token = access_token(force_refresh=True)
            response = _send(
                "POST", path, what=what, timeout=timeout, params={"access_token": token}, json=body
            )
    return response


def _is_json(response: httpx.Response) -> bool:
    kind = response.headers.get("content-type", "")
    return "json" in kind or "text/plain" in kind or response.content[:1] == b"{"


# --- the mini-program code ------------------------------------------------------------------


def wxacode_png(*, scene: str) -> bytes:
    """The mini-program code (`wxa/getwxacodeunlimit`) that opens WECHAT_MP_PAGE with
    `scene`: a PNG. WeChat's errors (45009 quota, 41030 page not published, 40097 bad
    argument…) become a 502 that names the errcode."""
    what = "getwxacodeunlimit"
    body = {
        "scene": scene,
        "page": settings.WECHAT_MP_PAGE,
        "env_version": settings.WECHAT_MP_ENV,
        # Outside release, the page need not be published yet.
        "check_path": settings.WECHAT_MP_ENV == "release",
    }
    response = _post_with_token("/wxa/getwxacodeunlimit", body, what=what)
    if response.status_code == 200 and response.content.startswith(b"\x89PNG"):
        return response.content
    _data, errcode = _json_answer(response, what=what)
    logger.info("getwxacodeunlimit errcode %s", errcode)
    raise UpstreamError(
        f"WeChat could not make the mini-program code (errcode {errcode}).", code="wechat_error"
    )


# --- the content check ----------------------------------------------------------------------

CHECK_PASS, CHECK_REVIEW, CHECK_RISKY = "pass", "review", "risky"
# msg_sec_check's scenes: 2 is a comment or a chat message.
CHECK_SCENE_CHAT = 2


def msg_sec_check(*, openid: str, content: str) -> str:
    """WeChat's verdict on a text a WeChat user wrote: "pass", "review" or "risky"
    (`wxa/msg_sec_check`, version 2, scene 2), within WECHAT_CHECK_TIMEOUT. Any failure
    (timeout, errcode, garbage) is an UpstreamError: the caller decides what it means."""
    what = "msg_sec_check"
    body = {"content": content, "version": 2, "scene": CHECK_SCENE_CHAT, "openid": openid}
    response = _post_with_token(
        "/wxa/msg_sec_check", body, what=what, timeout=settings.WECHAT_CHECK_TIMEOUT
    )
    data, errcode = _json_answer(response, what=what)
    result = data.get("result")
    suggest = result.get("suggest") if isinstance(result, dict) else None
    if errcode or suggest not in {CHECK_PASS, CHECK_REVIEW, CHECK_RISKY}:
        # The errcode only: the answer echoes the user's openid.
        logger.info("msg_sec_check errcode %s", errcode)
        raise UpstreamError(
            f"WeChat could not check this text (errcode {errcode}).", code="wechat_error"
        )
    return suggest
