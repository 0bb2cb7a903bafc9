"""Abuse that got round the rules (security review items 5-8): mute evasion by enter/leave
loops, free guest accounts creating rooms, guessing room codes, and mapping venues with
/nearby. Each test performs the attack and asserts the exact refusal."""

import datetime as dt

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from history.models import Message
from rooms import services as room_services
from rooms.models import Room
from tests.factories import RoomFactory, UserFactory, join
from tests.helpers import api_client_for

pytestmark = pytest.mark.django_db

VENUE = {"latitude": 31.2304, "longitude": 121.4737, "radius_m": 200}


def guest_client(nickname: str, address: str = "203.0.113.7") -> APIClient:
    client = APIClient(REMOTE_ADDR=address)
    token = client.post("/api/v1/auth/guest", {"nickname": nickname}, format="json")
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.json()['token']}")
    return client


# 5. Mute and throttle evasion ---------------------------------------------------------------


def notices(room: Room) -> list[str]:
    return list(
        Message.objects.filter(room=room, kind="system")
        .order_by("seq")
        .values_list("body", flat=True)
    )


def test_a_muted_member_looping_leave_and_enter_posts_no_notice(room):
    spammer = join(room, display_name="Spammer")
    room_services.membership_mute(membership=spammer, minutes=30, actor=None)
    client = api_client_for(spammer.user)
    for n in range(5):
        assert client.post(f"/api/v1/rooms/{room.code}/leave").status_code == 204
        entered = client.post(
            f"/api/v1/rooms/{room.code}/enter", {"display_name": f"BUY NOW {n}"}, format="json"
        )
        assert entered.status_code == 200
    assert notices(room) == ["Spammer joined"]  # from before the mute, and nothing since


def test_enter_and_leave_count_against_the_posting_budget(room, settings):
    settings.HUILIAO_POST_RATE_COUNT = 4
    settings.HUILIAO_POST_RATE_SECONDS = 60
    client = api_client_for(UserFactory())
    answers = []
    for n in range(3):
        answers.append(
            client.post(
                f"/api/v1/rooms/{room.code}/enter", {"display_name": f"Loop {n}"}, format="json"
            ).status_code
        )
        answers.append(client.post(f"/api/v1/rooms/{room.code}/leave").status_code)
    # join, leave, join, leave: the budget of 4 is spent. The third enter is refused and
    # changes nothing; leaving always works.
    assert answers == [200, 204, 200, 204, 429, 204]
    refused = client.post(f"/api/v1/rooms/{room.code}/enter", {}, format="json")
    assert refused.json() == {
        "detail": "Slow down: at most 4 messages every 60 s.",
        "code": "rate_limited",
    }
    assert 1 <= int(refused.headers["Retry-After"]) <= 61
    assert notices(room) == ["Loop 0 joined", "Loop 0 left", "Loop 1 joined", "Loop 1 left"]
    posted = client.post(
        f"/api/v1/rooms/{room.code}/messages", {"body": "x", "client_id": "c"}, format="json"
    )
    assert (posted.status_code, posted.json()["code"]) == (403, "not_member")


def test_notices_never_show_who_caused_them(room):
    join(room, display_name="Ann")
    page = api_client_for(room.owner).get(f"/api/v1/rooms/{room.code}/messages").json()
    assert [(m["kind"], m["sender"]) for m in page["results"]] == [("system", None)]


# 6. Room creation ----------------------------------------------------------------------------


def test_fresh_guests_from_one_address_share_its_room_budget(monkeypatch):
    from rest_framework.throttling import ScopedRateThrottle

    monkeypatch.setattr(
        ScopedRateThrottle,
        "THROTTLE_RATES",
        {"room_create": "2/hour", "room_create_address": "3/hour"},
    )
    answers = []
    for n in range(4):
        client = guest_client(f"Guest {n}")  # a new free account each time
        answers.append(client.post("/api/v1/rooms", {"name": f"Spam {n}"}, format="json"))
    assert [r.status_code for r in answers] == [201, 201, 201, 429]
    assert answers[3].json()["code"] == "throttled"
    # Another address is not held to this one's budget.
    other = guest_client("Elsewhere", address="198.51.100.4")
    assert other.post("/api/v1/rooms", {"name": "Fine"}, format="json").status_code == 201


