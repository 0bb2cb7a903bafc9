"""The browser pages: thin shells that render a template with what the page's script needs.

Everything the page does after loading (log in as a guest, enter, chat, leave) goes through
the same REST API and websocket as the mini-program; these views only read (selectors),
except `/new/`, which calls `room_create` like the API does.
"""

import datetime as dt

from django import forms
from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import ensure_csrf_cookie

from huiliao_site.errors import DomainError, NotFound, Throttled
from huiliao_site.lookups import request_address
from rooms import qr, selectors, services
from rooms.avatars import avatar_list
from rooms.models import (
    CODE_ALPHABET,
    CODE_LENGTH,
    DISPLAY_NAME_MAX,
    GEOFENCE_MAX_RADIUS_M,
    GEOFENCE_MIN_RADIUS_M,
    ROOM_NAME_MAX,
)


def js_strings() -> dict[str, str]:
    """The words the page scripts show, translated for the request's language."""
    return {
        "reconnecting": _("Connection lost. Reconnecting…"),
        "sending": _("Sending…"),
        "failed": _("Not sent. Tap to retry."),
        "hidden": _("This message was hidden by a moderator."),
        "members_one": _("1 member"),
        "members_many": _("%(count)s members"),
        "load_older": _("Loading earlier messages…"),
        "beginning": _("This is the beginning of the conversation."),
        "closed": _("This room has ended. You can still read its history."),
        "announcement_new": _("new"),
        "outside": _("You are outside this room's area, so you cannot join it from here."),
        "location_denied": _(
            "Your browser did not share your location. Allow location access for this "
            "site and try again."
        ),
        "location_unavailable": _("Your location could not be determined. Try again."),
        "locating": _("Finding your location…"),
        "error": _("Something went wrong. Try again."),
        "offline": _("Cannot reach the server. Check your connection and try again."),
        "muted": _("You are muted in this room for now."),
        "rate_limited": _("You are sending too fast. Wait a moment."),
        "removed": _("You are no longer a member of this room."),
        "nearby_none": _("No rooms near you right now."),
        "nearby_join": _("Join"),
        "nearby_distance": _("%(distance)s m away"),
        "confirm_leave": _("Leave this room? You can join again later."),
        "location_set": _("Location set: %(latitude)s, %(longitude)s"),
        "role_owner": _("Organiser"),
        "role_moderator": _("Moderator"),
        "name_taken": _("Someone in this room already uses this name. Choose another."),
        "content_rejected": _("This goes against the room's rules, so it was not sent."),
        "held": _("Waiting for a moderator's review: only you can see it for now."),
        "held_other": _("A message is waiting for a moderator's review."),
        "recalled_mine": _("You recalled a message."),
        "recalled_other": _("%(name)s recalled a message."),
        "recalled": _("A message was recalled."),
        "slow_mode": _("Slow mode is on: wait a moment before your next message."),
        "slow_mode_on": _("Slow mode: one message every %(seconds)s s."),
        "send_in": _("Send (%(seconds)s)"),
        "send": _("Send"),
        "posting_restricted": _("Only the organiser and moderators can post in this room."),
        "muted_until": _("You are muted until %(time)s."),
        "recall_expired": _("A message can only be recalled within 2 minutes."),
        "already_reported": _("You have already reported this message."),
        "reported": _("Thank you. The moderators will look at it."),
        "report": _("Report…"),
        "recall": _("Recall"),
        "hide": _("Hide from everyone"),
        "unhide": _("Show again"),
        "keep": _("Keep"),
        "mute": _("Mute 10 min"),
        "unmute": _("Unmute"),
        "ban": _("Remove from the room"),
        "unban": _("Let back in"),
        "make_moderator": _("Make moderator"),
        "make_member": _("Remove moderator"),
        "confirm_ban": _(
            "Remove %(name)s from this room? They cannot come back unless you let them."
        ),
        "queue_reports": _("Reports: %(reasons)s"),
        "queue_held": _("Held for review"),
        "reason_spam": _("spam"),
        "reason_abuse": _("abuse"),
        "reason_illegal": _("illegal"),
        "reason_privacy": _("private information"),
        "reason_other": _("other"),
        "saved": _("Saved."),
        "reopened": _("The room is open again."),
        "copied": _("Link copied."),
        "reply": _("Reply"),
        "mention": _("Mention"),
        "online_count": _("%(count)s online"),
        "replying_to": _("Replying to %(name)s: %(text)s"),
        "original_gone": _("An earlier message"),
        "too_long": _("%(count)s / %(max)s characters: too long to send."),
        "count": _("%(count)s / %(max)s"),
        "delete": _("Delete"),
        "invalid_reply": _("The message you answered is no longer there."),
        "swap": _("Swap contacts"),
        "asked": _("Asked. They decide whether to swap."),
        "contact_card_required": _("Add your own contact card first (in the ⋯ menu)."),
        "already_asked": _("You have already asked them."),
        "cannot_ask_self": _("That is you."),
        "contact_request": _("%(name)s would like to swap contacts."),
        "contact_shared": _("You and %(name)s swapped contacts."),
        "accept": _("Accept"),
        "decline": _("Decline"),
        "waiting": _("Waiting for them"),
        "anonymous": _("Anonymous"),
        "vote": _("Vote for this question"),
        "votes_one": _("1 vote"),
        "votes_many": _("%(count)s votes"),
        "answered": _("Answered"),
        "mark_answered": _("Mark answered"),
        "hide_question": _("Hide"),
        "reopen_question": _("Open again"),
        "promote": _("Make it a question"),
        "promoted": _("It is now a question."),
        "question_not_open": _("This question is no longer open for votes."),
        "invalid_question": _("A question is 1 to 300 characters."),
    }


