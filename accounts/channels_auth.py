"""Who is on a websocket: a mini-program token, or a browser session from our own origin.

A mini-program socket carries `Authorization: Token <key>` and no Origin header; it is
accepted on the token alone (a browser cannot set that header on a websocket, so no web
page can forge it). A browser socket is authenticated by its session cookie, which any web
page could make the browser send, so it counts only when the Origin is one of ours: the
page's own host (Origin host equals the Host header), a host in ALLOWED_HOSTS, or an entry
of CSRF_TRUSTED_ORIGINS. Anything else carries no credentials, and the consumer refuses it
with 4401.

The middleware does no database work and does not wrap the ASGI `send` (a wrapper would
hide the server's connection from the room hub's fast path): it only reads headers and
sets `scope["credentials"]`, a `Credentials` or None. The consumer resolves them in the
same query that reads the room and the membership (`history.selectors.socket_open`).
"""

from dataclasses import dataclass
from importlib import import_module
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http.cookie import parse_cookie
from django.http.request import split_domain_port, validate_host
from django.utils.crypto import constant_time_compare
from django.utils.http import is_same_domain

from accounts.models import User

TOKEN = "token"  # noqa: S105 (a method name, not a secret)
SESSION = "session"


@dataclass(frozen=True)
class Credentials:
    method: str  # TOKEN or SESSION
    secret: str  # the token key, or the session key


@dataclass(frozen=True)
class UserLookup:
    """How to find the user named by some credentials inside the caller's own query."""

    condition: Q
    session_hash: str | None  # a session must still carry the user's auth hash


def user_lookup(credentials: Credentials, prefix: str = "") -> UserLookup | None:
    """None: the credentials name nobody. A session costs one query (its row); a token
    none (it joins into the caller's query)."""
    if "\x00" in credentials.secret:  # no key holds one, and PostgreSQL refuses it in a query
        return None
    if credentials.method == TOKEN:
        condition = Q(**{f"{prefix}auth_token__key": credentials.secret})
        return UserLookup(condition & Q(**{f"{prefix}is_active": True}), None)
    session = import_module(settings.SESSION_ENGINE).SessionStore(credentials.secret)
    user_id = session.get(SESSION_KEY)
    if user_id is None or session.get(BACKEND_SESSION_KEY) not in settings.AUTHENTICATION_BACKENDS:
        return None
    try:
        user_id = User._meta.pk.to_python(user_id)
    except ValidationError:
        return None
    condition = Q(**{f"{prefix}pk": user_id, f"{prefix}is_active": True})
    return UserLookup(condition, session.get(HASH_SESSION_KEY) or "")


def user_verify(lookup: UserLookup, user: User) -> bool:
    """A session must carry the user's current auth hash (a password change ends it), as
    Django's own `get_user` checks."""
    if lookup.session_hash is None:
        return True
    if constant_time_compare(lookup.session_hash, user.get_session_auth_hash()):
        return True
    return any(
        constant_time_compare(lookup.session_hash, fallback)
        for fallback in user.get_session_auth_fallback_hash()
    )


def user_for_credentials(credentials: Credentials | None) -> User | AnonymousUser:
    """The user some credentials name, or AnonymousUser."""
    lookup = user_lookup(credentials) if credentials is not None else None
    user = User.objects.filter(lookup.condition).first() if lookup is not None else None
    if user is None or not user_verify(lookup, user):
        return AnonymousUser()
    return user


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


def origin_is_ours(origin: str, host: str | None = None, *, secure: bool = False) -> bool:
    """Whether a browser page at `origin` may use our session cookie on a socket to `host`.

    As Django's CSRF origin check: the page's scheme, host and port must be the socket's
    own (https for a wss socket), with the host one of ALLOWED_HOSTS, or the origin one of
    CSRF_TRUSTED_ORIGINS. Another port or scheme of an allowed name is another origin."""
    parts = urlsplit(origin)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        return False
    if _trusted_origin(origin, parts):
        return True
    if not host:
        return False
    domain, _port = split_domain_port(host)
    # A "*" in ALLOWED_HOSTS accepts any Host header; the origin must still be that host.
    if not validate_host(domain, settings.ALLOWED_HOSTS):
        return False
    expected = f"{'https' if secure else 'http'}://{host}"
    return origin.lower() == expected.lower()


def socket_is_secure(scope) -> bool:
    """wss, directly or (only behind our own proxy) as X-Forwarded-Proto says."""
    if scope.get("scheme") == "wss":
        return True
    if settings.REST_FRAMEWORK.get("NUM_PROXIES", 0) > 0:
        return (_header(scope, b"x-forwarded-proto") or "").lower() == "https"
    return False


def _header(scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin1")
    return None


def credentials_from_scope(scope) -> Credentials | None:
    authorization = _header(scope, b"authorization") or ""
    if authorization[:6].lower() == "token ":
        key = authorization[6:].strip()
        return Credentials(TOKEN, key) if key else None
    origin = _header(scope, b"origin")
    secure = socket_is_secure(scope)
    if origin is None or not origin_is_ours(origin, _header(scope, b"host"), secure=secure):
        return None
    session_key = parse_cookie(_header(scope, b"cookie") or "").get(settings.SESSION_COOKIE_NAME)
    return Credentials(SESSION, session_key) if session_key else None


class WebsocketAuthMiddleware:
    def __init__(self, inner):
        self.inner = inner

    async def __call__(self, scope, receive, send):
        scope = dict(scope, credentials=credentials_from_scope(scope))
        return await self.inner(scope, receive, send)
