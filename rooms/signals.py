"""Sockets end with the credentials they were opened with.

A socket is authenticated once, at its handshake. When the credentials behind it end —
logout (token revoked, browser session ended), a token deleted in the admin, an account
deactivated — the user's sockets are closed with 4401 in every process, in every room
they are a current member of (a socket needs a current membership to be open at all).
"""

from django.contrib.auth.signals import user_logged_out
from django.db.models.signals import post_delete, post_save
from rest_framework.authtoken.models import Token

from accounts.models import User
from rooms import events, protocol
from rooms.models import Membership


def close_user_sockets(user_id) -> None:
    memberships = Membership.objects.current().filter(user_id=user_id).select_related("room")
    for membership in memberships.only("room__code"):
        events.publish_close_member(membership.room, user_id, protocol.CLOSE_NO_CREDENTIALS)


def _logged_out(sender, request, user, **kwargs):
    if user is not None:
        close_user_sockets(user.pk)


def _token_deleted(sender, instance, **kwargs):
    close_user_sockets(instance.user_id)


def _user_saved(sender, instance, created, update_fields=None, **kwargs):
    if not created and not instance.is_active:
        close_user_sockets(instance.pk)


def connect() -> None:
    user_logged_out.connect(_logged_out, dispatch_uid="rooms.close_sockets.logout")
    post_delete.connect(_token_deleted, sender=Token, dispatch_uid="rooms.close_sockets.token")
    post_save.connect(_user_saved, sender=User, dispatch_uid="rooms.close_sockets.user")