def too_many_guesses_text(wait: int) -> str:
    return _(
        "Too many room codes that do not exist were tried from your network. Check the "
        "code and try again in %(seconds)s seconds."
    ) % {"seconds": wait}


def too_many_guesses_page(request: HttpRequest, exc: Throttled) -> HttpResponse:
    response = render(
        request,
        "rooms/not_found.html",
        {"throttled": too_many_guesses_text(exc.wait)},
        status=429,
    )
    response["Retry-After"] = str(exc.wait)
    return response


class JoinByCodeForm(forms.Form):
    code = forms.CharField(label=gettext_lazy("Room code"), max_length=16)

    def clean_code(self) -> str:
        # As read off a screen or a chat: "k7m2-qx9p", "K7M2 QX9P".
        code = "".join(self.cleaned_data["code"].replace("-", " ").split()).upper()
        if len(code) != CODE_LENGTH or any(ch not in CODE_ALPHABET for ch in code):
            raise forms.ValidationError(_("A room code has 8 letters and digits, like K7M2QX9P."))
        return code


@ensure_csrf_cookie
def home(request: HttpRequest) -> HttpResponse:
    form = JoinByCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        code = form.cleaned_data["code"]
        try:
            selectors.room_get_guarded(
                code=code, address=request_address(request), user=request.user
            )
        except NotFound:
            form.add_error("code", _("There is no room with this code."))
        except Throttled as exc:
            form.add_error("code", too_many_guesses_text(exc.wait))
        else:
            return redirect("room-page", code=code)
    return render(
        request,
        "rooms/home.html",
        {
            "form": form,
            "page_data": {
                "nearby_url": "/api/v1/rooms/nearby",
                "guest_url": reverse("auth-guest"),
                "logged_in": request.user.is_authenticated,
                "strings": js_strings(),
            },
        },
    )


