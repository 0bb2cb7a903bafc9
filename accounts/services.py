import secrets

from django.contrib.auth import login, logout
from django.db import IntegrityError, transaction
from rest_framework.authtoken.models import Token

from accounts import wechat
from accounts.models import User


def _username(prefix: str) -> str:
    # Internal login names only; people see nicknames and per-room display names.
    return f"{prefix}-{secrets.token_hex(8)}"


@transaction.atomic
def user_login_wechat(*, code: str, nickname: str = "", avatar_url: str = "") -> tuple[User, str]:
    """Log a mini-program user in by their `wx.login` code; create them on first login.

    Calls WeChat (outside any lock: the row is only touched once the openid is known).
    """
    openid = wechat.code_to_openid(code=code)
    user = User.objects.filter(openid=openid).first()
    if user is None:
        try:
            with transaction.atomic():
                user = User.objects.create(
                    username=_username("wx"),
                    openid=openid,
                    kind=User.Kind.WECHAT,
                    nickname=nickname or "微信用户",
                    avatar_url=avatar_url,
                )
                user.set_unusable_password()
                user.save(update_fields=["password"])
        except IntegrityError:
            # Two first logins raced; the other one created the user.
            user = User.objects.get(openid=openid)
    elif nickname or avatar_url:
        user_update(user=user, nickname=nickname or None, avatar_url=avatar_url or None)
    return user, token_for(user=user)


@transaction.atomic
def user_create_guest(*, nickname: str, request=None) -> tuple[User, str]:
    """Create a browser guest; with a request, also log that browser's session in."""
    user = User.objects.create(username=_username("guest"), nickname=nickname, kind=User.Kind.GUEST)
    user.set_unusable_password()
    user.save(update_fields=["password"])
    if request is not None:
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    return user, token_for(user=user)


def token_for(*, user: User) -> str:
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
