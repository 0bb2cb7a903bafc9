"""Who is on a websocket: a mini-program token, or a browser session from our own origin.

A mini-program socket carries `Authorization: Token <key>` and no Origin header; it is
accepted on the token alone (a browser cannot set that header on a websocket, so no web
page can forge it). A browser socket is authenticated by its session cookie, which any web
page could make the browser send, so it counts only when the Origin is one of ours: the
page's own host (Origin host equals the Host header), a host in ALLOWED_HOSTS, or an entry
of CSRF_TRUSTED_ORIGINS. Anything else is anonymous, and the consumer refuses it with 4401.

The middleware sets `scope["user"]` (always resolved, never lazy) and
`scope["auth_method"]`: "token" or "session" for a known user, None for anonymous.
"""

from urllib.parse import urlsplit

from channels.auth import get_user
from channels.db import database_sync_to_async
from channels.sessions import CookieMiddleware, SessionMiddleware
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http.request import split_domain_port, validate_host
from django.utils.http import is_same_domain
from rest_framework.authtoken.models import Token


@database_sync_to_async
def user_for_token(key: str):
    if "\x00" in key:  # no token holds one, and PostgreSQL would refuse the query
        return AnonymousUser()
    token = Token.objects.select_related("user").filter(key=key).first()
    if token is None or not token.user.is_active:
        return AnonymousUser()
    return token.user


def _trusted_origin(origin: str, parts) -> bool:
    for trusted in settings.CSRF_TRUSTED_ORIGINS:
        if origin == trusted:
            return True
        # Django's CSRF check allows "https://*.example.com"; honour the same entries.
        trusted_parts = urlsplit(trusted)
        if (
            "*" in trusted_parts.netloc
            and trusted_parts.scheme == parts.scheme
            and is_same_domain(parts.netloc, trusted_parts.netloc.replace("*", "", 1))
        ):
            return True
    return False


def origin_is_ours(origin: str, host: str | None = None) -> bool:
    """Whether a browser page at `origin` may use our session cookie on a socket to `host`."""
    parts = urlsplit(origin)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        return False
    if _trusted_origin(origin, parts):
        return True
    # The page talks to the host that served it: same origin, whatever ALLOWED_HOSTS says.
    # (Host itself was not checked against ALLOWED_HOSTS by anyone on a websocket.)
    if host and parts.netloc.lower() == host.lower():
        domain, _port = split_domain_port(host)
        return validate_host(domain, settings.ALLOWED_HOSTS)
    # A "*" in ALLOWED_HOSTS accepts any Host header, which must not make every web page
    # on the internet one of our origins.
    return validate_host(parts.hostname, [h for h in settings.ALLOWED_HOSTS if h != "*"])


def _header(scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin1")
    return None


class WebsocketAuthMiddleware:
    def __init__(self, inner):
        self.inner = inner
        self.with_session = CookieMiddleware(SessionMiddleware(self._session_user))

    async def __call__(self, scope, receive, send):
        authorization = _header(scope, b"authorization") or ""
        if authorization[:6].lower() == "token ":
            user = await user_for_token(authorization[6:].strip())
            return await self._inner(scope, user, "token", receive, send)
        origin = _header(scope, b"origin")
        if origin is not None and origin_is_ours(origin, _header(scope, b"host")):
            return await self.with_session(scope, receive, send)
        return await self._inner(scope, AnonymousUser(), None, receive, send)

    async def _session_user(self, scope, receive, send):
        user = await get_user(scope)
        return await self._inner(scope, user, "session", receive, send)

    async def _inner(self, scope, user, method, receive, send):
        method = method if user.is_authenticated else None
        return await self.inner(dict(scope, user=user, auth_method=method), receive, send)
