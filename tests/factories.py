import datetime as dt
import uuid

import factory
from django.utils import timezone

from accounts.models import User
from history import services as history_services
from history.models import Message
from rooms import services as room_services
from rooms.models import Membership, Room


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User

    username = factory.Sequence(lambda n: f"user{n}")
    nickname = factory.Sequence(lambda n: f"Attendee {n}")
    kind = User.Kind.GUEST
    # Hashed before the insert: a post-generation set_password was never saved, so the
    # stored password differed from the object's and force_login sessions were dropped.
    password = factory.django.Password("correct horse battery")


class WechatUserFactory(UserFactory):
    kind = User.Kind.WECHAT
    openid = factory.Sequence(lambda n: f"o6_bmjrPTlm6_2sgVt7hMZOPfL{n:04d}")


class StaffFactory(UserFactory):
    kind = User.Kind.STAFF
    is_staff = True


class RoomFactory(factory.django.DjangoModelFactory):
    """Rooms made through the real service, so the owner is a member like in production."""

    class Meta:
        model = Room

    name = factory.Sequence(lambda n: f"Conference hall {n}")
    owner = factory.SubFactory(UserFactory)
    expires_at = factory.LazyFunction(lambda: timezone.now() + dt.timedelta(days=1))

    @classmethod
    def _create(cls, model_class, *, owner, name, expires_at=None, geofence=None, **extra):
        room = room_services.room_create(
            owner=owner, name=name, expires_at=expires_at, geofence=geofence
        )
        if extra:
            Room.objects.filter(pk=room.pk).update(**extra)
            room.refresh_from_db()
        return room


class MembershipFactory(factory.django.DjangoModelFactory):
    """A member made through the real enter service (so the "joined" notice, the name
    rules and the preset avatar are the product's), from the venue's own point when the
    room is fenced."""

    class Meta:
        model = Membership

    room = factory.SubFactory(RoomFactory)
    user = factory.SubFactory(UserFactory)
    display_name = None
    avatar = None

    @classmethod
    def _create(cls, model_class, *, room, user, display_name=None, avatar=None):
        entry = room_services.Entry(
            display_name=display_name,
            avatar=avatar,
            latitude=room.latitude,
            longitude=room.longitude,
        )
        return history_services.member_enter(room=room, user=user, entry=entry).membership


class MessageFactory(factory.django.DjangoModelFactory):
    """A chat message posted through the real service (its seq, checks and frame)."""

    class Meta:
        model = Message

    body = "hello"
    client_id = factory.LazyFunction(lambda: str(uuid.uuid4()))

    @classmethod
    def _create(cls, model_class, *, room, sender, body, client_id):
        message, _created = history_services.message_post(
            room=room, user=sender, body=body, client_id=client_id
        )
        return message


def join(
    room: Room,
    user: User | None = None,
    *,
    display_name: str | None = None,
    avatar: str | None = None,
) -> Membership:
    """Shorthand for MembershipFactory: `user` (a new guest by default) enters `room`."""
    return MembershipFactory(
        room=room, user=user or UserFactory(), display_name=display_name, avatar=avatar
    )


def post(room: Room, user: User, body: str = "hello", client_id: str | None = None) -> Message:
    """Shorthand for MessageFactory: `user` posts `body` in `room`."""
    extra = {"client_id": client_id} if client_id else {}
    return MessageFactory(room=room, sender=user, body=body, **extra)


def member(room_id, user_id) -> dict[str, str]:
    """A member as others in the room see them, beside their display name: member_id,
    preset avatar and role, read from the stored membership."""
    row = Membership.objects.get(room_id=room_id, user_id=user_id)
    return {"member_id": row.member_id, **preset(room_id, user_id), "role": row.role}


def preset(room_id, user_id) -> dict[str, str]:
    """A member's preset avatar as room payloads spell it (key and static URL), read from
    the stored membership."""
    key = Membership.objects.get(room_id=room_id, user_id=user_id).avatar
    return {"avatar": key, "avatar_url": f"/static/huiliao/avatars/{key}.svg"}
