"""Who is on a websocket: a mini-program token, or a browser session from our own origin.

A mini-program socket carries `Authorization: Token <key>` and no Origin header; it is
accepted on the token alone. A browser socket is authenticated by its session cookie,
which any web page could make the browser send, so it counts only when the Origin is one
of ours (ALLOWED_HOSTS or CSRF_TRUSTED_ORIGINS). Anything else is anonymous, and the
consumer refuses it with 4401.
"""

from urllib.parse import urlsplit

from channels.auth import AuthMiddleware
from channels.db import database_sync_to_async
from channels.sessions import CookieMiddleware, SessionMiddleware
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http.request import validate_host
from rest_framework.authtoken.models import Token


@database_sync_to_async
def user_for_token(key: str):
    token = Token.objects.select_related("user").filter(key=key).first()
    if token is None or not token.user.is_active:
        return AnonymousUser()
    return token.user


def origin_is_ours(origin: str) -> bool:
    if origin in settings.CSRF_TRUSTED_ORIGINS:
        return True
    parts = urlsplit(origin)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        return False
    return validate_host(parts.hostname, settings.ALLOWED_HOSTS)


def _header(scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin1")
    return None


class WebsocketAuthMiddleware:
    def __init__(self, inner):
        self.inner = inner
        self.session_auth = CookieMiddleware(SessionMiddleware(AuthMiddleware(inner)))

    async def __call__(self, scope, receive, send):
        authorization = _header(scope, b"authorization") or ""
        if authorization[:6].lower() == "token ":
            user = await user_for_token(authorization[6:].strip())
            return await self.inner(dict(scope, user=user, auth_method="token"), receive, send)
        origin = _header(scope, b"origin")
        if origin is not None and origin_is_ours(origin):
            return await self.session_auth(dict(scope, auth_method="session"), receive, send)
        return await self.inner(dict(scope, user=AnonymousUser(), auth_method=None), receive, send)
