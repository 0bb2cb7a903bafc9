from django.utils import timezone

from accounts.models import User

APPID = "wx0123456789abcdef"


SECRET = "s3cr3t-app-secret-0123456789abcd"


OPENID = "oHuiliaoSecretOpenid-7f3a9c2e51"


def iso(value) -> str:
    """A datetime as the API writes it (local time zone, ISO 8601)."""
    text = timezone.localtime(value).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def me_payload(user: User) -> dict:
    return {
        "id": str(user.id),
        "nickname": user.nickname,
        "avatar_url": user.avatar_url,
        "kind": user.kind,
        "is_staff": user.is_staff,
        "date_joined": iso(user.date_joined),
    }


def public_payload(user: User) -> dict:
    return {
        "id": str(user.id),
        "nickname": user.nickname,
        "avatar_url": user.avatar_url,
        "kind": user.kind,
    }