@ensure_csrf_cookie
def room_page(request: HttpRequest, code: str) -> HttpResponse:
    try:
        room = selectors.room_get_guarded(
            code=code, address=request_address(request), user=request.user
        )
    except NotFound:
        return render(request, "rooms/not_found.html", {"code": code}, status=404)
    except Throttled as exc:
        return too_many_guesses_page(request, exc)
    if room.code != code:
        return redirect("room-page", code=room.code)
    user = request.user
    membership = selectors.membership_get(room=room, user=user)
    is_member = membership is not None and membership.is_current
    can_manage = selectors.user_can_manage_room(user=user, room=room)
    can_moderate = selectors.user_can_moderate_room(user=user, room=room, membership=membership)
    # In an open room only members chat (the socket admits no one else); once it has ended,
    # its managers may read the history too, like the messages API allows.
    can_read = is_member or (can_manage and not room.is_open())
    banned = membership is not None and membership.banned
    me = None
    if user.is_authenticated:
        me = {
            # Never the account id: the page names me as the room does.
            "member_id": membership.member_id if is_member else None,
            "nickname": user.public_name,
            "display_name": (
                membership.display_name if is_member else user.public_name[:DISPLAY_NAME_MAX]
            ),
            "avatar": membership.avatar if is_member else None,
            "is_member": is_member,
            "can_manage": can_manage,
            "can_moderate": can_moderate,
            "role": membership.role if is_member else None,
            "muted_until": (
                membership.muted_until.isoformat() if is_member and membership.is_muted() else None
            ),
        }
    api = f"/api/v1/rooms/{room.code}"
    page_data = {
        "code": room.code,
        "name": room.name,
        "status": room.status,
        "geofence": {"radius_m": room.radius_m} if room.has_geofence else None,
        # The owner and superusers are never held to the fence (rooms.services.geofence_check).
        "needs_location": room.has_geofence and not can_manage,
        "member_count": selectors.member_count(room=room),
        "slow_mode_seconds": room.slow_mode_seconds,
        "posting": room.posting,
        "announcement": (
            {
                "text": room.announcement,
                "updated_at": room.announcement_updated_at.isoformat()
                if room.announcement_updated_at
                else None,
            }
            if can_read
            else None
        ),
        "me": me,
        "can_read": can_read,
        "banned": banned,
        "urls": {
            "room": api,
            "enter": f"{api}/enter",
            "leave": f"{api}/leave",
            "messages": f"{api}/messages",
            "qrcode": f"{api}/qrcode",
            "members": f"{api}/members",
            "announcement": f"{api}/announcement",
            "close": f"{api}/close",
            "reopen": f"{api}/reopen",
            "reports": f"{api}/reports",
            "questions": f"{api}/questions",
            "search": f"{api}/messages/search",
            "me_in_room": f"{api}/me-in-room",
            "contacts": f"{api}/contacts",
            "screen": qr.screen_path(room) if can_manage else None,
            "join": qr.join_url(room, request),
            "guest": reverse("auth-guest"),
            "socket": f"/ws/rooms/{room.code}/",
            "poster": f"/r/{room.code}/poster/",
        },
        "strings": js_strings(),
    }
    return render(
        request,
        "rooms/room.html",
        {
            "room": room,
            "page_data": page_data,
            "can_read": can_read,
            "can_manage": can_manage,
            "can_moderate": can_moderate and can_read,
            "avatars": avatar_list(),
        },
    )


EXPIRY_CHOICES = [
    ("4h", gettext_lazy("In 4 hours"), dt.timedelta(hours=4)),
    ("1d", gettext_lazy("In 1 day"), dt.timedelta(days=1)),
    ("3d", gettext_lazy("In 3 days"), dt.timedelta(days=3)),
    ("7d", gettext_lazy("In 1 week"), dt.timedelta(days=7)),
    ("30d", gettext_lazy("In 30 days"), dt.timedelta(days=30)),
    ("never", gettext_lazy("Never (close it by hand)"), None),
]


class RoomCreateForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Room name"), max_length=ROOM_NAME_MAX)
    expiry = forms.ChoiceField(
        label=gettext_lazy("Expires"),
        choices=[(key, label) for key, label, _delta in EXPIRY_CHOICES],
        initial="1d",
    )
    use_geofence = forms.BooleanField(
        label=gettext_lazy("Only people near the venue may join"), required=False
    )
    latitude = forms.FloatField(
        required=False, min_value=-90, max_value=90, widget=forms.HiddenInput
    )
    longitude = forms.FloatField(
        required=False, min_value=-180, max_value=180, widget=forms.HiddenInput
    )
    radius_m = forms.IntegerField(
        label=gettext_lazy("Radius (metres)"),
        required=False,
        initial=300,
        min_value=GEOFENCE_MIN_RADIUS_M,
        max_value=GEOFENCE_MAX_RADIUS_M,
    )

    def clean(self):
        data = super().clean()
        if data.get("use_geofence"):
            if data.get("latitude") is None or data.get("longitude") is None:
                raise forms.ValidationError(
                    _("Use your current location to set the venue, or turn the area limit off.")
                )
            if data.get("radius_m") is None:
                self.add_error("radius_m", _("Give the radius in metres."))
        return data

    def expires_at(self) -> dt.datetime | None:
        delta = {key: delta for key, _label, delta in EXPIRY_CHOICES}[self.cleaned_data["expiry"]]
        return timezone.now() + delta if delta else None

    def geofence(self) -> services.Geofence | None:
        if not self.cleaned_data.get("use_geofence"):
            return None
        return services.Geofence(
            latitude=self.cleaned_data["latitude"],
            longitude=self.cleaned_data["longitude"],
            radius_m=self.cleaned_data["radius_m"],
        )


@staff_member_required
def room_new(request: HttpRequest) -> HttpResponse:
    form = RoomCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            room = services.room_create(
                owner=request.user,
                name=form.cleaned_data["name"],
                expires_at=form.expires_at(),
                geofence=form.geofence(),
            )
        except DomainError as exc:
            form.add_error(None, exc.detail)
        else:
            return redirect("room-page", code=room.code)
    return render(
        request,
        "rooms/new.html",
        {"form": form, "page_data": {"strings": js_strings()}},
    )
