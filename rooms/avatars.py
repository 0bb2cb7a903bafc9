"""The preset avatars a member shows inside a room (the seed's per-room avatar).

A member's account avatar (for a mini-program user, usually their WeChat photo) would tie
their per-room display name back to the person, so rooms show one of these instead. Each
key names `static/huiliao/avatars/<key>.svg`.
"""

import hashlib
import uuid

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from huiliao_site.errors import InvalidInput

# Order matters: the default is an index into this tuple, so only ever append.
AVATAR_KEYS: tuple[str, ...] = (
    "sun",
    "moon",
    "star",
    "leaf",
    "wave",
    "cloud",
    "flower",
    "mountain",
)
AVATAR_CHOICES = [
    ("sun", _("sun")),
    ("moon", _("moon")),
    ("star", _("star")),
    ("leaf", _("leaf")),
    ("wave", _("wave")),
    ("cloud", _("cloud")),
    ("flower", _("flower")),
    ("mountain", _("mountain")),
]
AVATAR_MAX_LENGTH = 16


def avatar_default(*, room_code: str, user_id: uuid.UUID | str) -> str:
    """The avatar a member starts with: fixed for one person in one room, but drawn afresh
    per room, so the same face does not follow them from room to room."""
    digest = hashlib.sha256(f"{room_code}:{user_id}".encode()).digest()
    return AVATAR_KEYS[int.from_bytes(digest[:8], "big") % len(AVATAR_KEYS)]


def avatar_clean(value: str | None) -> str | None:
    """None (keep or default) or a known key; anything else is a 400 `invalid_avatar`."""
    if value is None:
        return None
    if value not in AVATAR_KEYS:
        raise InvalidInput(
            f"avatar must be one of: {', '.join(AVATAR_KEYS)}.", code="invalid_avatar"
        )
    return value


def avatar_url(key: str) -> str:
    # Absolute when HUILIAO_PUBLIC_URL is set: the mini-program has no page origin to
    # resolve a path against.
    # The plain static path, not the manifest's hashed name: it is built for every message
    # frame, where a missing manifest entry must never break the chat (whitenoise serves
    # both names).
    path = f"{settings.STATIC_URL}huiliao/avatars/{key}.svg"
    return path if "://" in path else settings.HUILIAO_PUBLIC_URL + path


def avatar_list() -> list[dict[str, str]]:
    return [{"key": key, "url": avatar_url(key)} for key in AVATAR_KEYS]