# 7. Guessing room codes ------------------------------------------------------------------------


CODES = [f"ZZZZZZZ{c}" for c in "23456789ABCDEFGHJKMNPQRSTUVWXY"]


@pytest.fixture
def low_guess_limit(settings):
    settings.HUILIAO_FAILED_LOOKUP_LIMIT = 5
    settings.HUILIAO_FAILED_LOOKUP_WINDOW = 600


def test_api_guesses_are_cut_off_and_then_strangers_are_refused_every_code(room, low_guess_limit):
    client = api_client_for(UserFactory())
    answers = [client.get(f"/api/v1/rooms/{code}").status_code for code in CODES[:5]]
    assert answers == [404] * 5
    paths = [
        f"/api/v1/rooms/{CODES[6]}",
        f"/api/v1/rooms/{room.code}",
        f"/api/v1/rooms/{room.code}/members",
    ]
    for path in paths:
        refused = client.get(path)
        assert refused.status_code == 429, path
        assert refused.json() == {
            "detail": refused.json()["detail"],
            "code": "too_many_guesses",
        }
        assert refused.json()["detail"].startswith("Too many unknown room codes")
        assert 1 <= int(refused.headers["Retry-After"]) <= 601
    entered = client.post(f"/api/v1/rooms/{room.code}/enter", {}, format="json")
    assert (entered.status_code, entered.json()["code"]) == (429, "too_many_guesses")
    # The room's own people behind the same address keep using it.
    owner = api_client_for(room.owner)
    assert owner.get(f"/api/v1/rooms/{room.code}").status_code == 200
    assert owner.get(f"/api/v1/rooms/{room.code}/messages").status_code == 200
    # A different address is not held to this one's budget.
    other = api_client_for(UserFactory())
    other.defaults["REMOTE_ADDR"] = "198.51.100.9"
    assert other.get(f"/api/v1/rooms/{room.code}").status_code == 200


def test_page_and_join_form_guesses_share_the_address_budget(room, low_guess_limit):
    browser = Client()
    assert [browser.get(f"/r/{code}/").status_code for code in CODES[:3]] == [404] * 3
    for code in CODES[3:5]:
        form = browser.post("/", {"code": code})
        assert "There is no room with this code." in form.content.decode()
    page = browser.get(f"/r/{room.code}/")
    assert page.status_code == 429
    assert "Too many room codes that do not exist" in page.content.decode()
    form = browser.post("/", {"code": room.code})
    assert form.status_code == 200
    assert "Too many room codes that do not exist" in form.content.decode()
    # The organiser on the venue's Wi-Fi still opens the room.
    organiser = Client()
    organiser.force_login(room.owner)
    assert organiser.get(f"/r/{room.code}/").status_code == 200


# 8. /nearby ------------------------------------------------------------------------------------


def test_nearby_gives_distance_never_the_venue_and_is_throttled(user, settings):
    from rest_framework.throttling import ScopedRateThrottle

    room = RoomFactory(geofence=room_services.Geofence(**VENUE))
    client = api_client_for(user)
    point = {"latitude": VENUE["latitude"] + 0.001, "longitude": VENUE["longitude"]}
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**ScopedRateThrottle.THROTTLE_RATES, "nearby": "3/min"},
    }
    answers = [client.get("/api/v1/rooms/nearby", point) for _ in range(4)]
    assert [r.status_code for r in answers] == [200, 200, 200, 429]
    assert answers[0].json() == {
        "results": [
            {
                "code": room.code,
                "name": room.name,
                "expires_at": room.expires_at.isoformat().replace("+00:00", "Z"),
                "member_count": 1,
                "distance_m": 110,
            }
        ]
    }
    assert str(VENUE["latitude"]) not in answers[0].content.decode()
    assert answers[3].json()["code"] == "throttled"


