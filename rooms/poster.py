"""The printable A4 poster: the room's code, name, announcement and QR code on one page.

Only those who may manage the room print it (its owner, superusers). Members are not
shown it: they can share the room from inside it, while the poster is the organiser's
material for the venue. Anonymous visitors are sent to the organiser login.
"""

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from huiliao_site.errors import NotFound, Throttled
from huiliao_site.lookups import request_address
from rooms import qr, selectors
from rooms.views import too_many_guesses_page


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
        "qr_src": reverse("room-qrcode-png", kwargs={"code": room.code}) + f"?size={qr.SIZE_MAX}",
    }
    return render(request, "rooms/poster.html", context)
