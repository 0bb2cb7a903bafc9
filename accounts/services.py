import secrets

from django.contrib.auth import login, logout
from django.db import IntegrityError, transaction
from rest_framework.authtoken.models import Token

from accounts import wechat
from accounts.models import User
from huiliao_site.errors import PermissionDenied


def _username(prefix: str) -> str:
    # Internal login names only; people see nicknames and per-room display names.
    return f"{prefix}-{secrets.token_hex(8)}"


def user_login_wechat(*, code: str, nickname: str = "", avatar_url: str = "") -> tuple[User, str]:
    """Log a mini-program user in by their `wx.login` code; create them on first login.

    Calls WeChat before any transaction opens: on SQLite an open (IMMEDIATE) transaction
    holds the database's write lock, and a slow WeChat must not stall every other writer.
    """
    openid = wechat.code_to_openid(code=code)
    with transaction.atomic():
        user = User.objects.filter(openid=openid).first()
        if user is None:
            try:
                with transaction.atomic():
                    user = User(
                        username=_username("wx"),
                        openid=openid,
                        kind=User.Kind.WECHAT,
                        nickname=nickname or "微信用户",
                        avatar_url=avatar_url,
                    )
                    user.set_unusable_password()
                    user.save(force_insert=True)
            except IntegrityError:
                # Two first logins raced; the other one created the user.
                user = User.objects.get(openid=openid)
        elif nickname or avatar_url:
            user_update(user=user, nickname=nickname or None, avatar_url=avatar_url or None)
        if not user.is_active:
            raise PermissionDenied("This account is disabled.", code="account_disabled")
        return user, token_for(user=user)


@transaction.atomic
def user_create_guest(*, nickname: str, request=None) -> tuple[User, str]:
    """Create a browser guest; with a request, also log that browser's session in."""
    user = User(username=_username("guest"), nickname=nickname, kind=User.Kind.GUEST)
    user.set_unusable_password()
    user.save(force_insert=True)
    if request is not None:
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    # A brand-new user has no token yet: no need for get_or_create's lookup and savepoint.
    return user, Token.objects.create(user=user).key


def token_for(*, user: User) -> str:
    # One token per user, shared by their devices: logging out anywhere revokes it.
    token, _ = Token.objects.get_or_create(user=user)
    return token.key


def user_update(*, user: User, nickname: str | None = None, avatar_url: str | None = None) -> User:
    fields = []
    if nickname is not None:
        user.nickname = nickname
        fields.append("nickname")
    if avatar_url is not None:
        user.avatar_url = avatar_url
        fields.append("avatar_url")
    if fields:
        user.save(update_fields=fields)
    return user


def user_logout(*, user: User, request=None) -> None:
    """Revoke the user's API token and end the browser session, if any."""
    Token.objects.filter(user=user).delete()
    if request is not None:
        logout(request)
