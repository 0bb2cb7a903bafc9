"""The projector screen, `/r/<code>/screen/`: the room's QR code and code, large, its
announcement and the top open questions, on a dark full screen readable from the back of
a hall. It takes no input.

Who may open it: the room's managers and moderators, signed in; or anyone holding the
screen link the organiser copies from the room page (`?key=`, signed with the site's
SECRET_KEY for this room only), so the laptop plugged into the projector needs no
account. The page reads `…/screen/state` every few seconds: one client per hall, a cheap
read, and nothing to reconnect after the venue's Wi-Fi drops.
"""

from django.core import signing
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from history.events import question_payload
from history.models import Question
from huiliao_site.errors import NotFound, Throttled
from huiliao_site.lookups import request_address
from rooms import qr, selectors
from rooms.models import Room
from rooms.views import too_many_guesses_page

TOP_QUESTIONS = 5
REFRESH_SECONDS = 3
QR_PIXELS = 720


def _allowed(request: HttpRequest, room: Room) -> bool:
    key = request.GET.get("key", "")
    if key and signing.constant_time_compare(key, qr.screen_key(room)):
        return True
    membership = selectors.membership_get(room=room, user=request.user)
    return selectors.user_can_moderate_room(user=request.user, room=room, membership=membership)


def _room_for_screen(request: HttpRequest, code: str) -> Room:
    room = selectors.room_get_guarded(
        code=code, address=request_address(request), user=request.user
    )
    if not _allowed(request, room):
        raise Http404("No such screen.")  # the same answer as a wrong code: nothing to learn
    return room


def screen_state(room: Room) -> dict:
    questions = (
        Question.objects.select_related("author")
        .filter(room=room, status=Question.Status.OPEN)
        .order_by("-votes", "created_at", "public_id")[:TOP_QUESTIONS]
    )
    return {
        "name": room.name,
        "status": room.status,
        "announcement": room.announcement,
        "questions": [question_payload(question) for question in questions],
    }


@require_GET
def screen(request: HttpRequest, code: str) -> HttpResponse:
    try:
        room = _room_for_screen(request, code)
    except NotFound as exc:
        raise Http404(exc.detail) from exc
    except Throttled as exc:
        return too_many_guesses_page(request, exc)
    join_url = qr.join_url(room, request)
    png = qr.render_png(url=join_url, caption="", width=QR_PIXELS)
    state_url = f"/r/{room.code}/screen/state"
    if request.GET.get("key"):
        state_url += f"?key={request.GET['key']}"
    context = {
        "room": room,
        "join_url": join_url,
        "qr_src": qr.data_uri(png),
        "page_data": {
            "state": screen_state(room),
            "state_url": state_url,
            "refresh_ms": REFRESH_SECONDS * 1000,
        },
    }
    return render(request, "rooms/screen.html", context)


@never_cache
@require_GET
def screen_state_view(request: HttpRequest, code: str) -> JsonResponse:
    try:
        room = _room_for_screen(request, code)
    except NotFound as exc:
        raise Http404(exc.detail) from exc
    return JsonResponse(screen_state(room))