def test_room_detail_shows_the_venue_point_to_its_managers_only(user):
    room = RoomFactory(owner=user, geofence=room_services.Geofence(**VENUE))
    stranger = api_client_for(UserFactory()).get(f"/api/v1/rooms/{room.code}").json()
    owner = api_client_for(user).get(f"/api/v1/rooms/{room.code}").json()
    assert stranger["geofence"] == {"latitude": None, "longitude": None, "radius_m": 200}
    assert owner["geofence"] == VENUE


def test_nearby_reads_only_rooms_whose_own_box_holds_the_point(user):
    """Many fenced rooms in one city: the database returns only those whose own box holds
    the point, not every room within the largest radius."""
    here = {"latitude": 31.2304, "longitude": 121.4737}
    for n in range(30):  # small fences all over the city, none near the point
        RoomFactory(
            geofence=room_services.Geofence(
                latitude=here["latitude"] + 0.01 * (n + 1),
                longitude=here["longitude"],
                radius_m=100,
            )
        )
    holding = RoomFactory(geofence=room_services.Geofence(**here, radius_m=100))
    from rooms import selectors

    with CaptureQueriesContext(connection) as queries:
        found = selectors.rooms_nearby(**here)
    assert [room.code for room in found] == [holding.code]
    assert len(queries) == 1
    sql = queries[0]["sql"].lower()
    assert "radius_m" in sql and "abs(" in sql


def test_nearby_across_the_antimeridian(user):
    east = RoomFactory(
        geofence=room_services.Geofence(latitude=-17.0, longitude=179.9995, radius_m=500)
    )
    found = api_client_for(user).get(
        "/api/v1/rooms/nearby", {"latitude": -17.0, "longitude": -179.9995}
    )
    assert [r["code"] for r in found.json()["results"]] == [east.code]


def test_default_expiry_is_not_applied_to_rooms_given_one(user):
    when = timezone.now() + dt.timedelta(days=3)
    response = api_client_for(user).post(
        "/api/v1/rooms",
        {"name": "Hall", "expires_at": when.isoformat()},
        format="json",
    )
    assert Room.objects.get(code=response.json()["code"]).expires_at == when


# Found in review --------------------------------------------------------------------------


def test_a_muted_member_cannot_flood_the_member_count_by_looping_enter_and_leave(room, settings):
    """A muted member posts no notice, so notices cannot count their loop; each return
    still pushes a member count to every socket, and gets the same budget."""
    settings.HUILIAO_POST_RATE_COUNT = 3
    settings.HUILIAO_POST_RATE_SECONDS = 60
    spammer = join(room, display_name="Spammer")
    room_services.membership_mute(membership=spammer, minutes=30, actor=None)
    client = api_client_for(spammer.user)
    answers = []
    for _ in range(4):
        client.post(f"/api/v1/rooms/{room.code}/leave")
        answers.append(client.post(f"/api/v1/rooms/{room.code}/enter", {}, format="json"))
    assert [r.status_code for r in answers] == [200, 200, 200, 429]
    assert answers[3].json() == {
        "detail": "Slow down: at most 3 messages every 60 s.",
        "code": "rate_limited",
    }


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:bbbb:cccc:dddd:eeee", "2001:db8:1:2::/64"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("not an address", "not an address"),
    ],
)
def test_an_ipv6_client_is_its_slash_64(address, key):
    from huiliao_site.lookups import client_key

    assert client_key(address) == key


def test_guessing_from_many_addresses_of_one_ipv6_network_shares_one_budget(room, low_guess_limit):
    user = UserFactory()
    answers = []
    for n, code in enumerate(CODES[:6]):
        client = api_client_for(user)
        client.defaults["REMOTE_ADDR"] = f"2001:db8:1:2::{n + 1:x}"
        answers.append(client.get(f"/api/v1/rooms/{code}").status_code)
    assert answers == [404] * 5 + [429]
