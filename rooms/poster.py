"""The printable A4 poster: the room's code, name, announcement and QR code on one page.

Only those who may manage the room print it (its owner, superusers). Members are not
shown it: they can share the room from inside it, while the poster is the organiser's
material for the venue. Anonymous visitors are sent to the organiser login.
"""

import logging

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from huiliao_site.errors import DomainError, NotFound, Throttled
from huiliao_site.lookups import request_address
from rooms import qr, selectors
from rooms.views import too_many_guesses_page

logger = logging.getLogger(__name__)


@require_GET
def poster(request: HttpRequest, code: str) -> HttpResponse:
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path(), login_url=reverse("admin:login"))
    try:
        room = selectors.room_get_guarded(
            code=code, address=request_address(request), user=request.user
        )
    except NotFound as exc:
        raise Http404(exc.detail) from exc
    except Throttled as exc:
        return too_many_guesses_page(request, exc)
    if not selectors.user_can_manage_room(user=request.user, room=room):
        raise PermissionDenied("Only the room's organiser can print its poster.")
    context = {
        "room": room,
        "join_url": qr.join_url(room, request),
        # Without its caption: the poster prints the room's name once, above it.
        "qr_src": qr.data_uri(qr.render_png(url=qr.join_url(room, request), caption="")),
        "wxacode_src": mini_program_code(room),
    }
    return render(request, "rooms/poster.html", context)


def mini_program_code(room) -> str | None:
    """The mini-program code's URL beside the QR code, when WeChat is configured; a poster
    without it (WeChat down, over quota) beats no poster, and the failure is logged."""
    if not settings.WECHAT_APPID:
        return None
    try:
        return default_storage.url(qr.wxacode_ensure(room=room))
    except DomainError as exc:
        logger.warning("poster of %s without its mini-program code: %s", room.code, exc.code)
        return None
