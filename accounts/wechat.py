"""WeChat's `jscode2session`: trade a mini-program's `wx.login` code for an openid."""

import logging

import httpx
from django.conf import settings

from huiliao_site.errors import InvalidInput, ServiceUnavailable, UpstreamError

logger = logging.getLogger(__name__)

# errcodes that mean the code itself is bad (the client should call wx.login again).
INVALID_CODE_ERRCODES = {40029, 40163, 40226}
# User.openid's column width; a longer one would fail the insert with a database error.
OPENID_MAX_LENGTH = 64


def code_to_openid(*, code: str) -> str:
    if not settings.WECHAT_APPID or not settings.WECHAT_SECRET:
        raise ServiceUnavailable("WeChat login is not configured.", code="wechat_not_configured")
    params = {
        "appid": settings.WECHAT_APPID,
        "secret": settings.WECHAT_SECRET,
        "js_code": code,
        "grant_type": "authorization_code",
    }
    url = f"{settings.WECHAT_API_BASE}/sns/jscode2session"
    try:
        response = httpx.get(url, params=params, timeout=settings.WECHAT_TIMEOUT)
    except httpx.TimeoutException as exc:
        logger.warning("jscode2session timed out")
        raise UpstreamError("WeChat did not answer in time.", code="wechat_timeout") from exc
    except httpx.HTTPError as exc:
        logger.warning("jscode2session failed: %s", type(exc).__name__)
        raise UpstreamError("WeChat could not be reached.", code="wechat_unreachable") from exc
    try:
        data = response.json()
    except ValueError as exc:
        logger.warning(
            "jscode2session answered %s with a body that is not JSON", response.status_code
        )
        raise UpstreamError("WeChat answered with garbage.", code="wechat_bad_response") from exc
    if not isinstance(data, dict):
        logger.warning(
            "jscode2session answered %s with JSON that is not an object", response.status_code
        )
        raise UpstreamError("WeChat answered with garbage.", code="wechat_bad_response")
    errcode = data.get("errcode") or 0
    if not isinstance(errcode, int) or isinstance(errcode, bool):
        # WeChat documents an integer; anything else is not an answer we understand.
        logger.warning("jscode2session answered with a malformed errcode")
        raise UpstreamError("WeChat answered with garbage.", code="wechat_bad_response")
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
